"""The oracle's view: what an option would truly cost a request arriving now, from the simulator's state.

The true channel, link and queue state are read; others' future arrivals and random service factors stay
unknown. The cost is taken by :func:`~simsplit.model.strategies.predict.offload_cost`, the formula the device's
own estimates use, on the true transfer times.
"""

from __future__ import annotations

from simsplit.model.strategies.predict import offload_cost


def _transfer(link, ready_s: float, bits: float) -> tuple[float, float]:
    """(start, end) s of a transfer of ``bits`` ready at ``ready_s`` on ``link`` as it stands: a shared cell
    is assumed to keep its current number of active flows."""
    if link.shared:
        active = getattr(link, "active", 0)
        return ready_s, link.channel.finish_time(ready_s, bits * (active + 1))
    start = max(ready_s, link.free_at_s)
    return start, link.channel.finish_time(start, bits)


def true_cost(device, option, now_s: float, servers) -> tuple[float, float]:
    """(latency s, energy J) of ``option`` for a request of ``device`` (a :class:`~simsplit.engine.wiring.Device`)
    arriving at ``now_s``; ``servers`` are the run's :class:`~simsplit.model.server.EdgeServer` objects."""
    plan = device.plans[option.decision]
    head_end = max(now_s, device.compute_free_at_s) + plan.head_s
    if plan.local:
        return head_end - now_s, plan.compute_power_w * plan.head_s
    up_start, up_end = _transfer(device.uplink, head_end, plan.bits_up)
    arrive = up_end + device.uplink.delay_s + plan.extra_rtt_s / 2
    done = servers[plan.server].predicted_start(arrive) + plan.service_s
    down_start, down_end = _transfer(device.downlink, done, plan.bits_down)
    finish = down_end + device.downlink.delay_s + plan.extra_rtt_s / 2
    return offload_cost(device.strategy.device, option, up_end - up_start, down_end - down_start,
                        max(down_start - up_end, 0.0), down_end - up_start, finish - now_s)

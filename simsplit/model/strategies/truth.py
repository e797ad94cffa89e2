"""The oracle's view: what an option would truly cost a request arriving now, from the simulator's state.

The true channel, link and queue state are read; others' future arrivals and random service factors stay
unknown. The cost is taken by :func:`~simsplit.model.strategies.predict.offload_cost`, the formula the device's
own estimates use, on the true transfer times. An oracle that knows only the present (``present_window_s``)
prices every transfer at the capacity each link delivered over the last ``present_window_s`` before the
decision, held from then on (no bit ever, if it delivered none): what a perfect measurement of the channel
now tells, without its future.
"""

from __future__ import annotations

import math

from simsplit.model.strategies.predict import offload_cost


def _transfer(link, ready_s: float, bits: float, present: tuple[float, float] | None) -> tuple[float, float]:
    """(start, end) s of a transfer of ``bits`` ready at ``ready_s`` on ``link`` as it stands: a shared cell
    is assumed to keep its current number of active flows. ``present``: (now s, window s) to price it at the
    capacity of the window before now, held, instead of the true future."""
    flows = getattr(link, "active", 0) + 1 if link.shared else 1
    start = ready_s if link.shared else max(ready_s, link.free_at_s)
    if present is None:
        return start, link.channel.finish_time(start, bits * flows)
    now, window = present
    since = max(0.0, now - window)
    rate = link.channel.bits_between(since, now) / (now - since) if now > since else link.channel.rate_bps_at(now)
    return start, (start + bits * flows / rate if rate > 0.0 else math.inf)


def true_cost(device, option, now_s: float, servers, present_window_s: float | None = None) -> tuple[float, float]:
    """(latency s, energy J) of ``option`` for a request of ``device`` (a :class:`~simsplit.engine.wiring.Device`)
    arriving at ``now_s``; ``servers`` are the run's :class:`~simsplit.model.server.EdgeServer` objects. With
    ``present_window_s`` the links' future is not known: each carries what it delivered over that window
    before ``now_s`` (s)."""
    plan = device.plans[option.decision]
    head_end = max(now_s, device.compute_free_at_s) + plan.head_s
    if plan.local:
        return head_end - now_s, plan.compute_power_w * plan.head_s
    present = None if present_window_s is None else (now_s, present_window_s)
    up_start, up_end = _transfer(device.uplink, head_end, plan.bits_up, present)
    if up_end == math.inf:
        return math.inf, math.inf
    arrive = up_end + device.uplink.delay_s + plan.extra_rtt_s / 2
    done = servers[plan.server].predicted_start(arrive) + plan.service_s
    down_start, down_end = _transfer(device.downlink, done, plan.bits_down, present)
    if down_end == math.inf:
        return math.inf, math.inf
    finish = down_end + device.downlink.delay_s + plan.extra_rtt_s / 2
    return offload_cost(device.strategy.device, option, up_end - up_start, down_end - down_start,
                        max(down_start - up_end, 0.0), down_end - up_start, finish - now_s)

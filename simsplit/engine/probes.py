"""Load probes: every ``period_s`` a device sends a small request to a server, which answers with its queue
length, busy workers and recent wait. The transfers use the device's links and radio like a request's;
the device learns an upload throughput when the server reads the probe, and the server's state when the
answer is back."""

from __future__ import annotations

from simsplit.core.units import BITS_PER_BYTE
from simsplit.engine.records import ProbeLog, ProbeRecord


class ProbeDriver:
    """The probes of every device of one run; ``schedule(at_s, value, callback)`` is the engine's."""

    def __init__(self, env, servers, server_configs, schedule, end_s: float, note_transfer, open_shared):
        self._env, self._servers = env, servers
        self._half_rtt_s = [config.extra_rtt_s / 2 for config in server_configs]
        self._schedule, self._end_s = schedule, end_s
        self._note_transfer = note_transfer
        self._open_shared = open_shared
        """``note_transfer(device, start_s, duration_s, key, owner)``: the radio's tail bookkeeping."""
        self.log = ProbeLog()
        """Every probe sent, as rows once its answer is back."""

    def start(self, device) -> None:
        self._schedule(device.probe[2], device, self._tick)

    def _tick(self, event) -> None:
        device = event._value
        config, server, _ = device.probe
        now = self._env.now
        probe = ProbeRecord(device.index, server, now, config.bytes_up * BITS_PER_BYTE,
                            config.bytes_down * BITS_PER_BYTE, self.log.sent)
        self.log.open(probe)
        self._send(device, probe, now, up=True)
        if now + config.period_s < self._end_s:
            self._schedule(now + config.period_s, device, self._tick)

    def _send(self, device, probe: ProbeRecord, ready_at: float, up: bool) -> None:
        """Send the probe's request (up) or answer (down) over the device's link, then continue."""
        link = device.uplink if up else device.downlink
        bits = probe.bits_up if up else probe.bits_down
        send_at = device.radio.wake(ready_at)
        if link.shared:
            device.radio.begin()
            self._open_shared.open((probe.index, up), device.index, send_at)
            self._schedule(send_at, (device, probe, up), self._submit)
            return
        start, end = link.reserve(send_at, bits)
        device.radio.note(end)
        self._sent((device, probe, up), start, end)

    def _submit(self, event) -> None:
        device, probe, up = event._value
        link = device.uplink if up else device.downlink
        link.send(probe.bits_up if up else probe.bits_down, event._value, self._sent_shared)

    def _sent_shared(self, job, start: float, end: float) -> None:
        self._open_shared.close((job[1].index, job[2]))
        job[0].radio.finish(end)
        self._sent(job, start, end)

    def _sent(self, job, start: float, end: float) -> None:
        device, probe, up = job
        half_rtt = self._half_rtt_s[probe.server]
        if up:
            probe.uplink_start_at_s, probe.uplink_s = start, end - start
            self._note_transfer(device.index, start, probe.uplink_s, (2, probe.index), -1 - probe.index)
            self._schedule(end + device.uplink.delay_s + half_rtt, (device, probe), self._read)
        else:
            probe.downlink_start_at_s, probe.downlink_s = start, end - start
            self._note_transfer(device.index, start, probe.downlink_s, (3, probe.index), -1 - probe.index)
            self._schedule(end + device.downlink.delay_s + half_rtt, (device, probe), self._back)

    def _read(self, event) -> None:
        device, probe = event._value
        if probe.uplink_s > 0:  # the device has seen its probe's upload finish: one more throughput sample
            observation = device.observation
            observation.uplink_samples_bps.append(probe.bits_up / probe.uplink_s)
            observation.uplink_sample_bits.append(probe.bits_up)
            observation.uploads += 1
        server = self._servers[probe.server]
        probe.read_at_s = self._env.now
        probe.queue_length = server.queue_length
        probe.busy_workers = server.busy
        probe.recent_wait_s = server.recent_wait_s
        self._send(device, probe, self._env.now, up=False)

    def _back(self, event) -> None:
        device, probe = event._value
        probe.received_at_s = self._env.now
        observation = device.observation
        if not probe.read_at_s <= observation.probe_read_at_s:  # a newer reading (NaN compares False)
            observation.probe_read_at_s = probe.read_at_s
            observation.probe_queue_length = probe.queue_length
            observation.probe_busy_workers = probe.busy_workers
            observation.probe_recent_wait_s = probe.recent_wait_s
        self.log.close(probe)

"""What a run records: each request's mutable record (:class:`Request`) that the engine fills in, the sinks
that keep finished ones as float rows and give them back as typed numpy columns (:class:`RecordSink`), the
load probes' records (:class:`ProbeLog`), and a run's raw output (:class:`RunOutput`). The per-request
DataFrame is built from those columns by :func:`simsplit.output.results.build_requests`."""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import attrgetter

import numpy as np
import pandas as pd

IN_FLIGHT, COMPLETED, DROPPED, LOST, TIMED_OUT = 0, 1, 2, 3, 4
STATUS_NAMES = ("in_flight", "completed", "dropped", "lost", "timed_out")

NAN = math.nan

# Fields the engine sets, in the order they become columns.
TIMING_FIELDS = (
    "arrival_at_s", "finish_at_s", "device_wait_s", "switch_s", "head_s", "promotion_s", "uplink_wait_s",
    "uplink_start_at_s", "uplink_s", "server_arrival_at_s", "service_start_at_s", "service_end_at_s",
    "downlink_wait_s", "downlink_start_at_s", "downlink_s", "propagation_s", "probe_age_s",
    "fallback_wait_s", "fallback_s",
)


class Request:
    """One inference request as it moves through the pipeline; times in s, NaN until reached.

    The engine schedules a request's next step with the request itself as the SimPy event (``callbacks``,
    and ``_ok``, all that ``Environment.step`` reads): a request has at most one step pending."""

    __slots__ = ("device", "request_id", "plan", "status", "base_service_s", "batch_key", "deadline_at_s",
                 "enqueued_at_s", "batch_size", "payload_bits", "bits_up", "bits_down", "switched", "sequence",
                 "accuracy", "handovers", "forward_s", "callbacks") \
        + TIMING_FIELDS
    _ok = True
    callbacks: list[Callable[[Request], None]]
    """Set by the engine when it schedules the request's next step (see :mod:`simsplit.core.schedule`)."""

    def __init__(self, device: int, request_id: int, plan, arrival_at_s: float, deadline_at_s: float,
                 sequence: int):
        self.sequence = sequence
        """Position of this request in the run's order of arrivals (its row in the table)."""
        self.device = device
        self.request_id = request_id
        self.plan = plan
        self.status = IN_FLIGHT
        self.base_service_s = NAN
        """Service time (s) of this request alone on the server (before batching)."""
        self.batch_key = plan.batch_key
        self.deadline_at_s = deadline_at_s
        self.batch_size = 0
        self.switched = 0
        self.accuracy = NAN
        """This request's accuracy when the channel changed it (NaN: the plan's accuracy)."""
        self.handovers = 0
        """Handovers of the device's cellular link during this request's transfers."""
        self.forward_s = 0.0
        """Backhaul time (s) of a result forwarded to the server of the device's new cell (in propagation_s)."""
        self.payload_bits = 0.0
        """The payload (bits): the plan's size, or this request's draw from the plan's size distribution."""
        self.bits_up = 0.0
        """Bits sent on the uplink, retransmissions included."""
        self.bits_down = 0.0
        self.arrival_at_s = arrival_at_s
        self.finish_at_s = NAN
        self.device_wait_s = NAN
        self.switch_s = 0.0
        """Model-swap time (s) paid before the head because the decision changed."""
        self.head_s = NAN
        self.promotion_s = 0.0
        self.uplink_wait_s = NAN
        self.uplink_start_at_s = NAN
        self.uplink_s = NAN
        self.server_arrival_at_s = NAN
        self.service_start_at_s = NAN
        self.service_end_at_s = NAN
        self.downlink_wait_s = NAN
        self.downlink_start_at_s = NAN
        self.downlink_s = NAN
        self.propagation_s = NAN
        self.probe_age_s = NAN
        self.fallback_wait_s = NAN
        """Given up its upload (the late-upload fallback): its wait for the device's processor (s), else NaN."""
        self.fallback_s = NAN
        """Given up its upload: the local run on the device (s), else NaN."""
        """Age (s) of the device's last server probe when it decided this request (NaN if none)."""


NUMERIC_FIELDS = ("device", "request_id", "status", "batch_size", "payload_bits", "bits_up", "bits_down",
                  "switched", "accuracy", "handovers") + TIMING_FIELDS


class RowBlocks:
    """Rows of ``width`` numbers kept as float64: each packed into 8-byte doubles as it comes (cheaper than
    converting a list of tuples later), every ``block_rows`` of them joined into one array. :meth:`table`
    gives them all, and any ``more`` rows, ordered by their last number (a sequence)."""

    def __init__(self, width: int, block_rows: int = 16_384):
        self._width = width
        self._pack = struct.Struct(f"={width}d").pack
        self._packed: list[bytes] = []
        self._blocks: list[np.ndarray] = []
        self._block_rows = block_rows

    def add(self, row: tuple) -> bool:
        """Keep ``row``; True when it completed a block."""
        packed = self._packed
        packed.append(self._pack(*row))
        if len(packed) < self._block_rows:
            return False
        self._blocks.append(self._array(packed))
        self._packed = []
        return True

    def _array(self, packed: list[bytes]) -> np.ndarray:
        return np.frombuffer(b"".join(packed), dtype=np.float64).reshape(-1, self._width)

    def table(self, more=()) -> np.ndarray:
        """Every row kept, then ``more``, as one float64 array sorted (stably) by the last column; what was
        kept is handed over (the blocks start empty again)."""
        packed = self._packed + [self._pack(*row) for row in more]
        blocks = self._blocks + ([self._array(packed)] if packed else [])
        self._blocks, self._packed = [], []
        table = np.concatenate(blocks) if blocks else np.empty((0, self._width))
        return table[np.argsort(table[:, -1], kind="stable")]


class RecordSink:
    """Finished requests as compact rows, so that only requests still in flight live as objects.

    ``add`` takes a request whose fields are final (returned, dropped, lost or timed out) and keeps its
    numbers in float64 blocks of ``block_rows`` rows (:class:`RowBlocks`); ``columns(in_flight)`` adds the
    unfinished ones and returns the columns in arrival order (by ``Request.sequence``), exactly as if every
    request had been kept to the end.
    """

    FIELDS = NUMERIC_FIELDS + ("plan", "sequence")
    before_flush: Callable[[], None] | None = None
    """Called every block of added rows (the engine settles the radio tails that are final by then)."""

    def __init__(self, block_rows: int = 16_384):
        self._rows = RowBlocks(len(self.FIELDS), block_rows)
        self.row = attrgetter(*NUMERIC_FIELDS, "plan.index", "sequence")
        """``row(request)``: the request's numbers in the order of :attr:`FIELDS`."""

    def add(self, request: Request) -> None:
        if self._rows.add(self.row(request)) and self.before_flush is not None:
            self.before_flush()  # settle the radio tails that are final, keeping the meters small

    def close(self, in_flight, request_tail_j: dict[int, float]) -> dict[str, np.ndarray]:
        """The run is over: every request's columns, ``tail_j`` (J, by arrival sequence) included."""
        columns = self.columns(in_flight)
        columns["tail_j"] = np.array([request_tail_j.get(k, 0.0) for k in range(columns["device"].size)])
        return columns

    def columns(self, in_flight) -> dict[str, np.ndarray]:
        """Every request's columns in arrival order: those added, then ``in_flight`` (still objects)."""
        return rows_to_columns(self._rows.table(map(self.row, in_flight)))


def rows_to_columns(table: np.ndarray) -> dict[str, np.ndarray]:
    """Rows of :attr:`RecordSink.FIELDS` (float64, in arrival order) as typed columns (the sequence dropped)."""
    columns = {name: table[:, i] for i, name in enumerate(RecordSink.FIELDS[:-1])}
    for name, dtype in (("device", np.int64), ("request_id", np.int64), ("status", np.int8),
                        ("batch_size", np.int64), ("plan", np.int64), ("handovers", np.int64)):
        columns[name] = columns[name].astype(dtype)
    return columns


def status_categorical(codes: np.ndarray) -> pd.Categorical[str]:
    """Status codes (:data:`IN_FLIGHT` ...) as a categorical of :data:`STATUS_NAMES`."""
    return pd.Categorical.from_codes(codes, categories=pd.Index(STATUS_NAMES))


class ProbeRecord:
    """One load probe: when it was sent, read at the server and received back (s), and what it read."""

    __slots__ = ("device", "server", "sent_at_s", "read_at_s", "received_at_s", "queue_length", "busy_workers",
                 "recent_wait_s", "bits_up", "bits_down", "uplink_start_at_s", "uplink_s", "downlink_start_at_s",
                 "downlink_s", "index")

    def __init__(self, device: int, server: int, sent_at_s: float, bits_up: float, bits_down: float, index: int):
        self.index = index
        """Position among the run's probes."""
        self.device = device
        self.server = server
        self.sent_at_s = sent_at_s
        self.bits_up = bits_up
        self.bits_down = bits_down
        self.read_at_s = self.received_at_s = NAN
        self.queue_length = self.busy_workers = self.recent_wait_s = NAN
        self.uplink_start_at_s = self.uplink_s = self.downlink_start_at_s = self.downlink_s = NAN


PROBE_FIELDS = ProbeRecord.__slots__[:-1]


def probe_columns(probes: list[ProbeRecord]) -> dict[str, np.ndarray]:
    """Probe records as numpy columns."""
    getter = attrgetter(*PROBE_FIELDS)
    table = np.array(list(map(getter, probes)), dtype=float) if probes else np.empty((0, len(PROBE_FIELDS)))
    return _probe_table_columns(table)


def _probe_table_columns(table: np.ndarray) -> dict[str, np.ndarray]:
    columns = {name: table[:, i] for i, name in enumerate(PROBE_FIELDS)}
    columns["device"] = columns["device"].astype(np.int64)
    columns["server"] = columns["server"].astype(np.int64)
    return columns


class ProbeLog:
    """A run's probes: those whose answer is back as float rows (in blocks of ``block_rows``), those still
    out as objects, so that memory holds rows, not objects; :meth:`columns` gives every probe's columns in
    the order they were sent (as :func:`probe_columns` of all the records)."""

    def __init__(self, block_rows: int = 16_384):
        self.sent = 0
        """Probes sent so far (the next one's index)."""
        self._out: dict[int, ProbeRecord] = {}
        self._rows = RowBlocks(len(PROBE_FIELDS) + 1, block_rows)
        self._row = attrgetter(*PROBE_FIELDS, "index")

    def open(self, probe: ProbeRecord) -> None:
        """``probe`` was sent."""
        self._out[probe.index] = probe
        self.sent += 1

    def close(self, probe: ProbeRecord) -> None:
        """``probe``'s answer is back: its record is final."""
        del self._out[probe.index]
        self._rows.add(self._row(probe))

    def columns(self) -> dict[str, np.ndarray]:
        return _probe_table_columns(self._rows.table(map(self._row, self._out.values()))[:, :-1])


@dataclass(frozen=True)
class RunOutput:
    """Raw result of one run: engine columns, which group each device belongs to, and the run's end (s)."""

    columns: dict[str, np.ndarray]
    device_group: np.ndarray
    end_s: float
    seed: int
    servers: list
    """The run's servers: their service intervals and background streams."""
    probes: dict[str, np.ndarray]
    """Load-probe records as columns."""
    handover_times: Sequence[list[float]] = ()
    """Per device, the instants (s) its cellular link handed over (empty lists without cellular links)."""
    forwarded_results: int | None = None
    """Results (of requests arriving after the warm-up) forwarded to the server of the device's new cell
    (None: no cells name servers)."""
    timeseries: pd.DataFrame | None = None
    """A fast run's monitor samples (:mod:`simsplit.engine.fastpath_monitor`; the DES's are its engine's)."""


def handover_times(devices) -> list[list[float]]:
    """Each device's handover instants (s): its uplink's if that is cellular, else its downlink's."""
    out = []
    for device in devices:
        channel = device.uplink.channel if hasattr(device.uplink.channel, "handovers") else device.downlink.channel
        out.append(list(getattr(channel, "handovers", [])))
    return out

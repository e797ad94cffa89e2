"""The scenario file: its schema (pydantic), loader, ``--set`` overrides and error messages.

A scenario is plain validated data and never imports the engine. Units are in
the field names (``duration_s``, ``rate_mbps``, ``delay_ms``, ``beta_mw``);
the ``*_bps``/``*_s``/``*_w`` properties give SI values. Unknown fields are
errors. See ``docs/scenario.md`` for every field.
"""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt, PrivateAttr, ValidationError
from pydantic import NonNegativeFloat, NonNegativeInt, field_validator, model_validator

from simsplit.channel import StepChannel
from simsplit.errors import MAX_INPUT_MAGNITUDE as MAX_MAGNITUDE
from simsplit.errors import InputError, read_input
from simsplit.yamlio import YamlProblem, load_yaml
from simsplit.variability import Multiplier

MBPS = 1e6
MS = 1e-3
MW = 1e-3
EXTENSION_PREFIX = "x-"
"""Top-level keys with this prefix are ignored: a place for YAML anchors shared by several fields."""


class FieldValueError(ValueError):
    """A check across fields of one model that blames one of them (``field``, relative to that model)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def _too_large(value: Any) -> bool:
    if isinstance(value, float):
        return abs(value) > MAX_MAGNITUDE
    if isinstance(value, (list, tuple)):
        return any(_too_large(v) for v in value)
    return False


class _Strict(BaseModel):
    """Unknown fields, ``inf``/``nan``, ``true`` for a number, ``1.0`` for an integer and numbers beyond
    :data:`MAX_MAGNITUDE` are all errors."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    @field_validator("*", mode="after")
    @classmethod
    def _bounded(cls, value):
        if _too_large(value):
            raise ValueError(f"expected numbers of magnitude <= {MAX_MAGNITUDE:g}, got {value!r}")
        return value


# ---------------------------------------------------------------- arrivals
class PeriodicArrivals(_Strict):
    """One input every 1/rate_hz seconds, each delayed by U(0, jitter_s); phase random per device unless set."""

    kind: Literal["periodic"]
    rate_hz: PositiveFloat
    jitter_s: NonNegativeFloat = 0.0
    phase_s: NonNegativeFloat | None = None

    @model_validator(mode="after")
    def _jitter_below_period(self):
        if self.jitter_s >= 1.0 / self.rate_hz:
            raise FieldValueError("jitter_s", f"expected a number < the period 1/rate_hz = {1.0 / self.rate_hz:g} s, "
                                  f"got {self.jitter_s:g}")
        return self


class PoissonArrivals(_Strict):
    """Exponential inter-arrival times with mean 1/rate_hz."""

    kind: Literal["poisson"]
    rate_hz: PositiveFloat


class ClosedLoopArrivals(_Strict):
    """The next input comes think_s after the previous result returns."""

    kind: Literal["closed_loop"]
    think_s: NonNegativeFloat = 0.0


Arrivals = Annotated[Union[PeriodicArrivals, PoissonArrivals, ClosedLoopArrivals], Field(discriminator="kind")]


# ---------------------------------------------------------------- links
class Loss(_Strict):
    """Packet erasures: Bernoulli (``p``) or Gilbert-Elliott (per-packet chain); with or without ARQ."""

    kind: Literal["bernoulli", "gilbert_elliott"]
    p: float | None = Field(default=None, ge=0, lt=1)
    loss_good: float = Field(default=0.0, ge=0, lt=1)
    loss_bad: float = Field(default=0.5, ge=0, lt=1)
    p_good_bad: float = Field(default=0.01, ge=0, le=1)
    p_bad_good: float = Field(default=0.2, ge=0, le=1)
    mtu_bytes: PositiveInt = 1500
    retransmit: bool = True
    feedback_ms: NonNegativeFloat = 8.0

    @model_validator(mode="after")
    def _parameters(self):
        if self.kind == "bernoulli" and self.p is None:
            raise FieldValueError("p", "a bernoulli loss needs p, the erasure probability per packet")
        if self.kind == "gilbert_elliott" and self.p is not None:
            raise FieldValueError("p", "a gilbert_elliott loss takes loss_good, loss_bad, p_good_bad, p_bad_good")
        return self

    @property
    def process_options(self) -> dict:
        """Keyword arguments for :class:`simsplit.channel.loss.PacketLoss`."""
        common = {"mtu_bytes": self.mtu_bytes, "retransmit": self.retransmit, "feedback_s": self.feedback_ms * MS}
        if self.kind == "bernoulli":
            return {**common, "loss_good": self.p}
        return {**common, "loss_good": self.loss_good, "loss_bad": self.loss_bad,
                "p_good_bad": self.p_good_bad, "p_bad_good": self.p_bad_good}


class _Link(_Strict):
    """Fields every link kind has: one-way delay, and how the devices using this block share it.

    ``dedicated``: each device has its own link with this capacity. ``fifo`` or ``processor_sharing``:
    all devices whose network is this block form one cell and share one link of this capacity.
    """

    delay_ms: NonNegativeFloat = 0.0
    sharing: Literal["dedicated", "fifo", "processor_sharing"] = "dedicated"
    loss: Loss | None = None

    @property
    def delay_s(self) -> float:
        return self.delay_ms * MS


def _check_steps(times_s, rates, end, period_s, rates_field: str) -> None:
    """Raise FieldValueError unless the breakpoints make a valid piecewise-constant path."""
    try:
        StepChannel(times_s, rates, end, period_s)
    except ValueError as exc:
        field = "period_s" if "period_s" in str(exc) else "times_s"
        raise FieldValueError(field, str(exc).replace("rates_bps", rates_field)) from None


def _check_chain(rates, mean_sojourn_s, transitions, rates_field: str) -> None:
    """Raise FieldValueError unless rates, sojourns and the jump matrix make a valid Markov chain."""
    from simsplit.channel.markov import jump_matrix
    if len(rates) != len(mean_sojourn_s):
        raise FieldValueError("mean_sojourn_s", f"expected {len(rates)} values (one per state in "
                              f"{rates_field}), got {len(mean_sojourn_s)}")
    if not any(r > 0 for r in rates):
        raise FieldValueError(rates_field, "expected at least one state with a rate > 0")
    try:
        jump_matrix(len(rates), transitions)
    except ValueError as exc:
        raise FieldValueError("transitions", str(exc)) from None


class ConstantLink(_Link):
    """A link of fixed capacity rate_mbps (10^6 bit/s) and one-way delay delay_ms."""

    kind: Literal["constant"]
    rate_mbps: PositiveFloat


class StepsLink(_Link):
    """Capacity rates_mbps[k] from times_s[k] to the next breakpoint; after the last, hold or loop."""

    kind: Literal["steps"]
    times_s: list[float]
    rates_mbps: list[NonNegativeFloat]
    end: Literal["hold", "loop"] = "hold"
    period_s: PositiveFloat | None = None

    @model_validator(mode="after")
    def _valid_steps(self):
        _check_steps(self.times_s, [r * MBPS for r in self.rates_mbps], self.end, self.period_s, "rates_mbps")
        return self


class MarkovLink(_Link):
    """Capacity from an N-state Markov chain: rates_mbps per state, exponential sojourns with mean_sojourn_s;
    transitions is the jump matrix (zero diagonal; default uniform). Gilbert-Elliott: two states."""

    kind: Literal["markov"]
    rates_mbps: list[NonNegativeFloat] = Field(min_length=1)
    mean_sojourn_s: list[PositiveFloat] = Field(min_length=1)
    transitions: list[list[NonNegativeFloat]] | None = None

    @model_validator(mode="after")
    def _valid_chain(self):
        _check_chain(self.rates_mbps, self.mean_sojourn_s, self.transitions, "rates_mbps")
        return self


class FadingLink(_Link):
    """Capacity from the SNR: log-distance path loss (defaults: 3GPP macro 128.1 + 37.6 log10(d/km)),
    block fading every coherence_s, rate by Shannon (x efficiency) or the LTE CQI table (x efficiency)."""

    kind: Literal["fading"]
    bandwidth_mhz: PositiveFloat = 10.0
    tx_power_dbm: float = 23.0
    distance_m: PositiveFloat = 300.0
    path_loss_exponent: PositiveFloat = 3.76
    reference_loss_db: float = 15.3
    noise_figure_db: NonNegativeFloat = 9.0
    fading: Literal["none", "rayleigh", "rician"] = "rayleigh"
    rician_k: NonNegativeFloat = 0.0
    shadowing_db: NonNegativeFloat = 0.0
    coherence_s: PositiveFloat = 0.01
    mapping: Literal["shannon", "cqi"] = "cqi"
    efficiency: float = Field(default=0.75, gt=0, le=1)


class TraceLink(_Link):
    """Capacity replayed from a bandwidth trace file (path relative to the scenario); see traces/README.md.
    A Mahimahi trace replays its delivery opportunities exactly unless ``window_ms`` bins it into a rate."""

    kind: Literal["trace"]
    file: str
    format: Literal["mahimahi", "pensieve", "csv", "gnettrack", "mecperf"]
    end: Literal["hold", "loop"] = "loop"
    scale: PositiveFloat = 1.0
    offset_s: NonNegativeFloat | Literal["random"] = 0.0
    window_ms: PositiveFloat | None = None
    direction: Literal["down", "up"] | None = None

    @model_validator(mode="after")
    def _format_options(self):
        if self.window_ms is not None and self.format != "mahimahi":
            raise FieldValueError("window_ms", "only a mahimahi trace takes window_ms")
        if self.direction is not None and self.format != "gnettrack":
            raise FieldValueError("direction", "only a gnettrack trace takes direction")
        return self

    @property
    def reader_options(self) -> dict:
        options = {}
        if self.window_ms is not None:
            options["window_ms"] = self.window_ms
        if self.direction is not None:
            options["direction"] = self.direction
        return options


Link = Annotated[Union[ConstantLink, StepsLink, MarkovLink, FadingLink, TraceLink], Field(discriminator="kind")]


# ---------------------------------------------------------------- radio
RADIO_PRESETS: dict[str, tuple[float, float, float]] = {
    # technology: (alpha_up mW/Mbps, alpha_down mW/Mbps, beta mW); Huang et al. MobiSys 2012 as used by BottleNet
    "3g": (868.98, 122.12, 817.88),
    "lte": (438.39, 51.97, 1288.04),
    "wifi": (283.17, 137.01, 132.86),
}


RRC_PRESETS: dict[str, tuple[float, float, tuple[float, ...], tuple[float, ...]]] = {
    # technology: (promotion s, promotion mW, tail stage durations s, tail stage powers mW)
    # LTE: AT&T ARO lte.conf / Huang et al.; 3G: DCH->FACH 4 s, FACH->IDLE 10 s (ARO), promotion assumed 2 s
    # at the FACH->DCH power; Wi-Fi: 0.25 s tail at the Wi-Fi beta, no promotion.
    "lte": (0.26, 1210.0, (11.576,), (1060.0,)),
    "3g": (2.0, 1300.0, (4.0, 10.0), (1300.0, 300.0)),
    "wifi": (0.0, 0.0, (0.25,), (132.86,)),
}


class Radio(_Strict):
    """Linear radio power P = alpha * throughput + beta while sending; technology presets, each overridable.

    With ``state_machine: true`` the radio also follows the RRC states of Huang et al. (MobiSys 2012): a
    transfer that finds the radio idle waits ``promotion_s`` at ``promotion_mw``, and after its last
    transfer the radio stays up through tail stages (``tail_s``, ``tail_mw``) before going idle.
    """

    technology: Literal["3g", "4g", "lte", "wifi"]
    alpha_up_mw_per_mbps: NonNegativeFloat | None = None
    alpha_down_mw_per_mbps: NonNegativeFloat | None = None
    beta_mw: NonNegativeFloat | None = None
    state_machine: bool = False
    promotion_s: NonNegativeFloat | None = None
    promotion_mw: NonNegativeFloat | None = None
    tail_s: list[NonNegativeFloat] | None = None
    tail_mw: list[NonNegativeFloat] | None = None

    @model_validator(mode="after")
    def _tail_lengths(self):
        if len(self.tail_stages_s) != len(self.tail_stages_w):
            raise FieldValueError("tail_mw", f"expected {len(self.tail_stages_s)} values (one per tail_s stage), "
                                  f"got {len(self.tail_stages_w)}")
        return self

    @property
    def _rrc(self) -> tuple[float, float, tuple[float, ...], tuple[float, ...]]:
        return RRC_PRESETS["lte" if self.technology == "4g" else self.technology]

    @property
    def promotion_delay_s(self) -> float:
        """Idle-to-connected delay (s); 0 without the state machine."""
        if not self.state_machine:
            return 0.0
        return self._rrc[0] if self.promotion_s is None else self.promotion_s

    @property
    def promotion_w(self) -> float:
        return (self._rrc[1] if self.promotion_mw is None else self.promotion_mw) * MW

    @property
    def tail_stages_s(self) -> tuple[float, ...]:
        """Durations (s) of the tail stages after the last transfer; empty without the state machine."""
        if not self.state_machine:
            return ()
        return tuple(self._rrc[2] if self.tail_s is None else self.tail_s)

    @property
    def tail_stages_w(self) -> tuple[float, ...]:
        if not self.state_machine:
            return ()
        return tuple(w * MW for w in (self._rrc[3] if self.tail_mw is None else self.tail_mw))

    def _preset(self, index: int, override: float | None) -> float:
        tech = "lte" if self.technology == "4g" else self.technology
        return RADIO_PRESETS[tech][index] if override is None else override

    @property
    def alpha_up_w_per_bps(self) -> float:
        return self._preset(0, self.alpha_up_mw_per_mbps) * MW / MBPS

    @property
    def alpha_down_w_per_bps(self) -> float:
        return self._preset(1, self.alpha_down_mw_per_mbps) * MW / MBPS

    @property
    def beta_w(self) -> float:
        return self._preset(2, self.beta_mw) * MW


class Network(_Strict):
    """A device's uplink, downlink and radio power model."""

    uplink: Link
    downlink: Link
    radio: Radio


# ---------------------------------------------------------------- server
class Variability(_Strict):
    """Random factor (mean 1) on profiled compute times: deterministic, exponential, gamma, lognormal or uniform."""

    kind: Literal["deterministic", "exponential", "gamma", "lognormal", "uniform"] = "deterministic"
    cv: NonNegativeFloat | None = None

    @model_validator(mode="after")
    def _valid(self):
        try:
            self.multiplier
        except ValueError as exc:
            raise FieldValueError("cv", str(exc)) from None
        return self

    @property
    def multiplier(self) -> Multiplier:
        default_cv = {"deterministic": 0.0, "exponential": 1.0}.get(self.kind)
        cv = self.cv if self.cv is not None else default_cv
        if cv is None:
            raise ValueError(f"a {self.kind} variability needs cv > 0")
        return Multiplier(self.kind, cv)


class BatchScaling(_Strict):
    """How a batch of b tail inferences scales the time of one: ``linear`` t(b) = t(1) (1 + per_item (b - 1)),
    or ``table`` t(b) = t(1) factors[b - 1] (factors[0] = 1)."""

    kind: Literal["linear", "table"] = "linear"
    per_item: NonNegativeFloat = 1.0
    factors: list[PositiveFloat] | None = None

    @model_validator(mode="after")
    def _table(self):
        if self.kind == "table" and (not self.factors or self.factors[0] != 1.0):
            raise FieldValueError("factors", "a table needs factors starting with 1.0 (a batch of one)")
        if self.kind == "linear" and self.factors is not None:
            raise FieldValueError("factors", "only a table takes factors")
        return self

    def factor(self, size: int) -> float:
        """t(size) / t(1)."""
        if self.kind == "table":
            return self.factors[size - 1]
        return 1.0 + self.per_item * (size - 1)


class Batching(_Strict):
    """Dynamic batching: up to max_batch queued jobs of one kind start together once the batch is full or its
    oldest job has waited max_wait_ms; kinds (split, bottleneck) batch together only with mix_kinds."""

    max_batch: PositiveInt = 1
    max_wait_ms: NonNegativeFloat = 0.0
    mix_kinds: bool = False
    scaling: BatchScaling = BatchScaling()

    @model_validator(mode="after")
    def _table_long_enough(self):
        if self.scaling.kind == "table" and len(self.scaling.factors) < self.max_batch:
            raise FieldValueError("scaling", f"expected {self.max_batch} factors (one per batch size up to "
                                  f"max_batch), got {len(self.scaling.factors)}")
        return self


class _BackgroundBase(_Strict):
    """Every background stream's jobs: mean service_ms each, times a random factor."""

    service_ms: PositiveFloat
    service_variability: Variability = Variability(kind="exponential")


class PoissonLoad(_BackgroundBase):
    """Jobs at a constant rate rate_hz."""

    kind: Literal["poisson"]
    rate_hz: PositiveFloat


class UtilisationSteps(_BackgroundBase):
    """Target utilisation utilisation[k] (of all workers) from times_s[k]; the rate is u * workers / service."""

    kind: Literal["utilisation_steps"]
    times_s: list[float]
    utilisation: list[NonNegativeFloat]
    end: Literal["hold", "loop"] = "hold"
    period_s: PositiveFloat | None = None

    @model_validator(mode="after")
    def _valid_steps(self):
        _check_steps(self.times_s, self.utilisation, self.end, self.period_s, "utilisation")
        return self


class MmppLoad(_BackgroundBase):
    """Markov-modulated Poisson: rate rates_hz[i] in state i, exponential sojourns mean_sojourn_s[i]."""

    kind: Literal["mmpp"]
    rates_hz: list[NonNegativeFloat] = Field(min_length=1)
    mean_sojourn_s: list[PositiveFloat] = Field(min_length=1)
    transitions: list[list[NonNegativeFloat]] | None = None

    @model_validator(mode="after")
    def _valid_chain(self):
        _check_chain(self.rates_hz, self.mean_sojourn_s, self.transitions, "rates_hz")
        return self


class DiurnalLoad(_BackgroundBase):
    """Rate mean_rate_hz * (1 + amplitude sin(2 pi (t + phase_s) / period_s)), in 96 steps per period."""

    kind: Literal["diurnal"]
    mean_rate_hz: PositiveFloat
    amplitude: float = Field(ge=0, le=1)
    period_s: PositiveFloat = 86400.0
    phase_s: float = 0.0


Background = Annotated[Union[PoissonLoad, UtilisationSteps, MmppLoad, DiurnalLoad], Field(discriminator="kind")]


class Server(_Strict):
    """A server: workers identical GPUs sharing one queue (FIFO or earliest deadline first) of at most
    queue_capacity waiting jobs, with optional dynamic batching and other tenants' load. extra_rtt_ms is a
    round trip beyond the device's links (a cloud tier behind the edge)."""

    name: str = Field(default="edge", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    server_class: str
    workers: PositiveInt = 1
    queue_capacity: NonNegativeInt | None = None
    discipline: Literal["fifo", "edf"] = "fifo"
    drop_expired: bool = False
    service_variability: Variability = Variability()
    batching: Batching = Batching()
    background: list[Background] = []
    extra_rtt_ms: NonNegativeFloat = 0.0

    @property
    def extra_rtt_s(self) -> float:
        return self.extra_rtt_ms * MS


# ---------------------------------------------------------------- strategies
class LocalStrategy(_Strict):
    """Run the whole model on the device."""

    kind: Literal["local"]


class FullOffloadStrategy(_Strict):
    """Send the (encoded) input: split 0; bottleneck names the encoding row at split 0 if there are several;
    server names the target (default: the first server)."""

    kind: Literal["full_offload"]
    bottleneck: str | None = None
    server: str | None = None


class FixedSplitStrategy(_Strict):
    """Always split at point split with bottleneck configuration bottleneck, on server (default: the first)."""

    kind: Literal["fixed"]
    split: NonNegativeInt
    bottleneck: str
    server: str | None = None


class Estimator(_Strict):
    """Throughput estimator: ``ewma`` (alpha), ``harmonic`` mean of the last n, or a lower ``quantile`` q of the last n."""

    kind: Literal["ewma", "harmonic", "quantile"] = "ewma"
    alpha: float = Field(default=0.3, gt=0, le=1)
    n: PositiveInt = 5
    q: float = Field(default=0.2, ge=0, le=1)


class _Adaptive(_Strict):
    """What adaptive strategies share: the options they consider and their prior bandwidth guess."""

    min_accuracy: float = Field(default=0.0, ge=0, le=1)
    servers: list[str] | None = None
    initial_uplink_mbps: PositiveFloat = 5.0
    initial_downlink_mbps: PositiveFloat = 10.0


class DynamicStrategy(_Adaptive):
    """Re-decide split, bottleneck and server from the device's own estimates (see docs/strategies.md)."""

    kind: Literal["dynamic"]
    objective: Literal["latency", "energy", "weighted"] = "latency"
    energy_weight_s_per_j: NonNegativeFloat = 0.0
    estimator: Estimator = Estimator()
    server_wait: Literal["probe", "none"] = "probe"
    hysteresis: float = Field(default=0.1, ge=0, lt=1)
    min_dwell_s: NonNegativeFloat = 0.0
    decision_period_s: PositiveFloat | None = None


class NeurosurgeonStrategy(_Adaptive):
    """Neurosurgeon's rule at the last observed bandwidth; load_factor K fixed, or from the probe if unset."""

    kind: Literal["neurosurgeon"]
    objective: Literal["latency", "energy"] = "latency"
    load_factor: float | None = Field(default=None, ge=1)


class EdgentStrategy(_Adaptive):
    """Edgent's configuration map over bandwidth states of a trace (default: the uplink's own trace)."""

    kind: Literal["edgent"]
    trace: str | None = None
    trace_format: Literal["mahimahi", "pensieve", "csv", "gnettrack", "mecperf"] = "csv"
    states: int = Field(default=5, ge=1)
    run: PositiveInt = 3


class OracleStrategy(_Adaptive):
    """The bound: each request's option chosen with the true channel and queue state."""

    kind: Literal["oracle"]
    objective: Literal["latency", "energy", "weighted"] = "latency"
    energy_weight_s_per_j: NonNegativeFloat = 0.0


Strategy = Annotated[Union[LocalStrategy, FullOffloadStrategy, FixedSplitStrategy, DynamicStrategy,
                           NeurosurgeonStrategy, EdgentStrategy, OracleStrategy], Field(discriminator="kind")]


class SwitchCost(_Strict):
    """What a device pays when its split or bottleneck changes: model-swap time and energy."""

    time_ms: NonNegativeFloat = 0.0
    energy_mj: NonNegativeFloat = 0.0


# ---------------------------------------------------------------- devices, model, scenario
class Probe(_Strict):
    """Every period_s each device sends bytes_up to server (default: the first), which answers with its queue
    length and recent wait in bytes_down; the transfers use the device's links and radio like a request's."""

    period_s: PositiveFloat
    bytes_up: NonNegativeFloat = 64.0
    bytes_down: NonNegativeFloat = 64.0
    server: str | None = None


class DeviceGroup(_Strict):
    """count identical devices; network and strategy default to the scenario's."""

    name: str = Field(min_length=1)
    count: PositiveInt = 1
    device_class: str
    compute_power_w: PositiveFloat
    arrivals: Arrivals
    network: Network | None = None
    strategy: Strategy | None = None
    probe: Probe | None = None


class ModelFiles(_Strict):
    """The model's profile and payload table (paths relative to the scenario file) and its result size."""

    profile: str
    payloads: str
    result_bytes: NonNegativeFloat = 0.0


class Scenario(_Strict):
    """One simulated experiment."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    seed: NonNegativeInt = 0
    duration_s: PositiveFloat
    warmup_s: NonNegativeFloat = 0.0
    deadline_s: PositiveFloat | None = None
    phases_s: list[NonNegativeFloat] | None = None
    switch_cost: SwitchCost = SwitchCost()
    model: ModelFiles
    devices: list[DeviceGroup] = Field(min_length=1)
    network: Network
    server: Server | None = None
    servers: list[Server] | None = None
    strategy: Strategy
    _source: str = PrivateAttr(default="<scenario>")

    @property
    def server_list(self) -> list[Server]:
        """Every server, the default target first (``server`` is shorthand for a list of one)."""
        return [self.server] if self.server is not None else list(self.servers)

    @property
    def source(self) -> str:
        """The file this scenario was read from."""
        return self._source

    @model_validator(mode="after")
    def _consistent(self):
        if self.warmup_s >= self.duration_s:
            raise FieldValueError("warmup_s", f"expected a number < duration_s ({self.duration_s:g}), got {self.warmup_s:g}")
        if self.phases_s is not None and (len(self.phases_s) < 2 or any(
                b <= a for a, b in zip(self.phases_s, self.phases_s[1:]))):
            raise FieldValueError("phases_s", "expected at least two strictly increasing phase boundaries (s)")
        if (self.server is None) == (self.servers is None):
            raise FieldValueError("server", "expected exactly one of server (one server) or servers (a list)")
        if self.servers is not None:
            names = [s.name for s in self.servers]
            if not names:
                raise FieldValueError("servers", "expected at least one server")
            repeated = sorted({n for n in names if names.count(n) > 1})
            if repeated:
                raise FieldValueError("servers", f"server names must be unique, got {repeated} more than once")
        return self

    @field_validator("devices")
    @classmethod
    def _unique_group_names(cls, groups):
        names = [g.name for g in groups]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"device group names must be unique, got {repeated} more than once")
        return groups

    def network_of(self, group: DeviceGroup) -> Network:
        return group.network or self.network

    def strategy_of(self, group: DeviceGroup) -> Any:
        return group.strategy or self.strategy


# ---------------------------------------------------------------- loading and errors
def read_yaml(path: Path) -> Any:
    """Parsed YAML of ``path`` (:func:`simsplit.yamlio.load_yaml`: duplicate keys, base-60 numbers and alias
    bombs refused); InputError for a missing file or bad YAML, with its line and column."""
    text = read_input(path)
    try:
        return load_yaml(text)
    except YamlProblem as exc:
        raise InputError(path, exc.where, str(exc)) from None


def _unshared_copy(value: Any) -> Any:
    """A deep copy in which YAML aliases (``*anchor``, ``<<: *anchor``) become independent nodes,
    so that overriding one field never changes the others that shared its anchor."""
    if isinstance(value, dict):
        return {k: _unshared_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unshared_copy(v) for v in value]
    return value


def apply_overrides(data: dict, overrides: list[str], source: str = "--set") -> dict:
    """A copy of ``data`` with each ``dotted.path=value`` applied; values are parsed as YAML scalars.

    List items are addressed by index (``devices.0.count=4``). A new key may be
    added to a mapping (validation then rejects it if the schema lacks it).
    """
    data = _unshared_copy(data)
    for item in overrides:
        if "=" not in item:
            raise InputError(source, item, "expected dotted.path=value")
        path, text = item.split("=", 1)
        keys = path.strip().split(".")
        try:
            value = load_yaml(text)
        except YamlProblem:
            value = text
        node = data
        for depth, key in enumerate(keys):
            last = depth == len(keys) - 1
            where = ".".join(keys[: depth + 1])
            if isinstance(node, list):
                if not key.isdigit() or int(key) >= len(node):
                    raise InputError(source, where, f"expected a list index below {len(node)}, got {key!r}")
                key = int(key)
            elif isinstance(node, dict):
                if not last and key not in node:
                    node[key] = {}
            else:
                raise InputError(source, where, f"expected a mapping or list to set into, got {node!r}")
            if last:
                node[key] = value
            else:
                node = node[key]
    return data


def _dotted(loc: tuple, data: Any) -> str:
    """Turn a pydantic error location into the YAML path, skipping union tags that are not keys."""
    parts, node = [], data
    for item in loc:
        if isinstance(node, dict) and item in node:
            parts.append(str(item))
            node = node[item]
        elif isinstance(node, list) and isinstance(item, int) and item < len(node):
            parts.append(str(item))
            node = node[item]
        elif isinstance(item, str) and isinstance(node, dict) and node.get("kind") == item:
            continue  # discriminated-union tag
        else:
            parts.append(str(item))
            node = None
    return ".".join(parts) or "(top level)"


def _unwrap(tp: Any) -> list[Any]:
    """The model classes an annotation may hold (through Optional, Annotated, Union, list)."""
    origin = typing.get_origin(tp)
    if origin is Annotated:
        return _unwrap(typing.get_args(tp)[0])
    if origin in (Union, types.UnionType, list):
        return [m for arg in typing.get_args(tp) for m in _unwrap(arg)]
    return [tp] if isinstance(tp, type) and issubclass(tp, BaseModel) else []


def _allowed_fields(loc: tuple) -> list[str]:
    """Field names of the schema model that holds the field at ``loc``."""
    candidates: list[Any] = [Scenario]
    for item in loc[:-1]:
        if isinstance(item, int):
            continue
        nxt = []
        for model in candidates:
            if item in model.model_fields:
                nxt += _unwrap(model.model_fields[item].annotation)
            else:  # a union tag picks the member with that kind
                nxt += [model] if "kind" in model.model_fields and item in typing.get_args(
                    model.model_fields["kind"].annotation) else []
        candidates = nxt or candidates
    tagged = [m for m in candidates if "kind" in m.model_fields and len(loc) > 1
              and loc[-2] in typing.get_args(m.model_fields["kind"].annotation)]
    models = tagged or candidates
    return sorted({f for m in models for f in m.model_fields})


def _message(err: dict) -> str:
    kind, ctx, value = err["type"], err.get("ctx", {}), err.get("input")
    got = f", got {value!r}"
    simple = {
        "greater_than": lambda: f"expected a number > {ctx.get('gt')}",
        "greater_than_equal": lambda: f"expected a number >= {ctx.get('ge')}",
        "less_than": lambda: f"expected a number < {ctx.get('lt')}",
        "less_than_equal": lambda: f"expected a number <= {ctx.get('le')}",
        "float_parsing": lambda: "expected a number", "float_type": lambda: "expected a number",
        "finite_number": lambda: "expected a finite number",
        "int_parsing": lambda: "expected an integer", "int_type": lambda: "expected an integer",
        "int_from_float": lambda: "expected an integer",
        "string_type": lambda: "expected a string", "bool_parsing": lambda: "expected true or false",
        "bool_type": lambda: "expected true or false",
        "list_type": lambda: "expected a list", "model_type": lambda: "expected a mapping",
        "dict_type": lambda: "expected a mapping",
        "literal_error": lambda: f"expected {ctx.get('expected')}",
        "union_tag_invalid": lambda: f"expected kind {ctx.get('expected_tags')}",
        "union_tag_not_found": lambda: "expected a mapping with a 'kind' field",
        "too_short": lambda: f"expected at least {ctx.get('min_length')} item(s)",
        "string_too_short": lambda: "expected a non-empty string",
        "string_pattern_mismatch": lambda: "expected a name of letters, digits, '.', '_' or '-'",
    }
    if kind == "missing":
        return "expected a value: this field is required"
    if kind == "extra_forbidden":
        return f"unknown field; expected one of {_allowed_fields(tuple(err['loc']))}"
    if kind == "union_tag_invalid":
        return simple[kind]() + f", got {ctx.get('tag')!r}"
    if kind in ("value_error", "assertion_error"):
        return str(ctx.get("error", err["msg"]))
    if kind in simple:
        return simple[kind]() + got
    return err["msg"] + got


def _resolve_paths(scenario: Scenario, base_dir: Path) -> Scenario:
    """Make the model files and trace files absolute, relative to ``base_dir``."""
    def absolute(path: str) -> str:
        return str((base_dir / path).resolve())

    def network(net: Network | None) -> Network | None:
        if net is None:
            return None
        links = {name: link.model_copy(update={"file": absolute(link.file)})
                 for name, link in (("uplink", net.uplink), ("downlink", net.downlink)) if link.kind == "trace"}
        return net.model_copy(update=links) if links else net

    def strategy(config):
        if config is not None and config.kind == "edgent" and config.trace is not None:
            return config.model_copy(update={"trace": absolute(config.trace)})
        return config

    model = scenario.model.model_copy(update={"profile": absolute(scenario.model.profile),
                                              "payloads": absolute(scenario.model.payloads)})
    devices = [g.model_copy(update={"network": network(g.network), "strategy": strategy(g.strategy)})
               for g in scenario.devices]
    return scenario.model_copy(update={"model": model, "network": network(scenario.network), "devices": devices,
                                       "strategy": strategy(scenario.strategy)})


def validate_scenario(data: Any, source: str = "<scenario>", base_dir: Path | None = None) -> Scenario:
    """Validate parsed scenario data; raise InputError naming ``source`` and the field path.

    Relative ``model.profile`` and ``model.payloads`` paths are resolved
    against ``base_dir`` (the scenario file's folder).
    """
    if not isinstance(data, dict):
        raise InputError(source, None, f"expected a mapping of scenario fields, got {type(data).__name__}")
    data = {k: v for k, v in data.items() if not (isinstance(k, str) and k.startswith(EXTENSION_PREFIX))}
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        if err["type"] == "union_tag_invalid":
            loc = loc + ("kind",)
        cause = err.get("ctx", {}).get("error")
        if isinstance(cause, FieldValueError):
            loc = loc + (cause.field,)
        raise InputError(source, _dotted(loc, data), _message(err)) from None
    if base_dir is not None:
        scenario = _resolve_paths(scenario, base_dir)
    scenario._source = source
    return scenario


def load_scenario(path: str | Path, overrides: list[str] | tuple[str, ...] = (), seed: int | None = None) -> Scenario:
    """Read, override and validate the scenario file at ``path``."""
    path = Path(path)
    data = read_yaml(path)
    if overrides:
        if not isinstance(data, dict):
            raise InputError(path, None, "expected a mapping of scenario fields")
        data = apply_overrides(data, list(overrides))
    if seed is not None and isinstance(data, dict):
        data = {**data, "seed": seed}
    return validate_scenario(data, source=str(path), base_dir=path.parent)


def to_yaml(scenario: Scenario) -> str:
    """The scenario as YAML, every default filled in (the resolved scenario)."""
    return yaml.safe_dump(scenario.model_dump(mode="json"), sort_keys=False, allow_unicode=True)



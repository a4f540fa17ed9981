"""What the scorecard is computed from: frozen pydantic v2 models, independent of any producer.

A :class:`BacktestRun` is the normalised record of one backtest (the engine's results JSON is
turned into one by :func:`stratforge.ci.scorecard.adapters.from_replay_results`); the other models
carry the results of the checks that run beside it (tests, static checks, C++/Python parity,
bias checks, the bar-mode cross-check) and the build's provenance.

Units: timestamps are integer nanoseconds since the Unix epoch (UTC); prices, PnL, fees and
notionals are in the instrument's quote currency; quantities and positions in base units;
latencies in nanoseconds.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

NonNegInt = Annotated[int, Field(ge=0)]


class FrozenModel(BaseModel):
    """Base: frozen, unknown keys rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def _sorted(d: dict) -> dict:
    """Mappings are kept in key order so every output is byte-stable."""
    return dict(sorted(d.items()))


# --------------------------------------------------------------------------------------------
# the backtest run


class RecordedModels(FrozenModel):
    """The venue models the run actually used, as the engine recorded them (not as requested)."""

    venue: str = Field(description="Simulated venue name, e.g. 'sim'.")
    latency: str = Field(description="Latency model with its parameters, e.g. "
                         "'lognormal(feed_median_ns=800000, ...)'.")
    queue: str = Field(description="Queue-position model, e.g. 'back_of_queue'.")
    fees: str = Field(description="Fee model, e.g. 'maker_bps=-0.5 taker_bps=4.5'.")


class RunPeriod(FrozenModel):
    """The replayed window and where the out-of-sample slice starts."""

    start_ns: int = Field(description="First timestamp of the replay (inclusive).")
    end_ns: int = Field(description="Last timestamp of the replay (exclusive).")
    out_of_sample_start_ns: int | None = Field(
        default=None, description="First timestamp of the out-of-sample slice; None when the "
        "spec holds nothing out (out_of_sample_fraction 0).")

    @model_validator(mode="after")
    def _ordered(self) -> "RunPeriod":
        if self.end_ns <= self.start_ns:
            raise ValueError(f"period.end_ns must be > start_ns, was {self.end_ns} <= {self.start_ns}")
        oos = self.out_of_sample_start_ns
        if oos is not None and not self.start_ns < oos < self.end_ns:
            raise ValueError(f"period.out_of_sample_start_ns must lie inside (start_ns, end_ns), was {oos}")
        return self


class EquitySeries(FrozenModel):
    """Account samples in time order. ``pnl`` is net of fees (realised + unrealised, marked to
    the engine's reference price); ``fees`` is cumulative fees paid (negative = rebates);
    ``positions`` maps each symbol to its net position; ``inventory_value`` is the gross marked
    value of all positions."""

    ts_ns: tuple[int, ...] = Field(description="Sample timestamps, non-decreasing.")
    pnl: tuple[float, ...] = Field(description="Cumulative net PnL (after fees), quote currency.")
    fees: tuple[float, ...] = Field(description="Cumulative fees, quote currency.")
    positions: dict[str, tuple[float, ...]] = Field(
        default_factory=dict, description="Net position per symbol, base units.")
    inventory_value: tuple[float, ...] | None = Field(
        default=None, description="Gross marked value of all positions, quote currency.")
    sample_period_ns: int | None = Field(
        default=None, ge=1, description="How the producer sampled: at the end of every period of "
        "this length (multiples of it since the epoch, UTC) in which the account could change; 1 = "
        "at every timestamp (each bar). None: not stated (every sample is taken as it comes).")
    sample_every_events: int | None = Field(
        default=None, ge=1, description="How the producer sampled instead: every n events, not "
        "aligned to time (only n = 1 gives per-period returns). None: not stated.")

    _sort_positions = field_validator("positions")(classmethod(lambda cls, v: _sorted(v)))

    @model_validator(mode="after")
    def _aligned(self) -> "EquitySeries":
        n = len(self.ts_ns)
        problems = []
        if len(self.pnl) != n:
            problems.append(f"equity.pnl has {len(self.pnl)} samples, ts_ns has {n}")
        if len(self.fees) != n:
            problems.append(f"equity.fees has {len(self.fees)} samples, ts_ns has {n}")
        for sym, pos in self.positions.items():
            if len(pos) != n:
                problems.append(f"equity.positions[{sym}] has {len(pos)} samples, ts_ns has {n}")
        if self.inventory_value is not None and len(self.inventory_value) != n:
            problems.append(f"equity.inventory_value has {len(self.inventory_value)} samples, ts_ns has {n}")
        if any(b < a for a, b in zip(self.ts_ns, self.ts_ns[1:])):
            problems.append("equity.ts_ns must be non-decreasing")
        if self.sample_period_ns is not None and self.sample_every_events is not None:
            problems.append("equity.sample_period_ns and equity.sample_every_events are exclusive")
        if problems:
            raise ValueError("; ".join(problems))
        return self


class FillSide(str, Enum):
    buy = "buy"
    sell = "sell"


class Liquidity(str, Enum):
    maker = "maker"
    taker = "taker"


class Fill(FrozenModel):
    """One execution of one of the strategy's orders."""

    ts_ns: int = Field(description="Execution time at the venue.")
    symbol: str = Field(description="Instrument symbol.")
    side: FillSide = Field(description="buy or sell.")
    px: float = Field(gt=0, description="Execution price.")
    qty: float = Field(gt=0, description="Executed quantity, base units.")
    fee: float = Field(description="Fee charged, quote currency (negative = rebate).")
    liquidity: Liquidity = Field(description="maker (passive) or taker (aggressive).")
    order_id: int | None = Field(default=None, description="Engine order id.")


class OrderCounts(FrozenModel):
    """Order-flow counters of the run."""

    sent: NonNegInt = Field(description="New orders the strategy submitted (accepted or not).")
    accepted: NonNegInt = Field(description="New orders the risk gate accepted.")
    cancelled: NonNegInt = Field(description="Cancel requests sent.")
    replaced: NonNegInt = Field(description="Replace requests sent.")
    ordered_qty: float | None = Field(ge=0, description="Quantity of accepted new orders, base "
                                      "units; None when the producer did not record it (the fill "
                                      "ratio is then undefined).")
    filled_qty: float = Field(ge=0, description="Quantity filled, base units.")


class TradeDirection(str, Enum):
    long = "long"
    short = "short"


class RoundTrip(FrozenModel):
    """An opening quantity matched with the quantity that closed it."""

    symbol: str = Field(description="Instrument symbol.")
    direction: TradeDirection = Field(description="long (bought first) or short.")
    open_ts_ns: int = Field(description="Time of the opening fill.")
    close_ts_ns: int = Field(description="Time of the closing fill.")
    qty: float = Field(gt=0, description="Matched quantity, base units.")
    entry_px: float = Field(gt=0, description="Opening price.")
    exit_px: float = Field(gt=0, description="Closing price.")
    fees: float = Field(description="Fees of both legs allocated to this quantity.")
    pnl: float = Field(description="Net PnL: (exit - entry) x qty x multiplier x sign - fees.")


class LatencySummary(FrozenModel):
    """A latency histogram summarised (values in ns; percentiles never under-state)."""

    count: NonNegInt = Field(description="Number of samples.")
    p50_ns: NonNegInt = Field(description="Median.")
    p90_ns: NonNegInt = Field(description="90th percentile.")
    p99_ns: NonNegInt = Field(description="99th percentile.")
    p999_ns: NonNegInt = Field(description="99.9th percentile.")
    max_ns: NonNegInt = Field(description="Largest sample.")
    buckets: tuple[tuple[int, int], ...] = Field(
        default=(), description="Optional non-empty histogram buckets as (upper_edge_ns, count), "
        "ascending; used for the chart.")

    @model_validator(mode="after")
    def _monotone(self) -> "LatencySummary":
        seq = (self.p50_ns, self.p90_ns, self.p99_ns, self.p999_ns, self.max_ns)
        if self.count and any(b < a for a, b in zip(seq, seq[1:])):
            raise ValueError(f"latency percentiles must be non-decreasing p50<=p90<=p99<=p99.9<=max, were {seq}")
        return self


class RunStatus(str, Enum):
    ok = "ok"
    strategy_fault = "strategy_fault"
    data_error = "data_error"


class BacktestRun(FrozenModel):
    """One backtest, normalised."""

    strategy: str = Field(description="Strategy name (the spec's metadata.name).")
    status: RunStatus = Field(description="How the run ended.")
    error: str | None = Field(default=None, description="What went wrong when status is not ok.")
    data_profile: Literal["l2", "bars"] = Field(description="l2: tick/depth data (returns per "
                                                "1-minute period); bars: bar data (returns per bar).")
    calendar: Literal["continuous", "exchange"] | None = Field(
        default=None, description="Trading calendar for annualisation: continuous (24/7) or "
        "exchange (252 days x 6.5 h). None: inferred (weekend samples mean continuous).")
    bar_interval_ns: int | None = Field(
        default=None, ge=1, description="Bar length of bar data (the return period of a bar run); "
        "None: inferred from the spacing of the PnL samples.")
    models: RecordedModels = Field(description="Venue models as recorded by the engine.")
    period: RunPeriod = Field(description="Replay window and out-of-sample split.")
    equity: EquitySeries = Field(description="PnL, fees, positions over time.")
    fills: tuple[Fill, ...] = Field(default=(), description="Every fill, in time order.")
    orders: OrderCounts = Field(description="Order-flow counters.")
    round_trips: tuple[RoundTrip, ...] | None = Field(
        default=None, description="Round trips as recorded; None: derived from fills (FIFO).")
    risk_denials: dict[str, NonNegInt] = Field(
        default_factory=dict, description="Risk-gate denials by stable reason code.")
    _sort_denials = field_validator("risk_denials")(classmethod(lambda cls, v: _sorted(v)))
    callback_latency: LatencySummary | None = Field(
        default=None, description="Strategy callback cost, all callbacks merged.")
    tick_to_order_latency: LatencySummary | None = Field(
        default=None, description="Event receive to order leaving the risk gate.")
    events_processed: NonNegInt = Field(description="Market events replayed.")
    wall_time_s: float = Field(ge=0, description="Wall-clock run time in seconds.")


# --------------------------------------------------------------------------------------------
# side checks


class TestSuite(FrozenModel):
    """Counts of one test run."""

    __test__ = False  # not a pytest class
    passed: NonNegInt = Field(description="Tests that passed.")
    failed: NonNegInt = Field(description="Tests that failed or errored.")
    skipped: NonNegInt = Field(default=0, description="Tests skipped.")
    failures: tuple[str, ...] = Field(default=(), description="Names of the failed tests.")


class SanitizerStatus(str, Enum):
    clean = "clean"
    findings = "findings"
    build_failed = "build_failed"
    not_run = "not_run"


class TestResults(FrozenModel):
    """The generated tests (pytest and C++) and the ASan+UBSan build."""

    __test__ = False
    python: TestSuite | None = Field(description="Generated pytest run; None when it did not run.")
    cpp: TestSuite | None = Field(description="Generated C++ tests; None when they did not run.")
    sanitizer: SanitizerStatus = Field(description="Address/undefined-sanitizer build and run.")
    sanitizer_details: str = Field(default="", description="First sanitizer report or build error.")


class Finding(FrozenModel):
    """One static-check finding."""

    rule: str = Field(description="Rule id, e.g. NO_HEAP_IN_CALLBACK.")
    file: str = Field(description="File relative to the bundle.")
    line: NonNegInt = Field(description="1-based line (0 when unknown).")
    message: str = Field(description="What is wrong.")


class StaticFindings(FrozenModel):
    """The static checks' output; every finding fails the gate."""

    ran: bool = Field(default=True, description="False when the checker could not run.")
    findings: tuple[Finding, ...] = Field(default=(), description="Findings, in report order.")


class ParityStatus(str, Enum):
    match = "match"
    mismatch = "mismatch"
    error = "error"
    not_run = "not_run"


class Mismatch(FrozenModel):
    """The first callback where C++ and Python decided differently."""

    event_index: NonNegInt = Field(description="Index of the event in the tape.")
    event: str = Field(description="The event, rendered.")
    cpp_decision: str = Field(description="What the C++ strategy did.")
    python_decision: str = Field(description="What the Python twin did.")


class ParityResult(FrozenModel):
    """The C++ callback tape replayed into the Python twin."""

    status: ParityStatus = Field(description="match, mismatch, error or not_run.")
    events_compared: NonNegInt = Field(description="Callbacks compared.")
    first_mismatch: Mismatch | None = Field(default=None, description="Set when status is mismatch.")
    details: str = Field(default="", description="Error text when status is error.")


class CheckStatus(str, Enum):
    passed = "pass"
    failed = "fail"
    error = "error"
    not_run = "not_run"


class BiasResult(FrozenModel):
    """Bias checks. In-sample vs out-of-sample metrics are not carried here: the scorecard
    computes both slices from the run itself, so there is one source of truth."""

    lookahead: CheckStatus = Field(description="Decisions recomputed on truncated data agree.")
    lookahead_details: str = Field(default="", description="First disagreement or error.")
    truncations_checked: NonNegInt = Field(default=0, description="Truncation points compared.")
    warmup_respected: bool | None = Field(description="No order before every signal is warm; "
                                          "None when not checked.")
    warmup_details: str = Field(default="", description="First early order, if any.")


class BarAgreement(FrozenModel):
    """Runtime bar mode vs the Python twin in backtrader."""

    runtime_trades: NonNegInt = Field(description="Round trips in the runtime's bar mode.")
    backtrader_trades: NonNegInt = Field(description="Closed trades in backtrader.")
    runtime_final_pnl: float = Field(description="Final net PnL in bar mode.")
    backtrader_final_pnl: float = Field(description="Final net PnL in backtrader.")
    pnl_tolerance: float = Field(ge=0, description="Allowed |PnL difference|, quote currency.")
    trades_tolerance: NonNegInt = Field(default=0, description="Allowed |trade-count difference|.")
    status: CheckStatus = Field(default=CheckStatus.passed, description="error/not_run when the "
                                "cross-check could not produce numbers; otherwise the gate "
                                "recomputes the verdict from the numbers.")
    details: str = Field(default="", description="Error text.")


class Provenance(FrozenModel):
    """What the scored build is made of."""

    spec_hash: str = Field(description="SHA-256 of the canonical spec.")
    build_id: str = Field(description="Build identity hash.")
    template_version: str = Field(description="Template set version.")
    provider: str | None = Field(default=None, description="LLM provider (None: no LLM used).")
    model: str | None = Field(default=None, description="LLM model name.")
    prompt_hashes: tuple[str, ...] = Field(default=(), description="SHA-256 of every prompt.")
    seed: int = Field(description="Sampling seed.")
    compiler: str = Field(description="Compiler and version.")
    source_hashes: dict[str, str] = Field(default_factory=dict,
                                          description="SHA-256 per generated source file.")
    plugin: str | None = Field(default=None, description="The tested plugin file, relative to "
                               "the workspace build root (the runtime deploys exactly this file).")
    plugin_sha256: str | None = Field(default=None, description="SHA-256 of the tested plugin.")

    _sort_sources = field_validator("source_hashes")(classmethod(lambda cls, v: _sorted(v)))

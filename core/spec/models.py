"""The strategy spec, ``apiVersion: stratforge/v1``, as frozen pydantic v2 models.

Every model rejects unknown keys and every field carries a description: the JSON Schema in
``specs/schema/`` and the reference in ``docs/spec.md`` are generated from these classes.
Rules that relate several fields live in :mod:`stratforge.core.spec.rules`; they run once
the fields themselves are valid, and every violation is reported at once.

Units: quantities are in the instrument's base unit (shares, coins, contracts), notionals and
losses in the instrument's quote currency, prices in quote currency, times in nanoseconds unless
a field name says otherwise. The runtime converts them once to integer ticks and lots.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from enum import Enum
from typing import Annotated, Literal, Union

from pydantic import (BaseModel, ConfigDict, Discriminator, Field, StringConstraints, Tag,
                      model_validator)

from stratforge.core.spec.rules import check_rules
from stratforge.core.spec.violation import RuleViolations

API_VERSION = "stratforge/v1"
KIND = "Strategy"

SLUG_PATTERN = r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$"
IDENT_PATTERN = r"^[a-z_][a-z0-9_]*$"
SYMBOL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$"
# Data paths: relative to the repository, absolute, '~/...', or 'shared:<path>'; globs allowed.
# One line of printable text (no control characters); resolution rules in docs/data.md.
DATA_PATH_PATTERN = r"^[^\x00-\x1f\x7f]+$"

Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN, min_length=2, max_length=64)]
Ident = Annotated[str, StringConstraints(pattern=IDENT_PATTERN, min_length=1, max_length=48)]
PositiveDecimal = Annotated[Decimal, Field(gt=0, max_digits=30, decimal_places=12)]
MAX_WINDOW = 100_000
Window = Annotated[int, Field(ge=1, le=MAX_WINDOW)]
LOGIC_MAX_CHARS = 4000


class StrictModel(BaseModel):
    """Base: frozen, unknown keys rejected, no silent coercion of str to number."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=False, use_enum_values=False)


# --------------------------------------------------------------------------------------------
# metadata


class Metadata(StrictModel):
    """Who owns the strategy and what it is."""

    name: Slug = Field(
        description="Strategy name: a lower-case slug (letters, digits, '-', '_'). It names the "
        "bundle folder strategies/<name>/ and must match the file name specs/<name>.yaml."
    )
    owner: Annotated[str, StringConstraints(min_length=1, max_length=120)] = Field(
        description="Owning person or team (an e-mail or a team handle). Approvals for live "
        "trading must come from someone else."
    )
    description: Annotated[str, StringConstraints(min_length=1, max_length=2000)] = Field(
        description="What the strategy does and why, in a few sentences; shown in the PR and "
        "the dashboard."
    )
    tags: tuple[Slug, ...] = Field(
        default=(), max_length=16, description="Free-form labels for grouping in the dashboard."
    )


# --------------------------------------------------------------------------------------------
# strategy


class StrategyType(str, Enum):
    """The reference logic a strategy starts from."""

    market_making = "market_making"
    momentum = "momentum"
    mean_reversion = "mean_reversion"
    stat_arb = "stat_arb"
    order_book_imbalance = "order_book_imbalance"
    custom = "custom"


class Instrument(StrictModel):
    """One tradable instrument and its price and quantity grid."""

    symbol: Annotated[str, StringConstraints(pattern=SYMBOL_PATTERN, max_length=31)] = Field(
        description="Venue symbol, e.g. BTCUSDT or AAPL (at most 31 characters)."
    )
    venue: Slug = Field(description="Venue identifier, e.g. binance-usdm or nasdaq.")
    tick_size: PositiveDecimal = Field(
        description="Smallest price increment in quote currency, e.g. 0.01. Prices are integer "
        "ticks in the runtime."
    )
    lot_size: PositiveDecimal = Field(
        description="Smallest quantity increment in base units, e.g. 0.001 BTC or 1 share. "
        "Quantities are integer lots in the runtime."
    )
    quote_currency: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{2,10}$")] = Field(
        description="Currency prices, notionals and PnL are in, e.g. USD or USDT."
    )
    contract_multiplier: PositiveDecimal = Field(
        default=Decimal(1),
        description="Quote-currency value of one base unit per unit of price (1 for spot and "
        "linear contracts).",
    )


class Side(str, Enum):
    """Which directions a directional strategy may trade."""

    long_only = "long_only"
    short_only = "short_only"
    both = "both"


class MarketMakingParams(StrictModel):
    """Avellaneda–Stoikov market making with inventory skew.

    Reservation price r = mid − q·γ·σ²·τ and half spread δ = γ·σ²·τ/2 + ln(1 + γ/κ)/γ, where q
    is inventory in lots, σ the mid-price volatility per second estimated over
    ``vol_window`` updates and τ the horizon in seconds.
    """

    gamma: float = Field(gt=0, le=100, description="Risk aversion γ (> 0): larger skews quotes "
                         "harder against inventory.")
    kappa: float = Field(gt=0, le=1e6, description="Order-book liquidity κ (> 0): arrival-rate "
                         "decay per unit of price distance.")
    horizon_s: float = Field(gt=0, le=86_400, description="Horizon τ in seconds used in the "
                             "reservation price and spread.")
    vol_window: Window = Field(description="Number of mid-price updates used to estimate σ.")
    order_qty: PositiveDecimal = Field(description="Size of each quote in base units.")
    max_inventory: PositiveDecimal = Field(description="Inventory (base units) beyond which the "
                                           "strategy stops quoting the side that would add to it.")
    min_spread_ticks: int = Field(ge=1, le=10_000, description="Minimum quoted spread in ticks.")
    requote_ticks: int = Field(ge=1, le=10_000, description="Move of the target quote, in ticks, "
                               "that triggers a replace.")
    requote_interval_ns: int | None = Field(
        default=None, ge=1, le=86_400 * 10**9,
        description="Timed requote (optional): a resting quote whose target price differs from it "
                    "by any amount is replaced once it has rested this many nanoseconds, even when "
                    "the move is below requote_ticks. Checked on book updates; off when absent.")


class MomentumParams(StrictModel):
    """Signal crossover: long when the fast average crosses above the slow one, flat (or short)
    when it crosses below."""

    fast_window: Window = Field(description="Window of the fast EMA, in updates (bars or mids).")
    slow_window: Window = Field(description="Window of the slow EMA; must exceed fast_window.")
    order_qty: PositiveDecimal = Field(description="Position size in base units when in a trade.")
    sides: Side = Field(description="Directions the strategy may take.")
    stop_loss_bps: float | None = Field(default=None, gt=0, le=10_000, description="Optional "
                                        "stop: exit when the price moves this far against the "
                                        "entry, in basis points.")


class MeanReversionParams(StrictModel):
    """Z-score bands: enter against a move of ``entry_z`` standard deviations from the rolling
    mean, exit when it comes back inside ``exit_z``."""

    window: Window = Field(description="Rolling window of the mean and standard deviation.")
    entry_z: float = Field(gt=0, le=20, description="Entry threshold in standard deviations.")
    exit_z: float = Field(ge=0, le=20, description="Exit threshold; must be below entry_z.")
    order_qty: PositiveDecimal = Field(description="Position size in base units when in a trade.")
    sides: Side = Field(description="Directions the strategy may take.")


class HedgeRatio(StrictModel):
    """How the second leg is sized against the first."""

    mode: Literal["fixed", "rolling_ols"] = Field(description="'fixed' uses value; 'rolling_ols' "
                                                  "re-estimates by least squares over window.")
    value: float | None = Field(default=None, gt=0, le=1e6, description="Fixed hedge ratio (leg 2 "
                                "units per leg 1 unit); required when mode is fixed.")
    window: Window | None = Field(default=None, description="Estimation window in updates; "
                                  "required when mode is rolling_ols.")


class StatArbParams(StrictModel):
    """Pair trading on the z-score of spread = leg1 − hedge_ratio · leg2."""

    hedge_ratio: HedgeRatio = Field(description="Hedge ratio of the second instrument.")
    window: Window = Field(description="Window of the spread's rolling mean and deviation.")
    entry_z: float = Field(gt=0, le=20, description="Entry threshold in standard deviations.")
    exit_z: float = Field(ge=0, le=20, description="Exit threshold; must be below entry_z.")
    order_qty: PositiveDecimal = Field(description="Size of the first leg in base units.")


class OrderBookImbalanceParams(StrictModel):
    """Take liquidity when top-of-book size imbalance is strong; exit after a holding period or
    when it reverses."""

    levels: int = Field(ge=1, le=10, description="Book levels per side summed into the imbalance.")
    entry_threshold: float = Field(gt=0, lt=1, description="|imbalance| above which to enter "
                                   "(imbalance is in [-1, 1]).")
    exit_threshold: float = Field(ge=0, lt=1, description="|imbalance| below which to exit; must "
                                  "be below entry_threshold.")
    hold_ns: int = Field(ge=1_000, le=3_600_000_000_000, description="Maximum holding time in "
                         "nanoseconds.")
    max_spread_ticks: int = Field(ge=1, le=10_000, description="Do not enter when the spread is "
                                  "wider than this many ticks.")
    order_qty: PositiveDecimal = Field(description="Order size in base units.")


CustomParamValue = Union[bool, int, float]


class _StrategyBase(StrictModel):
    instruments: tuple[Instrument, ...] = Field(
        min_length=1, max_length=8, description="Instruments the strategy trades (stat_arb: "
        "exactly two, the first is leg 1; other types: exactly one)."
    )
    signals: dict[Ident, Annotated[str, StringConstraints(min_length=1, max_length=2000)]] = Field(
        default_factory=dict,
        max_length=32,
        description="Named signal expressions (see docs/expressions.md), evaluated in order; a "
        "signal may use the strategy's params and signals defined before it. The names "
        "entry_long, exit_long, entry_short and exit_short, when present, replace the reference "
        "entry and exit rules.",
    )
    logic: Annotated[str, StringConstraints(max_length=LOGIC_MAX_CHARS)] | None = Field(
        default=None,
        description="Optional free text describing behaviour for the LLM to turn into signal "
        "expressions or marked code regions. Untrusted: it can never change risk limits, gates, "
        "the sandbox or code outside the marked regions.",
    )


class MarketMakingStrategy(_StrategyBase):
    """Market making (Avellaneda–Stoikov)."""

    type: Literal[StrategyType.market_making] = Field(description="Strategy type.")
    params: MarketMakingParams = Field(description="Parameters of the market maker.")


class MomentumStrategy(_StrategyBase):
    """Momentum (signal crossover)."""

    type: Literal[StrategyType.momentum] = Field(description="Strategy type.")
    params: MomentumParams = Field(description="Parameters of the momentum strategy.")


class MeanReversionStrategy(_StrategyBase):
    """Mean reversion (z-score bands)."""

    type: Literal[StrategyType.mean_reversion] = Field(description="Strategy type.")
    params: MeanReversionParams = Field(description="Parameters of the mean-reversion strategy.")


class StatArbStrategy(_StrategyBase):
    """Statistical arbitrage on a pair."""

    type: Literal[StrategyType.stat_arb] = Field(description="Strategy type.")
    params: StatArbParams = Field(description="Parameters of the pair strategy.")


class OrderBookImbalanceStrategy(_StrategyBase):
    """Order-book imbalance scalper."""

    type: Literal[StrategyType.order_book_imbalance] = Field(description="Strategy type.")
    params: OrderBookImbalanceParams = Field(description="Parameters of the imbalance scalper.")


class CustomStrategy(_StrategyBase):
    """Behaviour described by signals and/or free-text logic."""

    type: Literal[StrategyType.custom] = Field(description="Strategy type.")
    params: dict[Ident, CustomParamValue] = Field(
        default_factory=dict, max_length=64,
        description="Named constants (numbers or booleans) the signals and logic may use.",
    )
    order_qty: PositiveDecimal = Field(description="Order size in base units.")


Strategy = Annotated[
    Union[
        MarketMakingStrategy,
        MomentumStrategy,
        MeanReversionStrategy,
        StatArbStrategy,
        OrderBookImbalanceStrategy,
        CustomStrategy,
    ],
    Field(discriminator="type"),
]


# --------------------------------------------------------------------------------------------
# risk, latency


class Risk(StrictModel):
    """Pre-trade limits enforced by the runtime's risk gate on every order (never by generated
    code). Every limit is required: no check can be switched off from a spec."""

    max_order_qty: PositiveDecimal = Field(description="Largest single order, base units. A "
                                           "directional reversal above it is sent as a closing "
                                           "then an opening order (docs/templates.md).")
    max_position: PositiveDecimal = Field(description="Largest absolute position per instrument, "
                                          "base units, counting working orders as if filled.")
    max_order_notional: PositiveDecimal = Field(description="Largest single order value, quote "
                                                "currency.")
    max_open_orders: int = Field(ge=1, le=10_000, description="Largest number of working orders.")
    max_orders_per_second: int = Field(ge=1, le=100_000, description="Message-rate limit: new, "
                                       "cancel and replace requests per second (event clock).")
    price_band_bps: float = Field(gt=0, le=5_000, description="Orders priced further than this "
                                  "from the current mid, in basis points, are denied.")
    max_loss: PositiveDecimal = Field(description="Loss (realised + unrealised, net of fees, quote "
                                      "currency) at which the kill switch trips.")
    max_drawdown: PositiveDecimal = Field(description="Fall from the running PnL peak, quote "
                                          "currency, at which the kill switch trips.")
    kill_on_breach: bool = Field(
        default=True,
        description="Also trip the kill switch (cancel all, block new orders until released) on "
        "a position or rate-limit breach, not only deny the order. Loss and drawdown breaches "
        "always trip it.",
    )


class Latency(StrictModel):
    """Budget for the strategy's own cost inside the engine."""

    callback_p50_ns: int = Field(ge=1, le=10_000_000, description="Median callback cost budget.")
    callback_p99_ns: int = Field(ge=1, le=100_000_000, description="99th-percentile callback cost "
                                 "budget.")
    tick_to_order_p99_ns: int = Field(ge=1, le=100_000_000, description="99th percentile from "
                                      "event receive to the order leaving the risk gate.")


# --------------------------------------------------------------------------------------------
# backtest


DataPath = Annotated[str, StringConstraints(pattern=DATA_PATH_PATTERN, min_length=1,
                                            max_length=1000)]
# one path or a list: the discriminator picks the branch, so a bad value gets one message
DataPaths = Annotated[
    Union[Annotated[DataPath, Tag("path")],
          Annotated[list[DataPath], Field(min_length=1, max_length=1000), Tag("paths")]],
    Discriminator(lambda v: "paths" if isinstance(v, list) else "path"),
]
ColumnName = Literal["ts", "recv_ts", "symbol", "bid_px", "bid_qty", "ask_px", "ask_qty", "price",
                     "qty", "side", "trade_id", "open", "high", "low", "close", "volume"]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class SyntheticData(StrictModel):
    """Seeded synthetic market data generated at backtest time."""

    kind: Literal["synthetic"] = Field(description="Data source kind.")
    profile: Literal["l2", "bars"] = Field(description="l2: depth updates and trades; bars: OHLCV.")
    events: int = Field(ge=100, le=50_000_000, description="Number of events (l2) or bars.")
    seed: int = Field(ge=0, le=2**32 - 1, description="Random seed; same seed, same data.")
    start: dt.datetime = Field(description="Timestamp of the first event (UTC).")
    start_price: PositiveDecimal = Field(description="Initial mid price.")
    volatility_annual: float = Field(gt=0, le=10, description="Annualised volatility of the mid.")


class ConverterOptions(StrictModel):
    """How the converter reads the files, for layouts that differ from its defaults
    (docs/data.md, "Converter options"). Each option applies to some formats only; validation
    names the ones that do not apply."""

    layout: Literal["auto", "yahoo", "ninjatrader", "generic"] | None = Field(
        default=None, description="bars-csv: the file layout; detected from the first line when "
        "absent.")
    ts_unit: Literal["s", "ms", "us", "ns", "iso"] | None = Field(
        default=None, description="CSV formats: unit of the ts column (numbers since the epoch, "
        "or iso for ISO 8601 text). Default ns.")
    date_format: Annotated[str, StringConstraints(min_length=2, max_length=64,
                                                  pattern=r"%")] | None = Field(
        default=None, description="CSV formats: a strptime format for the time column, e.g. "
        "'%m/%d/%Y' for 1/4/1999 or '%d.%m.%Y %H:%M'; replaces ts_unit.")
    timezone: ShortText | None = Field(
        default=None, description="IANA zone of times written without an offset (CSV formats; "
        "default UTC), of the session close (bars-csv; default America/New_York), or of the "
        "LOBSTER session (default America/New_York).")
    session_close: Annotated[str, StringConstraints(
        pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")] | None = Field(
        default=None, description="bars-csv: local time (HH:MM, in timezone) at which a daily "
        "bar ends; Yahoo files default to 16:00; a generic file with date_format and "
        "session_close has daily bars.")
    ts_label: Literal["end", "start"] | None = Field(
        default=None, description="bars-csv generic layout: ts marks the bar's end (default) or "
        "start.")
    interval: Annotated[str, StringConstraints(
        pattern=r"^[1-9][0-9]*(ns|us|ms|s|m|min|h|d)$")] | None = Field(
        default=None, description="bars-csv: bar length (60s, 1min, 5m, 1h, 1d); default: 1d for "
        "Yahoo and daily files, else the most common spacing.")
    adjust: bool | None = Field(default=None, description="bars-csv Yahoo layout: scale OHLC by "
                                "Adj Close / Close (dividend adjustment).")
    symbol_column: ShortText | None = Field(
        default=None, description="CSV formats: the header name of the symbol column (the same "
        "as columns: {symbol: <name>}).")
    columns: dict[ColumnName, ShortText] = Field(
        default_factory=dict, description="CSV formats: the file's header name of each column "
        "the converter reads, where it differs, e.g. {ts: Date, price: Px}.")
    header: bool | None = Field(
        default=None, description="CSV formats: false when the file has no header row; columns "
        "then gives each column's 1-based position, e.g. {ts: '1', price: '2', qty: '3'}.")
    delimiter: Annotated[str, StringConstraints(min_length=1, max_length=1)] | None = Field(
        default=None, description="quotes-csv, trades-csv, bars-csv generic: the field "
        "separator (default ',').")
    market: Literal["auto", "spot", "futures"] | None = Field(
        default=None, description="binance: spot or futures sequencing rules; detected when "
        "absent.")
    date: dt.date | None = Field(default=None, description="lobster: the trading date; taken "
                                 "from the file name when absent.")


class FileData(StrictModel):
    """Market-data files: event files (.sfe) or a source format converted at backtest time.
    Several files (a list, a glob, or files per instrument) are merged in time order."""

    kind: Literal["file"] = Field(description="Data source kind.")
    path: DataPaths | None = Field(
        default=None, description="A file, a glob (data/capture-*.csv.gz) or a list of them: "
        "relative to the repository, absolute, '~/...', or 'shared:<path>' in the shared data "
        "folder. Symlinks are resolved. Give path or files, not both.")
    files: dict[Annotated[str, StringConstraints(pattern=SYMBOL_PATTERN, max_length=32)],
                DataPaths] | None = Field(
        default=None, description="Files per instrument: symbol -> a file, glob or list. Every "
        "row of these files belongs to that symbol (a symbol column, if any, is filtered to it). "
        "Give path or files, not both.")
    format: Literal["sfe", "bars-csv", "quotes-csv", "trades-csv", "lobster", "binance"] = Field(
        description="File format (docs/data.md)."
    )
    orderbook_path: DataPath | None = Field(default=None, description="LOBSTER only, with one "
                                            "message file in path: its orderbook file (default: "
                                            "found beside it).")
    options: ConverterOptions | None = Field(default=None, description="Converter options "
                                             "(docs/data.md, \"Converter options\").")


DataSource = Annotated[Union[SyntheticData, FileData], Field(discriminator="kind")]


class Period(StrictModel):
    """The slice of the data to replay; the out-of-sample part is judged separately."""

    start: dt.datetime | None = Field(default=None, description="First timestamp (UTC, "
                                      "inclusive); the data's start when absent.")
    end: dt.datetime | None = Field(default=None, description="Last timestamp (UTC, exclusive); "
                                    "the data's end when absent.")
    out_of_sample_fraction: float = Field(ge=0, le=0.9, description="Trailing fraction of the "
                                          "period held out from tuning and reported separately.")


class Fees(StrictModel):
    """Venue fees in basis points of notional; negative means a rebate."""

    maker_bps: float = Field(ge=-10, le=100, description="Fee for passive fills.")
    taker_bps: float = Field(ge=-10, le=100, description="Fee for aggressive fills.")


class ConstantLatency(StrictModel):
    """Fixed latencies."""

    model: Literal["constant"] = Field(description="Latency model name.")
    feed_ns: int = Field(ge=0, le=10_000_000_000, description="Exchange to strategy delay.")
    order_ns: int = Field(ge=0, le=10_000_000_000, description="Strategy to exchange delay.")


class LogNormalLatency(StrictModel):
    """Seeded log-normal latencies given by their median and 99th percentile."""

    model: Literal["lognormal"] = Field(description="Latency model name.")
    feed_median_ns: int = Field(ge=1, le=10_000_000_000, description="Median feed delay.")
    feed_p99_ns: int = Field(ge=1, le=10_000_000_000, description="99th-percentile feed delay.")
    order_median_ns: int = Field(ge=1, le=10_000_000_000, description="Median order delay.")
    order_p99_ns: int = Field(ge=1, le=10_000_000_000, description="99th-percentile order delay.")


LatencyModel = Annotated[Union[ConstantLatency, LogNormalLatency], Field(discriminator="model")]


class QueueModel(StrictModel):
    """How resting orders advance in the queue of their price level."""

    model: Literal["back_of_queue", "pro_rata_cancels"] = Field(
        description="back_of_queue: an order joins behind the whole level and advances only by "
        "traded volume (conservative). pro_rata_cancels: cancels at the level also advance it, "
        "in proportion to the queue ahead."
    )


class Backtest(StrictModel):
    """What the backtest replays and which venue models it uses. Nothing here has a silent
    default: the models are named in the spec and recorded in the results."""

    data: DataSource = Field(description="Market data to replay.")
    period: Period = Field(description="Replay window and out-of-sample split.")
    fees: Fees = Field(description="Venue fees.")
    latency: LatencyModel = Field(description="Feed and order-entry latency model.")
    queue: QueueModel = Field(description="Queue-position model of the simulated venue.")
    initial_capital: PositiveDecimal = Field(description="Starting capital in quote currency; "
                                             "returns and Sharpe are computed against it.")


# --------------------------------------------------------------------------------------------
# gates, codegen


class ShadowGate(StrictModel):
    """What shadow trading must show before a version may go live."""

    min_duration_s: int = Field(ge=60, le=30 * 86_400, description="Minimum shadow run time.")
    min_fills: int = Field(ge=1, le=1_000_000, description="Minimum paper fills.")
    max_pnl_deviation_pct: float = Field(gt=0, le=1_000, description="Largest allowed deviation "
                                         "of shadow PnL per trade from the backtest, percent.")
    max_fill_ratio_deviation_pct: float = Field(gt=0, le=100, description="Largest allowed "
                                                "deviation of the fill ratio, percentage points.")


class Gates(StrictModel):
    """Scorecard thresholds: each ends Pass, Fail or Inconclusive; they, not an LLM, decide."""

    min_sharpe: float = Field(ge=-10, le=20, description="Minimum annualised Sharpe ratio.")
    max_drawdown_pct: float = Field(gt=0, le=100, description="Largest drawdown, percent of "
                                    "initial capital.")
    min_trades: int = Field(ge=1, le=10_000_000, description="Fewest trades for the statistics "
                            "to be judged; fewer makes the performance gates Inconclusive.")
    min_hit_ratio: float | None = Field(default=None, ge=0, le=1, description="Optional minimum "
                                        "share of winning round trips.")
    max_callback_p99_ns: int = Field(ge=1, le=100_000_000, description="Largest measured "
                                     "callback p99; normally the latency budget.")
    shadow: ShadowGate = Field(description="The shadow gate.")


class CodegenMode(str, Enum):
    """How free-text logic becomes code."""

    auto = "auto"
    expressions = "expressions"
    code = "code"


class Codegen(StrictModel):
    """Code-generation settings; providers are configured on the machine, not in the spec."""

    provider: Literal["replay", "openai", "local", "transformers"] | None = Field(
        default=None, description="LLM provider override; the deployment's default when absent. "
        "Only used when the strategy has logic."
    )
    model: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = Field(
        default=None, description="Model name override for the provider.")
    mode: CodegenMode = Field(default=CodegenMode.auto, description="auto: signal expressions "
                              "first, code regions for what they cannot express; expressions: "
                              "expressions only; code: marked code regions.")
    max_repair_rounds: int = Field(default=3, ge=0, le=10, description="Rounds of feeding errors "
                                   "back to the model before giving up.")
    seed: int = Field(default=0, ge=0, le=2**32 - 1, description="Sampling seed.")


# --------------------------------------------------------------------------------------------
# the document


class StrategySpec(StrictModel):
    """A strategy spec document (specs/<name>.yaml)."""

    apiVersion: Literal["stratforge/v1"] = Field(description="Spec format version.")
    kind: Literal["Strategy"] = Field(description="Document kind.")
    metadata: Metadata = Field(description="Name, owner and description.")
    strategy: Strategy = Field(description="Type, instruments, parameters, signals and logic.")
    risk: Risk = Field(description="Risk limits enforced by the runtime.")
    latency: Latency = Field(description="Latency budget.")
    backtest: Backtest = Field(description="Backtest data and venue models.")
    gates: Gates = Field(description="Scorecard and shadow gates.")
    codegen: Codegen = Field(default_factory=Codegen, description="Code generation settings.")

    @model_validator(mode="after")
    def _cross_field_rules(self) -> "StrategySpec":
        violations = check_rules(self)
        if violations:
            raise RuleViolations(violations)
        return self


def is_slug(text: str) -> bool:
    """True when ``text`` is a valid strategy or tag slug."""
    return re.fullmatch(SLUG_PATTERN, text) is not None

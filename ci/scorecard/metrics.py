"""Performance and execution metrics of a backtest run (numpy; definitions in docs/scorecard.md).

Returns are simple returns on the initial capital per period, r_t = (P_t - P_{t-1}) / C0, where
P is cumulative net PnL at the end of each period (the spec says returns and Sharpe are computed
against ``backtest.initial_capital``). The period is the data's own: each bar for bar runs (the
bar interval), 1 minute for tick/L2 runs, on a grid of multiples of the period since the epoch
(UTC). The engine samples the account at the end of every such period (sf-replay's
``output.pnl_sample_period_ns``); samples taken every n events cannot give per-period returns and
the ratios that need them stay undefined. The annualisation factor is the number of periods in a
year of the run's calendar; the annualised return compounds (it cannot fall below -100 %).
Period, calendar, factor and sampling are recorded beside every ratio. A ratio that cannot be
computed is None with a reason, never infinity or NaN.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from stratforge.ci.scorecard import reasons as R
from stratforge.ci.scorecard.inputs import (
    BacktestRun,
    EquitySeries,
    Fill,
    FillSide,
    RoundTrip,
    TradeDirection,
)

NS_PER_S = 1_000_000_000
NS_PER_MIN = 60 * NS_PER_S
NS_PER_HOUR = 3600 * NS_PER_S
NS_PER_DAY = 86_400 * NS_PER_S
EXCHANGE_DAYS = 252
EXCHANGE_SESSION_NS = 390 * NS_PER_MIN  # 6.5 h session
CONTINUOUS_DAYS = 365
L2_PERIOD_NS = NS_PER_MIN  # the return period of tick/L2 runs

# --- sample policy (docs/scorecard.md, "Sample policy") ---------------------------------------
#: Fewest period returns an annualised ratio is computed from. Below ~30 the sample standard
#: deviation is itself too uncertain (relative standard error 1/sqrt(2(n-1)) > 13 %) and the
#: estimate's sampling distribution is far from the normal one its standard error assumes.
MIN_RETURNS = 30
#: Largest standard error of the annualised Sharpe ratio at which it is still reported. For iid
#: returns (Lo 2002) SE(SR_annual) = sqrt(N (1 + SR_p^2 / 2) / n) with SR_p the per-period Sharpe;
#: at SR_p = 0 that is sqrt(N / n) = 1 / sqrt(years of trading time), a function of the span
#: alone. An SE above 100 puts the 95 % interval wider than +/-196: no sustained strategy's Sharpe
#: (even market makers report tens) can be located, nor told from zero, by such an estimate.
MAX_SHARPE_SE = 100.0
#: The minimum span that follows: 1 / MAX_SHARPE_SE^2 years of trading time (1e-4 years: 52.6 min
#: of a 24/7 market, 9.8 min of exchange session; daily bars are bound by MIN_RETURNS first).
MIN_SPAN_YEARS = 1.0 / MAX_SHARPE_SE ** 2


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Periodicity(Frozen):
    """How returns were sampled and annualised."""

    period: str = Field(description="Return period, e.g. '1d' (daily bars), '1h', '1min' (L2).")
    period_ns: int = Field(description="Period length in nanoseconds.")
    calendar: Literal["continuous", "exchange"] = Field(description="Calendar of the factor.")
    periods_per_year: float = Field(description="Annualisation factor N: ratios are scaled by "
                                    "sqrt(N); the annualised return compounds over n / N years.")
    observations: int = Field(description="Number of period returns used.")
    sampling: str = Field(default="as given", description="How the producer sampled the PnL: "
                          "'each bar', 'every 1min' (period boundaries), 'every n events', or "
                          "'as given' (not stated).")


class Evidence(Frozen):
    """How much the slice's returns can say: the sample policy's inputs and outcome."""

    returns: int = Field(description="Period returns n in the slice.")
    span_years: float = Field(description="n / N: years of the calendar's trading time covered.")
    span: str = Field(description="The span in the market's units: trading days, exchange "
                      "sessions of 6.5 h, or hours of a 24/7 market.")
    sharpe_se: float | None = Field(description="Standard error of the annualised Sharpe (Lo 2002, "
                                    "iid): sqrt(N (1 + SR_p^2/2) / n); None with no return.")
    min_returns: int = Field(description="Returns the policy needs (MIN_RETURNS).")
    min_span: str = Field(description="Span the policy needs (1 / MAX_SHARPE_SE^2 years), in the "
                          "same units.")
    sufficient: bool = Field(description="Whether annualised ratios are defined on this slice.")


class Ratio(Frozen):
    """A ratio that may be undefined."""

    value: float | None = Field(description="The value, or None when undefined.")
    reason: str | None = Field(default=None, description="Why it is undefined.")


class Drawdown(Frozen):
    """Largest fall of cumulative net PnL from its running peak (the peak starts at 0)."""

    abs: float = Field(description="Depth in quote currency (>= 0).")
    pct_of_capital: float = Field(description="Depth as percent of initial capital.")
    peak_ts_ns: int | None = Field(description="When the peak was set.")
    trough_ts_ns: int | None = Field(description="When the trough was reached.")


class InventoryStats(Frozen):
    """Position statistics of one symbol (base units)."""

    symbol: str
    mean_abs_position: float = Field(description="Time-weighted mean of |position|.")
    max_abs_position: float = Field(description="Largest |position| sampled.")
    final_position: float = Field(description="Position at the last sample.")


class SliceMetrics(Frozen):
    """Metrics of one slice of the run (full, in-sample or out-of-sample)."""

    slice: Literal["full", "in_sample", "out_of_sample"]
    start_ns: int
    end_ns: int
    pnl_net: float = Field(description="Net PnL over the slice, quote currency.")
    fees: float = Field(description="Fees paid over the slice.")
    return_pct: float = Field(description="pnl_net / initial capital x 100.")
    annualised_return_pct: Ratio = Field(description="Compound annual growth of C0 + PnL over "
                                         "n / N years, % (>= -100).")
    annualised_volatility_pct: Ratio = Field(description="std(r, ddof=1) x sqrt(N) x 100.")
    sharpe: Ratio
    sortino: Ratio
    calmar: Ratio
    max_drawdown: Drawdown
    trades: int = Field(description="Round trips closed in the slice.")
    hit_ratio: Ratio = Field(description="Share of round trips with pnl > 0.")
    periodicity: Periodicity
    evidence: Evidence = Field(description="The sample policy applied to the annualised ratios.")


class Metrics(Frozen):
    """Everything the gates and the reports read."""

    initial_capital: float
    quote_currency: str
    full: SliceMetrics
    in_sample: SliceMetrics
    out_of_sample: SliceMetrics | None
    fills: int
    maker_fills: int
    taker_fills: int
    turnover: Ratio = Field(description="Traded notional / initial capital.")
    turnover_per_year: Ratio = Field(description="Turnover / years of the full period (n / N).")
    traded_notional: float
    fill_ratio: Ratio = Field(description="Filled qty / ordered qty.")
    orders_sent: int
    orders_cancelled: int
    orders_replaced: int
    inventory: tuple[InventoryStats, ...]
    risk_denials: dict[str, int]
    risk_denials_total: int
    round_trips_derived: bool = Field(description="True when round trips were derived (FIFO).")


# --------------------------------------------------------------------------------------------
# round trips


def fifo_round_trips(fills: tuple[Fill, ...] | list[Fill], multiplier: dict[str, float] | None = None) -> list[RoundTrip]:
    """Match fills first-in first-out per symbol. A closing fill is split across the open lots
    it closes; each (open lot, closing fill) pair is one round trip. Fees of each fill are
    allocated to the matched quantity pro rata. A fill larger than the open position closes it
    and opens the rest in the other direction."""
    mult = multiplier or {}
    books: dict[str, deque[list]] = {}  # symbol -> deque of [sign, remaining qty, px, ts, fee per unit]
    out: list[RoundTrip] = []
    for f in sorted(fills, key=lambda x: x.ts_ns):  # stable: equal timestamps keep order
        sign = 1 if f.side is FillSide.buy else -1
        m = mult.get(f.symbol, 1.0)
        fee_unit = f.fee / f.qty
        q = books.setdefault(f.symbol, deque())
        left = f.qty
        while left > 1e-12 and q and q[0][0] != sign:
            lot = q[0]
            take = min(left, lot[1])
            direction = TradeDirection.long if lot[0] > 0 else TradeDirection.short
            fees = take * lot[4] + take * fee_unit
            gross = (f.px - lot[2]) * take * m * lot[0]
            out.append(RoundTrip(
                symbol=f.symbol, direction=direction, open_ts_ns=lot[3], close_ts_ns=f.ts_ns,
                qty=take, entry_px=lot[2], exit_px=f.px, fees=fees, pnl=gross - fees))
            lot[1] -= take
            left -= take
            if lot[1] <= 1e-12:
                q.popleft()
        if left > 1e-12:
            q.append([sign, left, f.px, f.ts_ns, fee_unit])
    return out


# --------------------------------------------------------------------------------------------
# periodicity and returns


def infer_calendar(ts_ns: np.ndarray) -> Literal["continuous", "exchange"]:
    """continuous when any sample falls on a Saturday or Sunday (UTC), else exchange."""
    if ts_ns.size == 0:
        return "exchange"
    days = ts_ns // NS_PER_DAY  # days since 1970-01-01, a Thursday
    weekday = (days + 3) % 7  # 0 = Monday
    return "continuous" if bool(np.any(weekday >= 5)) else "exchange"


def period_label(period_ns: int) -> str:
    """'1d', '4h', '5min', '30s' or '<n>ns'."""
    for unit, name in ((NS_PER_DAY, "d"), (NS_PER_HOUR, "h"), (NS_PER_MIN, "min"), (NS_PER_S, "s")):
        if period_ns >= unit and period_ns % unit == 0:
            return f"{period_ns // unit}{name}"
    return f"{period_ns}ns"


def periods_per_year(period_ns: int, calendar: str) -> float:
    """Annualisation factor: exchange calendar 252 days (a daily period counts one per trading
    day; an intraday period counts within a 6.5 h session); continuous 365 x 24 h; periods longer
    than 1.5 days count in calendar time (365 days) on either calendar."""
    if period_ns > 1.5 * NS_PER_DAY or calendar == "continuous":
        return CONTINUOUS_DAYS * NS_PER_DAY / period_ns
    if period_ns >= NS_PER_DAY // 2:
        return float(EXCHANGE_DAYS)
    return EXCHANGE_DAYS * EXCHANGE_SESSION_NS / period_ns


def bar_interval(run: BacktestRun, ts_ns: np.ndarray) -> int:
    """The run's bar length: recorded, else the median spacing of distinct sample times (one
    sample per bar), else one day."""
    if run.bar_interval_ns:
        return int(run.bar_interval_ns)
    gaps = np.diff(np.unique(ts_ns))
    return int(np.median(gaps)) if gaps.size else NS_PER_DAY


def choose_periodicity(run: BacktestRun) -> tuple[str, int, str, float]:
    """(label, period_ns, calendar, periods per year) of the run's returns."""
    ts = np.asarray(run.equity.ts_ns, dtype=np.int64)
    calendar = run.calendar or infer_calendar(ts)
    period_ns = bar_interval(run, ts) if run.data_profile == "bars" else L2_PERIOD_NS
    return period_label(period_ns), period_ns, calendar, periods_per_year(period_ns, calendar)


def sampling_problem(eq: EquitySeries, period_ns: int) -> tuple[str, str | None]:
    """(how the PnL was sampled, why per-period returns cannot be formed from it or None)."""
    if eq.sample_every_events is not None:
        how = "every event" if eq.sample_every_events == 1 else f"every {eq.sample_every_events} events"
        return how, None if eq.sample_every_events == 1 else how
    if eq.sample_period_ns is not None:
        how = "each bar" if eq.sample_period_ns == 1 else f"every {period_label(eq.sample_period_ns)}"
        return how, None if period_ns % eq.sample_period_ns == 0 else how
    return "as given", None


def resample_pnl(ts_ns: np.ndarray, pnl: np.ndarray, start_ns: int, end_ns: int, period_ns: int,
                 *, keep_empty: bool, base: float = 0.0) -> np.ndarray:
    """Cumulative PnL at the end of each period that overlaps [start_ns, end_ns), on the grid of
    multiples of ``period_ns`` since the epoch, prefixed by ``base`` (the PnL before the slice).
    The value of a period is its last sample; a period without one carries the previous value
    forward (nothing changed). With ``keep_empty`` (a continuous market) every period counts;
    without it (an exchange calendar) only the periods from the first to the last active period
    of each UTC day count: a quiet minute in session is a zero return, closed hours, weekends
    and holidays are not periods."""
    if end_ns <= start_ns:
        return np.array([base])
    g0 = start_ns - start_ns % period_ns
    nbins = int(-(-(end_ns - g0) // period_ns))
    mask = (ts_ns >= start_ns) & (ts_ns < end_ns)
    t, p = ts_ns[mask], pnl[mask]
    bins = (t - g0) // period_ns
    last = np.full(nbins, np.nan)
    if t.size:
        # last sample of each bin: samples are time-ordered, so the last index per bin wins
        idx = np.flatnonzero(np.r_[bins[1:] != bins[:-1], True])
        last[bins[idx]] = p[idx]
    filled = ~np.isnan(last)
    pos = np.maximum.accumulate(np.where(filled, np.arange(nbins), -1))  # forward fill
    vals = np.where(pos >= 0, last[np.maximum(pos, 0)], base)
    if not keep_empty:
        day = (g0 + np.arange(nbins, dtype=np.int64) * period_ns) // NS_PER_DAY
        active = np.flatnonzero(filled)
        keep = np.zeros(nbins, dtype=bool)
        if active.size:
            d = day[active]
            first = {int(k): int(i) for k, i in zip(d[::-1], active[::-1])}  # first active bin per day
            lastb = {int(k): int(i) for k, i in zip(d, active)}              # last active bin per day
            for k, i0 in first.items():
                keep[i0:lastb[k] + 1] = True
        vals = vals[keep]
    return np.r_[base, vals]


def span_text(years: float, period_ns: int, calendar: str) -> str:
    """A span of trading time in the market's own units: trading days for daily (or longer)
    periods, 6.5 h sessions on an exchange calendar, hours (and days) of a 24/7 market."""
    if period_ns >= NS_PER_DAY // 2:
        days = years * (CONTINUOUS_DAYS if calendar == "continuous" or period_ns > 1.5 * NS_PER_DAY
                        else EXCHANGE_DAYS)
        return f"{days:.4g} days"
    if calendar == "exchange":
        hours = years * EXCHANGE_DAYS * EXCHANGE_SESSION_NS / NS_PER_HOUR
        if hours < 1:
            return f"{hours * 60:.3g} min of session"
        return f"{hours / 6.5:.3g} sessions ({hours:.3g} h)"
    hours = years * CONTINUOUS_DAYS * 24
    if hours < 1:
        return f"{hours * 60:.3g} min"
    return f"{hours:.3g} h" if hours < 48 else f"{hours / 24:.3g} days"


def sample_evidence(returns: np.ndarray, periods_per_year: float, period_ns: int,
                    calendar: str) -> Evidence:
    """The sample policy: annualised ratios need n >= MIN_RETURNS returns and a span of at least
    MIN_SPAN_YEARS (their zero-Sharpe standard error sqrt(N / n) <= MAX_SHARPE_SE)."""
    n = int(returns.size)
    years = n / periods_per_year
    se: float | None = None
    if n >= 1:
        sr_p = 0.0
        if n >= 2:
            sd = float(np.std(returns, ddof=1))
            if sd > 1e-15 * max(1.0, abs(float(np.mean(returns)))):
                sr_p = float(np.mean(returns)) / sd
        se = math.sqrt(periods_per_year * (1.0 + sr_p * sr_p / 2.0) / n)
    # the span test is on the zero-Sharpe SE, a function of the span alone (relative slack
    # for the rounding of n / N)
    enough = n >= MIN_RETURNS and years >= MIN_SPAN_YEARS * (1 - 1e-9)
    return Evidence(returns=n, span_years=years, span=span_text(years, period_ns, calendar),
                    sharpe_se=se, min_returns=MIN_RETURNS,
                    # the span both limits ask for: MIN_RETURNS periods bind first on coarse periods
                    min_span=span_text(max(MIN_SPAN_YEARS, MIN_RETURNS / periods_per_year), period_ns,
                                       calendar), sufficient=enough)


def short_sample_reason(ev: Evidence, period: str) -> str:
    return R.UNDEF_SHORT_SAMPLE.format(n=ev.returns, period=period, span=ev.span,
                                       min_n=ev.min_returns, min_span=ev.min_span,
                                       max_se=_g(MAX_SHARPE_SE))


def _g(x: float) -> str:
    return f"{x:.4g}"


def annualised_return(pnl_net: float, capital: float, years: float) -> Ratio:
    """Compound annual growth rate of the equity C0 + PnL over ``years``, in % (-100 when the
    capital is gone: a loss cannot compound below -100 %)."""
    if not years > 0:
        return Ratio(value=None, reason=R.UNDEF_NO_TIME)
    growth = 1.0 + pnl_net / capital
    if growth <= 0.0:
        return Ratio(value=-100.0)
    exponent = math.log(growth) / years
    if exponent > 700.0:  # exp() overflows a float
        return Ratio(value=None, reason=R.UNDEF_OVERFLOW)
    return Ratio(value=math.expm1(exponent) * 100.0)


def annualised_volatility(returns: np.ndarray, periods_per_year: float) -> Ratio:
    """std(r, ddof=1) x sqrt(N) x 100 (%)."""
    if returns.size < 2:
        return Ratio(value=None, reason=R.UNDEF_TOO_FEW_RETURNS)
    return Ratio(value=float(np.std(returns, ddof=1)) * math.sqrt(periods_per_year) * 100.0)


def sharpe_ratio(returns: np.ndarray, periods_per_year: float) -> Ratio:
    """mean / sample std (ddof=1) x sqrt(N)."""
    if returns.size < 2:
        return Ratio(value=None, reason=R.UNDEF_TOO_FEW_RETURNS)
    sd = float(np.std(returns, ddof=1))
    mean = float(np.mean(returns))
    if not sd > 1e-15 * max(1.0, abs(mean)):
        return Ratio(value=None, reason=R.UNDEF_ZERO_VARIANCE)
    return Ratio(value=mean / sd * math.sqrt(periods_per_year))


def sortino_ratio(returns: np.ndarray, periods_per_year: float) -> Ratio:
    """mean / downside deviation x sqrt(N); downside deviation = sqrt(mean(min(r, 0)^2)) over
    all periods (target 0)."""
    if returns.size < 2:
        return Ratio(value=None, reason=R.UNDEF_TOO_FEW_RETURNS)
    dd = float(np.sqrt(np.mean(np.minimum(returns, 0.0) ** 2)))
    if dd <= 0.0:
        return Ratio(value=None, reason=R.UNDEF_NO_DOWNSIDE)
    return Ratio(value=float(np.mean(returns)) / dd * math.sqrt(periods_per_year))


def max_drawdown(ts_ns: np.ndarray, pnl: np.ndarray, capital: float, base: float = 0.0) -> Drawdown:
    """Largest peak-to-trough fall of cumulative PnL; the running peak starts at ``base``."""
    if pnl.size == 0:
        return Drawdown(abs=0.0, pct_of_capital=0.0, peak_ts_ns=None, trough_ts_ns=None)
    peak = np.maximum.accumulate(np.maximum(pnl, base))
    dd = peak - pnl
    i = int(np.argmax(dd))
    depth = float(dd[i])
    if depth <= 0:
        return Drawdown(abs=0.0, pct_of_capital=0.0, peak_ts_ns=None, trough_ts_ns=None)
    before = pnl[: i + 1]
    hits = np.flatnonzero(before >= peak[i])
    peak_ts = int(ts_ns[hits[0]]) if hits.size else int(ts_ns[0])
    return Drawdown(abs=depth, pct_of_capital=depth / capital * 100.0, peak_ts_ns=peak_ts,
                    trough_ts_ns=int(ts_ns[i]))


def time_weighted_mean_abs(ts_ns: np.ndarray, values: np.ndarray, end_ns: int) -> float:
    """Mean of |value| weighted by how long each sample held (until the next sample, the last
    until ``end_ns``); the plain mean when no time passes."""
    if values.size == 0:
        return 0.0
    dur = np.diff(np.r_[ts_ns, max(end_ns, int(ts_ns[-1]))]).astype(float)
    total = dur.sum()
    a = np.abs(values)
    return float((a * dur).sum() / total) if total > 0 else float(a.mean())


# --------------------------------------------------------------------------------------------
# slices


def _slice_metrics(name, run: BacktestRun, trips: list[RoundTrip], capital: float, start_ns: int, end_ns: int) -> SliceMetrics:
    period, period_ns, calendar, per_year = choose_periodicity(run)
    how, coarse = sampling_problem(run.equity, period_ns)
    ts = np.asarray(run.equity.ts_ns, dtype=np.int64)
    pnl = np.asarray(run.equity.pnl, dtype=float)
    fees = np.asarray(run.equity.fees, dtype=float)
    before = ts < start_ns
    base = float(pnl[before][-1]) if before.any() else 0.0
    base_fees = float(fees[before][-1]) if before.any() else 0.0
    inside = (ts >= start_ns) & (ts < end_ns)
    t_in, p_in = ts[inside], pnl[inside]
    end_pnl = float(p_in[-1]) if p_in.size else base
    end_fees = float(fees[inside][-1]) if inside.any() else base_fees
    curve = resample_pnl(ts, pnl, start_ns, end_ns, period_ns, keep_empty=calendar == "continuous", base=base)
    rets = np.diff(curve) / capital
    pnl_net = end_pnl - base
    years = rets.size / per_year
    evidence = sample_evidence(rets, per_year, period_ns, calendar)
    if coarse is not None:
        why = R.UNDEF_COARSE_SAMPLING.format(how=coarse, period=period)
        sharpe = sortino = ann = vol = Ratio(value=None, reason=why)
    elif not evidence.sufficient:
        why = short_sample_reason(evidence, period)
        sharpe = sortino = ann = vol = Ratio(value=None, reason=why)
    else:
        sharpe = sharpe_ratio(rets, per_year)
        sortino = sortino_ratio(rets, per_year)
        ann = annualised_return(pnl_net, capital, years)
        vol = annualised_volatility(rets, per_year)
    dd = max_drawdown(t_in, p_in, capital, base=base)
    if ann.value is None:
        calmar = Ratio(value=None, reason=ann.reason)
    elif dd.abs <= 0:
        calmar = Ratio(value=None, reason=R.UNDEF_NO_DRAWDOWN)
    else:
        calmar = Ratio(value=ann.value / dd.pct_of_capital)
    closed = [t for t in trips if start_ns <= t.close_ts_ns < end_ns]
    hit = (Ratio(value=sum(1 for t in closed if t.pnl > 0) / len(closed)) if closed
           else Ratio(value=None, reason=R.UNDEF_NO_TRADES))
    return SliceMetrics(
        slice=name, start_ns=start_ns, end_ns=end_ns, pnl_net=pnl_net, fees=end_fees - base_fees,
        return_pct=pnl_net / capital * 100.0, annualised_return_pct=ann,
        annualised_volatility_pct=vol, sharpe=sharpe, sortino=sortino, calmar=calmar,
        max_drawdown=dd, trades=len(closed), hit_ratio=hit,
        periodicity=Periodicity(period=period, period_ns=period_ns, calendar=calendar,
                                periods_per_year=per_year, observations=int(rets.size),
                                sampling=how),
        evidence=evidence)


def compute_metrics(run: BacktestRun, *, initial_capital: float, quote_currency: str = "",
                    multipliers: dict[str, float] | None = None) -> Metrics:
    """All metrics of ``run``; ``initial_capital`` > 0 in quote currency."""
    if not initial_capital > 0:
        raise ValueError(f"Condition failed: initial_capital must be > 0, was {initial_capital}")
    mult = multipliers or {}
    derived = run.round_trips is None
    trips = fifo_round_trips(run.fills, mult) if derived else list(run.round_trips or ())
    p = run.period
    full = _slice_metrics("full", run, trips, initial_capital, p.start_ns, p.end_ns)
    if p.out_of_sample_start_ns is None:
        ins = _slice_metrics("in_sample", run, trips, initial_capital, p.start_ns, p.end_ns)
        oos = None
    else:
        ins = _slice_metrics("in_sample", run, trips, initial_capital, p.start_ns, p.out_of_sample_start_ns)
        oos = _slice_metrics("out_of_sample", run, trips, initial_capital, p.out_of_sample_start_ns, p.end_ns)
    notional = float(sum(f.px * f.qty * mult.get(f.symbol, 1.0) for f in run.fills))
    o = run.orders
    if o.ordered_qty is None:
        fill_ratio = Ratio(value=None, reason=R.UNDEF_ORDERED_QTY_UNKNOWN)
    elif o.ordered_qty > 0:
        fill_ratio = Ratio(value=o.filled_qty / o.ordered_qty)
    else:
        fill_ratio = Ratio(value=None, reason=R.UNDEF_NO_ORDERS)
    ts = np.asarray(run.equity.ts_ns, dtype=np.int64)
    inv = []
    for sym in sorted(run.equity.positions):
        pos = np.asarray(run.equity.positions[sym], dtype=float)
        inv.append(InventoryStats(
            symbol=sym, mean_abs_position=time_weighted_mean_abs(ts, pos, p.end_ns),
            max_abs_position=float(np.max(np.abs(pos))) if pos.size else 0.0,
            final_position=float(pos[-1]) if pos.size else 0.0))
    denials = {k: int(v) for k, v in sorted(run.risk_denials.items()) if v}
    fp = full.periodicity
    coarse = sampling_problem(run.equity, fp.period_ns)[1]
    if coarse is not None:
        per_year = Ratio(value=None, reason=R.UNDEF_COARSE_SAMPLING.format(how=coarse, period=fp.period))
    elif fp.observations == 0:
        per_year = Ratio(value=None, reason=R.UNDEF_NO_TIME)
    elif not full.evidence.sufficient:
        per_year = Ratio(value=None, reason=short_sample_reason(full.evidence, fp.period))
    else:
        per_year = Ratio(value=notional / initial_capital / (fp.observations / fp.periods_per_year))
    return Metrics(
        initial_capital=initial_capital, quote_currency=quote_currency, full=full, in_sample=ins,
        out_of_sample=oos, fills=len(run.fills),
        maker_fills=sum(1 for f in run.fills if f.liquidity.value == "maker"),
        taker_fills=sum(1 for f in run.fills if f.liquidity.value == "taker"),
        turnover=Ratio(value=notional / initial_capital), turnover_per_year=per_year,
        traded_notional=notional,
        fill_ratio=fill_ratio, orders_sent=o.sent, orders_cancelled=o.cancelled,
        orders_replaced=o.replaced, inventory=tuple(inv), risk_denials=denials,
        risk_denials_total=sum(denials.values()), round_trips_derived=derived)

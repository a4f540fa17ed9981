"""Metrics on hand-computed series, FIFO round trips and degenerate cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from stratforge.ci.scorecard import reasons as R
from stratforge.ci.scorecard.inputs import EquitySeries, Fill, RoundTrip, RunPeriod
from stratforge.ci.scorecard.metrics import (
    annualised_return,
    compute_metrics,
    fifo_round_trips,
    infer_calendar,
    max_drawdown,
    period_label,
    periods_per_year,
    resample_pnl,
    sharpe_ratio,
    sortino_ratio,
    time_weighted_mean_abs,
)

from scorecard_kit import MIN, T0, intraday_run


def test_sharpe_of_known_returns():
    r = np.array([0.01, -0.02, 0.03, 0.0])
    # mean 0.005; deviations .005 -.025 .025 -.005 -> sum sq 0.0013, ddof 1 -> var 0.0013/3
    expected = 0.005 / math.sqrt(0.0013 / 3) * math.sqrt(252)
    assert sharpe_ratio(r, 252).value == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(3.8129, abs=1e-4)


def test_sortino_of_known_returns():
    r = np.array([0.01, -0.02, 0.03, 0.0])
    # downside deviation sqrt((0 + 0.0004 + 0 + 0) / 4) = 0.01
    assert sortino_ratio(r, 252).value == pytest.approx(0.005 / 0.01 * math.sqrt(252), rel=1e-12)


def test_zero_variance_sharpe_is_undefined_not_infinite():
    s = sharpe_ratio(np.full(50, 0.001), 252)
    assert s.value is None and s.reason == R.UNDEF_ZERO_VARIANCE
    assert sortino_ratio(np.full(50, 0.001), 252).reason == R.UNDEF_NO_DOWNSIDE
    assert sharpe_ratio(np.zeros(10), 252).value is None
    assert sharpe_ratio(np.array([0.01]), 252).reason == R.UNDEF_TOO_FEW_RETURNS


def test_drawdown_of_known_curve():
    ts = np.arange(6, dtype=np.int64) * 10
    d = max_drawdown(ts, np.array([0.0, 10, 5, 20, 8, 15]), capital=100.0)
    assert d.abs == 12.0 and d.pct_of_capital == pytest.approx(12.0)
    assert (d.peak_ts_ns, d.trough_ts_ns) == (30, 40)


def test_drawdown_counts_from_zero_when_the_curve_starts_below():
    d = max_drawdown(np.array([5, 6], dtype=np.int64), np.array([-5.0, -2.0]), capital=50.0)
    assert d.abs == 5.0 and d.pct_of_capital == 10.0 and d.trough_ts_ns == 5


def test_no_drawdown():
    d = max_drawdown(np.array([1, 2], dtype=np.int64), np.array([1.0, 2.0]), capital=10.0)
    assert d.abs == 0.0 and d.peak_ts_ns is None


def _fill(ts, side, px, qty, fee=0.0):
    return Fill(ts_ns=ts, symbol="X", side=side, px=px, qty=qty, fee=fee, liquidity="taker")


def test_fifo_round_trips_split_closing_fill():
    fills = [_fill(1, "buy", 100, 1, fee=0.1), _fill(2, "buy", 101, 2, fee=0.2),
             _fill(3, "sell", 103, 2, fee=0.2), _fill(4, "sell", 99, 1, fee=0.1)]
    trips = fifo_round_trips(fills)
    assert [(t.entry_px, t.exit_px, t.qty, t.open_ts_ns, t.close_ts_ns) for t in trips] == [
        (100, 103, 1, 1, 3), (101, 103, 1, 2, 3), (101, 99, 1, 2, 4)]
    assert [round(t.pnl, 9) for t in trips] == [3 - 0.2, 2 - 0.2, -2 - 0.2]
    assert all(t.direction.value == "long" for t in trips)


def test_fifo_flip_opens_the_other_way():
    trips = fifo_round_trips([_fill(1, "buy", 100, 1), _fill(2, "sell", 102, 3), _fill(3, "buy", 101, 2)])
    assert [(t.direction.value, t.qty, t.pnl) for t in trips] == [("long", 1, 2.0), ("short", 2, 2.0)]


def test_fifo_uses_contract_multiplier():
    trips = fifo_round_trips([_fill(1, "sell", 10, 1), _fill(2, "buy", 12, 1)], {"X": 50.0})
    assert trips[0].pnl == -100.0


def test_hit_ratio_from_recorded_round_trips():
    run = intraday_run(trips=0)
    t = lambda pnl, k: RoundTrip(symbol="BTCUSDT", direction="long", open_ts_ns=T0 + k * MIN, close_ts_ns=T0 + k * MIN + 1,
                                 qty=1, entry_px=1, exit_px=1, fees=0, pnl=pnl)
    run = run.model_copy(update={"round_trips": (t(1.0, 1), t(-1.0, 2), t(2.0, 3), t(0.0, 4))})
    m = compute_metrics(run, initial_capital=1000.0)
    assert m.full.trades == 4 and m.full.hit_ratio.value == 0.5  # a zero-PnL trip is not a win
    assert not m.round_trips_derived


def test_no_trades_hit_ratio_undefined():
    m = compute_metrics(intraday_run(trips=0), initial_capital=1000.0)
    assert m.full.hit_ratio.value is None and m.full.hit_ratio.reason == R.UNDEF_NO_TRADES


def test_resample_keeps_last_sample_per_period_and_carries_forward():
    ts = np.array([0, 30, 59, 150, 250], dtype=np.int64)
    pnl = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    assert resample_pnl(ts, pnl, 0, 300, 60, keep_empty=True).tolist() == [0, 3, 3, 4, 4, 5]
    # exchange calendar: a quiet period inside the day's active span is a zero return too
    assert resample_pnl(ts, pnl, 0, 300, 60, keep_empty=False).tolist() == [0, 3, 3, 4, 4, 5]


def test_resample_exchange_drops_closed_hours_between_days():
    day = 86_400 * 10**9
    # day 1 active 10:00-10:02, day 2 active 10:00-10:01 (minutes); nothing overnight
    t1, t2 = 10 * 3600 * 10**9, day + 10 * 3600 * 10**9
    ts = np.array([t1 + 5, t1 + 2 * MIN + 5, t2 + 5, t2 + MIN + 5], dtype=np.int64)
    pnl = np.array([1.0, 2.0, 3.0, 4.0])
    got = resample_pnl(ts, pnl, t1, t2 + 2 * MIN, MIN, keep_empty=False)
    assert got.tolist() == [0, 1, 1, 2, 3, 4]  # minute 10:01 of day 1 carried; the night dropped
    assert resample_pnl(ts, pnl, t1, t2 + 2 * MIN, MIN, keep_empty=True).size == 1 + (day + 2 * MIN) // MIN


def test_periodicity_intraday_and_calendar():
    m = compute_metrics(intraday_run(), initial_capital=20000.0)
    p = m.full.periodicity
    assert (p.period, p.calendar, p.periods_per_year) == ("1min", "continuous", 525600.0)
    assert p.observations == 600
    m2 = compute_metrics(intraday_run(calendar=None), initial_capital=20000.0)
    assert m2.full.periodicity.calendar == "exchange"  # Thursday to Friday: no weekend sample
    assert m2.full.periodicity.periods_per_year == 252 * 390
    saturday = np.array([T0 + 2 * 86_400 * 10**9], dtype=np.int64)
    assert infer_calendar(saturday) == "continuous"


def test_daily_bars_use_daily_returns_252():
    day = 86_400 * 10**9
    ts = tuple(T0 + k * day for k in range(10) if (k + 3) % 7 < 5)  # weekdays only
    run = intraday_run(trips=0, minutes=1)
    run = run.model_copy(update={
        "data_profile": "bars", "calendar": None,
        "equity": EquitySeries(ts_ns=ts, pnl=tuple(float(i + 1) for i in range(len(ts))), fees=(0.0,) * len(ts)),
        "period": RunPeriod(start_ns=ts[0], end_ns=ts[-1] + 1)})
    m = compute_metrics(run, initial_capital=100.0)
    p = m.full.periodicity
    assert (p.period, p.calendar, p.periods_per_year) == ("1d", "exchange", 252.0)
    assert p.observations == len(ts)  # weekend days are dropped, not padded with zero returns
    assert m.full.sharpe.value is None  # constant +1/day: zero variance, undefined


def test_time_weighted_inventory():
    ts = np.array([0, 10, 30], dtype=np.int64)
    assert time_weighted_mean_abs(ts, np.array([0.0, 1.0, -2.0]), end_ns=40) == pytest.approx(1.0)


def test_turnover_fill_ratio_denials_and_slices():
    run = intraday_run(trips=10)
    m = compute_metrics(run, initial_capital=20000.0)
    assert m.fills == 20 and m.traded_notional == pytest.approx(sum(f.px * f.qty for f in run.fills))
    assert m.turnover.value == pytest.approx(m.traded_notional / 20000.0)
    assert m.fill_ratio.value == pytest.approx(0.5)
    assert m.risk_denials == {"PRICE_BAND": 2, "RATE_LIMIT": 1} and m.risk_denials_total == 3
    assert m.in_sample.trades + m.out_of_sample.trades == m.full.trades
    assert m.in_sample.pnl_net + m.out_of_sample.pnl_net == pytest.approx(m.full.pnl_net)
    assert m.inventory[0].symbol == "BTCUSDT"


def test_fill_ratio_undefined_when_ordered_qty_unknown():
    run = intraday_run()
    run = run.model_copy(update={"orders": run.orders.model_copy(update={"ordered_qty": None})})
    assert compute_metrics(run, initial_capital=1.0).fill_ratio.reason == R.UNDEF_ORDERED_QTY_UNKNOWN


def test_capital_must_be_positive():
    with pytest.raises(ValueError, match="initial_capital must be > 0"):
        compute_metrics(intraday_run(), initial_capital=0.0)


def test_factor_and_label_follow_the_bar_length_and_calendar():
    day, hour = 86_400 * 10**9, 3600 * 10**9
    assert periods_per_year(day, "exchange") == 252.0
    assert periods_per_year(day, "continuous") == 365.0
    assert periods_per_year(hour, "continuous") == 365 * 24
    assert periods_per_year(30 * MIN, "exchange") == pytest.approx(252 * 13)  # 6.5 h session
    assert periods_per_year(7 * day, "exchange") == pytest.approx(365 / 7)
    assert [period_label(x) for x in (day, 4 * hour, 5 * MIN, 90 * 10**9, 7)] == ["1d", "4h", "5min", "90s", "7ns"]


def test_hourly_bar_run_uses_hourly_returns():
    hour = 3600 * 10**9
    ts = tuple(T0 + k * hour for k in range(48))
    pnl = tuple(float((-1) ** k * 0.5 + 0.1 * k) for k in range(48))
    run = intraday_run(trips=0, minutes=1).model_copy(update={
        "data_profile": "bars", "calendar": "continuous", "bar_interval_ns": hour,
        "equity": EquitySeries(ts_ns=ts, pnl=pnl, fees=(0.0,) * 48, sample_period_ns=1),
        "period": RunPeriod(start_ns=ts[0], end_ns=ts[-1] + 1)})
    m = compute_metrics(run, initial_capital=100.0)
    p = m.full.periodicity
    assert (p.period, p.periods_per_year, p.observations, p.sampling) == ("1h", 8760.0, 48, "each bar")
    r = np.diff(np.r_[0.0, pnl]) / 100.0
    assert m.full.sharpe.value == pytest.approx(r.mean() / r.std(ddof=1) * math.sqrt(8760), rel=1e-12)


def test_annualised_return_compounds_and_is_bounded():
    assert annualised_return(10.0, 100.0, 1.0).value == pytest.approx(10.0)
    assert annualised_return(21.0, 100.0, 2.0).value == pytest.approx(10.0)  # 1.1^2 = 1.21
    assert annualised_return(-50.0, 100.0, 0.5).value == pytest.approx(-75.0)
    assert annualised_return(-100.0, 100.0, 1.0).value == -100.0
    assert annualised_return(-250.0, 100.0, 3.0).value == -100.0  # more than the capital lost
    assert annualised_return(1.0, 100.0, 1e-6).reason == R.UNDEF_OVERFLOW
    assert annualised_return(1.0, 100.0, 0.0).reason == R.UNDEF_NO_TIME

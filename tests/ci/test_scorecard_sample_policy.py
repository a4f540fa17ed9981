"""The sample policy: annualised ratios need enough returns over a long enough span, else they are
undefined (SHORT_SAMPLE) and the Sharpe gates are INCONCLUSIVE — never a FAIL from a few minutes
annualised into a year (docs/scorecard.md, "Sample policy").

Runs are built here (not from the example specs' numbers): a market-making-like L2 run whose PnL
drifts up or down, on a 24/7 calendar; an exchange-calendar run; daily bars.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from stratforge.ci.scorecard import build_scorecard
from stratforge.ci.scorecard import reasons as R
from stratforge.ci.scorecard.metrics import (
    MAX_SHARPE_SE,
    MIN_RETURNS,
    MIN_SPAN_YEARS,
    compute_metrics,
    resample_pnl,
    sharpe_ratio,
)
from stratforge.ci.scorecard.reasons import GateStatus as S
from stratforge.ci.scorecard.reasons import Verdict
from stratforge.ci.scorecard.render import render_markdown

from scorecard_kit import MIN, good_checks, intraday_run, spec

SPEC = spec(min_sharpe=1.0)
DAY = 86_400_000_000_000


def score(run):
    return build_scorecard(run, SPEC, **good_checks())


def gate(sc, name):
    return next(g for g in sc.gates if g.name == name)


def raw_sharpe(run, start, end, per_year=525_600.0):
    """Sharpe of the run's 1-minute returns without any policy (what the old scorecard gated)."""
    ts = np.asarray(run.equity.ts_ns, dtype=np.int64)
    pnl = np.asarray(run.equity.pnl, dtype=float)
    curve = resample_pnl(ts, pnl, start, end, MIN, keep_empty=True)
    return sharpe_ratio(np.diff(curve) / 20_000.0, per_year).value


# --- the three cases the policy must tell apart ---------------------------------------------


def test_clearly_losing_strategy_on_enough_data_fails():
    run = intraday_run(minutes=600, drift=-1.5, vol=3.0, seed=11)
    sc = score(run)
    g = gate(sc, R.G_MIN_SHARPE)
    assert (g.status, g.reason) == (S.FAIL, R.BELOW_THRESHOLD)
    assert g.measured < -50  # a clear loser, not a borderline one
    assert sc.metrics.in_sample.evidence.sufficient
    assert gate(sc, R.G_OOS_SHARPE).status is S.FAIL
    assert sc.verdict is Verdict.FAIL


def test_the_same_losing_strategy_on_seven_minutes_is_inconclusive():
    run = intraday_run(minutes=7, drift=-1.5, vol=3.0, seed=11, trips=120)
    p = run.period
    # the defect: annualised, seven minutes give a Sharpe of hundreds below zero ...
    assert raw_sharpe(run, p.start_ns, p.out_of_sample_start_ns) < -100
    sc = score(run)
    g = gate(sc, R.G_MIN_SHARPE)
    # ... which is no evidence: the gate says so, with the counts seen and needed
    assert (g.status, g.reason, g.measured) == (S.INCONCLUSIVE, R.SHORT_SAMPLE, None)
    n = sc.metrics.in_sample.evidence.returns
    assert "over at least 52.6 min" in g.message  # the 24/7 minimum span
    assert n < MIN_RETURNS
    assert f"{n} returns of 1min" in g.message and f"at least {MIN_RETURNS} returns" in g.message
    assert g.message.startswith("too little evidence: ") and "SHORT_SAMPLE" not in g.message
    oos = gate(sc, R.G_OOS_SHARPE)
    assert (oos.status, oos.reason) == (S.INCONCLUSIVE, R.SHORT_SAMPLE)
    assert g.out_of_sample is not None and g.out_of_sample.reason == R.SHORT_SAMPLE
    for r in (sc.metrics.in_sample.sharpe, sc.metrics.in_sample.sortino, sc.metrics.in_sample.calmar,
              sc.metrics.in_sample.annualised_return_pct, sc.metrics.in_sample.annualised_volatility_pct,
              sc.metrics.turnover_per_year):
        assert r.value is None and r.reason.startswith("SHORT_SAMPLE")
    assert sc.verdict is Verdict.INCONCLUSIVE


def test_clearly_winning_strategy_on_enough_data_passes():
    sc = score(intraday_run(minutes=600, drift=1.5, vol=3.0, seed=11))
    g = gate(sc, R.G_MIN_SHARPE)
    assert (g.status, g.reason) == (S.PASS, R.OK) and g.measured > 50
    assert gate(sc, R.G_OOS_SHARPE).status is S.PASS


# --- the two limits, each on its own --------------------------------------------------------


def _full(run):
    return compute_metrics(run, initial_capital=20_000.0).full


def test_enough_returns_but_too_short_a_span_on_a_24_7_market():
    # 40 one-minute returns pass the count but span 40 min < 1e-4 years (52.6 min): SE > 100
    assert MIN_RETURNS < 40 < MIN_SPAN_YEARS * 525_600
    m = _full(intraday_run(minutes=40, oos_fraction=0.0))
    assert m.evidence.returns == 40 and not m.evidence.sufficient
    assert m.sharpe.value is None and "SHORT_SAMPLE" in m.sharpe.reason
    assert math.sqrt(525_600 / 40) > MAX_SHARPE_SE
    m = _full(intraday_run(minutes=60, oos_fraction=0.0))
    assert m.evidence.returns == 60 and m.evidence.sufficient and m.sharpe.value is not None


def test_exchange_session_minutes_count_in_session_time():
    # the same 40 minutes on an exchange calendar are 40 of 98,280 session minutes a year: SE 49.6
    m = _full(intraday_run(minutes=40, oos_fraction=0.0, calendar="exchange"))
    assert m.evidence.sufficient and m.sharpe.value is not None
    assert m.evidence.span == "40 min of session"
    m = _full(intraday_run(minutes=20, oos_fraction=0.0, calendar="exchange"))
    assert not m.evidence.sufficient and "20 returns of 1min" in m.sharpe.reason


def _daily_run(days: int, seed: int = 3):
    rng = np.random.default_rng(seed)
    base = intraday_run(minutes=10, oos_fraction=0.0)
    t0 = 1_104_786_000_000_000_000  # 2005-01-03 21:00 UTC, a Monday
    ts, d = [], 0
    while len(ts) < days:
        t = t0 + d * DAY
        if ((t // DAY) + 3) % 7 < 5:
            ts.append(t)
        d += 1
    pnl = np.cumsum(rng.normal(20.0, 300.0, days))
    eq = base.equity.model_copy(update={"ts_ns": tuple(ts), "pnl": tuple(float(x) for x in pnl),
                                        "fees": (0.0,) * days, "positions": {"BTCUSDT": (0.0,) * days}})
    per = base.period.model_copy(update={"start_ns": ts[0] - DAY + 1, "end_ns": ts[-1] + 1,
                                         "out_of_sample_start_ns": None})
    return base.model_copy(update={"equity": eq, "period": per, "data_profile": "bars",
                                   "calendar": "exchange", "bar_interval_ns": DAY})


def test_daily_bars_need_enough_days():
    short = _full(_daily_run(MIN_RETURNS - 1))
    assert short.evidence.returns == MIN_RETURNS - 1 and not short.evidence.sufficient
    assert f"{MIN_RETURNS - 1} returns of 1d over {MIN_RETURNS - 1} days" in short.sharpe.reason
    assert f"over at least {MIN_RETURNS} days" in short.sharpe.reason
    enough = _full(_daily_run(MIN_RETURNS))
    assert enough.evidence.returns == MIN_RETURNS and enough.evidence.sufficient
    assert enough.sharpe.value is not None


# --- the standard error and the report ------------------------------------------------------


def test_sharpe_standard_error_is_lo_2002():
    run = intraday_run(minutes=300, oos_fraction=0.0, drift=0.8, seed=5)
    m = _full(run)
    ts = np.asarray(run.equity.ts_ns, dtype=np.int64)
    curve = resample_pnl(ts, np.asarray(run.equity.pnl), run.period.start_ns, run.period.end_ns, MIN,
                         keep_empty=True)
    r = np.diff(curve) / 20_000.0
    sr_p = r.mean() / r.std(ddof=1)
    expected = math.sqrt(525_600 * (1 + sr_p ** 2 / 2) / r.size)
    assert m.evidence.sharpe_se == pytest.approx(expected, rel=1e-12)
    assert m.sharpe.value == pytest.approx(sr_p * math.sqrt(525_600), rel=1e-12)


def test_markdown_shows_the_standard_error_and_the_span():
    md = render_markdown(score(intraday_run(minutes=7, trips=120)))
    assert "Sharpe standard error (Lo 2002)" in md
    assert "too short" in md and "SHORT_SAMPLE" in md

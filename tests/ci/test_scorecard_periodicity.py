"""Scorecard figures on real sf-replay runs against an independent computation.

Each test writes its own market (a seeded random walk), converts it with the project's CSV
converter, replays a reference strategy through the real, sandboxed ``sf-replay`` (the project's
replay config), scores it, and recomputes every periodicity-dependent figure here from the data
file and the fill list alone: the account is rebuilt as cash + position x mark at the end of
each period, and the ratios use empyrical-style formulas written out below (numpy only). Nothing
here calls the scorecard's own resampling or ratio functions.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from pathlib import Path

import numpy as np
import pytest


from resource_kit import missing
from stratforge.core.tools import reference_plugin
from stratforge.ci.backtest.data import calendar_of
from stratforge.ci.scorecard import build_scorecard
from stratforge.ci.scorecard import reasons as R
from stratforge.ci.scorecard.adapters import from_replay_results
from stratforge.ci.scorecard.metrics import compute_metrics
from stratforge.ci.scorecard.render import render_markdown
from stratforge.core.spec import load_spec
from stratforge.runtime.data.csvfmt import convert_bars_csv, convert_quotes_csv
from stratforge.sandbox import LocalBackend
from stratforge.core.engine_config import engine_config
from stratforge.sandbox.replay import run_replay

from scorecard_kit import good_checks

NS = 1_000_000_000
MINUTE = 60 * NS
DAY = 86_400 * NS

SPEC_TEMPLATE = """\
apiVersion: stratforge/v1
kind: Strategy
metadata:
  name: {name}
  owner: scorecard-tests
  description: A test strategy whose figures are recomputed independently.
strategy:
  type: {stype}
  instruments:
    - symbol: {symbol}
      venue: {venue}
      tick_size: "{tick}"
      lot_size: "1"
      quote_currency: USD
  params:
{params}
risk:
  max_order_qty: {max_qty}
  max_position: {max_qty}
  max_order_notional: 10000000
  max_open_orders: 8
  max_orders_per_second: 1000
  price_band_bps: 3000
  max_loss: 100000000
  max_drawdown: 100000000
latency:
  callback_p50_ns: 2000
  callback_p99_ns: 50000
  tick_to_order_p99_ns: 100000
backtest:
  data:
    kind: synthetic
    profile: {profile}
    events: 1000
    seed: 4242
    start: 2011-06-01T00:00:00Z
    start_price: 1000
    volatility_annual: 0.3
  period:
    out_of_sample_fraction: {oos}
  fees:
    maker_bps: {maker_bps}
    taker_bps: 3
  latency:
    model: constant
    feed_ns: {lat}
    order_ns: {lat}
  queue:
    model: back_of_queue
  initial_capital: {capital}
gates:
  min_sharpe: 0.1
  max_drawdown_pct: 50
  min_trades: 3
  max_callback_p99_ns: 50000
  shadow:
    min_duration_s: 3600
    min_fills: 1
    max_pnl_deviation_pct: 100
    max_fill_ratio_deviation_pct: 50
"""

MOMENTUM_PARAMS = """\
    fast_window: 7
    slow_window: 29
    order_qty: 60
    sides: both"""

MM_PARAMS = """\
    gamma: 0.3
    kappa: 4
    horizon_s: 12
    vol_window: 300
    order_qty: 1
    max_inventory: 8
    min_spread_ticks: 2
    requote_ticks: 1"""


@pytest.fixture(scope="module")
def backend():
    b = LocalBackend()
    ok, why = b.available()
    if not ok:
        missing("sandbox", why)
    return b


def builtin_plugin(name: str) -> Path:
    """The installed reference plugin; its absence fails the test (`pip install .` builds it)."""
    return reference_plugin(name)


def make_spec(tmp_path: Path, **kw):
    text = SPEC_TEMPLATE.format(**kw)
    path = tmp_path / f"{kw['name']}.yaml"
    path.write_text(text, encoding="utf-8")
    return load_spec(path).spec


def replay(backend, spec, plugin: str, params: str, data: Path, out: Path, *, bar_mode: bool):
    pfile = out.parent / f"{out.name}-params.txt"
    pfile.write_text(params, encoding="utf-8")
    run = run_replay(backend, spec, plugin=builtin_plugin(plugin), params=pfile, data=data,
                     out_dir=out, bar_mode=bar_mode, tape=False)
    assert run.ok, run.message
    return run


# --------------------------------------------------------------------------------------------
# the independent computation (empyrical-style formulas, written out)


def fills_cash_position(results: dict):
    """(ts, cumulative cash, cumulative position) after each fill, from the results' fill list."""
    fills = results["strategies"][0]["fills"]
    ts = np.array([f["ts"] for f in fills], dtype=np.int64)
    sgn = np.array([1.0 if f["side"] == "BUY" else -1.0 for f in fills])
    size = np.array([f["size"] for f in fills], dtype=float)
    cash = np.cumsum(-sgn * np.array([f["price"] for f in fills]) * size - np.array([f["fee"] for f in fills]))
    pos = np.cumsum(sgn * size)
    return ts, cash, pos


def account_at(ts_f, cash, pos, t_end_exclusive: np.ndarray, mark: np.ndarray) -> np.ndarray:
    """Cash + position x mark, counting the fills strictly before each end time."""
    k = np.searchsorted(ts_f, t_end_exclusive, side="left")  # fills with ts < end
    c = np.where(k > 0, cash[np.maximum(k - 1, 0)], 0.0) if ts_f.size else np.zeros(len(k))
    q = np.where(k > 0, pos[np.maximum(k - 1, 0)], 0.0) if ts_f.size else np.zeros(len(k))
    return c + q * mark


def sharpe(r, n):
    return np.mean(r) / np.std(r, ddof=1) * math.sqrt(n)


def sortino(r, n):
    downside = np.sqrt(np.mean(np.clip(r, None, 0.0) ** 2))
    return np.mean(r) * n / (downside * math.sqrt(n))  # empyrical: annual mean / annual downside risk


def cagr_pct(total_return, n_returns, n):
    return ((1.0 + total_return) ** (n / n_returns) - 1.0) * 100.0


def vol_pct(r, n):
    return np.std(r, ddof=1) * math.sqrt(n) * 100.0


def close(a, b):
    return a == pytest.approx(b, rel=1e-9, abs=1e-9)


# --------------------------------------------------------------------------------------------
# a long daily bar run


def business_days(first: dt.date, count: int) -> list[dt.date]:
    out, d = [], first
    while len(out) < count:
        if d.weekday() < 5:
            out.append(d)
        d += dt.timedelta(days=1)
    return out


def write_daily_csv(path: Path, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    closes = np.round(37.0 * np.exp(np.cumsum(rng.normal(0.0002, 0.018, n))), 2)
    opens = np.round(np.r_[37.0, closes[:-1]] * np.exp(rng.normal(0, 0.004, n)), 2)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["Date", "Open", "High", "Low", "Close", "Adj Close", "Volume"])
        for d, o, c in zip(business_days(dt.date(2003, 3, 3), n), opens, closes):
            w.writerow([d.isoformat(), f"{o:.2f}", f"{max(o, c) + 0.05:.2f}", f"{min(o, c) - 0.05:.2f}",
                        f"{c:.2f}", f"{c:.2f}", 250000])
    return closes


@pytest.fixture(scope="module")
def daily_run(backend, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("daily")
    n = 5040
    closes = write_daily_csv(tmp / "wlk.csv", n, seed=20240611)
    conv = convert_bars_csv(tmp / "wlk.csv", layout="yahoo", symbol="WLK")
    data = conv.write(tmp / "wlk.sfe")
    spec = make_spec(tmp, name="wlk-daily-momentum", stype="momentum", symbol="WLK", venue="xnys",
                     tick="0.01", params=MOMENTUM_PARAMS, max_qty=200, profile="bars", oos=0.3,
                     maker_bps=1, lat=0, capital=25000)
    run = replay(backend, spec, "bar_momentum", "lookback=12\nqty=60\n", data, tmp / "out", bar_mode=True)
    scored = from_replay_results(run.results, spec)
    scored = scored.model_copy(update={"calendar": calendar_of(spec)})
    return spec, run.results, scored, closes, conv.events["recv_ts"].astype(np.int64)


def test_daily_bar_run_metrics_match_an_independent_computation(daily_run):
    """Acceptance: metrics on a 5,000-bar daily run match an independent computation to 1e-9."""
    spec, results, scored, closes, bar_ts = daily_run
    capital = float(spec.backtest.initial_capital)
    m = compute_metrics(scored, initial_capital=capital)
    ts_f, cash, pos = fills_cash_position(results)
    assert ts_f.size > 50  # the strategy traded throughout
    equity = account_at(ts_f, cash, pos, bar_ts + 1, closes)  # after each bar (its fills included)

    def check(sl, mask):
        prior = equity[bar_ts < sl.start_ns]
        base = prior[-1] if prior.size else 0.0
        eq = equity[mask]
        r = np.diff(np.r_[base, eq]) / capital  # one return per bar
        p = sl.periodicity
        assert (p.period, p.period_ns, p.calendar, p.periods_per_year) == ("1d", DAY, "exchange", 252.0)
        assert p.observations == r.size and p.sampling == "each bar"
        assert close(sl.pnl_net, eq[-1] - base)
        assert close(sl.sharpe.value, sharpe(r, 252))
        assert close(sl.sortino.value, sortino(r, 252))
        assert close(sl.annualised_return_pct.value, cagr_pct((eq[-1] - base) / capital, r.size, 252))
        assert close(sl.annualised_volatility_pct.value, vol_pct(r, 252))
        running = np.maximum.accumulate(np.r_[base, eq])[1:]
        assert close(sl.max_drawdown.abs, np.max(running - eq))
        return r

    r_full = check(m.full, np.ones(bar_ts.size, bool))
    assert r_full.size == 5040
    oos = m.out_of_sample.start_ns
    r_in = check(m.in_sample, bar_ts < oos)
    r_out = check(m.out_of_sample, bar_ts >= oos)
    assert r_in.size + r_out.size == r_full.size
    years = r_full.size / 252
    notional = sum(f["price"] * f["size"] for f in results["strategies"][0]["fills"])
    assert close(m.turnover_per_year.value, notional / capital / years)


def test_old_every_n_events_sampling_is_the_bug_and_is_refused(daily_run):
    """The reported bug: ~5,000 bars sampled every n/2000 = 2 events made 2-bar returns scored
    as daily ones ("1d x 2483"), Sharpe ~1.4x and the annualised return 2x too high. Replaying
    the same results as the old engine wrote them (every second sample, no sampling record)
    must not produce a Sharpe: per-period returns cannot be formed from them."""
    spec, results, scored, closes, bar_ts = daily_run
    capital = float(spec.backtest.initial_capital)
    doc = {**results, "strategies": [dict(results["strategies"][0])]}
    ps = dict(doc["strategies"][0]["pnl_series"])
    for key in ("ts", "pnl", "fees", "position_lots"):
        ps[key] = ps[key][1::2]  # what sampling every 2 events kept
    del ps["sampling"]          # the old engine did not say how it sampled
    doc["strategies"][0]["pnl_series"] = ps
    old = from_replay_results(doc, spec).model_copy(update={"calendar": "exchange"})
    assert old.equity.sample_every_events == 2
    m = compute_metrics(old, initial_capital=capital)
    for ratio in (m.full.sharpe, m.full.sortino, m.full.annualised_return_pct, m.full.annualised_volatility_pct):
        assert ratio.value is None and ratio.reason.startswith("COARSE_SAMPLING")
    assert "every 2 events" in m.full.sharpe.reason
    # and the figures the old scorecard printed really were wrong: 2-bar returns over the
    # 1-day factor against the true daily Sharpe
    eq = account_at(*fills_cash_position(results), bar_ts + 1, closes)
    daily = sharpe(np.diff(np.r_[0.0, eq]) / capital, 252)
    two_bar = sharpe(np.diff(np.r_[0.0, eq[1::2]]) / capital, 252)
    assert abs(two_bar / daily - 1) > 0.2


def test_scored_figures_are_not_the_two_bar_ones(daily_run):
    """On the fixed path the scorecard's observations are the bars, not about half of them."""
    spec, _results, scored, _closes, bar_ts = daily_run
    m = compute_metrics(scored, initial_capital=float(spec.backtest.initial_capital))
    assert m.full.periodicity.observations == bar_ts.size
    assert scored.equity.sample_period_ns == 1 and len(scored.equity.ts_ns) == bar_ts.size
    card = build_scorecard(scored, spec, bar_agreement=None, **good_checks())
    md = render_markdown(card)
    assert "1d x 5040" in md and "PnL sampled each bar" in md and "exchange calendar" in md


# --------------------------------------------------------------------------------------------
# an L2 (quotes) run and a losing market maker


def write_quotes_csv(path: Path, seed: int, *, hours: float, drift_ticks_per_min: float,
                     gap: tuple[int, int] | None = None) -> dict:
    """Top-of-book quotes, 2-tick spread, a random walk in ticks (jumps of several ticks fill
    resting quotes) with the given drift; quotes at
    exponential intervals (mean 0.7 s), none inside ``gap`` (minutes from the start)."""
    rng = np.random.default_rng(seed)
    t0 = int(np.datetime64("2025-02-13T13:00:00", "ns").astype(np.int64))  # a Thursday
    n = int(hours * 3600 / 0.7)
    ts = t0 + np.cumsum(rng.exponential(0.7 * NS, n)).astype(np.int64)
    ts = ts[ts < t0 + int(hours * 3600 * NS)]
    if gap is not None:
        ts = ts[(ts < t0 + gap[0] * MINUTE) | (ts >= t0 + gap[1] * MINUTE)]
    steps = np.round(rng.normal(0.0, 1.4, ts.size)).astype(np.int64)  # jumps through resting quotes
    drift = np.floor((ts - t0) / MINUTE * drift_ticks_per_min).astype(np.int64)
    mid_ticks = 40000 + np.cumsum(steps) + drift  # tick 0.05 -> mid around 2000
    bid, ask = (mid_ticks - 1) * 0.05, (mid_ticks + 1) * 0.05
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["ts", "bid_px", "bid_qty", "ask_px", "ask_qty"])
        for t, b, a, qb, qa in zip(ts, bid, ask, rng.integers(1, 6, ts.size), rng.integers(1, 6, ts.size)):
            w.writerow([int(t), f"{b:.2f}", int(qb), f"{a:.2f}", int(qa)])
    return {"ts": ts, "mid": (bid + ask) / 2}


def l2_independent(results, quotes, start_ns, end_ns, capital, per_year):
    """1-minute returns on the epoch grid: the account at each minute's end (fills and quotes
    strictly before it), every minute of a continuous market counted."""
    g0 = start_ns - start_ns % MINUTE
    ends = np.arange(g0 + MINUTE, end_ns + MINUTE, MINUTE, dtype=np.int64)
    ends = ends[ends - MINUTE < end_ns]
    last_quote = np.searchsorted(quotes["ts"], np.minimum(ends, end_ns), side="left") - 1
    mark = quotes["mid"][np.maximum(last_quote, 0)]
    eq = account_at(*fills_cash_position(results), np.minimum(ends, end_ns), mark)
    r = np.diff(np.r_[0.0, eq]) / capital
    return r, eq[-1]


def run_mm(backend, tmp, name, *, drift, capital, maker_bps, gap=None, seed=7):
    quotes = write_quotes_csv(tmp / f"{name}.csv", seed, hours=3, drift_ticks_per_min=drift, gap=gap)
    conv = convert_quotes_csv(tmp / f"{name}.csv", symbol="XPT", tick_size="0.05")
    data = conv.write(tmp / f"{name}.sfe")
    spec = make_spec(tmp, name=name, stype="market_making", symbol="XPT", venue="binance-futures",
                     tick="0.05", params=MM_PARAMS, max_qty=20, profile="l2", oos=0,
                     maker_bps=maker_bps, lat=20000, capital=capital)
    run = replay(backend, spec, "market_maker", "qty=1\noffset_ticks=1\nmax_inventory=8\n", data,
                 tmp / f"{name}-out", bar_mode=False)
    scored = from_replay_results(run.results, spec).model_copy(update={"calendar": calendar_of(spec)})
    return spec, run.results, scored, quotes


def test_l2_run_minute_returns_match_an_independent_computation(backend, tmp_path):
    spec, results, scored, quotes = run_mm(backend, tmp_path, "xpt-quoter", drift=0.0, capital=5000,
                                           maker_bps=-1, gap=(70, 77))
    capital = float(spec.backtest.initial_capital)
    m = compute_metrics(scored, initial_capital=capital)
    assert len(results["strategies"][0]["fills"]) > 30
    p = m.full.periodicity
    assert (p.period, p.calendar, p.periods_per_year, p.sampling) == ("1min", "continuous", 525600.0, "every 1min")
    r, final = l2_independent(results, quotes, m.full.start_ns, m.full.end_ns, capital, 525600)
    assert p.observations == r.size == 180  # 3 hours of minutes, the quiet 7 included
    assert close(m.full.pnl_net, final)
    assert close(m.full.sharpe.value, sharpe(r, 525600))
    assert close(m.full.sortino.value, sortino(r, 525600))
    assert close(m.full.annualised_volatility_pct.value, vol_pct(r, 525600))
    assert close(m.full.annualised_return_pct.value, cagr_pct(final / capital, r.size, 525600))
    # the engine sampled at every minute boundary with activity, stamped with the minute's end
    ts = np.asarray(scored.equity.ts_ns[:-1])
    assert np.all((ts + 1) % MINUTE == 0)


def test_losing_market_maker_annualised_return_is_bounded(backend, tmp_path):
    """A market maker run over by a falling market: the simple annualisation the old scorecard
    used (-PnL/C0 x N/n) goes far below -100 %; the compounded one stays above it and matches
    the independent CAGR; a loss of the whole capital is exactly -100 %."""
    spec, results, scored, quotes = run_mm(backend, tmp_path, "xpt-run-over", drift=-0.6, capital=3000,
                                           maker_bps=2, seed=11)
    loss = compute_metrics(scored, initial_capital=float(spec.backtest.initial_capital)).full.pnl_net
    assert loss < 0
    capital = -loss * 400  # a 0.25 % loss in 3 hours: far below -100 % a year when not compounded
    m = compute_metrics(scored, initial_capital=capital)
    r, final = l2_independent(results, quotes, m.full.start_ns, m.full.end_ns, capital, 525600)
    assert final < 0 and m.full.pnl_net == pytest.approx(final, rel=1e-9)
    simple = final / capital * 525600 / r.size * 100.0
    assert simple < -100.0  # what the old definition printed
    ann = m.full.annualised_return_pct.value
    assert -100.0 < ann < 0.0 and close(ann, cagr_pct(final / capital, r.size, 525600))
    assert close(m.full.sharpe.value, sharpe(r, 525600)) and m.full.sharpe.value < 0
    assert close(m.full.sortino.value, sortino(r, 525600))
    # the same loss on a capital smaller than it: the equity is gone, -100 % exactly
    small = compute_metrics(scored, initial_capital=-final / 2)
    assert small.full.annualised_return_pct.value == -100.0
    assert small.full.calmar.value is not None and math.isfinite(small.full.calmar.value)


def test_period_sampling_that_does_not_divide_the_return_period_is_refused(daily_run):
    spec, _results, scored, _closes, _ts = daily_run
    odd = scored.model_copy(update={"equity": scored.equity.model_copy(
        update={"sample_period_ns": 7 * 3600 * NS})})
    m = compute_metrics(odd, initial_capital=float(spec.backtest.initial_capital))
    assert m.full.sharpe.value is None and "every 7h" in m.full.sharpe.reason
    assert m.turnover_per_year.value is None
    assert R.UNDEF_COARSE_SAMPLING.split(":")[0] == "COARSE_SAMPLING"


def test_the_replay_asks_the_engine_for_the_scorecards_periods(tmp_path):
    spec = make_spec(tmp_path, name="cfg-check", stype="momentum", symbol="CFG", venue="xnys", tick="0.01",
                     params=MOMENTUM_PARAMS, max_qty=120, profile="bars", oos=0, maker_bps=1, lat=0,
                     capital=1000)
    bars = engine_config(spec, plugin="p", params="", data="d", bar_mode=True).to_json()["output"]
    l2 = engine_config(spec, plugin="p", params="", data="d", bar_mode=False).to_json()["output"]
    assert bars["pnl_sample_period_ns"] == 1 and l2["pnl_sample_period_ns"] == MINUTE
    assert "pnl_sample_every" not in bars and "pnl_sample_every" not in l2

"""Test kit for the scorecard: factories for specs, runs and side-check results."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from stratforge.ci.scorecard.inputs import (
    BacktestRun,
    BiasResult,
    CheckStatus,
    EquitySeries,
    Fill,
    LatencySummary,
    OrderCounts,
    ParityResult,
    ParityStatus,
    Provenance,
    RecordedModels,
    RunPeriod,
    SanitizerStatus,
    StaticFindings,
    TestResults,
    TestSuite,
)
from stratforge.core.spec.loader import load_spec

REPO = Path(__file__).resolve().parents[2]
T0 = 1_723_161_240_000_000_000  # 2024-08-08T23:54:00Z, a Thursday
MIN = 60_000_000_000


def spec(name: str = "btc-perp-avellaneda", **gate_overrides):
    """A spec from specs/; ``gate_overrides`` replace fields of its ``gates``."""
    s = load_spec(REPO / "specs" / f"{name}.yaml").spec
    if gate_overrides:
        s = s.model_copy(update={"gates": s.gates.model_copy(update=gate_overrides)})
    return s


def latency(p99: int = 1000, count: int = 1000, t2o: bool = False) -> LatencySummary:
    base = p99 // 4
    buckets = tuple((int(base * (1.25 ** i)), int(count * np.exp(-0.5 * (i - 4) ** 2) / 2.5)) for i in range(10))
    return LatencySummary(count=count, p50_ns=base, p90_ns=p99 // 2, p99_ns=p99, p999_ns=p99 * 2,
                          max_ns=p99 * 3, buckets=tuple(b for b in buckets if b[1] > 0))


def intraday_run(*, minutes: int = 600, seed: int = 7, drift: float = 0.4, vol: float = 4.0,
                 trips: int = 120, oos_fraction: float = 0.3, **overrides) -> BacktestRun:
    """A market-making-like L2 run: PnL sampled every 10 s, round trips spread evenly."""
    rng = np.random.default_rng(seed)
    n = minutes * 6
    ts = T0 + np.arange(n, dtype=np.int64) * 10_000_000_000
    steps = rng.normal(drift / 6, vol / np.sqrt(6), n)
    steps[0] = 0.0
    pnl = np.cumsum(steps)
    fees = np.cumsum(np.full(n, 0.01))
    pos = np.round(np.clip(np.cumsum(rng.normal(0, 0.01, n)), -0.05, 0.05), 3)
    fills = []
    for k in range(trips):
        t = int(ts[0] + (k + 0.5) * (ts[-1] - ts[0]) / trips)
        px = 61000 + 10 * np.sin(k)
        edge = 3.0 if k % 3 else -20.0
        fills.append(Fill(ts_ns=t, symbol="BTCUSDT", side="buy", px=px, qty=0.01, fee=-0.03, liquidity="maker"))
        fills.append(Fill(ts_ns=t + 1_000_000_000, symbol="BTCUSDT", side="sell", px=px + edge, qty=0.01,
                          fee=-0.03, liquidity="maker"))
    end = int(ts[-1]) + 10_000_000_000
    start = int(ts[0])
    oos = int(start + (end - start) * (1 - oos_fraction)) if oos_fraction > 0 else None
    kw = dict(
        strategy="btc-perp-avellaneda", status="ok", data_profile="l2", calendar="continuous",
        models=RecordedModels(venue="sim", latency="lognormal(feed_median_ns=800000)", queue="back_of_queue",
                              fees="maker_bps=-0.5 taker_bps=4.5"),
        period=RunPeriod(start_ns=start, end_ns=end, out_of_sample_start_ns=oos),
        equity=EquitySeries(ts_ns=tuple(int(x) for x in ts), pnl=tuple(float(x) for x in pnl),
                            fees=tuple(float(x) for x in fees), positions={"BTCUSDT": tuple(float(x) for x in pos)}),
        fills=tuple(fills),
        orders=OrderCounts(sent=trips * 4, accepted=max(0, trips * 4 - 3), cancelled=trips * 2, replaced=trips,
                           ordered_qty=trips * 4 * 0.01, filled_qty=trips * 2 * 0.01),
        risk_denials={"PRICE_BAND": 2, "RATE_LIMIT": 1},
        callback_latency=latency(1000), tick_to_order_latency=latency(1500),
        events_processed=200_000, wall_time_s=1.7)
    kw.update(overrides)
    return BacktestRun(**kw)


def good_checks() -> dict:
    return dict(
        tests=TestResults(python=TestSuite(passed=12, failed=0), cpp=TestSuite(passed=20, failed=0),
                          sanitizer=SanitizerStatus.clean),
        findings=StaticFindings(findings=()),
        parity=ParityResult(status=ParityStatus.match, events_compared=200_000),
        bias=BiasResult(lookahead=CheckStatus.passed, truncations_checked=5, warmup_respected=True),
        provenance=Provenance(spec_hash="ab" * 32, build_id="cd" * 32, template_version="1.0.0", provider=None,
                              model=None, seed=0, compiler="g++ 12.2.0",
                              source_hashes={"cpp/strategy.cpp": "ef" * 32, "python/strategy.py": "01" * 32}),
    )

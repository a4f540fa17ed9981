"""A pair on bars of two instruments: the runtime's bar mode and the twin in backtrader (one feed
per instrument) agree fill by fill, and planted look-ahead / warm-up faults in a pair twin are
caught. The spec and its cointegrated synthetic bars are this test's own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from crosscheck_kit import bar_replay
from planted import PAIR_EARLY, PAIR_PEEK, plant

from stratforge.ci.backtest.data import synth_bars, to_ns
from stratforge.ci.crosscheck import agreement_report, bias_report, crosscheck_spec
from stratforge.ci.crosscheck.bars import bar_instruments
from stratforge.ci.scorecard.inputs import CheckStatus
from stratforge.core.spec import load_spec
from stratforge.runtime.data.format import open_events, write_events

pytestmark = pytest.mark.slow

SPEC = """\
apiVersion: stratforge/v1
kind: Strategy
metadata:
  name: xc-pair-bars
  owner: tests
  description: Two cointegrated synthetic shares, rolling-OLS hedge, cross-checked on bars.
strategy:
  type: stat_arb
  instruments:
    - {symbol: PAXQ, venue: nyse, tick_size: "0.01", lot_size: "1", quote_currency: USD}
    - {symbol: PBXQ, venue: nyse, tick_size: "0.05", lot_size: "10", quote_currency: USD}
  params:
    hedge_ratio: {mode: rolling_ols, window: 40}
    window: 20
    entry_z: 1.3
    exit_z: 0.4
    order_qty: "50"
risk:
  max_order_qty: "1000"
  max_position: "1000"
  max_order_notional: 100000
  max_open_orders: 4
  max_orders_per_second: 10
  price_band_bps: 2000
  max_loss: 50000
  max_drawdown: 50000
latency: {callback_p50_ns: 50000, callback_p99_ns: 500000, tick_to_order_p99_ns: 1000000}
backtest:
  data: {kind: synthetic, profile: bars, events: 700, seed: 9127, start: 2011-02-01T21:00:00Z,
         start_price: 64, volatility_annual: 0.28}
  period: {out_of_sample_fraction: 0.25}
  fees: {maker_bps: 0.8, taker_bps: 1.2}
  latency: {model: constant, feed_ns: 0, order_ns: 0}
  queue: {model: back_of_queue}
  initial_capital: 80000
gates:
  min_sharpe: 0.2
  max_drawdown_pct: 20
  min_trades: 5
  max_callback_p99_ns: 500000
  shadow: {min_duration_s: 86400, min_fills: 4, max_pnl_deviation_pct: 60, max_fill_ratio_deviation_pct: 25}
"""


@pytest.fixture(scope="module")
def pair(tmp_path_factory, backend):
    """(loaded spec, bundle, build dir with strategy.so, .sfe of both legs' bars)."""
    root = tmp_path_factory.mktemp("pair-bars")
    path = root / "xc-pair-bars.yaml"
    path.write_text(SPEC)
    proc = subprocess.run([sys.executable, "-m", "stratforge", "generate", str(path), "--out",
                           str(root / "bundles"), "--build-dir", str(root / "build")],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    loaded = load_spec(path)
    (so,) = sorted((root / "build" / "xc-pair-bars").glob("*/strategy.so"))
    d = loaded.spec.backtest.data
    instruments, events = synth_bars(loaded.spec, d.events, d.seed, to_ns(d.start), float(d.start_price),
                                     d.volatility_annual)
    data = root / "pair.sfe"
    write_events(data, instruments, events, source="test-pair")
    return loaded, root / "bundles" / "xc-pair-bars", so.parent, data


def test_the_data_holds_both_legs_bar_by_bar(pair):
    *_, data = pair
    inst = bar_instruments(data)
    assert len(inst) == 1400 and set(inst.tolist()) == {0, 1}
    assert (inst[0::2] == 0).all() and (inst[1::2] == 1).all()  # per day: leg 1, then leg 2


def test_runtime_and_backtrader_agree_on_both_legs(backend, pair, tmp_path):
    loaded, bundle, build, data = pair
    spec = crosscheck_spec(loaded)
    results = bar_replay(backend, spec, build, bundle, data, tmp_path / "replay")
    rep = agreement_report(backend, bundle, tmp_path, data, spec, results)
    a = rep.agreement
    print(f"\npair: fills rt={rep.runtime_fills} bt={rep.backtrader_fills} trades rt={a.runtime_trades} "
          f"bt={a.backtrader_trades} pnl rt={a.runtime_final_pnl:.6f} bt={a.backtrader_final_pnl:.6f}")
    assert a.status is CheckStatus.passed, a.details
    fills = rep.backtrader.result.fills
    assert {f.instrument for f in fills} == {"PAXQ", "PBXQ"}  # both legs traded
    assert rep.runtime_fills >= 10
    assert abs(a.runtime_final_pnl - a.backtrader_final_pnl) <= a.pnl_tolerance


def test_a_doctored_second_leg_fill_is_caught(backend, pair, tmp_path):
    loaded, bundle, build, data = pair
    spec = crosscheck_spec(loaded)
    results = bar_replay(backend, spec, build, bundle, data, tmp_path / "replay")
    fills = results["strategies"][0]["fills"]
    k = next(i for i, f in enumerate(fills) if f["instrument"] == "PBXQ")
    fills[k]["instrument"] = "PAXQ"  # the right price and size, booked on the wrong leg
    a = agreement_report(backend, bundle, tmp_path, data, spec, results).agreement
    assert a.status is CheckStatus.failed
    assert f"fill #{k} differs" in a.details


def test_clean_pair_passes_the_bias_checks(backend, pair, tmp_path):
    loaded, bundle, _, data = pair
    rep = bias_report(backend, bundle, tmp_path, data, loaded)
    r = rep.result
    assert r.lookahead is CheckStatus.passed, r.lookahead_details
    assert r.truncations_checked == 5
    assert r.warmup_respected is True, r.warmup_details
    assert "pair update(s)" in r.warmup_details and "(need 59:" in r.warmup_details  # 40 + 20 - 1
    h = rep.holdout
    assert h.in_sample_bars + h.out_of_sample_bars == 1400


def test_planted_lookahead_in_a_pair_is_caught(backend, pair, tmp_path):
    loaded, bundle, _, data = pair
    peek = plant(bundle, tmp_path / "peek", PAIR_PEEK)
    r = bias_report(backend, peek, tmp_path, data, loaded).result
    assert r.lookahead is CheckStatus.failed
    assert r.lookahead_details.startswith("cut after bar ")


def test_planted_early_pair_entry_is_caught(backend, pair, tmp_path):
    loaded, bundle, _, data = pair
    eager = plant(bundle, tmp_path / "eager", PAIR_EARLY)
    r = bias_report(backend, eager, tmp_path, data, loaded).result
    assert r.warmup_respected is False
    assert "buy entry (order id 1, instrument 0, on_bar of bar #1) after 1 pair update(s)" in r.warmup_details
    assert r.lookahead is CheckStatus.passed  # early, not clairvoyant


def test_cointegrated_legs_move_together(pair):
    *_, data = pair
    ev = open_events(data).events
    c0 = ev["v"][ev["instrument"] == 0][:, 3] * 0.01
    c1 = ev["v"][ev["instrument"] == 1][:, 3] * 0.05
    r0, r1 = np.diff(np.log(c0)), np.diff(np.log(c1))
    assert np.corrcoef(np.log(c0), np.log(c1))[0, 1] > 0.9
    spread = np.log(c1) - np.log(c0)
    assert abs(spread.mean()) < 0.05 and spread.std() < 0.05  # reverts around the start ratio
    assert np.corrcoef(r0, r1)[0, 1] > 0.3


def test_with_its_own_limits_no_leg_is_denied_a_stale_reference(backend, pair, tmp_path):
    """The spec's own risk limits: the leg decided on the other leg's bar sees yesterday's close
    as its reference. It used to be denied STALE_REFERENCE (engine default 5 s), so the runtime
    dropped orders backtrader filled."""
    loaded, bundle, build, data = pair
    results = bar_replay(backend, loaded.spec, build, bundle, data, tmp_path / "replay")
    risk = results["strategies"][0]["risk"]
    assert risk["denials_by_reason"] == {}, risk["denials"][:3]
    a = agreement_report(backend, bundle, tmp_path, data, loaded.spec, results).agreement
    assert a.status is CheckStatus.passed, a.details

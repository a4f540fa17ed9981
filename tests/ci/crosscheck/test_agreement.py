"""Runtime bar mode vs the Python twin in backtrader, on synthetic and shared real data."""

from __future__ import annotations

import pytest
from crosscheck_kit import bar_replay
from planted import EARLY, plant

from stratforge.ci.crosscheck import (agreement_report, build_bar_agreement, compare_fills, crosscheck_spec,
                                      pnl_tolerance, runtime_round_trips)
from stratforge.ci.scorecard.inputs import CheckStatus


def _fill(ts, side, px, qty, price=1.0, size=1.0):
    return {"ts": ts, "side": side, "px": px, "qty": qty, "price": price, "size": size}


def test_compare_fills_names_the_first_difference():
    a = [_fill(1, "BUY", 100, 5), _fill(2, "SELL", 101, 5)]
    assert compare_fills(a, list(a)) == ""
    b = [_fill(1, "BUY", 100, 5), _fill(2, "SELL", 102, 5)]
    assert compare_fills(a, b).startswith("fill #1 differs")
    assert "backtrader has 1 more fill" in compare_fills(a, a + [_fill(3, "BUY", 99, 1)])


def test_round_trips_count_position_cycles_and_flips():
    fills = [_fill(1, "BUY", 1, 5), _fill(2, "SELL", 1, 10), _fill(3, "BUY", 1, 5), _fill(4, "BUY", 1, 3),
             _fill(5, "SELL", 1, 1)]
    # long closed by a flip (1), short closed (2); the last long is still open
    assert runtime_round_trips(fills) == 2


def test_pnl_tolerance_is_a_cent_plus_rounding():
    assert pnl_tolerance([]) == pytest.approx(0.01)
    assert pnl_tolerance([_fill(1, "BUY", 1, 1, price=100.0, size=1e6)]) == pytest.approx(0.01 + 0.1)


def _check(backend, tmp_path, spec, bundle, build, data):
    results = bar_replay(backend, spec, build, bundle, data, tmp_path / "replay")
    rep = agreement_report(backend, bundle, tmp_path, data, spec, results)
    a = rep.agreement
    print(f"\n{spec.metadata.name} on {data.name}: fills rt={rep.runtime_fills} bt={rep.backtrader_fills} "
          f"trades rt={a.runtime_trades} bt={a.backtrader_trades} pnl rt={a.runtime_final_pnl:.6f} "
          f"bt={a.backtrader_final_pnl:.6f} diff={abs(a.runtime_final_pnl - a.backtrader_final_pnl):.3e} "
          f"fees rt={rep.runtime_fees:.6f} bt={rep.backtrader_fees:.6f} [{a.status.value}]")
    assert a.status is CheckStatus.passed, a.details
    assert rep.first_difference == ""
    assert a.runtime_trades == a.backtrader_trades
    assert abs(a.runtime_final_pnl - a.backtrader_final_pnl) <= a.pnl_tolerance
    return rep


@pytest.mark.slow
@pytest.mark.parametrize("name", ["nvda-momentum", "orcl-mean-reversion"])
def test_bar_mode_agrees_with_backtrader_on_sample_data(backend, examples, sample_data, tmp_path, name):
    loaded, bundle, build = examples[name]
    rep = _check(backend, tmp_path, crosscheck_spec(loaded), bundle, build, sample_data[name])
    assert rep.runtime_fills > 10  # the example trades: agreement on nothing would prove nothing


@pytest.mark.slow
def test_binding_risk_limits_are_named(backend, examples, sample_data, tmp_path):
    """With the spec's own limits the ORCL example trips its drawdown limit (2,500 < max_loss
    3,000) in the runtime: the cross-check fails and says why (backtrader has no risk gate)."""
    loaded, bundle, build = examples["orcl-mean-reversion"]
    data = sample_data["orcl-mean-reversion"]
    results = bar_replay(backend, loaded.spec, build, bundle, data, tmp_path / "replay")
    a = agreement_report(backend, bundle, tmp_path, data, loaded.spec, results).agreement
    assert a.status is CheckStatus.failed
    assert "kill switch engaged (MAX_DRAWDOWN)" in a.details


def test_disagreement_is_reported(backend, examples, sample_data, tmp_path):
    """Doctored runtime results (one fill price moved) fail, naming the fill."""
    loaded, bundle, build = examples["nvda-momentum"]
    data = sample_data["nvda-momentum"]
    results = bar_replay(backend, loaded.spec, build, bundle, data, tmp_path / "replay")
    strat = results["strategies"][0]
    strat["fills"][2]["px"] += 1
    strat["summary"]["pnl"] += 100.0
    a = agreement_report(backend, bundle, tmp_path, data, loaded.spec, results).agreement
    assert a.status is CheckStatus.failed
    assert "fill #2 differs" in a.details


def test_runtime_results_not_in_bar_mode_are_an_error(backend, examples, sample_data, tmp_path):
    loaded, bundle, _ = examples["nvda-momentum"]
    doc = {"format": "sf-replay-results", "models": {"bar_mode": False}, "run": {"completed": True}}
    a = agreement_report(backend, bundle, tmp_path, sample_data["nvda-momentum"], loaded.spec, doc).agreement
    assert a.status is CheckStatus.error and "bar-mode" in a.details


@pytest.mark.shared_data
@pytest.mark.slow
@pytest.mark.parametrize("dataset", ["nvda-daily", "orcl-daily", "spy-minute"])
@pytest.mark.parametrize("name", ["nvda-momentum", "orcl-mean-reversion"])
def test_bar_mode_agrees_with_backtrader_on_shared_data(backend, examples, shared_bars, tmp_path, name, dataset):
    loaded, bundle, build = examples[name]
    data, symbol = shared_bars[dataset]
    spec = crosscheck_spec(loaded, symbol=symbol)
    _check(backend, tmp_path, spec, bundle, build, data)


# ------------------------------------------------------------------------------------------------
# the build's gate: backtrader against a replay of its own with non-binding risk limits


@pytest.mark.slow
def test_the_build_gate_still_fails_when_the_twin_trades_differently(backend, examples, sample_data, tmp_path):
    """The gate's own replay must not make it blind: a twin that buys on the first bar (the
    plugin does not) is a disagreement, named by the first differing fill."""
    loaded, bundle, build = examples["nvda-momentum"]
    data = sample_data["nvda-momentum"]
    planted = plant(bundle, tmp_path / "planted", EARLY)
    own = bar_replay(backend, loaded.spec, build, bundle, data, tmp_path / "own")
    rep = build_bar_agreement(backend, planted, tmp_path / "b", data, loaded.spec,
                              plugin=build / "strategy.so", replay_results=own)
    assert rep.agreement.status is CheckStatus.failed, rep.agreement.details
    assert rep.first_difference and "non-binding risk limits" in rep.agreement.details
    assert (tmp_path / "b" / "crosscheck" / "replay" / "results.json").is_file()


@pytest.mark.slow
def test_the_build_gate_is_an_error_when_its_replay_cannot_run(backend, examples, sample_data, tmp_path):
    """Data without the spec's instrument: the cross-check replay fails and the gate says so
    (ERROR, never a PASS on nothing)."""
    loaded, bundle, build = examples["nvda-momentum"]
    own = bar_replay(backend, loaded.spec, build, bundle, sample_data["nvda-momentum"], tmp_path / "own")
    rep = build_bar_agreement(backend, bundle, tmp_path / "b", sample_data["orcl-mean-reversion"],
                              loaded.spec, plugin=build / "strategy.so", replay_results=own)
    assert rep.agreement.status is CheckStatus.error
    assert "cross-check replay" in rep.agreement.details, rep.agreement.details

"""Bias checks: a clean example passes, planted look-ahead and warm-up violations are flagged."""

from __future__ import annotations

import pytest
from planted import EARLY, PEEK, plant

from stratforge.ci.crosscheck import bias_checks, bias_report, warmup_bars
from stratforge.ci.crosscheck.bias import choose_cuts
from stratforge.ci.scorecard.inputs import CheckStatus


def test_cuts_are_seeded_and_include_decision_bars():
    a = choose_cuts(1000, [10, 500, 700], 5, seed=0)
    assert a == choose_cuts(1000, [10, 500, 700], 5, seed=0)
    assert len(a) == 5 and all(0 <= c <= 998 for c in a)
    assert len({10, 500, 700} & set(a)) == 3  # cuts // 2 + 1 decision bars
    assert choose_cuts(1, [], 5, seed=0) == ()


def test_warmup_comes_from_the_role_signals(examples):
    assert warmup_bars(examples["nvda-momentum"][0]) == {"long": 41, "short": 41}  # cross of ema(40) needs 41
    assert warmup_bars(examples["orcl-mean-reversion"][0]) == {"long": 20, "short": 20}


@pytest.mark.slow
@pytest.mark.parametrize("name", ["nvda-momentum", "orcl-mean-reversion"])
def test_clean_example_passes(backend, examples, sample_data, tmp_path, name):
    loaded, bundle, _ = examples[name]
    rep = bias_report(backend, bundle, tmp_path, sample_data[name], loaded)
    r = rep.result
    assert r.lookahead is CheckStatus.passed, r.lookahead_details
    assert r.truncations_checked == 5
    assert r.warmup_respected is True, r.warmup_details
    h = rep.holdout
    assert h is not None and h.out_of_sample_start_ns is not None
    assert h.in_sample_bars + h.out_of_sample_bars == 2500
    assert h.out_of_sample_bars == pytest.approx(2500 * 0.25, abs=2)
    assert h.in_sample_orders > 0 and h.in_sample_pnl + h.out_of_sample_pnl == pytest.approx(
        rep.full_run.result.final_pnl, abs=1e-6)


@pytest.mark.slow
def test_planted_lookahead_is_flagged(backend, examples, sample_data, tmp_path):
    loaded, bundle, _ = examples["nvda-momentum"]
    peek = plant(bundle, tmp_path / "peek", PEEK)
    r = bias_checks(backend, peek, tmp_path, sample_data["nvda-momentum"], loaded)
    assert r.lookahead is CheckStatus.failed
    assert r.lookahead_details.startswith("cut after bar ")
    assert r.truncations_checked >= 1


@pytest.mark.slow
def test_planted_warmup_violation_is_flagged(backend, examples, sample_data, tmp_path):
    loaded, bundle, _ = examples["nvda-momentum"]
    eager = plant(bundle, tmp_path / "eager", EARLY)
    r = bias_checks(backend, eager, tmp_path, sample_data["nvda-momentum"], loaded)
    assert r.warmup_respected is False
    assert "after 1 bar update(s); entry_long is warm from update 41" in r.warmup_details
    assert r.lookahead is CheckStatus.passed  # it is early, not clairvoyant


@pytest.mark.slow
def test_twin_that_crashes_is_an_error_not_a_pass(backend, examples, sample_data, tmp_path):
    loaded, bundle, _ = examples["nvda-momentum"]
    bad = plant(bundle, tmp_path / "bad", "\n\nclass _Boom(STRATEGY):\n    def on_bar(self, ctx, b):\n"
                "        raise RuntimeError('boom')\n\n\nSTRATEGY = _Boom\n")
    r = bias_checks(backend, bad, tmp_path, sample_data["nvda-momentum"], loaded)
    assert r.lookahead is CheckStatus.error
    assert "boom" in r.lookahead_details and "on_bar" in r.lookahead_details
    assert r.warmup_respected is None


@pytest.mark.shared_data
@pytest.mark.slow
@pytest.mark.parametrize("name,dataset", [("nvda-momentum", "nvda-daily"), ("orcl-mean-reversion", "orcl-daily")])
def test_clean_examples_pass_on_shared_data(backend, examples, shared_bars, tmp_path, name, dataset):
    loaded, bundle, _ = examples[name]
    data, _ = shared_bars[dataset]
    rep = bias_report(backend, bundle, tmp_path, data, loaded)
    h = rep.holdout
    print(f"\n{name} on {dataset}: {rep.result.lookahead_details}; {rep.result.warmup_details}; holdout "
          f"IS orders={h.in_sample_orders} pnl={h.in_sample_pnl:.2f} OOS orders={h.out_of_sample_orders} "
          f"pnl={h.out_of_sample_pnl:.2f}")
    assert rep.result.lookahead is CheckStatus.passed, rep.result.lookahead_details
    assert rep.result.warmup_respected is True

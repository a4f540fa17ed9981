"""A real sandboxed sf-replay of generated example bundles, the scorecard adapter on its
results, and parity of the Python twin on the run's tape (including a broken twin)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from stratforge.ci.backtest.data import prepare_data
from stratforge.ci.backtest.parity import check_parity, convert_tape
from stratforge.ci.build import load_bundle
from stratforge.ci.scorecard.adapters import from_replay_results
from stratforge.core.engine_config import instruments_of
from stratforge.sandbox.replay import ReplayError, read_output, run_replay

from backtest_kit import REPO

pytestmark = pytest.mark.slow


def _run(backend, workspace, bundle: Path, tmp_path: Path):
    b = load_bundle(bundle, workspace)
    data = prepare_data(b.spec, repo_root=REPO, cache_dir=workspace.data_cache)
    run = run_replay(backend, b.spec, plugin=b.build / "strategy.so", params=bundle / "params.txt",
                     data=data.path, out_dir=tmp_path / "out", bar_mode=data.profile == "bars")
    return b, data, run


def test_sandboxed_replay_results_feed_the_scorecard(backend, workspace, bundles, tmp_path):
    b, data, run = _run(backend, workspace, bundles("nvda-momentum"), tmp_path)
    assert run.ok, run.message
    assert run.config.bar_mode is True and run.results["run"]["completed"]
    strat = run.results["strategies"][0]
    assert strat["build_id"] == b.build_id and strat["orders"]["submitted"] > 0
    scored = from_replay_results(run.results, b.spec, spec_hash=b.manifest.spec_hash)
    assert scored.status.value == "ok" and scored.events_processed == data.events
    assert scored.period.out_of_sample_start_ns == data.oos_start_ns
    assert run.tape is not None and run.tape.is_file()


def test_parity_on_the_real_run_l2_with_levels(backend, workspace, bundles, tmp_path):
    bundle = bundles("btc-obi-scalper")
    b, data, run = _run(backend, workspace, bundle, tmp_path)
    assert run.ok, run.message
    conv = convert_tape(run.tape, b.name, 1, data=data.path)
    assert all("levels" in r for r in conv.records if r["cb"] == "book")
    res = check_parity(backend, bundle, run.tape, strategy_id=b.name,
                       instruments=instruments_of(b.spec), work=tmp_path, data=data.path)
    assert res.status.value == "match", res
    assert res.events_compared == len(conv.records) > 1000


def test_broken_twin_is_caught_at_the_first_mismatch(backend, workspace, bundles, tmp_path):
    bundle = bundles("nvda-momentum")
    b, data, run = _run(backend, workspace, bundle, tmp_path)
    assert run.ok
    broken = tmp_path / "broken"
    shutil.copytree(bundle, broken)
    src = broken / "python" / "strategy.py"
    text = src.read_text()
    flipped = text.replace("r.entry_long = self.sig.sig_ref_entry_long is True",
                           "r.entry_long = self.sig.sig_ref_entry_long is not True")
    assert flipped != text
    src.write_text(flipped)
    conv = convert_tape(run.tape, b.name, 1)
    res = check_parity(backend, broken, run.tape, strategy_id=b.name,
                       instruments=instruments_of(b.spec), work=tmp_path)
    assert res.status.value == "mismatch"
    m = res.first_mismatch
    assert m is not None and m.cpp_decision != m.python_decision
    first_cpp = conv.decisions[0]["seq"]
    assert m.event_index <= first_cpp  # the broken twin trades earlier (or differently) at once
    assert json.loads(m.event)["k"] == "bar" and m.event == conv.lines[m.event_index]


def test_strategy_fault_exit_code_maps_to_a_fault(backend, workspace, bundles, tmp_path):
    from stratforge.sandbox.runners import compile_plugin

    bundle = bundles("nvda-momentum")
    b = load_bundle(bundle, workspace)
    bad = tmp_path / "cpp"
    shutil.copytree(bundle / "cpp", bad)
    src = (bad / "strategy.cpp").read_text()
    # crash inside on_bar: a null write the compiler cannot prove away
    needle = "void on_bar("
    assert needle in src
    i = src.index("{", src.index(needle)) + 1
    src = src[:i] + " { volatile int* p = nullptr; *p = 1; } " + src[i:]
    (bad / "strategy.cpp").write_text(src)
    comp = compile_plugin(backend, bad, tmp_path, build_id=b.build_id,
                          spec_hash=b.manifest.spec_hash)
    assert comp.artifact is not None, comp.result.stderr[-2000:]
    data = prepare_data(b.spec, repo_root=REPO, cache_dir=workspace.data_cache)
    run = run_replay(backend, b.spec, plugin=comp.artifact, params=bundle / "params.txt",
                     data=data.path, out_dir=tmp_path / "out", bar_mode=True)
    assert run.status == "strategy_fault" and run.exit_code == 6
    assert "strategy crash" in run.message


def test_read_output_refuses_symlinks_and_oversize(tmp_path):
    target = tmp_path / "secret"
    target.write_text("x" * 100)
    link = tmp_path / "results.json"
    os.symlink(target, link)
    with pytest.raises(ReplayError, match="symbolic link"):
        read_output(link, 1000)
    with pytest.raises(ReplayError, match="over the cap"):
        read_output(target, 10)
    (tmp_path / "d").mkdir()
    with pytest.raises(ReplayError):
        read_output(tmp_path / "d", 10)
    assert read_output(target, 100) == b"x" * 100

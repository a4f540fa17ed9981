"""`stratforge build/test/backtest/score`: end to end on a bar spec and an L2 spec written for
these tests, each to the verdict its gates force; the build as a state machine (the spec parsed
once, the generated tests run once, an unchanged rerun reused, a changed spec rebuilt); the data
kind of a bars .sfe decided once against the build's workspace; exit codes."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from resource_kit import missing

import stratforge.ci.build as ci_build
import stratforge.core.spec.loader as spec_loader
import stratforge.sandbox.verify as sandbox_verify
from stratforge.ci.build import Workspace, build
from stratforge.cli import main
from stratforge.core.steps import Manifest, Status, Step
from stratforge.core.errors import InvariantError
from stratforge.core.spec import load_spec
from stratforge.registry import Registry
from stratforge.sandbox import LocalBackend

sys.path.insert(0, str(Path(__file__).resolve().parent / "generator" / "render"))
import userspecs as u  # noqa: E402

#: Every quality gate the pipeline itself answers for: none may fail on a spec it supports.
QUALITY = {"backtest_run", "tests", "sanitizer_build", "static_checks", "parity", "lookahead_bias",
           "warmup", "bar_agreement"}

#: Gates no strategy can fail: a Sharpe floor at the schema's minimum, a drawdown ceiling of the
#: whole capital, latency budgets at the schema's maximum.
_LENIENT_GATES = {"min_sharpe": -10, "max_drawdown_pct": 100, "max_callback_p99_ns": 100_000_000}
_LENIENT_LATENCY = {"callback_p50_ns": 1_000_000, "callback_p99_ns": 100_000_000,
                    "tick_to_order_p99_ns": 100_000_000}


def latency_fails_bars(name: str = "zzx-latency-fail") -> dict:
    """Bars momentum whose callback p99 gate is 1 ns: over 900 bars (more than the 100 samples a
    p99 needs) no callback is that fast, so the gate FAILs and so does the verdict."""
    d = u.spec_dict(name, "momentum", {"fast_window": 5, "slow_window": 21, "order_qty": 10,
                                       "sides": "both"})
    d["gates"].update(_LENIENT_GATES, min_trades=1, max_callback_p99_ns=1)
    return d


def too_few_trades_l2() -> dict:
    """An imbalance scalper on synthetic L2 asking for ten million trades: every trade-count
    gate is INCONCLUSIVE (too few trades to judge), and no gate can fail (lenient thresholds),
    so the verdict is INCONCLUSIVE."""
    d = u.spec_dict("zzl-too-few-trades", "order_book_imbalance",
                    {"levels": 3, "entry_threshold": 0.6, "exit_threshold": 0.1,
                     "hold_ns": 2_000_000_000, "max_spread_ticks": 3, "order_qty": 10}, data="l2")
    d["gates"].update(_LENIENT_GATES, min_trades=10_000_000)
    d["latency"].update(_LENIENT_LATENCY)
    return d


def _versions(name: str):
    reg = Registry.open(os.environ["STRATFORGE_DB_URL"])
    try:
        return reg.versions(name)
    finally:
        reg.engine.dispose()


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def _gates(card: dict, status: str) -> set[str]:
    return {g["name"] for g in card["gates"] if g["status"] == status}


@pytest.mark.slow
@pytest.mark.parametrize("make,verdict,profile", [(latency_fails_bars, "FAIL", "bars"),
                                                  (too_few_trades_l2, "INCONCLUSIVE", "l2")])
def test_build_end_to_end_to_the_verdict_the_spec_forces(tmp_path, make, verdict, profile):
    d = make()
    spec = u.write_spec(tmp_path, d).source
    name = d["metadata"]["name"]
    res = invoke("build", str(spec), "--out", str(tmp_path / "s"), "--build-dir", str(tmp_path / "b"))
    assert "Traceback" not in res.output and "internal error" not in res.output, res.output
    bundle = tmp_path / "s" / name
    card = json.loads((bundle / "scorecard.json").read_text())
    assert card["verdict"] == verdict, res.output
    assert res.exit_code == 1, res.output
    assert f"Verdict: {verdict}" in res.output
    if verdict == "FAIL":
        assert "max_callback_p99_ns" in _gates(card, "FAIL"), card["verdict_line"]
    else:
        assert not _gates(card, "FAIL") and "min_trades" in _gates(card, "INCONCLUSIVE")
    assert _gates(card, "PASS") >= QUALITY - {"bar_agreement" if profile == "l2" else ""}, card["gates"]
    for step in ("render", "compile", "test-python", "sanitizers", "data", "replay",
                 "run-parity", "scorecard"):
        assert step in res.output
    assert (bundle / "scorecard.md").is_file() and (bundle / "scorecard.html").is_file()
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert card["provenance"]["build_id"] == manifest["build_id"]
    assert card["parity"]["status"] == "match"
    assert card["run"]["data_profile"] == profile
    # the generated C++ test counted per check (old: one pass for the whole binary)
    assert card["tests"]["cpp"]["passed"] == 8 and card["tests"]["cpp"]["failed"] == 0
    # the steps reuse the build of generate (one release plugin per build id)
    assert (tmp_path / "b" / name / manifest["build_id"] / "strategy.so").is_file()
    # the scorecard names the tested plugin (relative to the build root) and its SHA-256, so
    # the runtime deploys exactly that file (issue 14)
    so = tmp_path / "b" / name / manifest["build_id"] / "strategy.so"
    assert card["provenance"]["plugin"] == f"{name}/{manifest['build_id']}/strategy.so"
    assert card["provenance"]["plugin_sha256"] == hashlib.sha256(so.read_bytes()).hexdigest()
    # test / backtest / score on the bundle just written
    r = invoke("test", str(bundle), "--build-dir", str(tmp_path / "b"))
    assert r.exit_code == 0 and "8 passed, 0 failed" in r.output, r.output
    r = invoke("backtest", str(bundle), "--build-dir", str(tmp_path / "b"))
    assert r.exit_code == 0 and "cached" in r.output, r.output
    r = invoke("score", str(bundle), "--build-dir", str(tmp_path / "b"))
    assert r.exit_code == 1 and f"Verdict: {verdict}" in r.output, r.output


class _Count:
    def __init__(self, fn, key=lambda *a, **k: True):
        self.fn, self.key, self.calls = fn, key, 0

    def __call__(self, *args, **kwargs):
        if self.key(*args, **kwargs):
            self.calls += 1
        return self.fn(*args, **kwargs)


@pytest.mark.slow
def test_build_runs_each_step_once_and_an_unchanged_rerun_reuses_them(tmp_path, monkeypatch):
    """Old: the spec was parsed five times per build, and the generated C++ test and pytest ran
    twice (generate's verify, then test_bundle); a rerun did everything again."""
    parses = _Count(spec_loader.parse_yaml)
    monkeypatch.setattr(spec_loader, "parse_yaml", parses)
    pytests, cpptests = _Count(sandbox_verify.run_pytest), _Count(
        sandbox_verify.run_cpp_test, key=lambda *a, sanitize=False, **k: not sanitize)
    for mod in (sandbox_verify, ci_build):
        monkeypatch.setattr(mod, "run_pytest", pytests)
        monkeypatch.setattr(mod, "run_cpp_test", cpptests)
    d = latency_fails_bars("zzx-state-machine")
    spec = Path(u.write_spec(tmp_path, d).source)
    parses.calls = 0  # (write_spec loads it once itself)
    args = ("build", str(spec), "--out", str(tmp_path / "s"), "--build-dir", str(tmp_path / "b"))
    first = invoke(*args)
    assert "Verdict: FAIL" in first.output, first.output
    assert (parses.calls, pytests.calls, cpptests.calls) == (1, 1, 1), first.output
    manifest_path = tmp_path / "s" / "zzx-state-machine" / "manifest.json"
    record = Manifest.read(manifest_path).build
    assert [s.step for s in record.steps] == [Step.validate, Step.generate, Step.test, Step.backtest,
                                              Step.score]
    assert all(s.status is Status.ok for s in record.steps[:3])
    assert record.get(Step.test).data["tests"]["cpp"]["passed"] == 8
    # the build registered its version, FAIL or not, authored by the spec's owner (no registry
    # user is acting); the registry is the test run's own (tests/conftest.py)
    card = json.loads((manifest_path.parent / "scorecard.json").read_text())
    registered = _versions("zzx-state-machine")
    b1 = card["provenance"]["build_id"]
    archived = tmp_path / "b" / "versions" / "zzx-state-machine" / b1  # the version's own copy
    assert [(v.number, v.verdict, v.build_id, v.author, v.stage, v.bundle) for v in registered] == [
        (1, "FAIL", b1, d["metadata"]["owner"], "candidate", str(archived.resolve()))], \
        first.output
    assert json.loads((archived / "scorecard.json").read_text()) == card
    assert (archived / "cpp" / "strategy.cpp").read_bytes() == \
        (manifest_path.parent / "cpp" / "strategy.cpp").read_bytes()
    assert "registered zzx-state-machine version 1" in first.output

    # unchanged inputs: every step after validate is reused, nothing is built or run again
    parses.calls = pytests.calls = cpptests.calls = 0
    again = invoke(*args)
    assert again.exit_code == first.exit_code and "Verdict: FAIL" in again.output, again.output
    assert (parses.calls, pytests.calls, cpptests.calls) == (1, 0, 0), again.output
    assert "render" not in again.output and "replay" not in again.output
    record = Manifest.read(manifest_path).build
    assert [s.status for s in record.steps] == [Status.ok] + [Status.reused] * 4
    assert len(_versions("zzx-state-machine")) == 1  # the same build id registers nothing new

    # a changed spec reruns from validate
    d["metadata"]["description"] = "the same strategy, described again"
    spec.write_text(yaml.safe_dump(d, sort_keys=False))
    pytests.calls = 0
    changed = invoke(*args)
    assert "render" in changed.output and "Verdict: FAIL" in changed.output, changed.output
    assert pytests.calls == 1
    assert all(s.status is not Status.reused for s in Manifest.read(manifest_path).build.steps)
    v1, v2 = _versions("zzx-state-machine")  # a new build, a new version
    assert (v1.number, v2.number) == (1, 2) and v1.build_id == b1 != v2.build_id
    # the working copy is v2's now; v1's registered bundle is still v1 (the deployer and the
    # dashboard read it: a version's bundle never changes)
    for v in (v1, v2):
        got = json.loads((Path(v.bundle) / "scorecard.json").read_text())
        assert got["provenance"]["build_id"] == v.build_id
    assert "described again" not in (Path(v1.bundle) / "spec.yaml").read_text()
    assert "described again" in (Path(v2.bundle) / "spec.yaml").read_text()
    # --fresh runs every step again even when nothing changed
    pytests.calls = 0
    fresh = invoke(*args, "--fresh")
    assert "render" in fresh.output and pytests.calls == 1, fresh.output

    # a backtest that cannot run is recorded; the rerun resumes there, generate and test reused
    replay = ci_build.run_replay

    def broken(*a, **k):
        raise InvariantError("planted: the replay could not run")

    monkeypatch.setattr(ci_build, "run_replay", broken)
    (manifest_path.parent / "scorecard.json").unlink()  # no scorecard to reuse: backtest again
    stopped = invoke(*args)
    assert stopped.exit_code != 0 and "planted" in stopped.output, stopped.output
    record = Manifest.read(manifest_path).build
    assert record.get(Step.backtest).status is Status.error and record.get(Step.score) is None
    monkeypatch.setattr(ci_build, "run_replay", replay)
    pytests.calls = 0
    resumed = invoke(*args)
    assert "Verdict: FAIL" in resumed.output and "replay" in resumed.output, resumed.output
    assert "render" not in resumed.output and pytests.calls == 0
    assert [s.status for s in Manifest.read(manifest_path).build.steps] == [
        Status.ok, Status.reused, Status.reused, Status.ok, Status.ok]


@pytest.mark.slow
def test_bars_sfe_data_kind_is_decided_once_against_the_workspace(tmp_path, monkeypatch):
    """A bars .sfe named relative to the repository: the old generator decided the data kind
    again against the working folder (render and parity market), so a build whose workspace is
    not the working folder failed there although validate had read the file."""
    backend = LocalBackend()
    ok, why = backend.available()
    if not ok:
        missing("sandbox", why)
    repo = tmp_path / "repo"
    (repo / "data").mkdir(parents=True)
    r = invoke("data", "synth", "--kind", "bars", "--symbol", "ZZB", "-n", "700", "--seed", "11",
               "-o", str(repo / "data" / "zzb-bars.sfe"))
    assert r.exit_code == 0, r.output
    d = latency_fails_bars("zzb-sfe-bars")
    d["strategy"]["instruments"] = [{"symbol": "ZZB", "venue": "xtest", "tick_size": "0.01",
                                     "lot_size": "1", "quote_currency": "EUR"}]
    d["backtest"]["data"] = {"kind": "file", "format": "sfe", "path": "data/zzb-bars.sfe"}
    loaded = u.write_spec(repo, d)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    steps = []
    out = build(loaded=loaded, backend=backend, ws=Workspace(repo, tmp_path / "b"),
                out_root=tmp_path / "s", progress=steps.append)
    assert out.scorecard.run.data_profile == "bars"
    assert out.backtest is not None and out.backtest.data.profile == "bars"
    parity = next(s for s in steps if s.name == "parity")
    assert parity.ok and "simulated market" in parity.detail
    assert "def on_bar" in (tmp_path / "s" / "zzb-sfe-bars" / "python" / "strategy.py").read_text()


def test_usage_errors_exit_2(tmp_path):
    r = invoke("build", str(tmp_path / "missing.yaml"))
    assert r.exit_code == 2 and "no such spec file" in r.output
    for cmd in ("test", "backtest", "score"):
        r = invoke(cmd, str(tmp_path))
        assert r.exit_code == 2 and "not a bundle" in r.output
    r = invoke("backtest", str(tmp_path), "--data", str(tmp_path / "nope.sfe"))
    assert r.exit_code == 2


def test_invalid_spec_exits_1_without_traceback(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: stratforge/v1\nmetadata: {name: bad}\n")
    r = invoke("build", str(bad))
    assert r.exit_code == 1 and "Traceback" not in r.output


def test_broken_bundle_manifest_is_one_line(tmp_path):
    b = tmp_path / "x"
    b.mkdir()
    (b / "manifest.json").write_text("{not json")
    (b / "spec.yaml").write_text("")
    r = invoke("score", str(b), "--build-dir", str(tmp_path / "b"))
    assert r.exit_code == 1 and "manifest.json is not JSON" in r.output
    assert "Traceback" not in r.output


def test_written_specs_are_valid(tmp_path):
    for make in (latency_fails_bars, too_few_trades_l2):
        assert load_spec(u.write_spec(tmp_path, make()).source).spec.metadata.name

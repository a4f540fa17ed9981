"""`stratforge runtime status`, `kill` and `release` against an engine double on the state
folder's socket, with a real registry: the action reaches the engine and is audited with the
acting user; a refused user's kill never reaches it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from stratforge.cli import main
from stratforge.registry import Registry, ShadowGate
from stratforge.registry import reasons as R

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runtime" / "control"))
from engine_double import EngineDouble  # noqa: E402

S = "gamma-fade"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    url = f"sqlite:///{tmp_path / 'reg.db'}"
    monkeypatch.setenv("STRATFORGE_DB_URL", url)
    monkeypatch.delenv("STRATFORGE_TOKEN", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    reg = Registry.open(url)
    reg.add_user("root", "admin", actor="root")
    reg.add_user("ann", "author", actor="root")
    reg.add_user("vic", "viewer", actor="root")
    reg.register_build(strategy=S, spec_hash="h", build_id="g1", bundle=str(tmp_path),
                       scorecard={}, verdict="PASS", author="ann",
                       shadow_gate=ShadowGate(60, 1, 1.0, 1.0, 1.0, 1))
    reg.engine.dispose()
    state = tmp_path / "state"
    state.mkdir()
    return state


def _audit(tmp_path: Path) -> list[dict]:
    reg = Registry.open(f"sqlite:///{tmp_path / 'reg.db'}")
    try:
        return reg.audit_records()
    finally:
        reg.engine.dispose()


def run(*args: str, user: str | None = None):
    env = {"STRATFORGE_USER": user} if user else {}
    return CliRunner().invoke(main, list(args), env=env)


def test_status_without_an_engine_exits_1_and_says_so(env: Path) -> None:
    res = run("runtime", "status", "--state", str(env))
    assert res.exit_code == 1, res.output
    assert "sf-engine is not running" in res.output and "NOT RUNNING" in res.output


def test_status_shows_the_engine(env: Path) -> None:
    eng = EngineDouble(env / "engine.sock")
    try:
        eng.advance(5)
        res = run("runtime", "status", "--state", str(env))
        assert res.exit_code == 0, res.output
        assert "seq 5" in res.output
    finally:
        eng.close()


def test_kill_reaches_the_engine_and_is_audited_with_the_user(env: Path,
                                                               tmp_path: Path) -> None:
    eng = EngineDouble(env / "engine.sock")
    try:
        res = run("kill", S, "--reason", "runaway quoting", "--state", str(env), user="ann")
        assert res.exit_code == 0, res.output
        assert "kill switch engaged for gamma-fade" in res.output
        assert [(r["cmd"], r.get("strategy")) for r in eng.requests] == [("kill", S)]
        last = _audit(tmp_path)[-1]
        assert (last["actor"], last["action"], last["strategy"]) == ("ann", R.A_RUNTIME_ACTION, S)
        assert last["detail"]["action"] == "kill"
        assert last["detail"]["reason"] == "runaway quoting"
        assert last["detail"]["killed"] == [S]
        # authors may kill but not release
        res = run("release", S, "--state", str(env), user="ann")
        assert res.exit_code != 0 and "PERMISSION_DENIED" in res.output
        res = run("release", "--all", "--reason", "all clear", "--state", str(env),
                  user="root")
        assert res.exit_code == 0, res.output
        assert eng.requests[-1]["cmd"] == "release" and "strategy" not in eng.requests[-1]
    finally:
        eng.close()


def test_a_viewers_kill_is_refused_and_never_reaches_the_engine(env: Path,
                                                                tmp_path: Path) -> None:
    eng = EngineDouble(env / "engine.sock")
    try:
        res = run("kill", "--all", "--reason", "test", "--state", str(env), user="vic")
        assert res.exit_code != 0 and "PERMISSION_DENIED" in res.output, res.output
        assert eng.requests == []
        assert _audit(tmp_path)[-1]["action"] == R.A_RUNTIME_REFUSED
    finally:
        eng.close()


def test_kill_usage_errors(env: Path) -> None:
    res = run("kill", "--reason", "x", "--state", str(env), user="ann")
    assert res.exit_code == 2 and "name one strategy or --all" in res.output
    res = run("kill", S, "--state", str(env), user="ann")
    assert res.exit_code == 2 and "--reason" in res.output


def test_kill_with_the_engine_down_is_a_clear_error(env: Path) -> None:
    res = run("kill", S, "--reason", "x", "--state", str(env), user="ann")
    assert res.exit_code != 0
    assert "sf-engine is not running" in res.output and "Traceback" not in res.output


def test_up_needs_a_feed_and_an_existing_file(env: Path, tmp_path: Path) -> None:
    res = run("runtime", "up", "--state", str(env))
    assert res.exit_code == 2 and "--data FILE or --synth SEED" in res.output
    res = run("runtime", "up", "--data", str(tmp_path / "missing.sfev"), "--state", str(env))
    assert res.exit_code != 0 and "missing.sfev: no such file" in res.output
    res = run("runtime", "up", "--synth", "3", "--firm-max-position", "ZZX", "--state",
              str(env))
    assert res.exit_code == 2 and "SYMBOL=LOTS" in res.output


def test_up_refuses_a_bad_venue_config_before_starting_anything(env: Path) -> None:
    res = run("runtime", "up", "--synth", "3", "--venue-config", '{"fees": {"maker_bps": "x"}}',
              "--state", str(env))
    assert res.exit_code != 0 and "--venue-config: not a venue config (fees." in res.output
    assert "Traceback" not in res.output and "internal error" not in res.output
    res = run("runtime", "up", "--synth", "3", "--no-venue", "--venue-config",
              '{"seed": 4}', "--state", str(env))
    assert res.exit_code == 2 and "not with --no-venue" in res.output
    assert sorted(p.name for p in env.iterdir()) == []  # nothing started, nothing written


def test_down_with_nothing_running(env: Path) -> None:
    res = run("runtime", "down", "--state", str(env))
    assert res.exit_code == 0, res.output
    assert "control plane: not running; sf-engine: not running; sf-venue: not running" \
        in res.output

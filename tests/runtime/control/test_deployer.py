"""LocalDeployer over the engine's control socket: idempotent apply, observe from the engine's
status, the exact tested plugin (SHA-256 checked, content-addressed read-only copy), the warm
standby kept for rollback."""

from __future__ import annotations

import hashlib
import json
import stat
from dataclasses import dataclass
from pathlib import Path

import pytest
from control_kit import make_bundle
from engine_double import EngineDouble

from stratforge.core.errors import UserInputError
from stratforge.runtime.control import EngineClient, LocalDeployer, StateStore

S = "gamma-fade"


@dataclass(frozen=True)
class T:
    strategy: str
    build_id: str
    bundle: str


def _deployer(tmp_path: Path, engine: EngineDouble) -> LocalDeployer:
    return LocalDeployer(EngineClient(engine.path, timeout=2), StateStore(tmp_path / "state"),
                         tmp_path / "state" / "plugins", build_root=tmp_path / "build")


def _target(tmp_path: Path, build: str) -> T:
    return T(S, build, str(make_bundle(tmp_path, S, build)))


def _loads(engine: EngineDouble) -> list[tuple[str, str]]:
    return [(r["build_id"], r["role"]) for r in engine.requests if r["cmd"] == "load"]


def _cmds(engine: EngineDouble, *names: str) -> list[str]:
    return [r["cmd"] for r in engine.requests if r["cmd"] in names]


def test_shadow_is_loaded_once_with_the_tested_plugin(tmp_path: Path,
                                                      engine: EngineDouble) -> None:
    dep = _deployer(tmp_path, engine)
    t = _target(tmp_path, "g1")
    dep.apply(t, "shadow")
    dep.apply(t, "shadow")  # idempotent: no second load
    assert _loads(engine) == [("g1", "shadow")]
    req = next(r for r in engine.requests if r["cmd"] == "load")
    so = tmp_path / "build" / S / "g1" / "strategy.so"
    digest = hashlib.sha256(so.read_bytes()).hexdigest()
    assert req["sha256"] == digest
    copy = Path(req["plugin"])
    assert copy == tmp_path / "state" / "plugins" / f"{digest}.so"
    assert copy.read_bytes() == so.read_bytes()
    assert not copy.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    assert req["instruments"] == ["ZZX"] and "fast_window=4" in req["params"]
    assert req["risk"]["max_open_orders"] >= 1 and req["latency_budget_ns"] > 0
    assert dep.observe(S) == {"g1": "shadow"}


def test_live_first_version_loads_live_then_promote_swaps_and_keeps_a_standby(
        tmp_path: Path, engine: EngineDouble) -> None:
    dep = _deployer(tmp_path, engine)
    g1, g2, g3 = (_target(tmp_path, b) for b in ("g1", "g2", "g3"))
    dep.apply(g1, "live")  # no live yet: loaded straight as live
    assert _loads(engine) == [("g1", "live")]
    assert dep.observe(S) == {"g1": "live"}
    dep.apply(g2, "shadow")
    dep.apply(g2, "live")
    dep.apply(g2, "live")  # idempotent: one promote
    assert _cmds(engine, "promote") == ["promote"]
    # the replaced version stays loaded as the warm standby; the registry sees it retired
    assert dep.observe(S) == {"g2": "live", "g1": "retired"}
    dep.apply(g1, "retired")  # the registry retires it: the standby is kept
    assert _cmds(engine, "unload") == []
    state = StateStore(tmp_path / "state").load().strategies[S]
    assert (state.live, state.last_good) == ("g2", "g1")
    # a third version: g2 becomes the standby, g1 (no rollback target any more) is unloaded
    dep.apply(g3, "shadow")
    dep.apply(g3, "live")
    assert dep.observe(S) == {"g3": "live", "g2": "retired"}
    assert [r["build_id"] for r in engine.requests if r["cmd"] == "unload"] == ["g1"]


def test_rollback_to_the_last_good_is_a_rollback_swap(tmp_path: Path,
                                                      engine: EngineDouble) -> None:
    dep = _deployer(tmp_path, engine)
    g1, g2 = _target(tmp_path, "g1"), _target(tmp_path, "g2")
    dep.apply(g1, "live")
    dep.apply(g2, "shadow")
    dep.apply(g2, "live")
    dep.apply(g1, "live")  # the registry's rollback: g1 desired live again
    assert _cmds(engine, "promote", "rollback") == ["promote", "rollback"]
    dep.apply(g2, "retired")  # the rolled-back version is unloaded, not kept
    assert dep.observe(S) == {"g1": "live"}
    state = StateStore(tmp_path / "state").load().strategies[S]
    assert (state.live, state.last_good, sorted(state.instances)) == ("g1", None, ["g1"])


def test_retiring_a_shadow_unloads_it_and_is_idempotent(tmp_path: Path,
                                                        engine: EngineDouble) -> None:
    dep = _deployer(tmp_path, engine)
    g1 = _target(tmp_path, "g1")
    dep.apply(g1, "shadow")
    dep.apply(g1, "retired")
    dep.apply(g1, "retired")
    assert _cmds(engine, "unload") == ["unload"]
    assert dep.observe(S) == {}


def test_a_plugin_changed_since_it_was_tested_is_refused(tmp_path: Path,
                                                         engine: EngineDouble) -> None:
    dep = _deployer(tmp_path, engine)
    t = _target(tmp_path, "g1")
    (tmp_path / "build" / S / "g1" / "strategy.so").write_bytes(b"tampered")
    with pytest.raises(UserInputError, match="changed since it was tested"):
        dep.apply(t, "shadow")
    assert _loads(engine) == []


def test_a_scorecard_without_the_tested_plugin_is_refused(tmp_path: Path,
                                                          engine: EngineDouble) -> None:
    dep = _deployer(tmp_path, engine)
    t = _target(tmp_path, "g1")
    card = Path(t.bundle) / "scorecard.json"
    doc = json.loads(card.read_text())
    del doc["provenance"]["plugin"]
    card.write_text(json.dumps(doc))
    with pytest.raises(UserInputError, match="names no tested plugin"):
        dep.apply(t, "shadow")
    doc["provenance"]["build_id"] = "other"
    card.write_text(json.dumps(doc))
    with pytest.raises(UserInputError, match="provenance.build_id is 'other'"):
        dep.apply(t, "shadow")


def test_retiring_the_live_instance_is_refused(tmp_path: Path, engine: EngineDouble) -> None:
    dep = _deployer(tmp_path, engine)
    g1 = _target(tmp_path, "g1")
    dep.apply(g1, "live")
    with pytest.raises(UserInputError, match="is the live instance"):
        dep.apply(g1, "retired")
    assert dep.observe(S) == {"g1": "live"}

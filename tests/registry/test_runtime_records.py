"""The registry's side of the live runtime (issue 14): a stale shadow observation counts as
none, automatic rollbacks done by the engine are recorded (desired state moved, audited by
``system:engine``), and the runtime's kill switch actions are permission-checked and audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from registry_kit import GOOD_METRICS, FakeClock, RecordingDeployer, register, staff
from sqlalchemy import update

from stratforge.registry import Refused, Registry
from stratforge.registry import reasons as R
from stratforge.registry.models import ShadowObservation
from stratforge.registry.phase import GateOutcome

S = "basis-carry"


def _state(reg: Registry) -> dict[int, tuple]:
    return {v.number: (v.stage, v.desired, v.observed) for v in reg.versions(S)}


@pytest.fixture
def team(reg: Registry) -> Registry:
    staff(reg)
    return reg


def _live(reg: Registry, number: int, build: str) -> None:
    reg.promote(S, number, "shadow", "bob")
    reg.record_shadow_metrics(S, number, GOOD_METRICS, "runtime")
    reg.approve(S, number, "cat", build)
    reg.promote(S, number, "live", "bob")


# --- staleness ----------------------------------------------------------------------------------
def test_a_fresh_observation_holds_the_gate_and_a_stale_one_is_inconclusive(
        team: Registry) -> None:
    register(team, S, "c1")
    team.promote(S, 1, "shadow", "bob")
    team.approve(S, 1, "cat", "c1")
    assert team.record_shadow_metrics(S, 1, GOOD_METRICS, "runtime").outcome \
        is GateOutcome.SUCCESSFUL
    assert team.versions(S)[0].shadow_gate.outcome is GateOutcome.SUCCESSFUL
    # the metrics source stops: the clock moves past the max age with no new observation
    assert isinstance(team.clock, FakeClock)
    team.clock.now += timedelta(seconds=team.shadow_max_age_s + 5)
    gate = team.versions(S)[0].shadow_gate
    assert gate.outcome is GateOutcome.INCONCLUSIVE
    assert "old" in gate.message and "stopped" in gate.message
    with pytest.raises(Refused) as err:
        team.promote(S, 1, "live", "bob")
    assert err.value.reason == R.SHADOW_GATE_INCONCLUSIVE
    assert _state(team)[1][0] == "shadow"  # nothing promoted


def test_a_planted_old_observation_is_no_observation(team: Registry) -> None:
    register(team, S, "c1")
    team.promote(S, 1, "shadow", "bob")
    team.approve(S, 1, "cat", "c1")
    team.record_shadow_metrics(S, 1, GOOD_METRICS, "runtime")
    with team.engine.begin() as conn:  # planted: the observation dates from 10 minutes ago
        conn.execute(update(ShadowObservation).values(
            observed_at=team.clock.now - timedelta(minutes=10)))
    with pytest.raises(Refused) as err:
        team.promote(S, 1, "live", "bob")
    assert err.value.reason == R.SHADOW_GATE_INCONCLUSIVE
    assert "metrics source stopped" in str(err.value)


def test_max_age_none_keeps_old_observations(db_url: str) -> None:
    reg = Registry.open(db_url, RecordingDeployer(), clock=FakeClock(), shadow_max_age_s=None)
    try:
        staff(reg)
        register(reg, S, "c1")
        reg.promote(S, 1, "shadow", "bob")
        reg.record_shadow_metrics(S, 1, GOOD_METRICS, "runtime")
        reg.clock.now += timedelta(days=3)  # type: ignore[attr-defined]
        assert reg.versions(S)[0].shadow_gate.outcome is GateOutcome.SUCCESSFUL
    finally:
        reg.engine.dispose()


# --- automatic rollback -------------------------------------------------------------------------
def test_an_automatic_rollback_moves_the_desired_state_and_is_audited_once(
        team: Registry, deployer: RecordingDeployer) -> None:
    register(team, S, "c1")
    register(team, S, "c2")
    _live(team, 1, "c1")
    _live(team, 2, "c2")
    assert _state(team) == {1: ("retired", "retired", "retired"), 2: ("live", "live", "live")}
    # what the engine did: c2 breached its loss limit, c1 (last-good) swapped in
    deployer.state[S] = {"c1": "live", "c2": "retired"}
    assert team.record_automatic_rollback(S, "c2", "c1", "risk:MAX_LOSS") is True
    last = team.audit_records()[-1]
    assert (last["actor"], last["action"], last["reason"], last["version"], last["build_id"]) \
        == (R.ACTOR_ENGINE, R.A_AUTO_ROLLBACK, "risk:MAX_LOSS", 1, "c1")
    assert last["detail"] == {"from_build_id": "c2", "to_build_id": "c1", "from_version": 2,
                              "to_version": 1, "reason": "risk:MAX_LOSS"}
    team.reconcile(S)
    assert _state(team) == {1: ("live", "live", "live"), 2: ("retired", "retired", "retired")}
    n = len(team.audit_records())
    assert team.record_automatic_rollback(S, "c2", "c1", "risk:MAX_LOSS") is False
    assert len(team.audit_records()) == n
    # no last-good is recorded after it: a manual rollback has no target
    with pytest.raises(Refused) as err:
        team.rollback(S, "bob")
    assert err.value.reason == R.NO_ROLLBACK_TARGET
    assert team.verify_audit()[0] == []


def test_an_automatic_rollback_aborts_the_operation_in_progress(db_url: str) -> None:
    reg = Registry.open(db_url, None, clock=FakeClock())  # no deployer: operations stay open
    try:
        staff(reg)
        register(reg, S, "c1")
        register(reg, S, "c2")
        op = reg.promote(S, 1, "shadow", "bob")
        assert op.status == "in_progress"
        assert reg.record_automatic_rollback(S, None, "c2", "crash: killed by SIGKILL") is True
        assert [o.status for o in reg.operations(S)] == ["aborted"]
        actions = [r["action"] for r in reg.audit_records()[-2:]]
        assert actions == [R.A_OPERATION_ABORTED, R.A_AUTO_ROLLBACK]
        assert _state(reg)[2][:2] == ("live", "live")
        reg.promote(S, 1, "shadow", "bob")  # the lock was released
    finally:
        reg.engine.dispose()


def test_a_crash_without_last_good_retires_the_version(team: Registry,
                                                        deployer: RecordingDeployer) -> None:
    register(team, S, "c1")
    _live(team, 1, "c1")
    deployer.state[S] = {}
    assert team.record_automatic_rollback(S, "c1", None, "crash: killed by SIGSEGV",
                                          stopped=True) is True
    team.reconcile(S)
    assert _state(team) == {1: ("retired", "retired", "retired")}


# --- kill switch actions ------------------------------------------------------------------------
def test_kill_is_permission_checked_and_audited(team: Registry) -> None:
    register(team, S, "c1")
    team.add_user("val", "viewer", actor="root")
    with pytest.raises(Refused) as err:
        team.record_action("val", "kill", S, {"reason": "fat finger"})
    assert err.value.reason == R.PERMISSION_DENIED
    refused = team.audit_records()[-1]
    assert (refused["action"], refused["outcome"]) == (R.A_RUNTIME_REFUSED, "refused")
    team.record_action("ann", "kill", S, {"reason": "runaway orders", "killed": [S]})
    last = team.audit_records()[-1]
    assert (last["actor"], last["action"], last["strategy"]) == ("ann", R.A_RUNTIME_ACTION, S)
    assert last["detail"] == {"action": "kill", "reason": "runaway orders", "killed": [S]}
    with pytest.raises(Refused):
        team.record_action("ann", "release", S)  # authors may kill, not release
    team.record_action("bob", "release", None, {"all": True})
    assert team.verify_audit()[0] == []

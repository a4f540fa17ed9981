"""Crash tests: the process running a promotion or a rollback is SIGKILLed between every two
steps, restarted, and must converge to exactly one live version with a consistent audit log —
no step's effect or record duplicated, none lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from registry_kit import GOOD_METRICS, RecordingDeployer, register, staff

from stratforge.registry import CHECKPOINTS, KILL_ENV, Deployer, Registry
from stratforge.registry import reasons as R

pytestmark = pytest.mark.slow  # a real process per kill and per restart

WORKER = Path(__file__).resolve().parent / "crash_worker.py"
S = "pairs-alpha"
LIVE_POINTS = ["requested", "applied#1", "applied#2", "observed", "completed"]
SHADOW_POINTS = ["requested", "applied", "observed", "completed"]


def run(db_url: str, state: Path, *args: str, kill_at: str | None = None
        ) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != KILL_ENV}
    if kill_at:
        env[KILL_ENV] = kill_at
    return subprocess.run([sys.executable, str(WORKER), db_url, str(state), *args], env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> tuple[Registry, Path]:
    """v1 live, v2 in shadow with a held gate and an approval, v3 a passing candidate."""
    state = tmp_path / "deployer.json"
    reg = Registry.open(db_url, RecordingDeployer(state))
    staff(reg)
    for build in ("b1", "b2", "b3"):
        register(reg, build=build)
    for number, approver in ((1, "cat"), (2, "bob")):
        reg.promote(S, number, "shadow", "bob")
        reg.record_shadow_metrics(S, number, GOOD_METRICS, "runtime")
        reg.approve(S, number, approver)
    reg.promote(S, 1, "live", "cat")
    yield reg, state
    reg.engine.dispose()


def test_the_kill_points_cover_every_checkpoint() -> None:
    assert {p.split("#")[0] for p in LIVE_POINTS} == set(CHECKPOINTS)
    assert {p.split("#")[0] for p in SHADOW_POINTS} == set(CHECKPOINTS)
    assert isinstance(RecordingDeployer(), Deployer)


def check_converged(reg: Registry, state: Path, live: int, since: int,
                    kind: str) -> list[str]:
    """Exactly one live version everywhere, no lock, an intact log whose new records are each
    written once; returns the new records' actions."""
    versions = reg.versions(S)
    assert [v.number for v in versions if v.stage == "live"] == [live]
    assert [v.number for v in versions if v.observed == "live"] == [live]
    assert [v.number for v in versions if v.desired == "live"] == [live]
    deployed = RecordingDeployer(state).state[S]
    assert [b for b, slot in deployed.items() if slot == "live"] == [f"b{live}"]
    assert [op.status for op in reg.operations(S)][-1] == "completed"
    assert all(op.status == "completed" for op in reg.operations(S))
    problems, _, _ = reg.verify_audit()
    assert problems == []
    new = reg.audit_records()[since:]
    counts = Counter(r["action"] for r in new)
    requested = R.A_ROLLBACK_REQUESTED if kind == "rollback" else R.A_PROMOTION_REQUESTED
    assert counts[requested] == 1 and counts[R.A_OPERATION_COMPLETED] == 1
    changes = [(r["version"], r["detail"]["from"], r["detail"]["to"]) for r in new
               if r["action"] == R.A_DEPLOYMENT_OBSERVED]
    assert len(changes) == len(set(changes)), f"an observation recorded twice: {changes}"
    return [r["action"] for r in new]


@pytest.mark.parametrize(("point", "restart"), [
    *((p, "reconcile") for p in LIVE_POINTS),
    # repeating the same request resumes it (after "completed" there is nothing to resume:
    # repeating is refused ALREADY_AT_STAGE, see the next test)
    *((p, "repeat") for p in LIVE_POINTS if p != "completed")])
def test_promotion_to_live_killed_at_every_step(world, db_url: str, point: str,
                                                restart: str) -> None:  # noqa: ANN001
    reg, state = world
    since = len(reg.audit_records())
    killed = run(db_url, state, "promote", S, "2", "live", "bob", kill_at=point)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    again = run(db_url, state, *(["reconcile"] if restart == "reconcile"
                                 else ["promote", S, "2", "live", "bob"]))
    assert again.returncode == 0, again.stderr
    actions = check_converged(reg, state, live=2, since=since, kind="live")
    assert actions == [R.A_PROMOTION_REQUESTED, R.A_DEPLOYMENT_OBSERVED,
                       R.A_DEPLOYMENT_OBSERVED, R.A_OPERATION_COMPLETED]
    assert {(v.number, v.stage) for v in reg.versions(S)} == \
        {(1, "retired"), (2, "live"), (3, "candidate")}


def test_repeating_a_completed_promotion_is_refused_and_audited(world, db_url: str) -> None:  # noqa: ANN001
    reg, state = world
    assert run(db_url, state, "promote", S, "2", "live", "bob", kill_at="completed") \
        .returncode == -signal.SIGKILL
    again = run(db_url, state, "promote", S, "2", "live", "bob")
    assert again.returncode == 1 and "ALREADY_AT_STAGE" in again.stderr
    last = reg.audit_records()[-1]
    assert (last["action"], last["reason"]) == (R.A_PROMOTION_REFUSED, R.ALREADY_AT_STAGE)
    assert reg.verify_audit()[0] == []


@pytest.mark.parametrize("point", LIVE_POINTS)
def test_rollback_killed_at_every_step(world, db_url: str, point: str) -> None:  # noqa: ANN001
    reg, state = world
    reg.promote(S, 2, "live", "bob")
    since = len(reg.audit_records())
    killed = run(db_url, state, "rollback", S, "cat", kill_at=point)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    again = run(db_url, state, "reconcile")
    assert again.returncode == 0, again.stderr
    check_converged(reg, state, live=1, since=since, kind="rollback")


@pytest.mark.parametrize("point", SHADOW_POINTS)
def test_promotion_to_shadow_killed_at_every_step(world, db_url: str,
                                                  point: str) -> None:  # noqa: ANN001
    reg, state = world
    since = len(reg.audit_records())
    killed = run(db_url, state, "promote", S, "3", "shadow", "bob", kill_at=point)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert run(db_url, state, "reconcile").returncode == 0
    check_converged(reg, state, live=1, since=since, kind="shadow")
    assert reg.versions(S)[2].stage == "shadow"


def test_a_kill_point_that_is_never_reached_changes_nothing(world, db_url: str) -> None:  # noqa: ANN001
    """The hook is inert for a name no step passes (so the tests above do kill at each step)."""
    reg, state = world
    done = run(db_url, state, "promote", S, "2", "live", "bob", kill_at="no-such-step")
    assert done.returncode == 0, done.stderr

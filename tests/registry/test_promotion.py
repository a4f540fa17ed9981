"""Controller-style tests: each rule's exact transition and exact audit record (Argo Rollouts'
canary_test.go style). A refusal changes nothing but the audit log."""

from __future__ import annotations

import threading

import pytest
from registry_kit import GOOD_METRICS, FakeClock, RecordingDeployer, register, staff
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from stratforge.registry import NotFound, Refused, Registry
from stratforge.registry import reasons as R
from stratforge.registry.models import Approval, Operation, PromotionLock, Version
from stratforge.registry.phase import Phase

S = "pairs-alpha"


def tail(reg: Registry, n: int) -> list[dict]:
    """The newest ``n`` audit records without their time and hashes."""
    return [{k: v for k, v in r.items() if k not in ("at", "hash", "seq")}
            for r in reg.audit_records()[-n:]]


def state(reg: Registry, strategy: str = S) -> dict[int, tuple]:
    return {v.number: (v.stage, v.desired, v.observed) for v in reg.versions(strategy)}


def rec(actor: str, action: str, version: int | None, build: str | None, detail: dict,
        outcome: str = "ok", reason: str | None = None, strategy: str | None = S) -> dict:
    return {"actor": actor, "action": action, "strategy": strategy, "version": version,
            "build_id": build, "outcome": outcome, "reason": reason, "detail": detail}


@pytest.fixture
def team(reg: Registry) -> Registry:
    staff(reg)
    return reg


def to_shadow(reg: Registry, number: int, build: str) -> None:
    reg.promote(S, number, "shadow", "bob")
    reg.record_shadow_metrics(S, number, GOOD_METRICS, "runtime")


def to_live(reg: Registry, number: int, build: str, approver: str = "cat") -> None:
    to_shadow(reg, number, build)
    reg.approve(S, number, approver, build)
    reg.promote(S, number, "live", "bob")


# --- registration -------------------------------------------------------------------------------
def test_register_build_is_a_no_op_for_a_known_build_id(team: Registry) -> None:
    assert register(team, build="b1") == 1
    before = team.audit_records()
    assert register(team, build="b1", verdict="FAIL") == 1
    assert team.audit_records() == before
    assert register(team, build="b2", verdict="FAIL") == 2
    assert tail(team, 1) == [rec("ann", R.A_BUILD_REGISTERED, 2, "b2", {
        "bundle": f"strategies/{S}", "spec_hash": "spec-b2", "verdict": "FAIL"})]
    assert [(v.number, v.verdict, v.stage) for v in team.versions(S)] == \
        [(1, "PASS", "candidate"), (2, "FAIL", "candidate")]


# --- shadow -------------------------------------------------------------------------------------
def test_a_passing_scorecard_enters_shadow(team: Registry, deployer: RecordingDeployer) -> None:
    register(team, build="b1")
    op = team.promote(S, 1, "shadow", "bob")
    assert (op.kind, op.status) == ("shadow", "completed")
    assert state(team) == {1: ("shadow", "shadow", "shadow")}
    assert deployer.applies() == [("b1", "shadow")]
    assert tail(team, 3) == [
        rec("bob", R.A_PROMOTION_REQUESTED, 1, "b1", {"operation": op.id, "to": "shadow"}),
        rec("deployer", R.A_DEPLOYMENT_OBSERVED, 1, "b1", {
            "from": None, "to": "shadow", "desired": "shadow", "operation": op.id}),
        rec("bob", R.A_OPERATION_COMPLETED, 1, "b1", {"operation": op.id, "kind": "shadow"}),
    ]


@pytest.mark.parametrize("verdict", ["FAIL", "INCONCLUSIVE"])
def test_a_scorecard_that_does_not_pass_is_refused_shadow(team: Registry, verdict: str,
                                                         deployer: RecordingDeployer) -> None:
    register(team, build="b1", verdict=verdict)
    with pytest.raises(Refused) as err:
        team.promote(S, 1, "shadow", "bob")
    assert err.value.reason == R.SCORECARD_NOT_PASSING
    assert state(team) == {1: ("candidate", None, None)}
    assert deployer.applies() == []
    assert tail(team, 1) == [rec("bob", R.A_PROMOTION_REFUSED, 1, "b1", {
        "to": "shadow", "message": f"{S} version 1's scorecard verdict is {verdict}; only a "
        "passing scorecard enters shadow or live"}, "refused", R.SCORECARD_NOT_PASSING)]


# --- live ---------------------------------------------------------------------------------------
def test_live_from_a_held_shadow_gate_with_an_approval(team: Registry,
                                                      deployer: RecordingDeployer) -> None:
    register(team, build="b1")
    to_shadow(team, 1, "b1")
    assert team.approve(S, 1, "cat", "b1") == "b1"
    assert tail(team, 1) == [rec("cat", R.A_APPROVED, 1, "b1", {})]
    op = team.promote(S, 1, "live", "bob")
    assert state(team) == {1: ("live", "live", "live")}
    assert deployer.applies() == [("b1", "shadow"), ("b1", "live")]
    assert tail(team, 3) == [
        rec("bob", R.A_PROMOTION_REQUESTED, 1, "b1", {"operation": op.id, "to": "live"}),
        rec("deployer", R.A_DEPLOYMENT_OBSERVED, 1, "b1", {
            "from": "shadow", "to": "live", "desired": "live", "operation": op.id}),
        rec("bob", R.A_OPERATION_COMPLETED, 1, "b1", {
            "operation": op.id, "kind": "live", "rollback_version": None}),
    ]


def test_a_new_live_version_retires_the_old_one_and_records_it_as_last_good(
        team: Registry, deployer: RecordingDeployer) -> None:
    register(team, build="b1")
    register(team, build="b2")
    to_live(team, 1, "b1")
    to_live(team, 2, "b2", approver="bob")
    assert state(team) == {1: ("retired", "retired", "retired"), 2: ("live", "live", "live")}
    assert deployer.applies()[-2:] == [("b2", "live"), ("b1", "retired")]
    assert tail(team, 1)[0]["detail"] == {"operation": 4, "kind": "live", "retired_version": 1,
                                          "rollback_version": 1}


def _refused(reg: Registry, number: int, to: str, reason: str) -> dict:
    before = state(reg)
    with pytest.raises(Refused) as err:
        reg.promote(S, number, to, "bob")
    assert err.value.reason == reason
    assert state(reg) == before
    last = tail(reg, 1)[0]
    assert (last["action"], last["outcome"], last["reason"], last["version"]) == \
        (R.A_PROMOTION_REFUSED, "refused", reason, number)
    return last


def test_live_without_shadow_is_refused(team: Registry) -> None:
    register(team, build="b1")
    _refused(team, 1, "live", R.NOT_IN_SHADOW)


def test_live_with_an_inconclusive_shadow_gate_is_refused(team: Registry) -> None:
    register(team, build="b1")
    team.promote(S, 1, "shadow", "bob")
    team.approve(S, 1, "cat")
    last = _refused(team, 1, "live", R.SHADOW_GATE_INCONCLUSIVE)
    assert "no shadow metrics observed yet" in last["detail"]["message"]
    # data missing one metric is still inconclusive: it never promotes
    team.record_shadow_metrics(S, 1, {k: v for k, v in GOOD_METRICS.items() if k != "fills"},
                               "runtime")
    _refused(team, 1, "live", R.SHADOW_GATE_INCONCLUSIVE)
    assert team.versions(S)[0].phase.phase is Phase.HEALTHY  # still a healthy shadow


def test_live_with_a_failed_shadow_gate_is_refused(team: Registry) -> None:
    register(team, build="b1")
    team.promote(S, 1, "shadow", "bob")
    team.approve(S, 1, "cat")
    team.record_shadow_metrics(S, 1, {**GOOD_METRICS, "risk_breaches": 2}, "runtime")
    last = _refused(team, 1, "live", R.SHADOW_GATE_FAILED)
    assert last["detail"]["message"] == f"{S} version 1's shadow gate: failed: max_risk_breaches"


def test_live_without_an_approval_is_refused(team: Registry) -> None:
    register(team, build="b1")
    to_shadow(team, 1, "b1")
    _refused(team, 1, "live", R.APPROVAL_MISSING)


def test_self_approval_is_refused_and_audited(team: Registry) -> None:
    team.add_user("dan", "approver", actor="root")
    register(team, build="b1", author="dan")
    to_shadow(team, 1, "b1")
    with pytest.raises(Refused) as err:
        team.approve(S, 1, "dan", "b1")
    assert err.value.reason == R.SELF_APPROVAL
    assert tail(team, 1) == [rec("dan", R.A_APPROVAL_REFUSED, 1, "b1", {
        "claimed_build_id": "b1", "message": f"dan is the author of {S} version 1 and may not "
        "approve it; another approver must"}, "refused", R.SELF_APPROVAL)]
    assert team.versions(S)[0].approvals == ()
    _refused(team, 1, "live", R.APPROVAL_MISSING)


def test_approval_of_another_build_id_is_refused_and_audited(team: Registry) -> None:
    register(team, build="b1")
    register(team, build="b2")
    with pytest.raises(Refused) as err:
        team.approve(S, 1, "cat", "b2")
    assert err.value.reason == R.APPROVAL_BUILD_MISMATCH
    assert tail(team, 1) == [rec("cat", R.A_APPROVAL_REFUSED, 1, "b1", {
        "claimed_build_id": "b2", "message": f"{S} version 1 is build b1, not b2: an approval "
        "binds to the exact build reviewed"}, "refused", R.APPROVAL_BUILD_MISMATCH)]


def test_an_approval_row_bound_to_another_build_does_not_open_live(team: Registry) -> None:
    """Planted defect: an approval stored for the right version but another build id."""
    register(team, build="b1")
    to_shadow(team, 1, "b1")
    with Session(team.engine) as s, s.begin():
        v = s.execute(select(Version).where(Version.build_id == "b1")).scalar_one()
        s.add(Approval(version_id=v.id, build_id="b-other", approver="cat",
                       created_at=team.clock()))
    _refused(team, 1, "live", R.APPROVAL_MISSING)


def test_the_authors_own_approval_row_does_not_open_live(team: Registry) -> None:
    """Planted defect: an approval by the author slipped into the table."""
    register(team, build="b1")
    to_shadow(team, 1, "b1")
    with Session(team.engine) as s, s.begin():
        v = s.execute(select(Version).where(Version.build_id == "b1")).scalar_one()
        s.add(Approval(version_id=v.id, build_id="b1", approver="ann", created_at=team.clock()))
    _refused(team, 1, "live", R.APPROVAL_MISSING)


def test_roles(team: Registry) -> None:
    team.add_user("vic", "viewer", actor="root")
    register(team, build="b1")
    with pytest.raises(Refused) as err:
        team.promote(S, 1, "shadow", "vic")
    assert err.value.reason == R.PERMISSION_DENIED
    with pytest.raises(Refused) as err:
        team.promote(S, 1, "shadow", "nobody")
    assert err.value.reason == R.UNKNOWN_USER
    assert [(r["actor"], r["reason"]) for r in tail(team, 2)] == \
        [("vic", R.PERMISSION_DENIED), ("nobody", R.UNKNOWN_USER)]


# --- one promotion per strategy ------------------------------------------------------------------
def test_a_second_promotion_while_one_is_in_progress_is_refused(db_url: str) -> None:
    waiting = Registry.open(db_url, deployer=None, clock=FakeClock())  # requests, never applies
    staff(waiting)
    register(waiting, build="b1")
    register(waiting, build="b2")
    op = waiting.promote(S, 1, "shadow", "bob")
    assert (op.status, op.step) == ("in_progress", "requested")
    with pytest.raises(Refused) as err:
        waiting.promote(S, 2, "shadow", "cat")
    assert err.value.reason == R.PROMOTION_IN_PROGRESS
    assert tail(waiting, 1) == [rec("cat", R.A_PROMOTION_REFUSED, 2, "b2", {
        "to": "shadow", "message": f"{S}: operation {op.id} (shadow of version 1) is in "
        f"progress; one promotion per strategy at a time — wait for it or run "
        f"`stratforge reconcile {S}` to finish it"}, "refused", R.PROMOTION_IN_PROGRESS)]
    # another strategy is not blocked
    register(waiting, strategy="other", build="o1")
    assert waiting.promote("other", 1, "shadow", "bob").status == "in_progress"
    # a process with a deployer finishes the first; then the second may go
    worker = Registry(waiting.engine, RecordingDeployer(), FakeClock())
    assert [v.status for v in worker.reconcile(S)] == ["completed"]
    assert worker.promote(S, 2, "shadow", "cat").status == "completed"
    waiting.engine.dispose()


def test_the_lock_is_enforced_by_the_database(reg: Registry) -> None:
    """Planted defect: code that skipped the check still cannot hold a second lock."""
    staff(reg)
    register(reg, build="b1")
    register(reg, build="b2")
    Registry(reg.engine, None, FakeClock()).promote(S, 1, "shadow", "bob")
    with Session(reg.engine) as s:
        held = s.execute(select(PromotionLock)).scalar_one()
        other = Operation(strategy_id=held.strategy_id, version_id=2, kind="shadow",
                          status="in_progress", step="requested", actor="bob",
                          started_at=reg.clock())
        s.add(other)
        s.flush()
        with pytest.raises(IntegrityError, match="strategy_id|pk_promotion_locks"):
            s.execute(insert(PromotionLock).values(
                strategy_id=held.strategy_id, operation_id=other.id, acquired_at=reg.clock()))


class GatedDeployer(RecordingDeployer):
    """Holds the first apply until released, so a second promotion runs meanwhile."""

    def __init__(self) -> None:
        super().__init__()
        self.entered, self.release = threading.Event(), threading.Event()

    def apply(self, target, slot) -> None:  # noqa: ANN001
        self.entered.set()
        assert self.release.wait(30)
        super().apply(target, slot)


def test_two_concurrent_promotions_one_wins(db_url: str) -> None:
    base = Registry.open(db_url, None, FakeClock())
    staff(base)
    register(base, build="b1")
    register(base, build="b2")
    gated = GatedDeployer()
    first = Registry(base.engine, gated, FakeClock())
    second = Registry(base.engine, RecordingDeployer(), FakeClock())
    results: list = []
    thread = threading.Thread(target=lambda: results.append(first.promote(S, 1, "shadow", "bob")))
    thread.start()
    assert gated.entered.wait(30)
    with pytest.raises(Refused) as err:
        second.promote(S, 2, "shadow", "cat")
    gated.release.set()
    thread.join(30)
    assert err.value.reason == R.PROMOTION_IN_PROGRESS
    assert results[0].status == "completed"
    assert state(base) == {1: ("shadow", "shadow", "shadow"), 2: ("candidate", None, None)}
    base.engine.dispose()


# --- rollback -----------------------------------------------------------------------------------
def test_rollback_re_points_live_to_the_last_good_version_without_a_build(
        team: Registry, deployer: RecordingDeployer) -> None:
    register(team, build="b1")
    register(team, build="b2")
    to_live(team, 1, "b1")
    to_live(team, 2, "b2", approver="bob")
    n = len(team.audit_records())
    op = team.rollback(S, "cat", "fills drifted")
    assert state(team) == {1: ("live", "live", "live"), 2: ("retired", "retired", "retired")}
    assert deployer.applies()[-2:] == [("b1", "live"), ("b2", "retired")]
    assert len(team.versions(S)) == 2  # nothing rebuilt or re-registered
    assert tail(team, len(team.audit_records()) - n) == [
        rec("cat", R.A_ROLLBACK_REQUESTED, 1, "b1", {
            "operation": op.id, "from_version": 2, "from_build_id": "b2",
            "reason": "fills drifted"}),
        rec("deployer", R.A_DEPLOYMENT_OBSERVED, 1, "b1", {
            "from": "retired", "to": "live", "desired": "live", "operation": op.id}),
        rec("deployer", R.A_DEPLOYMENT_OBSERVED, 2, "b2", {
            "from": "live", "to": "retired", "desired": "retired", "operation": op.id}),
        rec("cat", R.A_OPERATION_COMPLETED, 1, "b1", {
            "operation": op.id, "kind": "rollback", "retired_version": 2,
            "rollback_version": None}),
    ]
    # no further last-good version is recorded: a second rollback is refused
    with pytest.raises(Refused) as err:
        team.rollback(S, "cat")
    assert err.value.reason == R.NO_ROLLBACK_TARGET
    assert tail(team, 1)[0]["action"] == R.A_ROLLBACK_REFUSED


def test_rollback_without_a_live_version_is_refused(team: Registry) -> None:
    register(team, build="b1")
    with pytest.raises(Refused) as err:
        team.rollback(S, "cat")
    assert err.value.reason == R.NOT_LIVE
    assert tail(team, 1) == [rec("cat", R.A_ROLLBACK_REFUSED, None, None, {
        "reason": None, "message": f"{S} has no live version to roll back from"},
        "refused", R.NOT_LIVE)]


def test_a_retired_version_is_not_promoted_again(team: Registry) -> None:
    register(team, build="b1")
    register(team, build="b2")
    to_live(team, 1, "b1")
    to_live(team, 2, "b2", approver="bob")
    _refused(team, 1, "shadow", R.VERSION_RETIRED)


# --- drift, review requests ----------------------------------------------------------------------
class StuckDeployer(RecordingDeployer):
    """Cannot (re)start one build: its apply does nothing."""

    def __init__(self, stuck: str) -> None:
        super().__init__()
        self.stuck = stuck

    def apply(self, target, slot) -> None:  # noqa: ANN001
        if target.build_id != self.stuck:
            super().apply(target, slot)
        else:
            self.calls.append(("apply", target.build_id, slot))


def test_an_unrelated_shadow_that_died_neither_blocks_nor_is_driven_by_a_promotion(
        db_url: str) -> None:
    deployer = StuckDeployer(stuck="b2")
    reg = Registry.open(db_url, deployer, FakeClock())
    staff(reg)
    for build in ("b1", "b2"):
        register(reg, build=build)
    to_shadow(reg, 1, "b1")
    deployer.state[S]["b2"] = "shadow"  # b2 ran in shadow once ...
    reg.promote(S, 2, "shadow", "bob")
    del deployer.state[S]["b2"]  # ... and died; the deployer cannot restart it
    n = len(reg.audit_records())
    assert reg.reconcile(S) == []
    assert tail(reg, len(reg.audit_records()) - n) == [
        rec("deployer", R.A_DEPLOYMENT_OBSERVED, 2, "b2", {
            "from": "shadow", "to": "retired", "desired": "shadow", "operation": None})]
    assert reg.versions(S)[1].phase.phase is Phase.PROGRESSING
    reg.approve(S, 1, "cat")
    before = len(deployer.applies())
    assert reg.promote(S, 1, "live", "bob").status == "completed"
    assert deployer.applies()[before:] == [("b1", "live")]
    reg.engine.dispose()


def test_a_rollback_while_a_promotion_is_in_progress_is_refused(db_url: str) -> None:
    reg = Registry.open(db_url, RecordingDeployer(), FakeClock())
    staff(reg)
    register(reg, build="b1")
    register(reg, build="b2")
    register(reg, build="b3")
    to_live(reg, 1, "b1")
    to_live(reg, 2, "b2", approver="bob")
    Registry(reg.engine, None, FakeClock()).promote(S, 3, "shadow", "bob")
    with pytest.raises(Refused) as err:
        reg.rollback(S, "cat", "latency")
    assert err.value.reason == R.PROMOTION_IN_PROGRESS
    assert tail(reg, 1)[0]["action"] == R.A_ROLLBACK_REFUSED
    reg.reconcile(S)
    assert reg.rollback(S, "cat", "latency").status == "completed"
    reg.engine.dispose()


def test_a_review_request_is_recorded_and_audited(team: Registry) -> None:
    register(team, build="b1")
    rr = team.request_review(S, 1, title="Add pairs-alpha", body="scorecard ...", actor="ci")
    assert tail(team, 1) == [rec("ci", R.A_REVIEW_REQUESTED, 1, "b1", {
        "review_request": rr, "title": "Add pairs-alpha"})]


def test_review_requests_are_listed_per_strategy_and_status(team: Registry) -> None:
    register(team, build="b1")
    register(team, build="b2")
    first = team.request_review(S, 1, title="v1", body="card one", actor="ci",
                                url="branch:stratforge/x/b1")
    team.request_review(S, 2, title="v2", body="card two", actor="ci")
    rows = team.review_requests(S)
    assert [(r.id, r.version, r.build_id, r.title, r.status) for r in rows] == [
        (first, 1, "b1", "v1", "open"), (first + 1, 2, "b2", "v2", "open")]
    assert rows[0].url == "branch:stratforge/x/b1" and rows[0].body == "card one"
    assert team.review_requests(S, status="closed") == []
    with pytest.raises(NotFound):
        team.review_requests("no-such-strategy")

"""REST API under /api/v1 (the same service layer as the pages; pydantic response models).

Authentication: ``Authorization: Bearer <registry API token>``; a browser session works too
(then POSTs need the ``X-CSRF-Token`` header). Unauthenticated: 401.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from stratforge.dashboard.deps import ApiUser, Service
from stratforge.registry import VersionView

router = APIRouter(tags=["v1"])
Name = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
Number = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _utc(value: datetime) -> datetime:
    """The registry's times are UTC; SQLite hands them back without the offset (RFC 3339
    date-times need one)."""
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Not authenticated"}, 403: {"description": "Refused: role or CSRF"},
    404: {"description": "No such strategy or version"},
    409: {"description": "Refused by a promotion rule (reason in the body)"},
    400: {"description": "Bad input"}, 422: {"description": "Invalid request"}}


class Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class MeOut(Out):
    name: str
    role: str
    via_token: bool


class StrategyOut(Out):
    name: str
    owner: str | None
    type: str | None
    live_version: int | None
    shadow_versions: list[int]
    latest_version: int
    latest_verdict: str
    versions: int
    last_change: UtcDatetime


class ShadowGateOut(Out):
    outcome: str
    detail: dict[str, Any]


class VersionOut(Out):
    strategy: str
    version: int
    build_id: str
    spec_hash: str
    author: str
    verdict: str
    stage: str
    desired: str | None
    observed: str | None
    phase: str
    phase_reason: str
    shadow_gate: ShadowGateOut
    approvals: list[str]
    created_at: UtcDatetime


class DeploymentOut(Out):
    strategy: str
    live: VersionOut | None
    shadow: list[VersionOut]
    operations_in_progress: list[dict[str, Any]]


class DeploymentsOut(Out):
    runtime_reachable: bool
    runtime_error: str | None
    runtime: dict[str, Any] | None
    strategies: list[DeploymentOut]


class AuditRecordOut(Out):
    seq: int
    at: str
    actor: str
    action: str
    strategy: str | None
    version: int | None
    build_id: str | None
    outcome: str
    reason: str | None
    detail: dict[str, Any]
    hash: str


class AuditOut(Out):
    intact: bool
    head_seq: int
    head: str
    problems: list[dict[str, Any]]
    total: int
    records: list[AuditRecordOut]


class ReviewRequestOut(Out):
    id: int
    strategy: str
    version: int
    build_id: str
    title: str
    body: str
    url: str | None
    status: str
    created_by: str
    created_at: UtcDatetime


class Reason(BaseModel):
    reason: str = Field(min_length=1, max_length=500, description="Why (recorded in the audit log).")


class PromoteIn(Reason):
    to: Literal["shadow", "live"]


class ApproveIn(Reason):
    build_id: str | None = Field(default=None, max_length=128,
                                 description="The build id you reviewed (refused if not the version's).")


class RuntimeIn(Reason):
    strategy: str | None = Field(default=None, max_length=64,
                                 description="One strategy, or null for every strategy.")


class ActionOut(Out):
    message: str
    runtime_reachable: bool


def version_out(v: VersionView) -> VersionOut:
    return VersionOut(strategy=v.strategy, version=v.number, build_id=v.build_id,
                      spec_hash=v.spec_hash, author=v.author, verdict=v.verdict, stage=v.stage,
                      desired=v.desired, observed=v.observed, phase=v.phase.phase.value,
                      phase_reason=v.phase.reason,
                      shadow_gate=ShadowGateOut(outcome=v.shadow_gate.outcome.value,
                                                detail=v.shadow_gate.to_dict()),
                      approvals=list(v.approvals), created_at=v.created_at)


@router.get("/me", responses=ERRORS)
def me(user: ApiUser) -> MeOut:
    return MeOut(name=user.name, role=user.role, via_token=user.via_token)


@router.get("/strategies", responses=ERRORS)
def strategies(service: Service, user: ApiUser) -> list[StrategyOut]:
    return [StrategyOut(name=r.name, owner=r.owner, type=r.type, live_version=r.live,
                        shadow_versions=list(r.shadow), latest_version=r.latest,
                        latest_verdict=r.latest_verdict, versions=r.versions,
                        last_change=r.last_change) for r in service.strategies()]


@router.get("/strategies/{name}/versions", responses=ERRORS)
def versions(name: Name, service: Service, user: ApiUser) -> list[VersionOut]:
    return [version_out(v) for v in service.versions(name)]


@router.get("/strategies/{name}/versions/{number}", responses=ERRORS)
def version(name: Name, number: Number, service: Service, user: ApiUser) -> VersionOut:
    return version_out(service.version_view(name, number))


@router.get("/strategies/{name}/versions/{number}/scorecard", responses=ERRORS)
def scorecard(name: Name, number: Number, service: Service, user: ApiUser) -> dict[str, Any]:
    """The version's scorecard document (stratforge.scorecard/v1, docs/scorecard.md)."""
    return service.scorecard(name, number)


@router.get("/deployments", responses=ERRORS)
def deployments(service: Service, user: ApiUser) -> DeploymentsOut:
    status, why = service.runtime_status()
    return DeploymentsOut(
        runtime_reachable=status is not None, runtime_error=why, runtime=status,
        strategies=[DeploymentOut(
            strategy=r["strategy"], live=version_out(r["live"]) if r["live"] else None,
            shadow=[version_out(v) for v in r["shadow"]],
            operations_in_progress=[{"id": op.id, "kind": op.kind, "version": op.version,
                                     "step": op.step} for op in r["in_progress"]])
            for r in service.deployments()])


@router.get("/review-requests", responses=ERRORS)
def review_requests(service: Service, user: ApiUser,
                    status: Literal["open", "merged", "closed"] | None = None
                    ) -> list[ReviewRequestOut]:
    return [ReviewRequestOut(**rr.__dict__) for rr in service.review_requests(status)]


@router.get("/audit", responses=ERRORS)
def audit(service: Service, user: ApiUser,
          strategy: Annotated[str | None, Query(max_length=64)] = None,
          actor: Annotated[str | None, Query(max_length=64)] = None,
          action: Annotated[str | None, Query(max_length=64)] = None,
          limit: Annotated[int, Query(ge=1, le=10_000)] = 500) -> AuditOut:
    return AuditOut(**service.audit(strategy, actor, action, limit))


@router.post("/strategies/{name}/versions/{number}/promote", responses=ERRORS)
def promote(name: Name, number: Number, body: PromoteIn, service: Service,
            user: ApiUser) -> ActionOut:
    r = service.promote(user.name, name, number, body.to, body.reason)
    return ActionOut(message=r.message, runtime_reachable=r.runtime_reachable)


@router.post("/strategies/{name}/versions/{number}/approve", responses=ERRORS)
def approve(name: Name, number: Number, body: ApproveIn, service: Service,
            user: ApiUser) -> ActionOut:
    r = service.approve(user.name, name, number, body.build_id, body.reason)
    return ActionOut(message=r.message, runtime_reachable=r.runtime_reachable)


@router.post("/strategies/{name}/rollback", responses=ERRORS)
def rollback(name: Name, body: Reason, service: Service, user: ApiUser) -> ActionOut:
    r = service.rollback(user.name, name, body.reason)
    return ActionOut(message=r.message, runtime_reachable=r.runtime_reachable)


@router.post("/runtime/{what}", responses=ERRORS)
def runtime(what: Literal["kill", "release"], body: RuntimeIn, service: Service,
            user: ApiUser) -> ActionOut:
    """The kill switch (per strategy, or global with strategy null) and its release."""
    r = service.runtime_action(user.name, what, body.strategy, body.reason)
    return ActionOut(message=r.message, runtime_reachable=r.runtime_reachable)

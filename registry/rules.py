"""Every promotion rule, in one place. Each check returns a :class:`Refusal` (a reason from
:mod:`stratforge.registry.reasons` and a message saying what to do) or None when the rule holds.

Checks are pure: they read the facts the service loaded, never the database. The order of the
checks in :func:`check_promotion` is the order a refusal is reported in: who may act, then the
lock, then the version's stage, then the scorecard, then the shadow gate, then the approval.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from stratforge.registry import reasons as R
from stratforge.registry.phase import GateOutcome, GateResult

#: what each role may do (admin may do everything)
PERMISSIONS = {
    "register": ("author", "approver", "admin"),
    "promote": ("approver", "admin"),
    "approve": ("approver", "admin"),
    "rollback": ("approver", "admin"),
    # the kill switch: anyone who may ship code may stop it; releasing it is an approver's call
    "kill": ("author", "approver", "admin"),
    "release": ("approver", "admin"),
    "users": ("admin",),
    "tokens": ("admin",),
}


@dataclass(frozen=True)
class Refusal:
    reason: str
    message: str


@dataclass(frozen=True)
class Actor:
    name: str
    role: str | None  # None: not a registered, active user


def check_permission(actor: Actor, action: str) -> Refusal | None:
    if actor.role is None:
        return Refusal(R.UNKNOWN_USER, f"{actor.name!r} is not an active registry user "
                       "(an admin adds users with `stratforge users add NAME --role ROLE`)")
    allowed = PERMISSIONS[action]
    if actor.role not in allowed:
        return Refusal(R.PERMISSION_DENIED, f"{actor.name!r} has role {actor.role}; {action} "
                       f"needs one of: {', '.join(allowed)}")
    return None


def check_lock(holder: tuple[int, str, int] | None, strategy: str) -> Refusal | None:
    """``holder``: (operation id, kind, version number) of the operation holding the lock."""
    if holder is None:
        return None
    op_id, kind, number = holder
    return Refusal(R.PROMOTION_IN_PROGRESS,
                   f"{strategy}: operation {op_id} ({kind} of version {number}) is in progress; "
                   f"one promotion per strategy at a time — wait for it or run "
                   f"`stratforge reconcile {strategy}` to finish it")


@dataclass(frozen=True)
class PromotionFacts:
    """What the promotion rules look at, loaded by the service."""

    strategy: str
    number: int
    build_id: str
    author: str
    stage: str
    observed: str | None
    verdict: str
    shadow_gate: GateResult
    approvals: tuple[tuple[str, str], ...]  # (approver, build id)


def check_promotion(facts: PromotionFacts, to: str) -> Refusal | None:
    """The rules for moving a version to ``to`` (``shadow`` or ``live``)."""
    v = f"{facts.strategy} version {facts.number}"
    if facts.stage == "retired":
        return Refusal(R.VERSION_RETIRED, f"{v} is retired; it is never promoted again")
    order = ("candidate", "shadow", "live")
    if order.index(facts.stage) >= order.index(to):
        return Refusal(R.ALREADY_AT_STAGE, f"{v} is already {facts.stage}")
    if facts.verdict.upper() != "PASS":
        return Refusal(R.SCORECARD_NOT_PASSING, f"{v}'s scorecard verdict is {facts.verdict}; "
                       "only a passing scorecard enters shadow or live")
    if to == "shadow":
        return None
    if facts.stage != "shadow" or facts.observed != "shadow":
        return Refusal(R.NOT_IN_SHADOW, f"{v} is {facts.stage} (observed "
                       f"{facts.observed or 'not running'}); live is reached from a running "
                       "shadow only")
    gate = facts.shadow_gate
    if gate.outcome in (GateOutcome.FAILED, GateOutcome.ERROR):
        return Refusal(R.SHADOW_GATE_FAILED, f"{v}'s shadow gate: {gate.message}")
    if gate.outcome is GateOutcome.INCONCLUSIVE:
        return Refusal(R.SHADOW_GATE_INCONCLUSIVE, f"{v}'s shadow gate is inconclusive "
                       f"({gate.message}); it never promotes — let shadow run longer")
    return check_live_approval(facts.approvals, facts.author, facts.build_id, v)


def check_live_approval(approvals: Iterable[tuple[str, str]], author: str, build_id: str,
                        what: str) -> Refusal | None:
    """Live needs an approval by someone other than the author, of exactly this build id."""
    if any(approver != author and bound == build_id for approver, bound in approvals):
        return None
    return Refusal(R.APPROVAL_MISSING, f"{what} needs an approval of build {build_id} by an "
                   f"approver who is not its author ({author}): `stratforge approve`")


def check_approval(actor: Actor, author: str, stage: str, build_id: str,
                   claimed_build_id: str | None, already: bool, what: str) -> Refusal | None:
    if (refusal := check_permission(actor, "approve")) is not None:
        return refusal
    if actor.name == author:
        return Refusal(R.SELF_APPROVAL, f"{actor.name} is the author of {what} and may not "
                       "approve it; another approver must")
    if claimed_build_id is not None and claimed_build_id != build_id:
        return Refusal(R.APPROVAL_BUILD_MISMATCH, f"{what} is build {build_id}, not "
                       f"{claimed_build_id}: an approval binds to the exact build reviewed")
    if stage == "retired":
        return Refusal(R.VERSION_RETIRED, f"{what} is retired")
    if already:
        return Refusal(R.ALREADY_APPROVED, f"{actor.name} has already approved {what}")
    return None


def check_rollback(live: tuple[int, int] | None, target: tuple[int, int] | None,
                   strategy: str) -> Refusal | None:
    """``live``/``target``: (version id, number) of the live version and the recorded
    last-good one."""
    if live is None:
        return Refusal(R.NOT_LIVE, f"{strategy} has no live version to roll back from")
    if target is None:
        return Refusal(R.NO_ROLLBACK_TARGET, f"{strategy} has no recorded last-good live "
                       "version to roll back to")
    return None

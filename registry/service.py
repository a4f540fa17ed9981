"""The registry's service layer: what the CLI and the dashboard call (it knows nothing of either).

Every action runs in one database transaction together with its audit record, so the log and
the state never disagree. A refused action changes nothing but the log: its refusal is audited
and :class:`Refused` is raised after that record is committed.

Promotion and rollback are operations driven by a reconciler (Argo Rollouts style):

1. ``requested`` — the rules are checked, the strategy's lock row is inserted (a second
   promotion of the same strategy fails at the database), the operation is journalled and the
   deployments' *desired* slots are written; audited.
2. ``applied`` — the :class:`~stratforge.registry.deployer.Deployer` is asked to run every
   deployment whose observed slot differs from its desired one (idempotent calls).
3. ``observed`` — what the deployer reports is written as the *observed* slots; audited once
   per change.
4. ``completed`` — once observed equals desired the versions' stages move, the last-good live
   version is recorded, the lock is released; audited.

Every step can be repeated: a process killed between any two steps is resumed by
:meth:`Registry.reconcile` (or by repeating the same request), which converges without
duplicating an effect or an audit record.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import signal
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Mapping

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from stratforge.core.errors import InvariantError, UserInputError
from stratforge.registry import audit
from stratforge.registry import reasons as R
from stratforge.registry import rules
from stratforge.registry.db import make_engine, upgrade
from stratforge.registry.deployer import Deployer, Target
from stratforge.registry.models import (ROLES, ApiToken, Approval, Deployment, Operation,
                                        PromotionLock, ReviewRequest, ShadowObservation, Strategy,
                                        User, Version)
from stratforge.registry.phase import (GateResult, Gates, PhaseResult, ShadowGate,
                                       evaluate_shadow_gate, phase, scorecard_outcome)

#: a test hook: the process SIGKILLs itself when it reaches this checkpoint (``NAME`` or
#: ``NAME#N`` for the N-th time); used by the crash tests, inert unless set
KILL_ENV = "STRATFORGE_REGISTRY_KILL_AT"
#: the checkpoints between the steps of an operation, in the order they are passed
CHECKPOINTS = ("requested", "applied", "observed", "completed")
TOKEN_PREFIX = "sft_"
#: the shortest password the registry accepts for a user
MIN_PASSWORD_LENGTH = 12
#: argon2id with the library's defaults (RFC 9106 low-memory profile)
_HASHER = PasswordHasher()
#: verified against when the user does not exist, so that a missing name costs the same time
_DUMMY_HASH = _HASHER.hash("not a password of anyone")
#: default maximum age of the latest shadow observation the shadow gate accepts (the control
#: plane reports every few seconds; 60 s is several missed reports)
SHADOW_MAX_AGE_S = 60.0


class Refused(UserInputError):
    """A rule refused the action (already audited)."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(f"refused ({reason}): {message}")


class NotFound(UserInputError):
    """A named strategy, version, user or token does not exist."""


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def token_hash(secret: str) -> str:
    """API tokens are 256-bit random secrets, so one SHA-256 (no salt, no stretching) is the
    right hash: it cannot be brute-forced, and a lookup by hash stays a single index probe."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


_passed: Counter[str] = Counter()


def _checkpoint(name: str) -> None:
    want = os.environ.get(KILL_ENV)
    if not want:
        return
    _passed[name] += 1
    if want in (name, f"{name}#{_passed[name]}"):
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass(frozen=True)
class VersionView:
    strategy: str
    number: int
    build_id: str
    spec_hash: str
    bundle: str
    author: str
    verdict: str
    stage: str
    desired: str | None
    observed: str | None
    phase: PhaseResult
    shadow_gate: GateResult
    approvals: tuple[str, ...]
    created_at: datetime


@dataclass(frozen=True)
class ReviewRequestView:
    id: int
    strategy: str
    version: int
    build_id: str
    title: str
    body: str
    url: str | None
    status: str
    created_by: str
    created_at: datetime


@dataclass(frozen=True)
class OperationView:
    id: int
    strategy: str
    version: int
    kind: str
    status: str
    step: str


class Registry:
    """The registry over one database. ``deployer`` None: operations are requested (desired
    state recorded) but stay in progress until a process with a deployer reconciles them."""

    def __init__(self, engine: Engine, deployer: Deployer | None = None,
                 clock: Callable[[], datetime] = utcnow,
                 shadow_max_age_s: float | None = SHADOW_MAX_AGE_S) -> None:
        self.engine = engine
        self.deployer = deployer
        self.clock = clock
        #: a shadow observation older than this counts as none (the gate is inconclusive);
        #: None: observations never go stale
        self.shadow_max_age_s = shadow_max_age_s
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def open(cls, url: str, deployer: Deployer | None = None,
             clock: Callable[[], datetime] = utcnow,
             shadow_max_age_s: float | None = SHADOW_MAX_AGE_S) -> "Registry":
        """Connect to ``url`` and bring its schema to the newest migration."""
        engine = make_engine(url)
        try:
            upgrade(engine)
        except OperationalError as err:
            engine.dispose()
            shown = engine.url.render_as_string(hide_password=True)
            raise UserInputError(f"cannot reach the registry database {shown} "
                                 f"(STRATFORGE_DB_URL): {err.orig}") from None
        return cls(engine, deployer, clock, shadow_max_age_s)

    # --- plumbing ---------------------------------------------------------------------------
    def _tx(self) -> Session:
        return self._sessions.begin()  # type: ignore[return-value]

    def _now(self) -> tuple[datetime, str]:
        now = self.clock()
        return now, now.astimezone(timezone.utc).isoformat(timespec="microseconds")

    def _audit(self, s: Session, actor: str, action: str, outcome: str = R.OUTCOME_OK,
               **fields: Any) -> None:
        audit.append(s, at=self._now()[1], actor=actor, action=action, outcome=outcome, **fields)

    def _refuse(self, actor: str, action: str, refusal: rules.Refusal, **fields: Any) -> Refused:
        with self._tx() as s:
            self._audit(s, actor, action, R.OUTCOME_REFUSED, reason=refusal.reason,
                        detail={"message": refusal.message, **fields.pop("detail", {})},
                        **fields)
        return Refused(refusal.reason, refusal.message)

    @staticmethod
    def _actor(s: Session, name: str) -> rules.Actor:
        user = s.execute(select(User).where(User.name == name)).scalar_one_or_none()
        return rules.Actor(name, user.role if user is not None and user.active else None)

    @staticmethod
    def _strategy(s: Session, name: str) -> Strategy:
        st = s.execute(select(Strategy).where(Strategy.name == name)).scalar_one_or_none()
        if st is None:
            raise NotFound(f"no strategy named {name!r} in the registry "
                           "(`stratforge versions` lists them)")
        return st

    def _version(self, s: Session, name: str, number: int | None) -> tuple[Strategy, Version]:
        st = self._strategy(s, name)
        q = select(Version).where(Version.strategy_id == st.id)
        q = q.where(Version.number == number) if number is not None else \
            q.order_by(Version.number.desc()).limit(1)
        v = s.execute(q).scalar_one_or_none()
        if v is None:
            raise NotFound(f"{name} has no version {number}" if number is not None
                           else f"{name} has no versions")
        return st, v

    # --- builds and reviews -----------------------------------------------------------------
    def register_build(self, *, strategy: str, spec_hash: str, build_id: str, bundle: str,
                       scorecard: Mapping[str, Any], verdict: str, author: str,
                       shadow_gate: ShadowGate) -> int:
        """Record a build as the strategy's next version (pass or not) and return its number.
        Registering a build id that is already recorded changes nothing and returns its number."""
        for field, value in (("strategy", strategy), ("build_id", build_id),
                             ("spec_hash", spec_hash), ("author", author)):
            if not value:
                raise UserInputError(f"register_build: {field} must not be empty")
        with self._tx() as s:
            known = s.execute(select(Version).where(Version.build_id == build_id)) \
                .scalar_one_or_none()
            if known is not None:
                return known.number
            now, _ = self._now()
            st = s.execute(select(Strategy).where(Strategy.name == strategy)).scalar_one_or_none()
            if st is None:
                st = Strategy(name=strategy, created_at=now)
                s.add(st)
                s.flush()
            number = (s.execute(select(func.max(Version.number))
                                .where(Version.strategy_id == st.id)).scalar() or 0) + 1
            s.add(Version(strategy_id=st.id, number=number, spec_hash=spec_hash,
                          build_id=build_id, bundle=bundle, author=author, verdict=verdict,
                          scorecard=audit.canonical(dict(scorecard)),
                          shadow_gate=audit.canonical(shadow_gate.to_dict()),
                          stage="candidate", created_at=now))
            self._audit(s, author, R.A_BUILD_REGISTERED, strategy=strategy, version=number,
                        build_id=build_id, detail={"spec_hash": spec_hash, "verdict": verdict,
                                                   "bundle": bundle})
            return number

    def request_review(self, strategy: str, number: int, *, title: str, body: str,
                       actor: str, url: str | None = None) -> int:
        """Record a review request for a version (CI does when it cannot open a pull request)."""
        with self._tx() as s:
            _, v = self._version(s, strategy, number)
            rr = ReviewRequest(version_id=v.id, title=title, body=body, url=url, status="open",
                               created_by=actor, created_at=self._now()[0])
            s.add(rr)
            s.flush()
            self._audit(s, actor, R.A_REVIEW_REQUESTED, strategy=strategy, version=number,
                        build_id=v.build_id, detail={"review_request": rr.id, "title": title})
            return rr.id

    def record_shadow_metrics(self, strategy: str, number: int, metrics: Mapping[str, Any],
                              actor: str) -> GateResult:
        """Store what the runtime observed in shadow and return the gate's evaluation of it."""
        with self._tx() as s:
            _, v = self._version(s, strategy, number)
            s.add(ShadowObservation(version_id=v.id, observed_at=self._now()[0],
                                    metrics=audit.canonical(dict(metrics))))
            result = evaluate_shadow_gate(ShadowGate.from_dict(json.loads(v.shadow_gate)),
                                          metrics)
            self._audit(s, actor, R.A_SHADOW_OBSERVED, strategy=strategy, version=number,
                        build_id=v.build_id, detail={"metrics": dict(metrics),
                                                     "gate": result.outcome.value})
            return result

    def _shadow_gate(self, s: Session, v: Version) -> GateResult:
        latest = s.execute(select(ShadowObservation).where(ShadowObservation.version_id == v.id)
                           .order_by(ShadowObservation.id.desc()).limit(1)).scalar_one_or_none()
        metrics = json.loads(latest.metrics) if latest is not None else None
        age = None
        if latest is not None and self.shadow_max_age_s is not None:
            at = latest.observed_at
            if at.tzinfo is None:  # SQLite hands back naive datetimes (stored as UTC)
                at = at.replace(tzinfo=timezone.utc)
            age = (self.clock() - at).total_seconds()
        return evaluate_shadow_gate(ShadowGate.from_dict(json.loads(v.shadow_gate)), metrics,
                                    age, self.shadow_max_age_s)

    # --- approvals --------------------------------------------------------------------------
    def approve(self, strategy: str, number: int, actor: str,
                build_id: str | None = None, reason: str | None = None) -> str:
        """Approve a version for live, bound to its build id (``build_id``: the build the
        approver reviewed; refused when it is not the version's). Returns the bound build id."""
        with self._tx() as s:
            _, v = self._version(s, strategy, number)
            who = self._actor(s, actor)
            already = s.execute(select(Approval).where(Approval.version_id == v.id,
                                                       Approval.approver == actor)) \
                .scalar_one_or_none() is not None
            refusal = rules.check_approval(who, v.author, v.stage, v.build_id, build_id,
                                           already, f"{strategy} version {number}")
            if refusal is None:
                s.add(Approval(version_id=v.id, build_id=v.build_id, approver=actor,
                               created_at=self._now()[0]))
                self._audit(s, actor, R.A_APPROVED, strategy=strategy, version=number,
                            build_id=v.build_id,
                            detail={"reason": reason} if reason else None)
                return v.build_id
            subject = {"strategy": strategy, "version": number, "build_id": v.build_id,
                       "detail": {"claimed_build_id": build_id}}
        raise self._refuse(actor, R.A_APPROVAL_REFUSED, refusal, **subject)

    # --- promotion ----------------------------------------------------------------------------
    @staticmethod
    def _lock_holder(s: Session, st: Strategy) -> Operation | None:
        lock = s.get(PromotionLock, st.id)
        return s.get(Operation, lock.operation_id) if lock is not None else None

    @staticmethod
    def _deployment(s: Session, v: Version) -> Deployment | None:
        return s.execute(select(Deployment).where(Deployment.version_id == v.id)) \
            .scalar_one_or_none()

    def _set_desired(self, s: Session, st: Strategy, v: Version, slot: str) -> None:
        dep = self._deployment(s, v)
        now = self._now()[0]
        if dep is None:
            s.add(Deployment(strategy_id=st.id, version_id=v.id, desired=slot, desired_at=now))
        elif dep.desired != slot:
            dep.desired, dep.desired_at = slot, now

    @staticmethod
    def _live(s: Session, st: Strategy) -> Version | None:
        return s.execute(select(Version).where(Version.strategy_id == st.id,
                                               Version.stage == "live")).scalar_one_or_none()

    def _holder_info(self, s: Session, op: Operation | None) -> tuple[int, str, int] | None:
        if op is None:
            return None
        return op.id, op.kind, s.get(Version, op.version_id).number

    def promote(self, strategy: str, number: int | None, to: str, actor: str,
                reason: str | None = None) -> OperationView:
        """Promote a version (the newest when ``number`` is None) to ``shadow`` or ``live``.
        Repeating the request of an operation in progress resumes it. ``reason`` (why, as the
        person said it) is recorded with the operation and in the audit log."""
        if to not in ("shadow", "live"):
            raise UserInputError(f"promote --to must be shadow or live, not {to!r}")
        refusal, subject, op_id = None, {}, None
        with self._sessions() as s:  # commits explicitly: the checkpoint sits after the commit
            st, v = self._version(s, strategy, number)
            subject = {"strategy": strategy, "version": v.number, "build_id": v.build_id,
                       "detail": {"to": to, **({"reason": reason} if reason else {})}}
            holder = self._lock_holder(s, st)
            if holder is not None and holder.version_id == v.id and holder.kind == to:
                op_id = holder.id  # the same request again: resume it
            else:
                refusal = (rules.check_permission(self._actor(s, actor), "promote")
                           or rules.check_lock(self._holder_info(s, holder), strategy))
                if refusal is None:
                    dep = self._deployment(s, v)
                    facts = rules.PromotionFacts(
                        strategy=strategy, number=v.number, build_id=v.build_id,
                        author=v.author, stage=v.stage,
                        observed=dep.observed if dep is not None else None,
                        verdict=v.verdict, shadow_gate=self._shadow_gate(s, v),
                        approvals=tuple(s.execute(
                            select(Approval.approver, Approval.build_id)
                            .where(Approval.version_id == v.id)).tuples()))
                    refusal = rules.check_promotion(facts, to)
                if refusal is None:
                    op_id, refusal = self._request(
                        s, st, v, to, actor, reason, R.A_PROMOTION_REQUESTED,
                        detail={"to": to, **({"reason": reason} if reason else {})})
        if refusal is not None:
            raise self._refuse(actor, R.A_PROMOTION_REFUSED, refusal, **subject)
        if op_id is None:
            raise InvariantError("promote: no operation and no refusal")
        return self._drive(op_id)

    def rollback(self, strategy: str, actor: str, reason: str | None = None) -> OperationView:
        """Re-point live to the recorded last-good live version (no rebuild)."""
        refusal, subject, op_id = None, {"strategy": strategy}, None
        with self._sessions() as s:  # commits explicitly: the checkpoint sits after the commit
            st = self._strategy(s, strategy)
            live = self._live(s, st)
            target = s.get(Version, st.rollback_version_id) \
                if st.rollback_version_id is not None else None
            holder = self._lock_holder(s, st)
            if (holder is not None and holder.kind == "rollback" and target is not None
                    and holder.version_id == target.id):
                op_id = holder.id
            else:
                refusal = (rules.check_permission(self._actor(s, actor), "rollback")
                           or rules.check_lock(self._holder_info(s, holder), strategy)
                           or rules.check_rollback(
                               (live.id, live.number) if live is not None else None,
                               (target.id, target.number) if target is not None else None,
                               strategy))
                subject["detail"] = {"reason": reason}
                if refusal is None and live is not None and target is not None:
                    subject.update(version=target.number, build_id=target.build_id)
                    op_id, refusal = self._request(s, st, target, "rollback", actor, reason,
                                                   R.A_ROLLBACK_REQUESTED,
                                                   detail={"from_version": live.number,
                                                           "from_build_id": live.build_id,
                                                           "reason": reason})
        if refusal is not None:
            raise self._refuse(actor, R.A_ROLLBACK_REFUSED, refusal, **subject)
        if op_id is None:
            raise InvariantError("rollback: no operation and no refusal")
        return self._drive(op_id)

    def _request(self, s: Session, st: Strategy, v: Version, kind: str, actor: str,
                 reason: str | None, action: str, detail: dict[str, Any]) -> tuple[int | None, rules.Refusal | None]:
        """Start the operation and commit it (then the ``requested`` checkpoint), or, when another
        request took the strategy's lock first, roll back: (operation id, None) or (None, refusal)."""
        try:
            op_id = self._start(s, st, v, kind, actor, reason, action, detail)
        except _LockTaken:
            s.rollback()
            return None, _race_refusal(st.name)
        s.commit()
        _checkpoint("requested")
        return op_id, None

    def _start(self, s: Session, st: Strategy, v: Version, kind: str, actor: str,
               reason: str | None, action: str, detail: dict[str, Any]) -> int:
        """Step 1 (``requested``): journal the operation, take the lock, write desired slots."""
        now = self._now()[0]
        op = Operation(strategy_id=st.id, version_id=v.id, kind=kind, status="in_progress",
                       step="requested", actor=actor, reason=reason, started_at=now)
        s.add(op)
        s.flush()
        s.add(PromotionLock(strategy_id=st.id, operation_id=op.id, acquired_at=now))
        try:
            s.flush()
        except IntegrityError:
            # lost a race with a concurrent promotion: the caller's transaction is rolled back
            raise _LockTaken(st.name) from None
        if kind == "shadow":
            self._set_desired(s, st, v, "shadow")
        else:  # live or rollback: the target goes live, the live one (if any) retires
            live = self._live(s, st)
            self._set_desired(s, st, v, "live")
            if live is not None and live.id != v.id:
                self._set_desired(s, st, live, "retired")
        self._audit(s, actor, action, strategy=st.name, version=v.number, build_id=v.build_id,
                    detail={"operation": op.id, **detail})
        return op.id

    def _view(self, s: Session, op: Operation) -> OperationView:
        return OperationView(op.id, s.get(Strategy, op.strategy_id).name,
                             s.get(Version, op.version_id).number, op.kind, op.status, op.step)

    def _drive(self, op_id: int) -> OperationView:
        """Steps 2–4 of an operation; safe to call again at any point."""
        with self._tx() as s:
            op = s.get(Operation, op_id)
            if op.status != "in_progress" or self.deployer is None:
                return self._view(s, op)
            st = s.get(Strategy, op.strategy_id)
            pending = [(Target(st.name, v.build_id, v.bundle), d.desired)
                       for d, v in self._touched(s, op)
                       if d.observed != d.desired
                       and not (d.desired == "retired" and d.observed is None)]
        # step 2: apply (outside a transaction: the deployer may take its time)
        for target, slot in pending:
            self.deployer.apply(target, slot)
            _checkpoint("applied")
        # step 3: observe
        self._observe(st.name, op_id)
        _checkpoint("observed")
        # step 4: complete
        with self._tx() as s:
            op = s.get(Operation, op_id)
            if op.status == "in_progress":
                self._complete(s, op)
            view = self._view(s, op)
        if view.status == "completed":
            _checkpoint("completed")
        return view

    def _observe(self, strategy: str, op_id: int | None) -> None:
        """Write what the deployer reports as the observed slots (audited once per change)."""
        assert self.deployer is not None
        reported = dict(self.deployer.observe(strategy))
        with self._tx() as s:
            st = self._strategy(s, strategy)
            for dep, v in s.execute(select(Deployment, Version)
                                    .join(Version, Deployment.version_id == Version.id)
                                    .where(Deployment.strategy_id == st.id)
                                    .order_by(Deployment.id)).tuples():
                now = reported.get(v.build_id)
                if now is None and dep.observed is not None:
                    now = "retired"  # no longer running
                if now == dep.observed:
                    continue
                self._audit(s, "deployer", R.A_DEPLOYMENT_OBSERVED, strategy=strategy,
                            version=v.number, build_id=v.build_id,
                            detail={"from": dep.observed, "to": now, "desired": dep.desired,
                                    "operation": op_id})
                dep.observed, dep.observed_at = now, self._now()[0]
            if op_id is not None:
                op = s.get(Operation, op_id)
                if op.status == "in_progress" and op.step == "requested":
                    op.step = "observed"

    @staticmethod
    def _touched(s: Session, op: Operation) -> list[tuple[Deployment, Version]]:
        """The deployments an operation moves: its version's and, for live and rollback, every
        one observed or desired live (the version being replaced). Other deployments of the
        strategy (another shadow, say) neither block nor get driven by it."""
        q = select(Deployment, Version).join(Version, Deployment.version_id == Version.id) \
            .where(Deployment.strategy_id == op.strategy_id)
        if op.kind == "shadow":
            q = q.where(Deployment.version_id == op.version_id)
        else:
            q = q.where((Deployment.version_id == op.version_id)
                        | (Deployment.observed == "live") | (Deployment.desired == "live"))
        return list(s.execute(q.order_by(Deployment.desired != "live", Deployment.id)).tuples())

    def _complete(self, s: Session, op: Operation) -> None:
        st = s.get(Strategy, op.strategy_id)
        if any(d.observed != d.desired and not (d.desired == "retired" and d.observed is None)
               for d, _ in self._touched(s, op)):
            return  # not converged yet: stays in progress
        v = s.get(Version, op.version_id)
        detail: dict[str, Any] = {"operation": op.id, "kind": op.kind}
        if op.kind == "shadow":
            v.stage = "shadow"
        else:
            previous = self._live(s, st)
            if previous is not None and previous.id != v.id:
                previous.stage = "retired"
                detail["retired_version"] = previous.number
            v.stage = "live"
            # the last-good live version a rollback returns to: the one just replaced by a
            # promotion; after a rollback none is recorded (the rolled-back one is not good)
            st.rollback_version_id = previous.id if (op.kind == "live" and previous) else None
            detail["rollback_version"] = previous.number if (op.kind == "live" and previous) \
                else None
        op.status, op.step, op.finished_at = "completed", "completed", self._now()[0]
        s.execute(delete(PromotionLock).where(PromotionLock.operation_id == op.id))
        self._audit(s, op.actor, R.A_OPERATION_COMPLETED, strategy=st.name, version=v.number,
                    build_id=v.build_id, detail=detail)

    def reconcile(self, strategy: str | None = None) -> list[OperationView]:
        """Resume every operation in progress (of ``strategy``, or of all strategies) and record
        drift the deployer reports for strategies with nothing in progress."""
        with self._tx() as s:
            q = select(Operation.id).where(Operation.status == "in_progress")
            names_q = select(Strategy.name).join(Deployment, Deployment.strategy_id == Strategy.id)
            if strategy is not None:
                st = self._strategy(s, strategy)
                q = q.where(Operation.strategy_id == st.id)
                names_q = names_q.where(Strategy.id == st.id)
            ops = list(s.execute(q.order_by(Operation.id)).scalars())
            names = sorted(set(s.execute(names_q).scalars()))
        views = [self._drive(op_id) for op_id in ops]
        if self.deployer is not None:
            busy = {v.strategy for v in views if v.status == "in_progress"}
            for name in names:
                if name not in busy:
                    self._observe(name, None)
        return views

    # --- the runtime's own actions ---------------------------------------------------------------
    def authorize(self, actor: str, action: str, strategy: str | None = None,
                  detail: Mapping[str, Any] | None = None) -> None:
        """Refuse (audited, :class:`Refused`) when ``actor`` may not do ``action`` (``kill``,
        ``release``); nothing is recorded when they may (see :meth:`record_action`)."""
        with self._tx() as s:
            if strategy is not None:
                self._strategy(s, strategy)
            refusal = rules.check_permission(self._actor(s, actor), action)
        if refusal is not None:
            raise self._refuse(actor, R.A_RUNTIME_REFUSED, refusal, strategy=strategy,
                               detail={"action": action, **dict(detail or {})})

    def record_action(self, actor: str, action: str, strategy: str | None,
                      detail: Mapping[str, Any] | None = None) -> None:
        """Audit an action done on the runtime (``kill``, ``release``, an engine restart) by
        ``actor``: checked with :meth:`authorize` first unless the actor is the engine."""
        if actor != R.ACTOR_ENGINE:
            self.authorize(actor, action, strategy, detail)
        with self._tx() as s:
            if strategy is not None:
                self._strategy(s, strategy)
            self._audit(s, actor, R.A_RUNTIME_ACTION, strategy=strategy,
                        detail={"action": action, **dict(detail or {})})

    def record_automatic_rollback(self, strategy: str, from_build: str | None,
                                  to_build: str | None, reason: str,
                                  stopped: bool = False) -> bool:
        """Record that the runtime rolled ``strategy`` back by itself from ``from_build`` to
        ``to_build`` (a risk or latency breach, a fault, a crash): the desired state and the
        stages move to match what runs, the last-good record is cleared, an operation of the
        strategy in progress is aborted (what it asked for is superseded), and the change is
        audited with actor ``system:engine`` and the reason. ``to_build`` None: there was no
        last-good version; with ``stopped`` (the version no longer runs at all) it is retired,
        otherwise it stays live, killed. Idempotent: recording the same rollback again changes
        nothing and returns False."""
        with self._tx() as s:
            st = self._strategy(s, strategy)
            by_build = {v.build_id: v for v in s.execute(
                select(Version).where(Version.strategy_id == st.id,
                                      Version.build_id.in_([b for b in (from_build, to_build)
                                                            if b]))).scalars()}
            old, new = by_build.get(from_build or ""), by_build.get(to_build or "")
            retire_old = old is not None and (new is not None or stopped)
            if (new is None or new.stage == "live") and (not retire_old or old.stage == "retired"):
                if to_build is None and not stopped and old is not None:
                    pass  # a kill without a last-good target: audited every time it happens
                else:
                    return False
            now = self._now()[0]
            detail: dict[str, Any] = {"from_build_id": from_build, "to_build_id": to_build,
                                      "from_version": old.number if old else None,
                                      "to_version": new.number if new else None,
                                      "reason": reason}
            holder = self._lock_holder(s, st)
            if holder is not None:
                holder.status, holder.finished_at = "aborted", now
                s.execute(delete(PromotionLock).where(PromotionLock.operation_id == holder.id))
                detail["aborted_operation"] = holder.id
                self._audit(s, R.ACTOR_ENGINE, R.A_OPERATION_ABORTED, strategy=strategy,
                            version=s.get(Version, holder.version_id).number,
                            reason="AUTO_ROLLBACK",
                            detail={"operation": holder.id, "why": reason})
            if new is not None:
                for v in s.execute(select(Version).where(Version.strategy_id == st.id,
                                                         Version.stage == "live")).scalars():
                    if v.id != new.id:
                        v.stage = "retired"
                        self._set_desired(s, st, v, "retired")
                new.stage = "live"
                self._set_desired(s, st, new, "live")
            if retire_old and old is not None:
                old.stage = "retired"
                self._set_desired(s, st, old, "retired")
            st.rollback_version_id = None
            self._audit(s, R.ACTOR_ENGINE, R.A_AUTO_ROLLBACK, strategy=strategy,
                        version=new.number if new else (old.number if old else None),
                        build_id=to_build or from_build, reason=reason[:64], detail=detail)
            return True

    # --- reading ------------------------------------------------------------------------------
    def versions(self, strategy: str | None = None) -> list[VersionView]:
        with self._tx() as s:
            q = select(Version, Strategy.name).join(Strategy, Version.strategy_id == Strategy.id)
            if strategy is not None:
                self._strategy(s, strategy)
                q = q.where(Strategy.name == strategy)
            out = []
            for v, name in s.execute(q.order_by(Strategy.name, Version.number)).tuples():
                dep = self._deployment(s, v)
                gate = self._shadow_gate(s, v)
                desired = dep.desired if dep is not None else None
                observed = dep.observed if dep is not None else None
                was_live = s.execute(select(Operation.id).where(
                    Operation.version_id == v.id, Operation.status == "completed",
                    Operation.kind.in_(("live", "rollback"))).limit(1)).first() is not None
                ph = phase(desired, observed, Gates(scorecard_outcome(v.verdict), gate.outcome,
                                                    previously_live=was_live))
                approvals = tuple(s.execute(select(Approval.approver)
                                            .where(Approval.version_id == v.id,
                                                   Approval.build_id == v.build_id)).scalars())
                out.append(VersionView(name, v.number, v.build_id, v.spec_hash, v.bundle,
                                       v.author, v.verdict, v.stage, desired, observed, ph, gate,
                                       approvals, v.created_at))
            return out

    def scorecard(self, strategy: str, number: int) -> dict[str, Any]:
        """The scorecard document recorded with a version."""
        with self._tx() as s:
            return json.loads(self._version(s, strategy, number)[1].scorecard)

    def operations(self, strategy: str | None = None) -> list[OperationView]:
        with self._tx() as s:
            q = select(Operation).order_by(Operation.id)
            if strategy is not None:
                q = q.where(Operation.strategy_id == self._strategy(s, strategy).id)
            return [self._view(s, op) for op in s.execute(q).scalars()]

    def review_requests(self, strategy: str | None = None,
                        status: str | None = None) -> list[ReviewRequestView]:
        """The review requests (of ``strategy``; with ``status`` only those), oldest first."""
        with self._tx() as s:
            q = select(ReviewRequest, Version, Strategy.name) \
                .join(Version, ReviewRequest.version_id == Version.id) \
                .join(Strategy, Version.strategy_id == Strategy.id)
            if strategy is not None:
                q = q.where(Strategy.id == self._strategy(s, strategy).id)
            if status is not None:
                q = q.where(ReviewRequest.status == status)
            return [ReviewRequestView(rr.id, name, v.number, v.build_id, rr.title, rr.body,
                                      rr.url, rr.status, rr.created_by, rr.created_at)
                    for rr, v, name in s.execute(q.order_by(ReviewRequest.id)).tuples()]

    def audit_records(self, strategy: str | None = None) -> list[dict[str, Any]]:
        with self._tx() as s:
            return [{"seq": r.seq, "at": r.at, "actor": r.actor, "action": r.action,
                     "strategy": r.strategy, "version": r.version, "build_id": r.build_id,
                     "outcome": r.outcome, "reason": r.reason, "detail": json.loads(r.detail),
                     "hash": r.hash} for r in audit.records(s, strategy)]

    def audit_head(self) -> tuple[int, str]:
        """The newest audit record's sequence number and hash (one row read). Every change of
        the registry appends a record in its own transaction, so a reader may cache anything
        derived from the registry for as long as this stays the same.

        On SQLite it is read outside SQLAlchemy's transaction, as one autocommit SELECT: every
        transaction here starts ``BEGIN IMMEDIATE`` (the write lock), and a reader that polls
        this many times a second (the dashboard) must neither queue behind writers nor make
        concurrent readers sleep in SQLite's busy handler. A WAL read sees a committed state."""
        if self.engine.dialect.name != "sqlite":
            with self._tx() as s:
                return audit.head(s)
        raw = self.engine.raw_connection()
        try:
            cur = raw.cursor()
            cur.execute("SELECT seq, hash FROM audit_head WHERE id = ?", (audit.HEAD_ID,))
            row = cur.fetchone()
            cur.close()
        finally:
            raw.close()
        return (int(row[0]), str(row[1])) if row is not None else (0, "")

    def verify_audit(self) -> tuple[list[audit.Problem], int, str]:
        """The chain's problems (empty: intact), the newest sequence number and its hash."""
        with self._tx() as s:
            problems = audit.verify(s)
            seq, head = audit.head(s)
            return problems, seq, head

    # --- users and tokens -----------------------------------------------------------------------
    def _admin_or_bootstrap(self, s: Session, actor: str, action: str, role: str | None
                            ) -> rules.Refusal | None:
        """Users are managed by admins; the very first user may be added by anyone, as an
        admin (bootstrap)."""
        if s.execute(select(func.count(User.id))).scalar() == 0:
            if role != "admin":
                return rules.Refusal(R.PERMISSION_DENIED, "the first registry user must be an "
                                     "admin (`stratforge users add NAME --role admin`)")
            return None
        return rules.check_permission(self._actor(s, actor), action)

    def add_user(self, name: str, role: str, actor: str) -> None:
        if role not in ROLES:
            raise UserInputError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        with self._tx() as s:
            refusal = self._admin_or_bootstrap(s, actor, "users", role)
            if refusal is None:
                user = s.execute(select(User).where(User.name == name)).scalar_one_or_none()
                if user is not None and user.active:
                    raise UserInputError(f"user {name!r} exists (change a role with "
                                         "`stratforge users role`)")
                if user is None:
                    s.add(User(name=name, role=role, active=True, created_at=self._now()[0]))
                else:
                    user.active, user.role = True, role
                self._audit(s, actor, R.A_USER_ADDED, detail={"user": name, "role": role})
                return
        raise self._refuse(actor, R.A_USER_REFUSED, refusal,
                           detail={"user": name, "role": role, "change": "add"})

    def _managed_user(self, s: Session, name: str) -> User:
        user = s.execute(select(User).where(User.name == name)).scalar_one_or_none()
        if user is None or not user.active:
            raise NotFound(f"no active user named {name!r}")
        return user

    def _last_admin(self, s: Session, user: User) -> bool:
        admins = s.execute(select(func.count(User.id)).where(User.role == "admin",
                                                             User.active.is_(True))).scalar()
        return user.role == "admin" and admins == 1

    def remove_user(self, name: str, actor: str) -> None:
        """Deactivate a user (kept, so the audit log's names stay resolvable); their tokens
        stop working."""
        with self._tx() as s:
            refusal = rules.check_permission(self._actor(s, actor), "users")
            if refusal is None:
                user = self._managed_user(s, name)
                if self._last_admin(s, user):
                    raise UserInputError(f"{name} is the last admin; add another admin first")
                user.active = False
                self._audit(s, actor, R.A_USER_REMOVED, detail={"user": name})
                return
        raise self._refuse(actor, R.A_USER_REFUSED, refusal,
                           detail={"user": name, "change": "remove"})

    def set_role(self, name: str, role: str, actor: str) -> None:
        if role not in ROLES:
            raise UserInputError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        with self._tx() as s:
            refusal = rules.check_permission(self._actor(s, actor), "users")
            if refusal is None:
                user = self._managed_user(s, name)
                if role != "admin" and self._last_admin(s, user):
                    raise UserInputError(f"{name} is the last admin; add another admin first")
                old, user.role = user.role, role
                self._audit(s, actor, R.A_USER_ROLE, detail={"user": name, "from": old,
                                                             "to": role})
                return
        raise self._refuse(actor, R.A_USER_REFUSED, refusal,
                           detail={"user": name, "role": role, "change": "role"})

    # --- passwords (the dashboard's login) ------------------------------------------------------
    def set_password(self, name: str, password: str, actor: str, *, one_time: bool = False) -> None:
        """Set ``name``'s password (stored as an argon2id hash). An admin may set anyone's (then
        it is ``one_time`` and must be changed at the next login); a user may set their own
        (the caller has checked the current one)."""
        if len(password) < MIN_PASSWORD_LENGTH:
            raise UserInputError(f"a password must have at least {MIN_PASSWORD_LENGTH} "
                                 f"characters, this one has {len(password)}")
        with self._tx() as s:
            who = self._actor(s, actor)
            refusal = None if (who.role is not None and actor == name) \
                else rules.check_permission(who, "users")
            if refusal is None:
                user = self._managed_user(s, name)
                user.password_hash = _HASHER.hash(password)
                user.must_change_password = one_time
                self._audit(s, actor, R.A_PASSWORD_SET, detail={"user": name,
                                                                "one_time": one_time})
                return
        raise self._refuse(actor, R.A_PASSWORD_REFUSED, refusal, detail={"user": name})

    def bootstrap_admin(self, name: str) -> str:
        """Create the first user, an admin, with a one-time password (returned, never stored).
        Refused once any user exists: the first admin adds everyone else."""
        with self._tx() as s:
            if s.execute(select(func.count(User.id))).scalar():
                raise UserInputError("the registry already has users; an admin adds more with "
                                     "`stratforge users add NAME --role ROLE --password-prompt`")
        self.add_user(name, "admin", actor=name)
        password = secrets.token_urlsafe(18)
        self.set_password(name, password, actor=name, one_time=True)
        return password

    def authenticate(self, name: str, password: str, *, origin: str | None = None
                     ) -> tuple[str, bool] | None:
        """(role, must change password) when ``password`` is ``name``'s, else None. Both
        outcomes are audited (``origin``: where the attempt came from, e.g. an IP address)."""
        with self._tx() as s:
            user = s.execute(select(User).where(User.name == name)).scalar_one_or_none()
            stored = user.password_hash if user is not None and user.active else None
            try:
                ok = _HASHER.verify(stored or _DUMMY_HASH, password) and stored is not None
            except (VerificationError, InvalidHashError):
                ok = False
            if not ok:
                self._audit(s, name, R.A_LOGIN_FAILED, R.OUTCOME_REFUSED,
                            reason=R.UNKNOWN_USER if stored is None else R.PERMISSION_DENIED,
                            detail={"origin": origin})
                return None
            if _HASHER.check_needs_rehash(stored):
                user.password_hash = _HASHER.hash(password)
            self._audit(s, name, R.A_LOGIN, detail={"origin": origin})
            return user.role, user.must_change_password

    def record_request(self, actor: str, action: str, permission: str, *,
                       strategy: str | None = None, reason: str | None = None,
                       detail: Mapping[str, Any] | None = None) -> None:
        """Audit a request that another component carries out (e.g. the runtime's kill switch),
        after checking ``actor`` may do ``permission`` (refused: audited and raised)."""
        with self._tx() as s:
            refusal = rules.check_permission(self._actor(s, actor), permission)
            if refusal is None:
                self._audit(s, actor, R.A_RUNTIME_REQUESTED, strategy=strategy,
                            detail={"request": action, "reason": reason, **(detail or {})})
                return
        raise self._refuse(actor, R.A_RUNTIME_REFUSED, refusal, strategy=strategy,
                           detail={"request": action, "reason": reason})

    def user_role(self, name: str) -> str | None:
        """The role of the active user ``name`` (None: unknown or removed)."""
        with self._tx() as s:
            return self._actor(s, name).role

    def users(self) -> list[tuple[str, str, bool]]:
        with self._tx() as s:
            return [(u.name, u.role, u.active)
                    for u in s.execute(select(User).order_by(User.name)).scalars()]

    def create_token(self, user: str, name: str, actor: str) -> tuple[int, str]:
        """A new API token for ``user`` (an admin, or the user for themself). Returns its id
        and the secret, which is shown once and never stored."""
        with self._tx() as s:
            who = self._actor(s, actor)
            refusal = None if (who.role is not None and actor == user) \
                else rules.check_permission(who, "tokens")
            if refusal is None:
                owner = self._managed_user(s, user)
                secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
                tok = ApiToken(user_id=owner.id, name=name, token_hash=token_hash(secret),
                               created_at=self._now()[0])
                s.add(tok)
                s.flush()
                self._audit(s, actor, R.A_TOKEN_CREATED, detail={"token": tok.id, "user": user,
                                                                 "name": name})
                return tok.id, secret
        raise self._refuse(actor, R.A_TOKEN_REFUSED, refusal,
                           detail={"user": user, "name": name, "change": "create"})

    def revoke_token(self, token_id: int, actor: str) -> None:
        with self._tx() as s:
            tok = s.get(ApiToken, token_id)
            if tok is None:
                raise NotFound(f"no API token {token_id}")
            owner = s.get(User, tok.user_id)
            who = self._actor(s, actor)
            refusal = None if (who.role is not None and actor == owner.name) \
                else rules.check_permission(who, "tokens")
            if refusal is None:
                if tok.revoked_at is None:
                    tok.revoked_at = self._now()[0]
                    self._audit(s, actor, R.A_TOKEN_REVOKED, detail={"token": token_id,
                                                                     "user": owner.name})
                return
        raise self._refuse(actor, R.A_TOKEN_REFUSED, refusal,
                           detail={"token": token_id, "change": "revoke"})

    def tokens(self) -> list[tuple[int, str, str, datetime, datetime | None]]:
        with self._tx() as s:
            return [(t.id, u.name, t.name, t.created_at, t.revoked_at) for t, u in s.execute(
                select(ApiToken, User).join(User, ApiToken.user_id == User.id)
                .order_by(ApiToken.id)).tuples()]

    def user_for_token(self, secret: str) -> str:
        """The active user an API token belongs to (a revoked or unknown token is refused)."""
        with self._tx() as s:
            row = s.execute(select(ApiToken, User).join(User, ApiToken.user_id == User.id)
                            .where(ApiToken.token_hash == token_hash(secret))).first()
            if row is None or row[0].revoked_at is not None or not row[1].active:
                raise UserInputError("the API token is unknown, revoked, or its user was "
                                     "removed")
            return row[1].name


def _race_refusal(strategy: str) -> rules.Refusal:
    return rules.Refusal(R.PROMOTION_IN_PROGRESS, f"{strategy}: another promotion or rollback "
                         "took the strategy's lock first; one promotion per strategy at a time")


class _LockTaken(Exception):
    """Internal: the lock insert lost a race (turned into a PROMOTION_IN_PROGRESS refusal)."""

    def __init__(self, strategy: str) -> None:
        self.strategy = strategy
        super().__init__(strategy)

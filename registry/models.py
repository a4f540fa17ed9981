"""The registry's tables (SQLAlchemy 2 declarative models).

The Alembic migrations in ``registry/migrations`` create exactly these tables; a test upgrades an
empty database to head and compares it with these models (no difference allowed).

Desired and observed state are kept apart (Argo Rollouts' ``spec``/``status``): a promotion or a
rollback writes ``Deployment.desired``; only what the :class:`~stratforge.registry.deployer.Deployer`
reports is written to ``Deployment.observed``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (CheckConstraint, DateTime, ForeignKey, Integer, MetaData, String, Text,
                        UniqueConstraint)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: constraint names are fixed so that migrations and models agree on every backend
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ROLES = ("viewer", "author", "approver", "admin")
STAGES = ("candidate", "shadow", "live", "retired")
SLOTS = ("shadow", "live", "retired")
OPERATIONS = ("shadow", "live", "rollback")
OPERATION_STATUSES = ("in_progress", "completed", "aborted")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class User(Base):
    """A person or a CI robot that acts on the registry."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint(_in("role", ROLES), name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: the argon2id hash of the dashboard password (None: no password, cannot log in)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    #: the password was set by someone else (a one-time password): changed at the next login
    must_change_password: Mapped[bool] = mapped_column(default=False)


class ApiToken(Base):
    """An API token: only the SHA-256 of the secret is stored (the secret is shown once)."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Strategy(Base):
    """A strategy by name. ``rollback_version_id`` is the recorded last-good live version: the
    one a rollback re-points to (by id, without rebuilding). It is a plain id rather than a
    foreign key, so that strategies and versions do not reference each other in a cycle."""

    __tablename__ = "strategies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    rollback_version_id: Mapped[int | None] = mapped_column(Integer)


class Version(Base):
    """One registered build of a strategy (its identity is the build id)."""

    __tablename__ = "versions"
    __table_args__ = (
        UniqueConstraint("strategy_id", "number", name="uq_versions_strategy_number"),
        CheckConstraint(_in("stage", STAGES), name="stage"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    strategy_id: Mapped[int] = mapped_column(ForeignKey("strategies.id"))
    number: Mapped[int] = mapped_column(Integer)
    spec_hash: Mapped[str] = mapped_column(String(128))
    build_id: Mapped[str] = mapped_column(String(128), unique=True)
    bundle: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(64))
    verdict: Mapped[str] = mapped_column(String(16))
    scorecard: Mapped[str] = mapped_column(Text)
    shadow_gate: Mapped[str] = mapped_column(Text)
    stage: Mapped[str] = mapped_column(String(16), default="candidate")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ReviewRequest(Base):
    """A request for a human review of a version (CI records one when it cannot open a PR)."""

    __tablename__ = "review_requests"
    __table_args__ = (CheckConstraint(_in("status", ("open", "merged", "closed")), name="status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id"))
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Approval(Base):
    """An approver's approval of one version, bound to the exact build id they approved."""

    __tablename__ = "approvals"
    __table_args__ = (UniqueConstraint("version_id", "approver", name="uq_approvals_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id"))
    build_id: Mapped[str] = mapped_column(String(128))
    approver: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Deployment(Base):
    """Where a version should run (``desired``) and where the deployer says it runs
    (``observed``, None until the deployer has reported)."""

    __tablename__ = "deployments"
    __table_args__ = (
        CheckConstraint(_in("desired", SLOTS), name="desired"),
        CheckConstraint(f"observed IS NULL OR {_in('observed', SLOTS)}", name="observed"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    strategy_id: Mapped[int] = mapped_column(ForeignKey("strategies.id"))
    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id"), unique=True)
    desired: Mapped[str] = mapped_column(String(16))
    observed: Mapped[str | None] = mapped_column(String(16))
    desired_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    observed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ShadowObservation(Base):
    """Metrics the runtime observed for a version running in shadow (the shadow gate's input).
    A metric not measured is NULL, which makes the gate Inconclusive."""

    __tablename__ = "shadow_observations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id"))
    observed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    metrics: Mapped[str] = mapped_column(Text)


class Operation(Base):
    """A promotion or rollback in progress or done: the journal that a restarted process
    resumes from. ``step`` is the last step that completed."""

    __tablename__ = "operations"
    __table_args__ = (
        CheckConstraint(_in("kind", OPERATIONS), name="kind"),
        CheckConstraint(_in("status", OPERATION_STATUSES), name="status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    strategy_id: Mapped[int] = mapped_column(ForeignKey("strategies.id"))
    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id"))
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    step: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PromotionLock(Base):
    """One row per strategy with an operation in progress: the primary key makes a second
    concurrent promotion of the same strategy fail at the database, on every backend."""

    __tablename__ = "promotion_locks"

    strategy_id: Mapped[int] = mapped_column(ForeignKey("strategies.id"), primary_key=True)
    operation_id: Mapped[int] = mapped_column(ForeignKey("operations.id"), unique=True)
    acquired_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AuditRecord(Base):
    """One audit record. Append-only (database triggers refuse UPDATE and DELETE); each record's
    ``hash`` covers its own fields and ``prev_hash``, the previous record's hash."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    strategy: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[int | None] = mapped_column(Integer)
    build_id: Mapped[str | None] = mapped_column(String(128))
    outcome: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditHead(Base):
    """The last record's sequence number and hash (one row). Appending locks it, so records are
    chained in one order on every backend, and deleting the newest records is detected."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))

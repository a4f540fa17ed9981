"""The append-only, hash-chained audit log.

Each record's ``hash`` is the SHA-256 of the canonical JSON of its fields — sequence number
included — and of ``prev_hash``, the previous record's hash (64 zeros for the first). The
``audit_head`` row holds the newest sequence number and hash; appending locks it, so the chain
has one order on every backend. Database triggers refuse UPDATE and DELETE on ``audit_log``.

:func:`verify` recomputes the chain: an edited record no longer matches its hash (or, if the
editor recomputed it, the next record's ``prev_hash``); a deleted record leaves a gap in the
sequence and a broken link (the newest one: a head mismatch); a reordered pair puts records under
sequence numbers their hashes do not cover. Keep the head hash somewhere else too (a ticket, a
commit) and even a rewrite of the whole chain is caught.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from stratforge.registry.models import AuditHead, AuditRecord

GENESIS = "0" * 64
HEAD_ID = 1


def canonical(data: Any) -> str:
    """The one JSON text of ``data`` that is hashed (sorted keys, no spaces, UTF-8)."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def record_hash(fields: dict[str, Any], prev_hash: str) -> str:
    body = canonical({**fields, "prev_hash": prev_hash})
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _fields(rec: AuditRecord) -> dict[str, Any]:
    return {"seq": rec.seq, "at": rec.at, "actor": rec.actor, "action": rec.action,
            "strategy": rec.strategy, "version": rec.version, "build_id": rec.build_id,
            "outcome": rec.outcome, "reason": rec.reason, "detail": json.loads(rec.detail)}


def append(session: Session, *, at: str, actor: str, action: str, outcome: str,
           strategy: str | None = None, version: int | None = None,
           build_id: str | None = None, reason: str | None = None,
           detail: dict[str, Any] | None = None) -> AuditRecord:
    """Append one record in ``session``'s transaction (it commits with the change it records)."""
    head = session.execute(
        select(AuditHead).where(AuditHead.id == HEAD_ID).with_for_update()).scalar_one()
    rec = AuditRecord(seq=head.seq + 1, at=at, actor=actor, action=action, strategy=strategy,
                      version=version, build_id=build_id, outcome=outcome, reason=reason,
                      detail=canonical(detail or {}), prev_hash=head.hash, hash="")
    rec.hash = record_hash(_fields(rec), head.hash)
    session.add(rec)
    head.seq, head.hash = rec.seq, rec.hash
    session.flush()
    return rec


@dataclass(frozen=True)
class Problem:
    seq: int
    message: str

    def __str__(self) -> str:
        return f"audit record {self.seq}: {self.message}"


def records(session: Session, strategy: str | None = None) -> Iterator[AuditRecord]:
    query = select(AuditRecord).order_by(AuditRecord.seq)
    if strategy is not None:
        query = query.where(AuditRecord.strategy == strategy)
    yield from session.execute(query).scalars()


def verify(session: Session) -> list[Problem]:
    """Every break in the chain (empty: the log is intact)."""
    problems: list[Problem] = []
    expected_seq, prev = 1, GENESIS
    for rec in records(session):
        if rec.seq != expected_seq:
            problems.append(Problem(rec.seq, f"expected sequence number {expected_seq}: "
                                    f"{rec.seq - expected_seq} record(s) missing before it"
                                    if rec.seq > expected_seq else "out of sequence"))
        if rec.prev_hash != prev:
            problems.append(Problem(rec.seq, "prev_hash does not match the previous record's "
                                    "hash (a record before it was edited, deleted or moved)"))
        try:
            recomputed = record_hash(_fields(rec), rec.prev_hash)
        except (TypeError, ValueError) as err:
            problems.append(Problem(rec.seq, f"detail is not valid JSON: {err}"))
        else:
            if recomputed != rec.hash:
                problems.append(Problem(rec.seq, "its hash does not match its contents "
                                        "(edited, or moved from another position)"))
        expected_seq, prev = rec.seq + 1, rec.hash
    head = session.execute(select(AuditHead).where(AuditHead.id == HEAD_ID)).scalar_one_or_none()
    if head is None:
        problems.append(Problem(0, "the audit head row is missing"))
    elif head.seq != expected_seq - 1 or head.hash != prev:
        problems.append(Problem(head.seq, f"the head records sequence {head.seq} but the log "
                                f"ends at {expected_seq - 1} (newest records deleted?)"))
    return problems


def head(session: Session) -> tuple[int, str]:
    row = session.execute(select(AuditHead).where(AuditHead.id == HEAD_ID)).scalar_one()
    return row.seq, row.hash

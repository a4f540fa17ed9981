"""The audit log's hash chain: `audit --verify` finds an edited, a deleted and a reordered
record. The tamperer here has DDL rights: they drop the append-only triggers first."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from registry_kit import register, staff
from sqlalchemy import text

from stratforge.cli import main
from stratforge.registry import Registry
from stratforge.registry.audit import canonical, record_hash


def drop_triggers(reg: Registry) -> None:
    with reg.engine.begin() as conn:
        if reg.engine.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER audit_log_no_update"))
            conn.execute(text("DROP TRIGGER audit_log_no_delete"))
        else:
            conn.execute(text("DROP TRIGGER audit_log_append_only ON audit_log"))


def sql(reg: Registry, *statements: str) -> None:
    with reg.engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))


@pytest.fixture
def logged(reg: Registry) -> Registry:
    staff(reg)  # records 1-4
    register(reg, build="b1")  # 5
    register(reg, build="b2")  # 6
    reg.promote("pairs-alpha", 1, "shadow", "bob")  # 7-9
    assert reg.verify_audit()[0] == []
    drop_triggers(reg)
    return reg


def problems(reg: Registry) -> list[tuple[int, str]]:
    return [(p.seq, p.message) for p in reg.verify_audit()[0]]


def test_an_intact_log_verifies(logged: Registry) -> None:
    found, seq, head = logged.verify_audit()
    assert (found, seq) == ([], 9)
    assert head == logged.audit_records()[-1]["hash"]


def test_an_edited_record_is_detected(logged: Registry) -> None:
    sql(logged, "UPDATE audit_log SET actor = 'mallory' WHERE seq = 5")
    assert [seq for seq, _ in problems(logged)] == [5]
    assert "hash does not match its contents" in problems(logged)[0][1]


def test_an_edited_record_with_a_recomputed_hash_breaks_the_next_link(logged: Registry) -> None:
    rec = logged.audit_records()[4]
    fields = {k: rec[k] for k in ("seq", "at", "action", "strategy", "version", "build_id",
                                  "outcome", "reason", "detail")}
    prev = logged.audit_records()[3]["hash"]
    forged = record_hash({**fields, "actor": "mallory"}, prev)
    sql(logged, f"UPDATE audit_log SET actor = 'mallory', hash = '{forged}' WHERE seq = 5")
    found = problems(logged)
    assert [seq for seq, _ in found] == [6]
    assert "prev_hash does not match" in found[0][1]


def test_an_edited_detail_is_detected(logged: Registry) -> None:
    detail = canonical({"bundle": "elsewhere", "spec_hash": "spec-b1", "verdict": "PASS"})
    sql(logged, f"UPDATE audit_log SET detail = '{detail}' WHERE seq = 5")
    assert [seq for seq, _ in problems(logged)] == [5]


def test_a_deleted_record_is_detected(logged: Registry) -> None:
    sql(logged, "DELETE FROM audit_log WHERE seq = 6")
    found = problems(logged)
    assert [seq for seq, _ in found] == [7, 7]
    assert "1 record(s) missing" in found[0][1] and "prev_hash" in found[1][1]


def test_the_newest_record_deleted_is_detected(logged: Registry) -> None:
    sql(logged, "DELETE FROM audit_log WHERE seq = 9")
    found = problems(logged)
    assert len(found) == 1 and "newest records deleted" in found[0][1]


def test_a_reordered_pair_is_detected(logged: Registry) -> None:
    sql(logged, "UPDATE audit_log SET seq = 1000 WHERE seq = 5",
        "UPDATE audit_log SET seq = 5 WHERE seq = 6",
        "UPDATE audit_log SET seq = 6 WHERE seq = 1000")
    assert {seq for seq, _ in problems(logged)} == {5, 6, 7}


def test_audit_verify_cli_exits_1_on_an_edited_row(logged: Registry, db_url: str) -> None:
    runner = CliRunner()
    env = {"STRATFORGE_DB_URL": db_url}
    ok = runner.invoke(main, ["audit", "--verify"], env=env)
    assert ok.exit_code == 0, ok.output
    assert "audit log intact: 9 records" in ok.output
    sql(logged, "UPDATE audit_log SET outcome = 'refused' WHERE seq = 8")
    bad = runner.invoke(main, ["audit", "--verify"], env=env)
    assert bad.exit_code == 1
    assert "audit record 8: its hash does not match its contents" in bad.output
    assert "audit log BROKEN: 1 problem(s)" in bad.output

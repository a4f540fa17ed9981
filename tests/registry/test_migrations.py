"""The Alembic chain builds the models' schema from an empty database, and nothing else."""

from __future__ import annotations

import os

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError

from resource_kit import missing

from stratforge.registry import Registry
from stratforge.registry.db import alembic_config, current_revision, head_revision, make_engine, upgrade
from stratforge.registry.models import Base


def test_postgresql_is_there() -> None:
    """Every test here also runs on PostgreSQL when STRATFORGE_TEST_PG_URL is set."""
    pg_url = os.environ.get("STRATFORGE_TEST_PG_URL")
    if not pg_url:
        missing("postgresql", "STRATFORGE_TEST_PG_URL is not set: the registry tests ran on "
                "SQLite only")
    engine = make_engine(pg_url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT 1").scalar() == 1
    engine.dispose()


def _diff(engine) -> list:  # noqa: ANN001
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(ctx, Base.metadata)


def test_empty_database_upgrades_to_head_and_matches_the_models(db_url: str) -> None:
    engine = make_engine(db_url)
    assert current_revision(engine) is None
    upgrade(engine)
    assert current_revision(engine) == head_revision(engine) is not None
    assert set(inspect(engine).get_table_names()) >= set(Base.metadata.tables)
    assert _diff(engine) == []
    engine.dispose()


def test_a_model_change_without_a_migration_is_seen(db_url: str) -> None:
    """The comparison can fail: a column the migrations lack shows up as a difference."""
    engine = make_engine(db_url)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE versions ADD COLUMN stray INTEGER"))
    diffs = _diff(engine)
    assert any(d[0] == "remove_column" and d[3].name == "stray" for d in diffs), diffs
    engine.dispose()


def test_downgrade_to_base_and_upgrade_again(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    command.downgrade(alembic_config(engine), "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade(engine)
    assert _diff(engine) == []
    engine.dispose()


def test_the_audit_log_refuses_update_and_delete(db_url: str) -> None:
    reg = Registry.open(db_url)
    reg.add_user("root", "admin", actor="root")
    for statement in ("UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"):
            with reg.engine.begin() as conn:
                conn.execute(text(statement))
    assert [r["actor"] for r in reg.audit_records()] == ["root"]
    reg.engine.dispose()


def test_sqlite_runs_in_wal_mode(tmp_path) -> None:  # noqa: ANN001
    engine = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()

"""Registry tests run on a fresh SQLite file, and also on PostgreSQL when
STRATFORGE_TEST_PG_URL names a database the tests may wipe (.ci/run sets one up)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from registry_kit import FakeClock, RecordingDeployer  # noqa: E402

from stratforge.registry import Registry  # noqa: E402
from stratforge.registry.db import make_engine  # noqa: E402

PG_URL = os.environ.get("STRATFORGE_TEST_PG_URL")
#: PostgreSQL cases exist only with a URL; without one, test_postgresql_is_there skips once
#: (fails where CI requires ``postgresql``)
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


def wipe_pg(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database: a new SQLite file, or the wiped PostgreSQL test database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'registry.db'}"
    wipe_pg(PG_URL)
    return PG_URL


@pytest.fixture
def deployer() -> RecordingDeployer:
    return RecordingDeployer()


@pytest.fixture
def reg(db_url: str, deployer: RecordingDeployer) -> Registry:
    registry = Registry.open(db_url, deployer, clock=FakeClock())
    yield registry
    registry.engine.dispose()

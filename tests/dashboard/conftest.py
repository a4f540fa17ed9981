"""Dashboard tests: the app over a fresh SQLite registry with this suite's staff."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from dash_kit import FileDeployer, login, register, staff  # noqa: E402

from stratforge.dashboard.app import create_app  # noqa: E402
from stratforge.dashboard.settings import DashboardSettings  # noqa: E402
from stratforge.registry import Registry  # noqa: E402


@pytest.fixture
def settings(tmp_path: Path) -> DashboardSettings:
    return DashboardSettings(db_url=f"sqlite:///{tmp_path / 'registry.db'}",
                             secret_key_file=tmp_path / "dashboard.key", login_attempts=3,
                             login_window_s=60, runtime_url=None,
                             runtime_dir=tmp_path / "no-runtime")


@pytest.fixture
def reg(settings: DashboardSettings, tmp_path: Path) -> Registry:
    registry = Registry.open(settings.db_url, FileDeployer(tmp_path / "deployed.json"))
    staff(registry)
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    register(registry, "desk-alpha", "build-a1", "bob", bundle)
    register(registry, "desk-alpha", "build-a2", "ann", bundle)
    yield registry
    registry.engine.dispose()


@pytest.fixture
def app(settings: DashboardSettings, reg: Registry):
    return create_app(settings, reg)


@pytest.fixture
def client(app) -> TestClient:
    return TestClient(app, base_url="http://127.0.0.1")


@pytest.fixture
def as_user(app):
    """as_user(name) → a TestClient logged in as name."""
    def make(name: str) -> TestClient:
        c = TestClient(app, base_url="http://127.0.0.1")
        r = login(c, name)
        assert r.status_code == 303, r.text
        return c
    return make

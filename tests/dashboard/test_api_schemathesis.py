"""Property-based tests of the REST API from its own OpenAPI document (schemathesis): every
operation, with generated valid and invalid input, authenticated by an admin's API token, never
answers with a server error and answers what the schema says."""

from __future__ import annotations

from pathlib import Path

import pytest
from dash_kit import FileDeployer, register, staff
from fastapi.responses import JSONResponse
from hypothesis import HealthCheck, given, settings

from stratforge.dashboard.app import create_app
from stratforge.dashboard.settings import DashboardSettings
from stratforge.registry import Registry

schemathesis = pytest.importorskip("schemathesis")
from schemathesis.checks import ServerError, not_a_server_error  # noqa: E402
from schemathesis.core.failures import FailureGroup  # noqa: E402
from schemathesis.specs.openapi.checks import (content_type_conformance,  # noqa: E402
                                               response_schema_conformance,
                                               status_code_conformance)


@pytest.fixture
def api(tmp_path: Path):
    s = DashboardSettings(db_url=f"sqlite:///{tmp_path / 'registry.db'}",
                          secret_key_file=tmp_path / "dashboard.key",
                          runtime_dir=tmp_path / "no-runtime")
    reg = Registry.open(s.db_url, FileDeployer(tmp_path / "deployed.json"))
    staff(reg)
    (tmp_path / "bundle").mkdir()
    register(reg, "desk-alpha", "build-a1", "ann", tmp_path / "bundle")
    _, secret = reg.create_token("root", "schemathesis", actor="root")
    app = create_app(s, reg)
    app.state.test_token = secret
    yield app
    reg.engine.dispose()


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


def run_schemathesis(app) -> list[str]:
    """Every operation in turn (schemathesis' pytest plugin does not load under this suite's
    pytest, so its strategies are driven by Hypothesis directly); the labels run."""
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    headers = {"Authorization": f"Bearer {app.state.test_token}"}
    ran = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case) -> None:  # noqa: ANN001 - a schemathesis Case
            case.call_and_validate(headers=headers, checks=CHECKS)

        check()
        ran.append(operation.label)
    return ran


def test_the_api_never_fails_with_a_server_error(api) -> None:
    ran = run_schemathesis(api)
    assert len(ran) >= 11, ran
    assert "POST /api/v1/strategies/{name}/versions/{number}/promote" in ran


def test_a_planted_server_error_is_found(api) -> None:
    @api.get("/api/v1/planted/{n}")
    def planted(n: int) -> JSONResponse:
        return JSONResponse({"n": n}, status_code=500 if n % 2 == 0 else 200)

    with pytest.raises(FailureGroup) as caught:
        run_schemathesis(api)
    assert any(isinstance(e, ServerError) for e in caught.value.exceptions), caught.value

"""Fixtures of the backtest tests: the sandbox backend, a temporary workspace and generated
example bundles (built once per session). Helpers live in backtest_kit.py."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from resource_kit import missing

from stratforge.core.spec import load_spec

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from backtest_kit import REPO  # noqa: E402


@pytest.fixture(scope="session")
def backend():
    from stratforge.sandbox import LocalBackend

    b = LocalBackend()
    ok, why = b.available()
    if not ok:
        missing("sandbox", why)
    return b


@pytest.fixture(scope="session")
def workspace(tmp_path_factory):
    from stratforge.ci.build import Workspace

    root = tmp_path_factory.mktemp("ws")
    return Workspace(REPO, root / "build")


@pytest.fixture(scope="session")
def bundles(backend, workspace, tmp_path_factory):
    """Generate example bundles on demand (once per session)."""
    from stratforge.generator.generate import generate
    from stratforge.sandbox.verify import SandboxVerifier

    out = tmp_path_factory.mktemp("strategies")
    made: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in made:
            res = generate(load_spec(REPO / "specs" / f"{name}.yaml"),
                           verifier=SandboxVerifier(backend, workspace.verify_cache),
                           out_root=out, build_root=workspace.build_root)
            made[name] = res.bundle
        return made[name]
    return get

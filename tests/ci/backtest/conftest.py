"""Fixtures of the backtest tests: example specs, generated example bundles (built once per
session into a temporary workspace) and the sandbox backend."""

from __future__ import annotations

from pathlib import Path

import pytest

from stratforge.generator.spec import load_spec

REPO = Path(__file__).resolve().parents[3]


def example(name: str):
    return load_spec(REPO / "specs" / f"{name}.yaml").spec


def with_changes(spec, **sections):
    """``spec`` with some fields replaced: ``with_changes(spec, backtest={"period": {...}})``."""
    data = spec.model_dump(mode="python")

    def merge(dst, src):
        for k, v in src.items():
            if isinstance(v, dict) and isinstance(dst.get(k), dict):
                merge(dst[k], v)
            else:
                dst[k] = v
    merge(data, sections)
    return type(spec).model_validate(data)


@pytest.fixture(scope="session")
def backend():
    from stratforge.sandbox import LocalBackend

    b = LocalBackend()
    ok, why = b.available()
    if not ok:
        pytest.skip(f"sandbox not available: {why}")
    return b


@pytest.fixture(scope="session")
def workspace(tmp_path_factory):
    from stratforge.ci.pipeline import Workspace

    root = tmp_path_factory.mktemp("ws")
    return Workspace(REPO, root / "build")


@pytest.fixture(scope="session")
def bundles(backend, workspace, tmp_path_factory):
    """Generate example bundles on demand (once per session)."""
    from stratforge.generator.pipeline import generate
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

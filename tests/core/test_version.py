"""The version has one home, core/version.py; pyproject.toml must agree with it."""

from __future__ import annotations

import tomllib
from pathlib import Path

import stratforge
from stratforge.core.version import __version__

REPO = Path(__file__).resolve().parents[2]


def test_core_version_matches_pyproject() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert __version__ == project["version"]


def test_the_package_attribute_is_the_core_version() -> None:
    assert stratforge.__version__ is __version__

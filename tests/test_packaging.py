"""What the product needs at run time is a main dependency, not a dev extra."""

from __future__ import annotations

import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _names(requirements: list[str]) -> set[str]:
    import re

    return {re.split(r"[<>=!~;\[ ]", r, maxsplit=1)[0].lower() for r in requirements}


def test_runtime_tools_are_main_dependencies() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    main = _names(project["dependencies"])
    # the pipeline runs generated tests (pytest), the static checks (libclang), the
    # cross-check (backtrader), the seccomp filter (pyseccomp), the charts (matplotlib) and
    # `ci run` (gitpython for branches, requests for the GitHub API)
    assert {"pytest", "libclang", "backtrader", "pyseccomp", "matplotlib", "jsonschema",
            "openai", "gitpython", "requests"} <= main

"""tests/ci/publish: makes publish_kit importable under importlib mode."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from publish_kit import Clone, make_clone  # noqa: E402


@pytest.fixture
def clone(tmp_path: Path) -> Clone:
    """A bare remote plus a clone with one commit on main."""
    return make_clone(tmp_path)

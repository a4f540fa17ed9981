"""Shared fixtures for runtime/data tests."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO / ".." / "shared" / "data"


@pytest.fixture
def shared():
    """``shared(*parts)``: a path under ../shared/data beside the repository; skips when absent."""

    def locate(*parts: str) -> Path:
        path = SHARED_DATA.joinpath(*parts)
        if not path.exists():
            pytest.skip(f"shared data not present: {path}")
        return path

    return locate

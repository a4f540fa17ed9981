"""Fixtures of the control plane's unit tests: an engine double on a Unix socket."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from engine_double import EngineDouble, short_socket_path  # noqa: E402


@pytest.fixture
def engine(tmp_path: Path):
    eng = EngineDouble(short_socket_path(tmp_path))
    yield eng
    eng.close()

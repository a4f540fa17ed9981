"""tests/ci: makes the scorecard test kit (scorecard_kit.py) importable under importlib mode and
registers the ``chromium`` marker."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)


def pytest_configure(config):
    config.addinivalue_line("markers", "chromium: renders HTML in headless Chromium; skips only when "
                            "no chromium binary can be found or installed")

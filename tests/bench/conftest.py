"""bench/ scripts import their shared helper (bench/machine.py) as a top-level module, the way
`python bench/<script>.py` finds it: put bench/ on sys.path for the tests that load them."""

from __future__ import annotations

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

"""The C++ engine's own order book reproduces LOBSTER's best bid/ask on the shared samples.

The LOBSTER message files are converted to .sfe, replayed by ``sf-replay`` with the built-in
no-op strategy, and every ``book`` callback on the tape (the engine's book after each complete
batch) is compared with LOBSTER's orderbook file: one callback per orderbook row that changed,
with the same best bid/ask prices and sizes and the same number of occupied levels (up to L).
"""

from __future__ import annotations

import gzip
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from stratforge.core.tools import find_executable

from stratforge.runtime.data.lobster import convert_lobster
from stratforge.runtime.data.format import write_events

LOBSTER = ("lobster-nasdaq-sample-2012-06-21",)
NO_BID, NO_ASK = -(2**63), 2**63 - 1
CONFIG = {
    "data": "book.sfe",
    "strategies": [{"id": "probe", "plugin": "builtin:noop", "params": {}, "instruments": []}],
    "risk": {"max_order_qty": 1, "max_order_notional": 1000, "max_position": 1,
             "price_band_bps": 50, "max_open_orders": 1, "max_msgs_per_sec": 1, "max_loss": 1},
    "venue": {"latency": {"feed": {"model": "constant", "ns": 0},
                          "entry": {"model": "constant", "ns": 0},
                          "response": {"model": "constant", "ns": 0}},
              "queue_model": "risk_averse", "fees": {"maker_bps": 0, "taker_bps": 0}},
}


def _orderbook(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as fh:
        return np.loadtxt(fh, delimiter=",", dtype=np.int64, ndmin=2)


@pytest.mark.shared_data
@pytest.mark.parametrize("symbol,levels", [("AAPL", 1), ("GOOG", 1), ("GOOG", 5)])
def test_engine_book_matches_lobster_at_every_change(shared, tmp_path, symbol, levels):
    sf_replay = str(find_executable("sf-replay"))
    base = f"{symbol}_2012-06-21_34200000_57600000"
    conv = convert_lobster(shared(*LOBSTER, f"{base}_message_{levels}.csv"))
    write_events(tmp_path / "book.sfe", conv.instruments, conv.events, source="lobster")
    cfg = dict(CONFIG, strategies=[dict(CONFIG["strategies"][0], instruments=[symbol])])
    (tmp_path / "cfg.json").write_text(json.dumps(cfg))
    proc = subprocess.run([sf_replay, "--config", str(tmp_path / "cfg.json"), "--out",
                           str(tmp_path / "r.json"), "--tape", str(tmp_path / "t.jsonl"),
                           "--quiet"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    books = []
    with open(tmp_path / "t.jsonl") as fh:
        for line in fh:
            if '"k":"book"' in line:
                b = json.loads(line)
                books.append((b["ask_px"], b["ask_qty"], b["bid_px"], b["bid_qty"],
                              b["ask_levels"], b["bid_levels"]))
    engine = np.array(books, dtype=np.int64)

    raw = _orderbook(shared(*LOBSTER, f"{base}_orderbook_{levels}.csv"))
    changed = np.ones(len(raw), dtype=bool)
    changed[1:] = np.any(raw[1:] != raw[:-1], axis=1)
    rows = raw[changed]
    ask_px, ask_qty, bid_px, bid_qty = rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3]
    expected = np.column_stack([
        np.where(ask_px >= 9_999_999_999, NO_ASK, ask_px // 100), ask_qty,
        np.where(bid_px <= -9_999_999_999, NO_BID, bid_px // 100), bid_qty,
        (rows[:, 0::4] < 9_999_999_999).sum(axis=1), (rows[:, 2::4] > -9_999_999_999).sum(axis=1),
    ])
    assert len(engine) == len(expected), (len(engine), len(expected))
    top = engine[:, :4] == expected[:, :4]
    assert top.all(), f"first mismatch at change {int(np.argmin(top.all(axis=1)))}"
    # the engine sees the full depth the converter built, at least the L levels LOBSTER shows
    assert (engine[:, 4:] >= expected[:, 4:]).all()

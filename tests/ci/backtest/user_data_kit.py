"""Specs of a user's own, written for these tests (never from the example specs), and small
market-data files in the layouts users bring: daily bars of two index-like series, a two-file
quote capture split at midnight, Yahoo-style files with m/d/yyyy dates."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import yaml

from stratforge.core.spec import load_spec_bytes

NS = 1_000_000_000


def spec_text(data: dict, *, name: str = "idx-dip-buyer", symbols=("KXA",), signals=None,
              tick: str = "0.01", lot: str = "1", qty="7") -> str:
    """A strategy of our own on ``symbols`` with ``data`` as its backtest data: a custom dip
    buyer on one instrument, a fixed-ratio pair (stat_arb) on two."""
    if len(symbols) == 1:
        strategy = {"type": "custom", "params": {"dip": 0.97},
                    "signals": signals or {"ratio": "close / sma(close, 15)",
                                           "entry_long": "ratio < dip", "exit_long": "ratio > 1.0"},
                    "order_qty": qty}
    else:
        strategy = {"type": "stat_arb",
                    "params": {"hedge_ratio": {"mode": "fixed", "value": 0.29}, "window": 12,
                               "entry_z": 1.7, "exit_z": 0.4, "order_qty": 7}}
    doc = {
        "apiVersion": "stratforge/v1",
        "kind": "Strategy",
        "metadata": {"name": name, "owner": "tests@example.org",
                     "description": "Buys a dip below the 15-bar average (test spec)."},
        "strategy": {
            "type": strategy.pop("type"),
            "instruments": [{"symbol": s, "venue": "test-exchange", "tick_size": tick,
                             "lot_size": lot, "quote_currency": "USD"} for s in symbols],
            **strategy,
        },
        "risk": {"max_order_qty": 21, "max_position": 21, "max_order_notional": 90000,
                 "max_open_orders": 3, "max_orders_per_second": 7, "price_band_bps": 900,
                 "max_loss": 7000, "max_drawdown": 6500},
        "latency": {"callback_p50_ns": 700, "callback_p99_ns": 7000,
                    "tick_to_order_p99_ns": 14000},
        "backtest": {"data": data, "period": {"out_of_sample_fraction": 0.2},
                     "fees": {"maker_bps": 0.7, "taker_bps": 1.3},
                     "latency": {"model": "constant", "feed_ns": 0, "order_ns": 0},
                     "queue": {"model": "back_of_queue"}, "initial_capital": 77000},
        "gates": {"min_sharpe": 0.1, "max_drawdown_pct": 35, "min_trades": 3,
                  "max_callback_p99_ns": 7000,
                  "shadow": {"min_duration_s": 3600, "min_fills": 1,
                             "max_pnl_deviation_pct": 80, "max_fill_ratio_deviation_pct": 40}},
    }
    return yaml.safe_dump(doc, sort_keys=False)


def user_spec(data: dict, **kw):
    """The loaded spec (``LoadedSpec``) of :func:`spec_text`."""
    text = spec_text(data, **kw)
    return load_spec_bytes(text.encode(), "user-spec.yaml", expected_name=None)


def daily_closes(n: int, start: float, drift: float, wiggle: float) -> list[float]:
    return [round(start * math.exp(drift * k) * (1 + wiggle * math.sin(k / 3.0)), 2)
            for k in range(n)]


def business_dates(n: int, first: dt.date) -> list[dt.date]:
    out, d = [], first
    while len(out) < n:
        if d.weekday() < 5:
            out.append(d)
        d += dt.timedelta(days=1)
    return out


def write_yahoo_mdy(path: Path, n: int, start: float, first=dt.date(1999, 1, 4)) -> Path:
    """A Yahoo-layout file with m/d/yyyy dates (as some index downloads have)."""
    rows = ["Date,Open,High,Low,Close,Adj Close,Volume"]
    for d, c in zip(business_dates(n, first), daily_closes(n, start, 0.0004, 0.03)):
        rows.append(f"{d.month}/{d.day}/{d.year},{c},{c * 1.01:.2f},{c * 0.99:.2f},{c},{c},0")
    path.write_text("\n".join(rows) + "\n")
    return path


def write_two_symbol_bars(path: Path, n: int) -> Path:
    """Generic bars of two symbols interleaved by date (unique times per symbol)."""
    rows = ["ts,symbol,open,high,low,close,volume"]
    dates = business_dates(n, dt.date(2016, 3, 1))
    a = daily_closes(n, 84.0, 0.0003, 0.04)
    b = daily_closes(n, 19.5, 0.0002, 0.05)
    for d, ca, cb in zip(dates, a, b):
        t = int(dt.datetime(d.year, d.month, d.day, 21, tzinfo=dt.timezone.utc).timestamp())
        rows.append(f"{t},KXA,{ca},{ca + 0.5:.2f},{ca - 0.5:.2f},{ca},{1000 + t % 97}")
        rows.append(f"{t},KXB,{cb},{cb + 0.1:.2f},{cb - 0.1:.2f},{cb},{2000 + t % 89}")
    path.write_text("\n".join(rows) + "\n")
    return path


def write_quote_capture(folder: Path, sym: str = "KXQ") -> list[Path]:
    """Two quote files of one capture, split at midnight UTC (day 1 ends 23:59:59.9)."""
    folder.mkdir(parents=True, exist_ok=True)
    day1 = int(dt.datetime(2025, 5, 6, 23, 58, tzinfo=dt.timezone.utc).timestamp() * 1000)
    files = []
    for part in range(2):
        rows = ["ts,symbol,bid_px,bid_qty,ask_px,ask_qty"]
        for k in range(60):
            t = day1 + part * 120_000 + k * 2000 + (1 if part == 0 else 0)
            bid = 250.00 + 0.01 * ((k + part * 7) % 9)
            rows.append(f"{t},{sym},{bid:.2f},{5 + k % 4},{bid + 0.02:.2f},{3 + k % 5}")
        p = folder / f"capture-2025-05-0{6 + part}.csv"
        p.write_text("\n".join(rows) + "\n")
        files.append(p)
    return files

"""Seeded synthetic market streams (book with L2 levels and trades, or bars) for parity runs."""

from __future__ import annotations

import random

SEC = 1_000_000_000


def bars(seed: int, n: int, start: int = 10_000) -> list[dict]:
    rng = random.Random(seed)
    px, out = start, []
    for i in range(n):
        px = max(100, px + rng.choice([-3, -2, -1, 0, 1, 2, 3]) * rng.randint(1, 40))
        o = px + rng.randint(-20, 20)
        out.append({"cb": "bar", "t": (i + 1) * SEC, "bar": {
            "end_ts": (i + 1) * SEC, "recv_ts": (i + 1) * SEC, "instrument": 0, "open": o, "high": max(o, px) + 5,
            "low": min(o, px) - 5, "close": px, "volume": rng.randint(1, 10_000)}})
    return out


def books(seed: int, n: int, starts: list[int], *, trades: bool = True, step_ns: int = SEC // 10) -> list[dict]:
    rng = random.Random(seed)
    mids = list(starts)
    out = []
    t = 0
    for _ in range(n):
        t += rng.randint(1, step_ns)
        inst = rng.randrange(len(starts))
        if inst == 0 and len(starts) == 2:
            mids[0] = max(10, mids[0] + rng.randint(-3, 3) + (mids[1] - starts[1]) // 400 - (mids[0] - starts[0]) // 400)
        else:
            mids[inst] = max(10, mids[inst] + rng.randint(-3, 3))
        if trades and rng.random() < 0.3:
            px = mids[inst] + rng.choice([-1, 1])
            out.append({"cb": "trade", "t": t, "trade": {"exch_ts": t, "recv_ts": t, "instrument": inst,
                                                         "side": rng.choice([1, 2]), "px": px,
                                                         "qty": rng.randint(1, 500), "trade_id": 0}})
            continue
        half = rng.randint(1, 2)
        bid, ask = mids[inst] - half, mids[inst] + half
        bias = rng.random()
        bq = [rng.randint(1, 100) * (3 if bias > 0.7 else 1) for _ in range(10)]
        aq = [rng.randint(1, 100) * (3 if bias < 0.3 else 1) for _ in range(10)]
        out.append({"cb": "book", "t": t, "book": {
            "exch_ts": t, "recv_ts": t, "instrument": inst, "flags": 0, "bid_px": bid, "bid_qty": bq[0],
            "ask_px": ask, "ask_qty": aq[0], "bid_levels": 10, "ask_levels": 10},
            "levels": {"bid": [[bid - i, q] for i, q in enumerate(bq)], "ask": [[ask + i, q] for i, q in enumerate(aq)]}})
    return out

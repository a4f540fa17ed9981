"""Seeded synthetic market streams (book with L2 levels and trades, or bars) for parity runs.

Bars come from the format-level generator (``stratforge.runtime.data.synth``), turned into bar
callbacks; the book and pair streams here are callback-level and shaped by the strategy's
parameters (spreads, lean, hedge), which the format-level markets do not model.

:func:`market_for` shapes the stream from the strategy's own instruments and parameters (the
parity run needs a market on which the strategy trades): spreads inside ``max_spread_ticks``, a
book lean strong enough for ``entry_threshold``, a pair priced so that the hedge leg is at least one
lot of leg 2 whatever the two tick and lot sizes are.
"""

from __future__ import annotations

import math
import random
from decimal import Decimal

from stratforge.runtime.data.synth import BarParams, bar_chunks

SEC = 1_000_000_000
E9 = Decimal(10) ** 9
YEAR_NS = int(365.25 * 86_400 * SEC)
#: Volatility of one parity bar (log close-to-close, RMS over the regimes): about 0.45 %.
PARITY_BAR_VOL = 0.0045


def bars(seed: int, n: int, tick_e9: int, lot_e9: int, start_quote: float = 100.0) -> list[dict]:
    """``n`` one-second bars of instrument 0 from ``start_quote`` quote units, as bar callbacks:
    the format-level generator (:func:`stratforge.runtime.data.synth.bar_chunks`, its
    regime-switching GBM rescaled to about :data:`PARITY_BAR_VOL` a bar) on the instrument's own
    tick and lot."""
    base = BarParams()
    rms = math.sqrt(sum(v * v for _, v in base.regimes) / len(base.regimes))
    k = PARITY_BAR_VOL * math.sqrt(YEAR_NS / SEC) / rms  # per-bar volatility of one-second bars
    params = BarParams(symbol="PARITY", tick_size=Decimal(tick_e9) / E9, lot_size=Decimal(lot_e9) / E9,
                       start_price=start_quote, interval_ns=SEC, start_ns=0, mean_regime_bars=60.0,
                       regimes=tuple((mu * k, v * k) for mu, v in base.regimes))
    out = []
    for ev in bar_chunks(n, seed, params):
        for t, (o, h, lo, c, vol) in zip(ev["recv_ts"].tolist(), ev["v"][:, :5].tolist()):
            out.append({"cb": "bar", "t": t, "bar": {
                "end_ts": t, "recv_ts": t, "instrument": 0, "open": o, "high": h, "low": lo, "close": c,
                "volume": vol}})
    return out


def books(seed: int, n: int, starts: list[int], *, trades: bool = True, step_ns: int = SEC // 10,
          spreads: tuple[int, ...] | None = None, lean: int = 3) -> list[dict]:
    """Book updates (10 levels a side) and trades around ``starts`` (ticks per instrument).

    ``spreads``: the spreads (ticks) to draw from (default: 2 or 4); ``lean``: how many times
    heavier the leaning side of a lopsided book is."""
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
        if spreads is None:
            half = rng.randint(1, 2)
            bid, ask = mids[inst] - half, mids[inst] + half
        else:
            spread = rng.choice(spreads)
            bid = mids[inst] - spread // 2
            ask = bid + spread
        bias = rng.random()
        bq = [rng.randint(1, 100) * (lean if bias > 0.7 else 1) for _ in range(10)]
        aq = [rng.randint(1, 100) * (lean if bias < 0.3 else 1) for _ in range(10)]
        out.append({"cb": "book", "t": t, "book": {
            "exch_ts": t, "recv_ts": t, "instrument": inst, "flags": 0, "bid_px": bid, "bid_qty": bq[0],
            "ask_px": ask, "ask_qty": aq[0], "bid_levels": 10, "ask_levels": 10},
            "levels": {"bid": [[bid - i, q] for i, q in enumerate(bq)], "ask": [[ask + i, q] for i, q in enumerate(aq)]}})
    return out


def pair(seed: int, n: int, ticks: list[int], lots: list[int], *, qty_lots: int, hedge_ratio: float,
         bars_: bool = False, step_ns: int = SEC // 10) -> list[dict]:
    """Two legs, each in its own ticks: leg 2 a random walk near 100 quote units, leg 1 =
    beta * leg 2 + a mean-reverting spread with occasional shocks (so the spread's z-score passes
    any reachable entry_z). beta is the fixed hedge ratio, or (rolling OLS, ``hedge_ratio`` 0) large
    enough that ``qty_lots`` of leg 1 hedge into at least one lot of leg 2. Book updates (or bars,
    both legs at each time) alternate between the legs."""
    rng = random.Random(seed)
    beta = hedge_ratio if hedge_ratio > 0.0 else max(1.0, 2.0 * lots[1] / (qty_lots * lots[0]))
    tick_q = [t * 1e-9 for t in ticks]
    p2, s = 100.0, 0.0
    unit = max(tick_q[0], beta * tick_q[1])  # the spread moves by at least a tick of either leg
    out: list[dict] = []
    t = 0
    for k in range(n):
        p2 = max(10.0, p2 + rng.choice((-1, 0, 1)) * tick_q[1] * rng.randint(1, 3))
        s = 0.9 * s + rng.gauss(0.0, 2.0 * unit) + (rng.choice((-1, 1)) * 25.0 * unit if rng.random() < 0.01 else 0.0)
        px = [max(2, int(round((beta * p2 + 10.0 + s) / tick_q[0]))), max(2, int(round(p2 / tick_q[1])))]
        t += rng.randint(1, step_ns) if not bars_ else SEC
        legs = (1, 0) if bars_ else (k % 2,)
        for inst in legs:
            m = px[inst]
            if bars_:
                out.append({"cb": "bar", "t": t, "bar": {
                    "end_ts": t, "recv_ts": t, "instrument": inst, "open": m, "high": m + 1, "low": max(1, m - 1),
                    "close": m, "volume": rng.randint(1, 10_000)}})
            else:
                out.append({"cb": "book", "t": t, "book": {
                    "exch_ts": t, "recv_ts": t, "instrument": inst, "flags": 0, "bid_px": m - 1, "bid_qty": 10,
                    "ask_px": m + 1, "ask_qty": 10, "bid_levels": 1, "ask_levels": 1}})
    return out


def market_for(kind: str, seed: int, events: int, ticks: list[int], lots: list[int], params) -> list[dict]:
    """The parity market for a strategy: ``kind`` (bars, books, pairs) shaped by its instruments
    (tick and lot sizes per leg) and its parameters (a :class:`~.params.Params`)."""
    def num(name: str, default: float) -> float:
        return float(params.get_string(name, str(default))) if params.has(name) else default

    qty = int(num("order_qty_lots", 1))
    if len(ticks) == 2:
        return pair(seed, events, ticks, lots, qty_lots=qty,
                    hedge_ratio=num("hedge_ratio", 0.0), bars_=kind == "bars")
    starts = [max(2_000, 10 ** 9 // t * 100) for t in ticks]  # ~100 quote units
    if kind == "bars":
        return bars(seed, events, ticks[0], lots[0])
    if kind == "pairs":
        return books(seed, events, starts, trades=False)
    if kind != "books":
        raise ValueError(f"unknown market kind {kind!r} (bars, books, pairs)")
    if not params.has("max_spread_ticks") and not params.has("entry_threshold"):
        return books(seed, events, starts)
    widest = int(num("max_spread_ticks", 4))
    spreads = tuple(range(1, max(2, widest) + 2))  # inside the limit, and just outside it
    th = min(num("entry_threshold", 0.5), 0.98)
    lean = max(3, int(math.ceil((1.0 + th) / (1.0 - th))) + 2)
    return books(seed, events, starts, spreads=spreads, lean=lean)

"""A seeded, deterministic synthetic market, vectorised, for benchmarks and tests.

L2 mode (``kind="l2"``): a K-level price-level book per side around a random-walk mid.

* Time: exponential inter-arrival times (``mean_interarrival_ns``); ``recv_ts = exch_ts + latency``
  with a fixed part plus exponential jitter, made non-decreasing so no update is reordered.
* Each step is one source message (one batch). A step is a *price move* with probability
  ``p_move``, else a *queue update*.
* Price moves change the spread by one tick (half of them, ``p_spread_move``; the spread is a
  reflected walk on 1..``max_spread`` ticks, moved on a random side) or shift both touches one tick
  up or down (a random walk of the mid). A touch moving away from the mid removes that level: a
  sweep, emitted as a TRADE of the whole touch queue by the opposite aggressor with probability
  ``p_sweep_trade`` (otherwise a cancel). A touch moving toward the mid is a new level inside the
  spread.
* Queue updates set one level's queue to a fresh size (level chosen with weight 1/(i+1), side at
  random); with probability ``p_partial_trade`` it is a partial fill of the touch instead: a TRADE
  of the difference, the queue shrinking to a small remainder.
* Queue sizes are lognormal with mean ``base_qty * (1 + level_qty_slope * level)`` lots.
* Levels that leave the K-level window are deleted, so the book always has K levels per side.

Records of a step come in the order TRADE, deletions, new/changed levels, so the book is never
crossed even between the records of one batch. The file starts with a CLEAR + SNAPSHOT batch.

Bars mode (``kind="bars"``): OHLCV bars from a geometric Brownian motion whose drift and
volatility switch between regimes (calm up, calm down, choppy, volatile) with geometric regime
lengths; each bar's OHLC comes from ``substeps`` GBM sub-steps, so low <= open, close <= high.
Volume is lognormal, larger on large moves. ``exch_ts`` is the bar's end; ``recv_ts`` equals it.

The same seed gives the same stream; generation runs in fixed-size chunks, so a shorter run is a
prefix of a longer one.

Markets for a strategy (used by ``stratforge build`` through ``ci/backtest/data.py``, which maps a
spec's ``backtest.data`` onto them): :func:`market_l2` — an L2 market for one or two instruments
(two legs: a cointegrated pair, OU log-spread), its clock calibrated so the mean time per record
is ``L2_EVENT_GAP_NS`` and the fair price's annualised volatility is the one asked for;
:func:`market_bars` — daily (exchange) or hourly (24/7) bars for one or more instruments, the
first from :func:`bar_chunks` rescaled to the asked volatility on business days, every further
one cointegrated with it (:func:`cointegrated_bars`). This module is the one Python synthetic
market at the format level (``.sfe`` records); ``runtime/engine/src/synth.cpp`` is the engine's
own (docs/architecture.md).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from ._build import Column, assemble, book_diff
from .errors import InputError
from .format import (
    ASK,
    BAR,
    BID,
    CLEAR,
    DEPTH,
    END_OF_BATCH,
    EVENT_DTYPE,
    SNAPSHOT,
    TRADE,
    EventFileWriter,
    Instrument,
)

DEFAULT_START_NS = 1_704_205_800_000_000_000  # 2024-01-02 14:30:00 UTC

NS = 1_000_000_000
DAY_NS = 86_400 * NS
#: Seconds in a year of trading: continuous markets trade 365.25 × 24 h, exchanges 252 × 6.5 h.
YEAR_S = {"continuous": 365.25 * 86_400.0, "exchange": 252 * 6.5 * 3_600.0}

# market_l2 constants (docs/backtest.md)
L2_LEVELS = 5                  # price levels per side, contiguous ticks from the touch
L2_EVENT_GAP_NS = 18_000_000   # mean time per event: 200k events ≈ one hour
L2_LEVEL_NOTIONAL = 20_000.0   # mean queue at the touch, quote currency (deeper levels larger)
PAIR_SPREAD_VOL = 0.001        # stdev of the pair's log-spread (OU), 10 bps
PAIR_HALF_LIFE_S = 600.0       # mean-reversion half-life of the pair spread
PAIR_PRICE_RATIO = 1.0         # second leg's start price / first leg's
#: How long a synthetic session the example specs use, by data profile and calendar, so that
#: their gates can decide (docs/examples.md): every slice must clear the scorecard's sample policy
#: (>= 30 returns and >= 1e-4 years of trading time: 52.6 min of a 24/7 market, 9.8 min of
#: exchange session) and the latency p99s need >= 100 orders. Values: (length, unit, why).
SESSIONS: dict[tuple[str, str], tuple[float, str, str]] = {
    ("l2", "continuous"): (6 * 3600.0, "s", "a quarter of the 24/7 day (one of its Asia / Europe / "
                           "US-open / US-afternoon blocks): the 30 % holdout holds 108 min"),
    ("l2", "exchange"): (2 * 3600.0, "s", "the first two hours of a regular session (the open and "
                         "the morning, its busiest part); a whole session costs three times the "
                         "build time (run parity and the bias check replay every callback)"),
    ("bars", "exchange"): (2500.0, "bars", "about ten years of daily bars: every regime of the "
                           "generator, a 25 % holdout of 625 days"),
    ("bars", "continuous"): (24 * 180.0, "bars", "half a year of hourly bars"),
}


def l2_events_for(seconds: float) -> int:
    """Records of a synthetic L2 market (:func:`market_l2`) that span about ``seconds``."""
    return int(round(seconds * NS / L2_EVENT_GAP_NS))


def session_events(profile: str, calendar: str) -> int:
    """Records (l2) or bars of the session :data:`SESSIONS` gives for ``profile``/``calendar``."""
    length, unit, _ = SESSIONS[(profile, calendar)]
    return l2_events_for(length) if unit == "s" else int(length)


# market_bars constants: a further leg's log-spread to the first (OU, per bar)
PAIR_BAR_SPREAD_VOL = 0.02     # stationary stdev of the log-spread, 2 %
PAIR_BAR_HALF_LIFE = 6.0       # bars


@dataclass(frozen=True)
class L2Params:
    symbol: str = "SYN"
    tick_size: str = "0.01"
    lot_size: str = "1"
    start_price_ticks: int = 10_000  # 100.00 at tick 0.01
    levels: int = 5
    max_spread: int = 3
    start_ns: int = DEFAULT_START_NS
    mean_interarrival_ns: float = 100_000.0
    latency_ns: int = 50_000
    latency_jitter_ns: float = 5_000.0
    p_move: float = 0.08
    p_spread_move: float = 0.5
    p_sweep_trade: float = 0.7
    p_partial_trade: float = 0.1
    base_qty: float = 20.0
    level_qty_slope: float = 0.5
    qty_sigma: float = 0.6
    partial_remainder_mean: float = 4.0
    chunk_steps: int = 200_000

    def validate(self) -> None:
        errors = []
        if self.levels < 1:
            errors.append(f"levels must be >= 1, was {self.levels}")
        if not 1 <= self.max_spread <= 3:
            errors.append(f"max_spread must be 1..3, was {self.max_spread}")
        for name in ("p_move", "p_spread_move", "p_sweep_trade", "p_partial_trade"):
            v = getattr(self, name)
            if not 0 <= v <= 1:
                errors.append(f"{name} must be in [0, 1], was {v}")
        if self.start_price_ticks <= self.levels + self.max_spread:
            errors.append(f"start_price_ticks must exceed levels + max_spread, was {self.start_price_ticks}")
        if self.mean_interarrival_ns <= 0:
            errors.append(f"mean_interarrival_ns must be > 0, was {self.mean_interarrival_ns}")
        if errors:
            raise InputError("; ".join(errors))

    def instrument(self) -> Instrument:
        return Instrument(self.symbol, self.tick_size, self.lot_size)


@dataclass(frozen=True)
class BarParams:
    symbol: str = "SYNBAR"
    tick_size: str = "0.01"
    lot_size: str = "1"
    start_price: float = 100.0
    interval_ns: int = 60_000_000_000
    start_ns: int = DEFAULT_START_NS
    substeps: int = 16
    mean_regime_bars: float = 500.0
    # (annualised drift, annualised volatility) per regime
    regimes: tuple[tuple[float, float], ...] = ((0.3, 0.15), (-0.3, 0.15), (0.0, 0.25), (0.0, 0.6))
    base_volume: float = 10_000.0
    chunk_bars: int = 250_000

    def instrument(self) -> Instrument:
        return Instrument(self.symbol, self.tick_size, self.lot_size, self.interval_ns)


@dataclass
class _L2State:
    bid: int
    spread_x: int  # reflected-walk coordinate of the spread
    slots_b: np.ndarray  # queue per price mod K, bid side
    slots_a: np.ndarray
    exch: int
    recv: int


def _tri(x: np.ndarray, max_spread: int) -> np.ndarray:
    """Reflect a walk onto 1..max_spread (period 2*(max_spread-1))."""
    if max_spread == 1:
        return np.ones_like(x)
    period = 2 * (max_spread - 1)
    y = np.mod(x, period)
    return 1 + np.where(y <= max_spread - 1, y, period - y)


def _queue(rng: np.random.Generator, level: np.ndarray, p: L2Params) -> np.ndarray:
    mean = p.base_qty * (1.0 + p.level_qty_slope * level)
    draw = rng.lognormal(np.log(mean) - p.qty_sigma**2 / 2, p.qty_sigma)
    return np.maximum(1, np.rint(draw)).astype(np.int64)


def _window(touch: np.ndarray, slots_full: np.ndarray, sign: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Prices and queues of the K-level window: touch - i (bids, sign=-1) or touch + i (asks)."""
    px = touch[:, None] + sign * np.arange(k)[None, :]
    q = np.take_along_axis(slots_full, np.mod(px, k), axis=1)
    return px, q


def _fill(carry: np.ndarray, slot: np.ndarray, value: np.ndarray) -> np.ndarray:
    """Forward-fill queue slots: row 0 is ``carry``, row t+1 is after step t's write (slot -1: none)."""
    n, k = len(slot), len(carry)
    vals = np.zeros((n + 1, k), dtype=np.int64)
    idx = np.zeros((n + 1, k), dtype=np.int32)
    vals[0] = carry
    w = np.flatnonzero(slot >= 0)
    vals[w + 1, slot[w]] = value[w]
    idx[w + 1, slot[w]] = w + 1
    np.maximum.accumulate(idx, axis=0, out=idx)
    return np.take_along_axis(vals, idx, axis=0)


def _l2_chunk(rng: np.random.Generator, st: _L2State, p: L2Params, n: int) -> np.ndarray:
    k = p.levels
    # --- time
    gaps = rng.exponential(p.mean_interarrival_ns, n)
    exch = st.exch + np.cumsum(np.maximum(1, np.rint(gaps)).astype(np.int64))
    lat = p.latency_ns + np.rint(rng.exponential(p.latency_jitter_ns, n)).astype(np.int64) if p.latency_jitter_ns > 0 else np.full(n, p.latency_ns, np.int64)
    recv = np.maximum.accumulate(np.maximum(exch + lat, st.recv))

    # --- prices
    u = rng.random((n, 4))
    move = u[:, 0] < p.p_move
    spread_move = move & (u[:, 1] < p.p_spread_move)
    shift = move & ~spread_move
    up = u[:, 2] < 0.5
    d_x = np.where(spread_move, np.where(up, 1, -1), 0)
    x = st.spread_x + np.cumsum(d_x)
    spread = _tri(x, p.max_spread)
    prev_spread = np.empty_like(spread)
    prev_spread[0] = _tri(np.array([st.spread_x]), p.max_spread)[0]
    prev_spread[1:] = spread[:-1]
    d_spread = spread - prev_spread
    on_bid = u[:, 3] < 0.5
    d_bid = np.where(spread_move & on_bid, -d_spread, 0) + np.where(shift, np.where(up, 1, -1), 0)
    bid = st.bid + np.cumsum(d_bid)
    ask = bid + spread
    prev_bid = np.concatenate(([st.bid], bid[:-1]))
    prev_ask = prev_bid + prev_spread
    if bid.min() <= k:
        raise InputError("synthetic mid walked to zero; raise start_price_ticks")

    # --- queue writes: one per side per step at most
    quant = ~move
    partial = quant & (rng.random(n) < p.p_partial_trade)
    q_side = np.where(rng.random(n) < 0.5, BID, ASK)
    w = 1.0 / np.arange(1, k + 1)
    q_level = np.where(partial, 0, rng.choice(k, size=n, p=w / w.sum()))
    fresh = _queue(rng, q_level, p)
    remainder = 1 + rng.poisson(max(p.partial_remainder_mean - 1, 0), n)
    q_value = np.where(partial, remainder, fresh)

    slot_b = np.full(n, -1, dtype=np.int64)
    slot_a = np.full(n, -1, dtype=np.int64)
    val_b = np.zeros(n, dtype=np.int64)
    val_a = np.zeros(n, dtype=np.int64)
    qb = quant & (q_side == BID)
    qa = quant & (q_side == ASK)
    slot_b[qb] = np.mod(bid[qb] - q_level[qb], k)
    val_b[qb] = q_value[qb]
    slot_a[qa] = np.mod(ask[qa] + q_level[qa], k)
    val_a[qa] = q_value[qa]
    # prices entering the window on moves get fresh queues
    enter_far = _queue(rng, np.full(n, k - 1), p)
    enter_touch = _queue(rng, np.zeros(n), p)
    b_up, b_dn = bid > prev_bid, bid < prev_bid
    a_dn, a_up = ask < prev_ask, ask > prev_ask
    slot_b[b_up] = np.mod(bid[b_up], k)
    val_b[b_up] = enter_touch[b_up]
    slot_b[b_dn] = np.mod(bid[b_dn] - (k - 1), k)
    val_b[b_dn] = enter_far[b_dn]
    slot_a[a_dn] = np.mod(ask[a_dn], k)
    val_a[a_dn] = enter_touch[a_dn]
    slot_a[a_up] = np.mod(ask[a_up] + (k - 1), k)
    val_a[a_up] = enter_far[a_up]

    full_b = _fill(st.slots_b, slot_b, val_b)
    full_a = _fill(st.slots_a, slot_a, val_a)

    # --- queue-update steps: one level changes (a DEPTH), maybe a partial fill (a TRADE first)
    q = np.flatnonzero(quant)
    qs = q_side[q]
    is_b = qs == BID
    slot = np.where(is_b, slot_b[q], slot_a[q])
    old = np.where(is_b, full_b[q, slot], full_a[q, slot])
    new = np.where(is_b, full_b[q + 1, slot], full_a[q + 1, slot])
    px = np.where(is_b, bid[q] - q_level[q], ask[q] + q_level[q])
    part = partial[q] & (old > new)
    q_cols = [
        Column(part, TRADE, np.where(is_b, ASK, BID), (px, old - new)),
        Column(new != old, DEPTH, qs, (px, new)),
    ]
    q_ev, q_rows = assemble(q_cols, exch[q], recv[q])

    # --- price-move steps: diff the K-level windows
    m = np.flatnonzero(move)
    bpx, bq = _window(bid[m], full_b[m + 1], -1, k)
    apx, aq = _window(ask[m], full_a[m + 1], +1, k)
    pbpx, pbq = _window(prev_bid[m], full_b[m], -1, k)
    papx, paq = _window(prev_ask[m], full_a[m], +1, k)
    b_del, b_set = book_diff(pbpx, pbq, bpx, bq)
    a_del, a_set = book_diff(papx, paq, apx, aq)
    sweep_trade = rng.random(len(m)) < p.p_sweep_trade
    zeros = np.zeros((len(m), k), dtype=np.int64)
    m_cols = [
        Column(b_dn[m] & sweep_trade, TRADE, ASK, (prev_bid[m], pbq[:, 0])),  # seller took the bid
        Column(a_up[m] & sweep_trade, TRADE, BID, (prev_ask[m], paq[:, 0])),  # buyer took the ask
        Column(b_del, DEPTH, BID, (pbpx, zeros)),
        Column(a_del, DEPTH, ASK, (papx, zeros)),
        Column(b_set, DEPTH, BID, (bpx, bq)),
        Column(a_set, DEPTH, ASK, (apx, aq)),
    ]
    m_ev, m_rows = assemble(m_cols, exch[m], recv[m])

    # --- merge in step order (each step is in exactly one of the two sets)
    q_rows, m_rows = q[q_rows], m[m_rows]
    counts = np.bincount(q_rows, minlength=n) + np.bincount(m_rows, minlength=n)
    offsets = np.concatenate(([0], np.cumsum(counts)[:-1]))
    events = np.empty(int(counts.sum()), dtype=EVENT_DTYPE)
    for ev, rows in ((q_ev, q_rows), (m_ev, m_rows)):
        if len(rows):
            first = np.ones(len(rows), dtype=bool)
            first[1:] = rows[1:] != rows[:-1]
            run_start = np.maximum.accumulate(np.where(first, np.arange(len(rows)), 0))
            events[offsets[rows] + np.arange(len(rows)) - run_start] = ev
    st.bid = int(bid[-1])
    st.spread_x = int(x[-1])
    st.slots_b = full_b[-1].copy()
    st.slots_a = full_a[-1].copy()
    st.exch = int(exch[-1])
    st.recv = int(recv[-1])
    return events


def _l2_snapshot(rng: np.random.Generator, p: L2Params) -> tuple[np.ndarray, _L2State]:
    k = p.levels
    bid = p.start_price_ticks
    ask = bid + 1
    qb = _queue(rng, np.arange(k), p)
    qa = _queue(rng, np.arange(k), p)
    slots_b = np.zeros(k, dtype=np.int64)
    slots_a = np.zeros(k, dtype=np.int64)
    slots_b[np.mod(bid - np.arange(k), k)] = qb
    slots_a[np.mod(ask + np.arange(k), k)] = qa
    ev = np.zeros(1 + 2 * k, dtype=EVENT_DTYPE)
    ev["exch_ts"] = p.start_ns
    ev["recv_ts"] = p.start_ns + p.latency_ns
    ev["flags"] = SNAPSHOT
    ev["type"][0] = CLEAR
    ev["type"][1:] = DEPTH
    ev["side"][1 : 1 + k] = BID
    ev["side"][1 + k :] = ASK
    ev["v"][1 : 1 + k, 0] = bid - np.arange(k)
    ev["v"][1 : 1 + k, 1] = qb
    ev["v"][1 + k :, 0] = ask + np.arange(k)
    ev["v"][1 + k :, 1] = qa
    ev["flags"][-1] |= END_OF_BATCH
    st = _L2State(bid, 0, slots_b, slots_a, p.start_ns, p.start_ns + p.latency_ns)
    return ev, st


def _truncate(chunks: Iterator[np.ndarray], n_events: int) -> Iterator[np.ndarray]:
    left = n_events
    for ev in chunks:
        if left <= 0:
            return
        if len(ev) >= left:
            ev = ev[:left].copy()
            ev["flags"][-1] |= END_OF_BATCH
            yield ev
            return
        left -= len(ev)
        yield ev


def l2_chunks(n_events: int, seed: int = 0, params: L2Params = L2Params()) -> Iterator[np.ndarray]:
    """Event chunks totalling exactly ``n_events`` records (the last batch may be cut short)."""
    params.validate()
    if n_events < 1:
        raise InputError(f"events must be >= 1, was {n_events}")
    rng = np.random.default_rng(seed)

    def gen() -> Iterator[np.ndarray]:
        snap, st = _l2_snapshot(rng, params)
        yield snap
        while True:
            yield _l2_chunk(rng, st, params, params.chunk_steps)

    return _truncate(gen(), n_events)


def bar_chunks(n_bars: int, seed: int = 0, params: BarParams = BarParams()) -> Iterator[np.ndarray]:
    """BAR event chunks totalling exactly ``n_bars`` records."""
    if n_bars < 1:
        raise InputError(f"events must be >= 1, was {n_bars}")
    rng = np.random.default_rng(seed)
    ins = params.instrument()
    tick = float(ins.tick_size)
    lot = float(ins.lot_size)
    year_ns = 365.25 * 86400e9
    dt_sub = params.interval_ns / params.substeps / year_ns
    regimes = np.array(params.regimes, dtype=np.float64)

    def gen() -> Iterator[np.ndarray]:
        log_px = np.log(params.start_price)
        regime = 0
        regime_left = 1 + rng.geometric(1 / params.mean_regime_bars)
        bar0 = 0
        while True:
            n = params.chunk_bars
            # regime per bar: geometric run lengths
            reg = np.empty(n, dtype=np.int64)
            i = 0
            while i < n:
                take = min(regime_left, n - i)
                reg[i : i + take] = regime
                i += take
                regime_left -= take
                if regime_left == 0:
                    regime = int(rng.integers(len(regimes)))
                    regime_left = 1 + rng.geometric(1 / params.mean_regime_bars)
            mu, sigma = regimes[reg, 0], regimes[reg, 1]
            z = rng.standard_normal((n, params.substeps))
            steps = (mu - sigma**2 / 2)[:, None] * dt_sub + sigma[:, None] * np.sqrt(dt_sub) * z
            path = log_px + np.cumsum(steps.ravel()).reshape(n, params.substeps)
            opens = np.concatenate(([log_px], path[:-1, -1]))
            log_px = float(path[-1, -1])
            hi = np.maximum(path.max(axis=1), opens)
            lo = np.minimum(path.min(axis=1), opens)
            o, h, l, c = (np.rint(np.exp(a) / tick).astype(np.int64) for a in (opens, hi, lo, path[:, -1]))
            ret = np.abs(path[:, -1] - opens) / (sigma * np.sqrt(dt_sub * params.substeps))
            vol = params.base_volume * (0.5 + ret) * rng.lognormal(-0.125, 0.5, n)
            ev = np.zeros(n, dtype=EVENT_DTYPE)
            ends = params.start_ns + (bar0 + 1 + np.arange(n, dtype=np.int64)) * params.interval_ns
            ev["exch_ts"] = ends
            ev["recv_ts"] = ends
            ev["type"] = BAR
            ev["flags"] = END_OF_BATCH
            ev["v"][:, 0] = o
            ev["v"][:, 1] = h
            ev["v"][:, 2] = l
            ev["v"][:, 3] = c
            ev["v"][:, 4] = np.maximum(1, np.rint(vol / lot)).astype(np.int64)
            bar0 += n
            yield ev

    return _truncate(gen(), n_bars)


# ------------------------------------------------------------------------------------------------
# synthetic L2


@dataclass
class _Leg:
    inst: int
    tick: float
    lot: float
    level_lots: float        # mean queue at the touch, lots
    bid: int = 0
    ask: int = 0
    bids: dict[int, int] | None = None
    asks: dict[int, int] | None = None


def _l2_paths(rng: np.random.Generator, n_msgs: int, legs: int, vol_s: float, log_p0: float,
              gap_s: float, z: np.ndarray, dt_unit: np.ndarray, ou: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Message times (s from start) and log fair price per leg at each message."""
    dt_s = dt_unit * gap_s
    t = np.cumsum(dt_s)
    x = log_p0 + np.cumsum(vol_s * np.sqrt(dt_s) * z)
    logs = [x]
    if legs == 2:
        theta = math.log(2.0) / PAIR_HALF_LIFE_S
        decay = np.exp(-theta * dt_s)
        scale = PAIR_SPREAD_VOL * np.sqrt(1.0 - decay ** 2)
        s = np.empty(n_msgs)
        prev = 0.0
        for j in range(n_msgs):  # OU, exact discretisation
            prev = prev * decay[j] + scale[j] * ou[j]
            s[j] = prev
        logs.append(x + math.log(PAIR_PRICE_RATIO) + s)
    return t, np.vstack(logs)


def _records_estimate(fair_ticks: np.ndarray, leg_of: np.ndarray) -> float:
    """Mean records per message for a fair-price path (used to calibrate the clock)."""
    total = 0.0
    for k in range(fair_ticks.shape[0]):
        mine = fair_ticks[k][leg_of == k]
        if len(mine) < 2:
            continue
        moves = np.abs(np.diff(np.floor(mine)))
        rec = np.where(moves > 0, 1 + 4 * np.minimum(moves, L2_LEVELS), 1.1)
        total += rec.sum()
    return total / max(1, len(leg_of))


def market_l2(instruments: list[Instrument], n_events: int, seed: int, start_ns: int, start_price: float,
              vol_annual: float, year_s: float) -> tuple[list[Instrument], np.ndarray]:
    """A seeded L2 market for ``instruments`` (two legs: a cointegrated pair), ``n_events``
    records: a random walk of the fair price whose annualised volatility is ``vol_annual`` over a
    year of ``year_s`` trading seconds (:data:`YEAR_S`), quoted on each leg's own tick grid."""
    legs = min(2, len(instruments))
    rng = np.random.default_rng(seed)
    n_msgs = n_events  # every message makes at least one record
    vol_s = vol_annual / math.sqrt(year_s)
    z = rng.standard_normal(n_msgs)
    dt_unit = rng.exponential(1.0, n_msgs)
    ou = rng.standard_normal(n_msgs) if legs == 2 else np.zeros(0)
    leg_of = rng.integers(0, legs, n_msgs) if legs == 2 else np.zeros(n_msgs, dtype=np.int64)
    prices = [start_price, start_price * PAIR_PRICE_RATIO][:legs]
    ticks = [float(i.tick_size) for i in instruments[:legs]]
    # calibrate the message clock: the mean time per *event* is L2_EVENT_GAP_NS, and the number
    # of events per message grows with the mid's move per message (deterministic fixed point)
    gap_s = L2_EVENT_GAP_NS / NS
    for _ in range(4):
        _, logp = _l2_paths(rng, n_msgs, legs, vol_s, math.log(prices[0]), gap_s, z, dt_unit, ou)
        fair = np.vstack([np.exp(logp[k]) / ticks[k] for k in range(legs)])
        r = _records_estimate(fair, leg_of)
        gap_s = L2_EVENT_GAP_NS / NS * max(1.0, r)
    t_s, logp = _l2_paths(rng, n_msgs, legs, vol_s, math.log(prices[0]), gap_s, z, dt_unit, ou)
    fair = np.vstack([np.exp(logp[k]) / ticks[k] for k in range(legs)])
    u = rng.random((n_msgs, 4))
    qty_noise = rng.lognormal(-0.18, 0.6, (n_msgs, 2 * L2_LEVELS + 2))
    spread_draw = rng.choice([1, 2, 3], p=[0.6, 0.3, 0.1], size=n_msgs)

    legs_state: list[_Leg] = []
    for k in range(legs):
        ins = instruments[k]
        lot = float(ins.lot_size)
        px = float(np.exp(logp[k][0]))
        level_lots = max(1.0, L2_LEVEL_NOTIONAL / px / lot)
        legs_state.append(_Leg(k, ticks[k], lot, level_lots))

    out = np.zeros(n_events + 4 * L2_LEVELS * legs + 8, dtype=EVENT_DTYPE)
    n = 0

    def emit(ts: int, typ: int, side: int, inst: int, v0: int, v1: int, v2: int = 0,
             flags: int = 0) -> None:
        nonlocal n
        r = out[n]
        r["exch_ts"] = ts
        r["recv_ts"] = ts
        r["type"] = typ
        r["side"] = side
        r["instrument"] = inst
        r["flags"] = flags
        r["v"][0] = v0
        r["v"][1] = v1
        r["v"][2] = v2
        n += 1

    def qty(leg: _Leg, level: int, noise: float) -> int:
        return max(1, int(leg.level_lots * (1 + 0.5 * level) * noise))

    # opening snapshot of every leg
    for leg in legs_state:
        f = fair[leg.inst][0]
        leg.bid = int(math.floor(f))
        leg.ask = leg.bid + 1
        leg.bids = {leg.bid - i: qty(leg, i, qty_noise[0][i]) for i in range(L2_LEVELS)}
        leg.asks = {leg.ask + i: qty(leg, i, qty_noise[0][L2_LEVELS + i]) for i in range(L2_LEVELS)}
        emit(start_ns, CLEAR, 0, leg.inst, 0, 0, flags=SNAPSHOT)
        for p, q in sorted(leg.bids.items(), reverse=True):
            emit(start_ns, DEPTH, BID, leg.inst, p, q, flags=SNAPSHOT)
        for p, q in sorted(leg.asks.items()):
            emit(start_ns, DEPTH, ASK, leg.inst, p, q, flags=SNAPSHOT)
        out["flags"][n - 1] |= END_OF_BATCH
    trade_id = 0
    for j in range(1, n_msgs):
        if n >= n_events:
            break
        leg = legs_state[int(leg_of[j])]
        ts = start_ns + int(t_s[j] * NS)
        f = fair[leg.inst][j]
        spread = leg.ask - leg.bid if u[j, 0] < 0.9 else int(spread_draw[j])
        bid = int(math.floor(f - (spread - 1) / 2.0))
        ask = bid + spread
        first = n
        if bid == leg.bid and ask == leg.ask:
            if u[j, 1] < 0.15:  # a partial trade at the touch
                side_bid = u[j, 2] < 0.5
                book, px = (leg.bids, bid) if side_bid else (leg.asks, ask)
                have = book[px]
                take = max(1, int(have * (0.05 + 0.45 * u[j, 3])))
                trade_id += 1
                emit(ts, TRADE, ASK if side_bid else BID, leg.inst, px, min(take, have), trade_id)
                if take >= have:
                    book[px] = qty(leg, 0, qty_noise[j][0])
                else:
                    book[px] = have - take
                emit(ts, DEPTH, BID if side_bid else ASK, leg.inst, px, book[px])
            else:  # one level's queue changes
                lvl = min(L2_LEVELS - 1, int(-math.log(max(u[j, 2], 1e-12)) * 1.5))
                side_bid = u[j, 3] < 0.5
                book, px = (leg.bids, bid - lvl) if side_bid else (leg.asks, ask + lvl)
                book[px] = qty(leg, lvl, qty_noise[j][1])
                emit(ts, DEPTH, BID if side_bid else ASK, leg.inst, px, book[px])
        else:
            # the touch moved: sweep trade of a touch that moved away, deletions, then new levels
            if bid < leg.bid and u[j, 1] < 0.7:
                trade_id += 1
                emit(ts, TRADE, ASK, leg.inst, leg.bid, leg.bids[leg.bid], trade_id)
            elif ask > leg.ask and u[j, 1] < 0.7:
                trade_id += 1
                emit(ts, TRADE, BID, leg.inst, leg.ask, leg.asks[leg.ask], trade_id)
            new_b = set(range(bid - L2_LEVELS + 1, bid + 1))
            new_a = set(range(ask, ask + L2_LEVELS))
            for p in sorted(set(leg.bids) - new_b, reverse=True):
                del leg.bids[p]
                emit(ts, DEPTH, BID, leg.inst, p, 0)
            for p in sorted(set(leg.asks) - new_a):
                del leg.asks[p]
                emit(ts, DEPTH, ASK, leg.inst, p, 0)
            for i, p in enumerate(sorted(new_b - set(leg.bids), reverse=True)):
                leg.bids[p] = qty(leg, bid - p, qty_noise[j][i % (2 * L2_LEVELS)])
                emit(ts, DEPTH, BID, leg.inst, p, leg.bids[p])
            for i, p in enumerate(sorted(new_a - set(leg.asks))):
                leg.asks[p] = qty(leg, p - ask, qty_noise[j][(L2_LEVELS + i) % (2 * L2_LEVELS)])
                emit(ts, DEPTH, ASK, leg.inst, p, leg.asks[p])
            leg.bid, leg.ask = bid, ask
        if n > first:
            out["flags"][n - 1] |= END_OF_BATCH
    events = out[:min(n, n_events)].copy()
    events["flags"][-1] |= END_OF_BATCH
    return instruments, events


# ------------------------------------------------------------------------------------------------
# synthetic bars


def business_days(start_ns: int, count: int, step_ns: int) -> np.ndarray:
    """``count`` bar end times from ``start_ns``: every ``step_ns``, skipping Saturday/Sunday
    when the step is one day (an exchange calendar; holidays are not modelled)."""
    if step_ns != DAY_NS:
        return start_ns + np.arange(count, dtype=np.int64) * step_ns
    day0 = start_ns // DAY_NS
    tod = start_ns - day0 * DAY_NS
    days = np.arange(day0, day0 + count * 2 + 7, dtype=np.int64)
    weekday = (days + 3) % 7  # 1970-01-01 was a Thursday (weekday 3, Monday = 0)
    days = days[weekday < 5][:count]
    return days * DAY_NS + tod


def market_bars(instruments: list[Instrument], n_bars: int, seed: int, start_ns: int, start_price: float,
                vol_annual: float, continuous: bool) -> tuple[list[Instrument], np.ndarray]:
    """Daily bars (exchange calendar, ``continuous`` false) or hourly bars (24/7 venues) for
    ``instruments``: the first from the regime-switching GBM of :func:`bar_chunks`, rescaled so
    the annualised volatility matches; every further instrument cointegrated with it
    (:func:`cointegrated_bars`), so a pair has a spread to trade. ``n_bars`` bars per
    instrument; the bars of one time come in instrument order."""
    bars_per_year = 365.25 * 24 if continuous else 252.0
    step_ns = 3_600 * NS if continuous else DAY_NS
    base = BarParams()
    rms = math.sqrt(sum(s * s for _, s in base.regimes) / len(base.regimes))
    k = vol_annual / rms
    ins = instruments[0]
    params = BarParams(symbol=ins.symbol, tick_size=str(ins.tick_size), lot_size=str(ins.lot_size),
                       start_price=start_price, start_ns=start_ns,
                       interval_ns=int(365.25 * 86_400 * NS / bars_per_year),
                       mean_regime_bars=60.0,
                       regimes=tuple((mu * k, s * k) for mu, s in base.regimes),
                       base_volume=max(1.0, 1e6 / float(ins.lot_size) / max(start_price, 1.0)))
    events = np.concatenate(list(bar_chunks(n_bars, seed, params)))
    ends = business_days(start_ns, len(events), step_ns)
    events["exch_ts"] = ends
    events["recv_ts"] = ends
    out = [Instrument(i.symbol, i.tick_size, i.lot_size, step_ns) for i in instruments]
    if len(instruments) == 1:
        return out, events
    legs = [events] + [cointegrated_bars(events, out[0], out[j], seed, j) for j in range(1, len(instruments))]
    for j, ev in enumerate(legs):
        ev["instrument"] = j
    merged = np.stack(legs, axis=1).reshape(-1)  # per time: instrument 0, 1, ...
    return out, merged


def cointegrated_bars(base: np.ndarray, base_ins: Instrument, ins: Instrument, seed: int, leg: int,
                      *, price_ratio: float = PAIR_PRICE_RATIO, spread_vol: float = PAIR_BAR_SPREAD_VOL,
                      half_life: float = PAIR_BAR_HALF_LIFE) -> np.ndarray:
    """Bars of leg ``leg`` priced ``price_ratio × base × exp(s)``: ``s`` a stationary OU
    log-spread (stdev ``spread_vol``, half-life ``half_life`` bars, exact discretisation) drawn
    from its own stream (``seed``, ``leg``), so the legs share the base's trend and regimes and
    their spread reverts. Open uses the spread at the previous close, close the current one;
    high/low bound both, on ``ins``'s tick grid; volume in ``ins``'s lots at the base's notional."""
    rng = np.random.default_rng([seed, leg])
    n = len(base)
    decay = math.exp(-math.log(2.0) / half_life)
    shocks = rng.standard_normal(n) * spread_vol * math.sqrt(1.0 - decay * decay)
    s = np.empty(n + 1)
    s[0] = rng.standard_normal() * spread_vol
    for j in range(n):  # OU, exact discretisation
        s[j + 1] = s[j] * decay + shocks[j]
    v = base["v"].astype(np.float64)
    tick = float(ins.tick_size)
    base_tick = float(base_ins.tick_size)
    scale_open = price_ratio * base_tick * np.exp(s[:-1]) / tick
    scale_close = price_ratio * base_tick * np.exp(s[1:]) / tick
    o = np.rint(v[:, 0] * scale_open).astype(np.int64)
    c = np.rint(v[:, 3] * scale_close).astype(np.int64)
    hi = np.maximum(np.rint(v[:, 1] * np.maximum(scale_open, scale_close)).astype(np.int64), np.maximum(o, c))
    lo = np.minimum(np.rint(v[:, 2] * np.minimum(scale_open, scale_close)).astype(np.int64), np.minimum(o, c))
    lot_ratio = float(base_ins.lot_size) / float(ins.lot_size)  # same notional as the base's bar
    out = base.copy()
    out["v"][:, 0] = np.maximum(1, o)
    out["v"][:, 1] = np.maximum(1, hi)
    out["v"][:, 2] = np.maximum(1, lo)
    out["v"][:, 3] = np.maximum(1, c)
    out["v"][:, 4] = np.maximum(1, np.rint(v[:, 4] * lot_ratio / price_ratio)).astype(np.int64)
    return out


def generate(kind: str = "l2", n_events: int = 10_000, seed: int = 0, params=None) -> tuple[list[Instrument], np.ndarray]:
    """All events in memory (for tests and small files)."""
    ins, chunks = _chunks(kind, n_events, seed, params)
    return [ins], np.concatenate(list(chunks))


def write_synth(path: str | os.PathLike, kind: str = "l2", n_events: int = 10_000, seed: int = 0, params=None) -> int:
    """Stream a synthetic market into ``path`` (memory stays bounded). Returns the event count."""
    ins, chunks = _chunks(kind, n_events, seed, params)
    total = 0
    with EventFileWriter(path, [ins], source=f"synth-{kind}") as w:
        for ev in chunks:
            w.append(ev)
            total += len(ev)
    return total


def _chunks(kind: str, n_events: int, seed: int, params):
    if kind == "l2":
        params = params or L2Params()
        return params.instrument(), l2_chunks(n_events, seed, params)
    if kind == "bars":
        params = params or BarParams()
        return params.instrument(), bar_chunks(n_events, seed, params)
    raise InputError(f"synth kind must be l2 or bars, was {kind!r}")


__all__ = ["BarParams", "L2Params", "bar_chunks", "business_days", "cointegrated_bars", "generate", "l2_chunks",
           "market_bars", "market_l2", "write_synth", "YEAR_S"]

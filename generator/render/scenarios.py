"""Callback tapes derived from each spec, and the behaviour its strategy must show on them.

The generated tests (templates/tests/) replay the same tape through the Python twin and the C++
plugin and check the same expectations, so both languages are held to the documented behaviour.
Nothing here is fitted to an example spec: every tape is built from the spec's own type, data kind
(bars, book, book + trades), instruments (tick and lot size per leg) and parameters or signals.

- momentum, mean_reversion, custom (directional, signal-driven): candidate price paths (falls,
  rises, reversals, shocks after a quiet spell, seeded random walks) are laid out in the
  instrument's ticks as bars or as book updates (+ trades when a signal reads them) and long
  enough for the signals' warm-up. The spec's own signals (the reference ``ref_*`` ones and the
  spec's) are evaluated on each path with the language's reference evaluator
  (``core.expr.Evaluator``), following the template's decision rule (entry only while flat,
  long before short, only the sides the spec allows). The first path on which the strategy must
  enter gives the tape; the expected decisions are that entry and, after a fill, the exit when
  the path has one. A custom strategy whose roles are written as code (no role signals) must
  submit some order on a tape that concatenates every path.
- order_book_imbalance: a book whose bid side outweighs the ask side over ``levels`` levels
  by more than ``entry_threshold``, spread within ``max_spread_ticks``: an IOC buy at the ask,
  the hold timer, and a sell when it fires.
- market_making: ``vol_window`` + a few book updates: a bid below and an ask above the mid.
- stat_arb: two legs (bars or books, each in its own ticks) that move together, then a jump of
  leg 1 that puts the spread's z-score above ``entry_z``: sell leg 1, buy leg 2 (sized by the
  hedge ratio and the lot sizes).

An expectation is ``(op, inst, side)``: the decision records must contain matching decisions in
this order (other decisions may come between). A spec for which no tape makes its strategy act is
refused with :class:`ScenarioError` naming why: an empty expectation list would be a test that
cannot fail.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from typing import Any

from stratforge.core.errors import UserInputError
from stratforge.core.expr import Evaluator
from stratforge.core.expr.catalog import MAX_LEVELS, depth_series
from stratforge.core.expr.evaluator import Zscore
from stratforge.runtime.twin.abi import SF_SIDE_BUY, SF_SIDE_SELL

from .context import StrategyContext
from .signal_codegen import RenderError

__all__ = ["scenario", "ScenarioError"]

SEC = 1_000_000_000
#: Updates after the warm-up on each candidate path.
_TAIL = 60
#: At most this many updates per candidate path (the tape goes into the bundle).
_MAX_UPDATES = 20_000


class ScenarioError(RenderError, UserInputError):
    """No callback tape can show the spec's documented behaviour (its strategy never acts): a
    problem of the spec, reported as the render step's failure, never as an internal error."""


def _book(t: int, inst: int, bid: int, ask: int, bq: int, aq: int, pos: list[int],
          levels: dict | None = None) -> dict[str, Any]:
    rec = {"cb": "book", "t": t, "pos": list(pos), "book": {
        "exch_ts": t, "recv_ts": t, "instrument": inst, "flags": 0, "bid_px": bid, "bid_qty": bq, "ask_px": ask,
        "ask_qty": aq, "bid_levels": 1, "ask_levels": 1}}
    if levels is not None:
        rec["levels"] = levels
        rec["book"]["bid_levels"] = len(levels["bid"])
        rec["book"]["ask_levels"] = len(levels["ask"])
    return rec


def _bar(t: int, close: int, pos: list[int], inst: int = 0, open_: int | None = None,
         volume: int = 1000) -> dict[str, Any]:
    o = close if open_ is None else open_
    return {"cb": "bar", "t": t, "pos": list(pos), "bar": {
        "end_ts": t, "recv_ts": t, "instrument": inst, "open": o, "high": max(o, close), "low": min(o, close),
        "close": close, "volume": volume}}


def _trade(t: int, px: int, qty: int, pos: list[int], side: int = SF_SIDE_BUY) -> dict[str, Any]:
    return {"cb": "trade", "t": t, "pos": list(pos), "trade": {
        "exch_ts": t, "recv_ts": t, "instrument": 0, "side": side, "px": px, "qty": qty, "trade_id": 0}}


def _fill(t: int, side: int, px: int, qty: int, position: int, order_id: int, inst: int = 0,
          n_inst: int = 1) -> dict[str, Any]:
    pos = [0] * n_inst
    pos[inst] = position
    return {"cb": "fill", "t": t, "pos": pos, "fill": {
        "ts": t, "order_id": order_id, "instrument": inst, "side": side, "liquidity": 2, "px": px, "qty": qty,
        "leaves_qty": 0, "position": position, "fee": 0.0}}


def _param(ctx: StrategyContext, name: str) -> Any:
    for p in ctx.params:
        if p.name == name:
            return p.value
    raise ScenarioError(f"Invariant: parameter {name} missing from the {ctx.type} context")


def _base_ticks(tick_e9: int, quote_units: float = 100.0) -> int:
    """About ``quote_units`` of quote currency in the instrument's ticks (at least 2,000 ticks so
    a 0.05% step is a whole tick)."""
    return max(2_000, int(round(quote_units * 1e9 / tick_e9)))


# ------------------------------------------------------------------------------------------------
# directional, signal-driven types: momentum, mean_reversion, custom


def _warmup(ctx: StrategyContext) -> int:
    return max([int(e.warmup) for e in ctx.sigset.exprs.values()] + [1])


def _paths(n_warm: int, base: int) -> Iterator[tuple[str, list[int]]]:
    """Candidate price paths (ticks), each long enough to warm the signals up."""
    step = max(1, base // 2000)  # 0.05% per update
    w = n_warm + 5
    quiet = [base + (step if i % 2 else 0) for i in range(w)]
    yield "fall-then-rise", [base - 2 * step * i for i in range(w)] + \
        [base - 2 * step * w + 6 * step * (i + 1) for i in range(w + _TAIL)]
    yield "rise-then-fall", [base + 2 * step * i for i in range(w)] + \
        [base + 2 * step * w - 6 * step * (i + 1) for i in range(w + _TAIL)]
    for k in (8, 40, 200):
        drop = quiet + [quiet[-1] - k * step] + [quiet[-1] - k * step + step * (i + 1) * k // 10 for i in range(_TAIL)]
        jump = quiet + [quiet[-1] + k * step] + [quiet[-1] + k * step - step * (i + 1) * k // 10 for i in range(_TAIL)]
        yield f"quiet-then-drop-{k}", drop
        yield f"quiet-then-jump-{k}", jump
    for seed in range(4):
        rng = random.Random(seed)
        px, out = base, []
        for _ in range(w + 4 * _TAIL):
            px = max(base // 2, px + rng.choice((-3, -2, -1, 0, 1, 2, 3)) * step)
            out.append(px)
        yield f"random-walk-{seed}", out


def _px(ticks: float, tick_e9: int) -> float:
    return ticks * float(tick_e9) * 1e-9


def _sz(lots: int, lot_e9: int) -> float:
    return float(lots) * float(lot_e9) * 1e-9


class _SignalOracle:
    """The spec's signals through the reference evaluator, fed as the template feeds them."""

    def __init__(self, ctx: StrategyContext) -> None:
        self.names = list(ctx.sigset.names)
        self.evals = {n: Evaluator(ctx.sigset.exprs[n]) for n in self.names}
        self.tick = ctx.instruments[0]["tick_size_e9"]
        self.lot = ctx.instruments[0]["lot_size_e9"]
        self.inp: dict[str, float | None] = {s: None for s in ("mid", "spread", "bid", "ask", "bid_size", "ask_size",
                                                               "microprice", "last", "last_size", "open", "high",
                                                               "low", "close", "volume")}
        self.inp["last_size"] = 0.0
        self.values: dict[str, Any] = {}
        # the strategy's own position state, as the templates' PositionTrack keeps it from fills
        self.lots, self.avg_ticks, self.since_ns, self.updates, self.now_ns = 0, 0.0, 0, 0, 0

    def filled(self, lots_after: int, px_ticks: int, ts_ns: int) -> None:
        """The strategy's position after a fill that opened it (the scenario opens from flat)."""
        self.lots, self.avg_ticks, self.since_ns, self.updates = lots_after, float(px_ticks), ts_ns, 0

    def _position_series(self) -> None:
        i = self.inp
        if self.lots == 0:
            i["position"], i["entry_price"] = 0.0, float("nan")
            i["time_in_position"] = i["bars_in_position"] = 0.0
            return
        self.updates += 1
        i["position"] = _sz(self.lots, self.lot)
        i["entry_price"] = _px(self.avg_ticks, self.tick)
        i["time_in_position"] = float(self.now_ns - self.since_ns) * 1e-9
        i["bars_in_position"] = float(self.updates)

    def update(self) -> None:
        self._position_series()
        vals: dict[str, Any] = {}
        for n in self.names:
            vals[n] = self.evals[n].update({**self.inp, **vals})
        self.values = vals

    def book(self, bid: int, ask: int, bq: int, aq: int, levels: dict | None = None) -> None:
        i, t, lot = self.inp, self.tick, self.lot
        # depth series: total size of the best k levels per side (fewer when the book has fewer)
        for side, top in (("bid", bq), ("ask", aq)):
            sizes = [q for _, q in levels[side]] if levels else [top]
            for k in range(2, MAX_LEVELS + 1):
                i[depth_series(side, k)] = _sz(sum(sizes[:k]), lot)
        i["bid"], i["ask"] = _px(float(bid), t), _px(float(ask), t)
        i["bid_size"], i["ask_size"] = _sz(bq, lot), _sz(aq, lot)
        i["mid"] = _px(0.5 * float(bid + ask), t)
        i["spread"] = _px(float(ask - bid), t)
        den = i["bid_size"] + i["ask_size"]
        num = i["bid"] * i["ask_size"] + i["ask"] * i["bid_size"]
        i["microprice"] = float("nan") if den == 0.0 else num / den
        i["last_size"] = 0.0
        self.update()

    def trade(self, px: int, qty: int) -> None:
        self.inp["last"] = _px(float(px), self.tick)
        self.inp["last_size"] = _sz(qty, self.lot)
        self.update()
        self.inp["last_size"] = 0.0

    def bar(self, b: dict[str, int]) -> None:
        for k in ("open", "high", "low", "close"):
            self.inp[k] = _px(float(b[k]), self.tick)
        self.inp["volume"] = _sz(b["volume"], self.lot)
        self.update()

    def role(self, ctx: StrategyContext, name: str) -> bool:
        sig = ctx.roles.get(name)
        return sig is not None and self.values.get(sig) is True


def _directional(ctx: StrategyContext) -> tuple[list[dict[str, Any]], list[tuple[str, int, int]]]:
    tick = ctx.instruments[0]["tick_size_e9"]
    base = _base_ticks(tick)
    qty = int(_param(ctx, "order_qty_lots"))
    allow_long, allow_short = bool(_param(ctx, "allow_long")), bool(_param(ctx, "allow_short"))
    stop_bps = float(_param(ctx, "stop_loss_bps"))
    coded = all(ctx.roles.get(r) is None for r in ("entry_long", "entry_short"))
    n_warm = _warmup(ctx)
    if n_warm > _MAX_UPDATES:
        raise ScenarioError(f"the signals need {n_warm} updates to warm up; the generated test's tape holds at "
                            f"most {_MAX_UPDATES} (shorten the windows)")
    trades = "trade" in ctx.update_on
    if coded:
        # roles written as code (no role signals): every candidate path in one tape; any order
        tape: list[dict[str, Any]] = []
        t0 = 0
        for flavour in (("balanced", "bid-heavy", "ask-heavy") if ctx.data == "book" else ("bars",)):
            for _, path in _paths(n_warm, base):
                recs = _lay_out(ctx, path, trades, t0, flavour)
                tape += recs
                t0 = recs[-1]["t"] + SEC
        return tape, [("submit", 0, 0)]
    tried = []
    for name, path in _paths(n_warm, base):
        # bars: a constant volume first, then one that follows the size of each move (a spike on a
        # shock), so an entry that needs heavy volume can be met too
        for flavour in (("balanced", "bid-heavy", "ask-heavy") if ctx.data == "book" else ("bars", "bars-active")):
            tried.append(f"{name}/{flavour}")
            recs = _lay_out(ctx, path, trades, 0, flavour)
            found = _first_decisions(ctx, recs, qty, allow_long, allow_short, stop_bps)
            if found is not None:
                return found
    sides = "long or short" if allow_long and allow_short else "long" if allow_long else "short"
    raise ScenarioError(
        f"no derived market makes this {ctx.type} strategy enter {sides}: its entry signals "
        f"({', '.join(str(ctx.roles.get(r)) for r in ('entry_long', 'entry_short'))}) never hold on "
        f"{len(tried)} candidate paths (falls, rises, shocks, random walks"
        f"{'; a flat volume and one that follows each move' if ctx.data == 'bars' else ''}) — check the "
        f"signals and thresholds")


def _lay_out(ctx: StrategyContext, path: list[int], trades: bool, t0: int, flavour: str) -> list[dict[str, Any]]:
    """A price path as bars, or as book updates (one trade at the touch after each when the signals
    read trades). ``flavour`` sets the book's size balance."""
    out: list[dict[str, Any]] = []
    lot_e9 = ctx.instruments[0]["lot_size_e9"]
    unit = max(1, int(1e9 // lot_e9))  # about one base unit, in lots
    bq, aq = {"balanced": (10 * unit, 10 * unit), "bid-heavy": (90 * unit, 10 * unit),
              "ask-heavy": (10 * unit, 90 * unit), "bars": (0, 0), "bars-active": (0, 0)}[flavour]
    step = max(1, path[0] // 2000)  # _paths' unit move
    prev = path[0]
    for k, px in enumerate(path):
        t = t0 + (k + 1) * SEC
        if ctx.data == "bars":
            volume = 1000 * (1 + 4 * abs(px - prev) // step) if flavour == "bars-active" else 1000
            out.append(_bar(t, px, [0], open_=prev, volume=volume))
        else:
            lv = {"bid": [[px - 1 - d, bq] for d in range(5)], "ask": [[px + d, aq] for d in range(5)]}
            out.append(_book(t, 0, px - 1, px, bq, aq, [0], lv))
            if trades:
                side = SF_SIDE_BUY if px >= prev else SF_SIDE_SELL
                out.append(_trade(t + SEC // 2, px if side == SF_SIDE_BUY else px - 1, 5 * unit, [0], side))
        prev = px
    return out


def _first_decisions(ctx: StrategyContext, recs: list[dict[str, Any]], qty: int, allow_long: bool,
                     allow_short: bool, stop_bps: float):
    """The template's decision rule on ``recs``: the first entry (then, after its fill, the exit),
    or None when the strategy never enters."""
    oracle = _SignalOracle(ctx)
    pos = 0
    entry_x2 = 0
    bid = ask = None
    out: list[dict[str, Any]] = []
    expect: list[tuple[str, int, int]] = []
    for rec in recs:
        rec = dict(rec, pos=[pos])
        out.append(rec)
        oracle.now_ns = rec["t"]
        if rec["cb"] == "bar":
            oracle.bar(rec["bar"])
            px_x2 = 2 * rec["bar"]["close"]
        elif rec["cb"] == "book":
            b = rec["book"]
            oracle.book(b["bid_px"], b["ask_px"], b["bid_qty"], b["ask_qty"], rec.get("levels"))
            bid, ask = b["bid_px"], b["ask_px"]
            px_x2 = bid + ask
        else:
            tr = rec["trade"]
            oracle.trade(tr["px"], tr["qty"])
            px_x2 = bid + ask
        ref = _obi_reference(ctx, rec) if ctx.type == "order_book_imbalance" else {}
        r = {n: oracle.role(ctx, n) if ctx.roles.get(n) is not None else ref.get(n, False)
             for n in ("entry_long", "exit_long", "entry_short", "exit_short")}
        if pos == 0:
            side = SF_SIDE_BUY if allow_long and r["entry_long"] else \
                SF_SIDE_SELL if allow_short and r["entry_short"] else 0
            if not side:
                continue
            expect.append(("submit", 0, side))
            fill_px = rec["bar"]["close"] if rec["cb"] == "bar" else (ask if side == SF_SIDE_BUY else bid)
            pos = qty if side == SF_SIDE_BUY else -qty
            entry_x2 = px_x2
            out.append(_fill(rec["t"] + 1, side, fill_px, qty, pos, order_id=1))
            oracle.filled(pos, fill_px, rec["t"] + 1)
            continue
        stop = False
        if stop_bps > 0.0 and entry_x2 > 0:
            band = stop_bps / 10000.0
            stop = float(px_x2) <= float(entry_x2) * (1.0 - band) if pos > 0 else \
                float(px_x2) >= float(entry_x2) * (1.0 + band)
        if (pos > 0 and (r["exit_long"] or stop)) or (pos < 0 and (r["exit_short"] or stop)):
            expect.append(("submit", 0, SF_SIDE_SELL if pos > 0 else SF_SIDE_BUY))
            return out, expect
    if not expect:
        return None
    return out, expect


def _obi_reference(ctx: StrategyContext, rec: dict[str, Any]) -> dict[str, bool]:
    """The imbalance template's reference conditions on a book record (none on trades)."""
    if rec["cb"] != "book" or "levels" not in rec:
        return {}
    b, lv = rec["book"], rec["levels"]
    if b["ask_px"] <= b["bid_px"]:
        return {}
    n = int(_param(ctx, "levels"))
    bid_sum = sum(q for _, q in lv["bid"][:n])
    ask_sum = sum(q for _, q in lv["ask"][:n])
    if bid_sum + ask_sum <= 0:
        return {}
    imb = float(bid_sum - ask_sum) / float(bid_sum + ask_sum)
    spread_ok = b["ask_px"] - b["bid_px"] <= int(_param(ctx, "max_spread_ticks"))
    th, ex = float(_param(ctx, "entry_threshold")), float(_param(ctx, "exit_threshold"))
    return {"entry_long": spread_ok and imb >= th, "entry_short": spread_ok and imb <= -th,
            "exit_long": imb < ex, "exit_short": imb > -ex}


# ------------------------------------------------------------------------------------------------
# order-book imbalance, market making, pairs


def _obi(ctx: StrategyContext) -> tuple[list[dict[str, Any]], list[tuple[str, int, int]]]:
    tick = ctx.instruments[0]["tick_size_e9"]
    base = _base_ticks(tick)
    qty = int(_param(ctx, "order_qty_lots"))
    levels = int(_param(ctx, "levels"))
    th = float(_param(ctx, "entry_threshold"))
    hold = int(_param(ctx, "hold_ns"))
    if ctx.roles.get("entry_long") is not None or ctx.roles.get("entry_short") is not None:
        return _directional(ctx)  # its own entry signals decide: the signal oracle (+ the reference rule)
    # per level: ask 1 lot, bid heavy enough that (B - A) / (B + A) >= entry_threshold
    heavy = int(math.ceil((1.0 + th) / (1.0 - th))) + 1
    lv = {"bid": [[base - 1 - d, heavy] for d in range(max(levels, 1))],
          "ask": [[base + d, 1] for d in range(max(levels, 1))]}
    tape = [_book(SEC, 0, base - 1, base, heavy, 1, [0], lv)]
    tape.append(_fill(SEC + 1, SF_SIDE_BUY, base, qty, qty, order_id=1))
    tape.append({"cb": "timer", "t": SEC + hold, "pos": [qty], "timer": 1})
    return tape, [("submit", 0, SF_SIDE_BUY), ("set_timer", 0, 0), ("submit", 0, SF_SIDE_SELL)]


def _market_making(ctx: StrategyContext) -> tuple[list[dict[str, Any]], list[tuple[str, int, int]]]:
    base = _base_ticks(ctx.instruments[0]["tick_size_e9"])
    n = int(ctx.consts["vol_window"]) + 5
    tape = []
    for i in range(n):
        mid = base + (3 if i % 2 else 0) + (i // 50) % 3
        tape.append(_book((i + 1) * SEC // 10, 0, mid - 1, mid + 1, 10, 10, [0]))
    return tape, [("submit", 0, SF_SIDE_BUY), ("submit", 0, SF_SIDE_SELL)]


class _Ols:
    """The template's RollingOls (slope of y on x over the last n pairs, exact re-sum every n)."""

    def __init__(self, n: int) -> None:
        self.n, self.xs, self.ys = n, [0.0] * n, [0.0] * n
        self.head = self.count = self.since_exact = 0
        self.sx = self.sy = self.sxx = self.sxy = 0.0

    def update(self, y: float, x: float) -> float | None:
        h = self.head
        if self.count == self.n:
            self.sx -= self.xs[h]
            self.sy -= self.ys[h]
            self.sxx -= self.xs[h] * self.xs[h]
            self.sxy -= self.xs[h] * self.ys[h]
        else:
            self.count += 1
        self.xs[h], self.ys[h] = x, y
        self.sx += x
        self.sy += y
        self.sxx += x * x
        self.sxy += x * y
        self.head = (self.head + 1) % self.n
        self.since_exact += 1
        if self.since_exact == self.n:
            self.since_exact = 0
            self.sx = self.sy = self.sxx = self.sxy = 0.0
            for k in range(self.count):
                self.sx += self.xs[k]
                self.sy += self.ys[k]
                self.sxx += self.xs[k] * self.xs[k]
                self.sxy += self.xs[k] * self.ys[k]
        if self.count < self.n:
            return None
        n = float(self.n)
        den = n * self.sxx - self.sx * self.sx
        return (n * self.sxy - self.sx * self.sy) / den if den > 0.0 else None


def _pair(ctx: StrategyContext) -> tuple[list[dict[str, Any]], list[tuple[str, int, int]]]:
    (tick1, lot1), (tick2, lot2) = ((i["tick_size_e9"], i["lot_size_e9"]) for i in ctx.instruments)
    qty = int(_param(ctx, "order_qty_lots"))
    rolling = bool(ctx.consts["rolling_ols"])
    n = int(ctx.consts["window"]) + (int(ctx.consts["ols_window"]) if rolling else 0) + 5
    # leg 2 near 100 quote units; leg 1 = beta * leg 2 + a stationary spread, beta so that the
    # hedge leg is at least one lot of leg 2
    beta = max(1.0, 2.0 * lot2 / (qty * lot1)) if rolling else float(_param(ctx, "hedge_ratio"))
    p2_0 = 100.0
    p1_0 = beta * p2_0 + 10.0
    noise = max(2 * tick1, 2 * int(beta * tick2)) * 1e-9  # the spread wiggles by a few ticks of either leg
    tried = 0
    # leg 2 swings by tens of its ticks, or by more when leg 1's ticks are coarse (so the OLS slope
    # is not moved by the jump); leg 1 then jumps up or down by a large or a moderate amount
    for amp2 in (max(1.0, 40 * tick2 * 1e-9), max(10.0, 400 * tick2 * 1e-9, 40 * tick1 * 1e-9 / beta)):
        for sign in (1.0, -1.0):
            for size in (max(50 * noise, p1_0 * 0.2), max(10 * noise, p1_0 * 0.02)):
                tried += 1
                recs = _pair_tape(ctx, n, beta, p2_0, amp2, noise, sign * size)
                first = _pair_entry(ctx, recs, qty, rolling)
                if first is not None:
                    k, sides = first
                    return recs[:k + 1], [("submit", 0, sides[0]), ("submit", 1, sides[1])]
    raise ScenarioError(f"no derived market makes this pair enter ({tried} candidate tapes): the z-score of the "
                        f"spread over {ctx.consts['window']} updates never passes entry_z, or the hedge leg rounds "
                        f"to 0 lots of {ctx.instruments[1]['symbol']}")


def _pair_tape(ctx: StrategyContext, n: int, beta: float, p2_0: float, amp2: float, noise: float,
               jump: float) -> list[dict[str, Any]]:
    """Leg 2 around ``p2_0``, leg 1 = beta * leg 2 + 10 + a small wiggle, n updates of each (leg
    2 first), then leg 1 alone moves by ``jump`` (quote units); prices in each leg's own ticks."""
    (tick1, _), (tick2, _) = ((i["tick_size_e9"], i["lot_size_e9"]) for i in ctx.instruments)
    recs: list[dict[str, Any]] = []

    def emit(t: int, inst: int, price: float, tick: int) -> None:
        ticks = max(2, int(round(price * 1e9 / tick)))
        if ctx.data == "bars":
            recs.append(_bar(t, ticks, [0, 0], inst=inst))
        else:
            recs.append(_book(t, inst, ticks - 1, ticks + 1, 10, 10, [0, 0]))

    p2 = p2_0
    for i in range(n):
        p2 = p2_0 + amp2 * math.sin(i / 37.0)
        p1 = beta * p2 + 10.0 + noise * math.sin(i / 5.0)
        emit(2 * i * SEC // 10, 1, p2, tick2)
        emit((2 * i + 1) * SEC // 10, 0, p1, tick1)
    emit(2 * n * SEC // 10, 0, beta * p2 + 10.0 + jump, tick1)
    return recs


def _pair_entry(ctx: StrategyContext, recs: list[dict[str, Any]], qty: int, rolling: bool):
    """The template's pair rule on ``recs``: (record index, (side leg 1, side leg 2)) of the first
    entry, or None."""
    ticks = [i["tick_size_e9"] for i in ctx.instruments]
    lots = [i["lot_size_e9"] for i in ctx.instruments]
    entry_z = float(_param(ctx, "entry_z"))
    hr = float(_param(ctx, "hedge_ratio"))
    z = Zscore(int(ctx.consts["window"]))
    ols = _Ols(int(ctx.consts["ols_window"])) if rolling else None
    oracle = _SignalOracle(ctx)  # the spec's own role signals, on leg 1's series
    mid_x2: list[int | None] = [None, None]
    for k, rec in enumerate(recs):
        b = rec.get("book") or rec["bar"]
        leg = b["instrument"]
        if leg == 0:
            if "bid_px" in b:
                oracle.book(b["bid_px"], b["ask_px"], b["bid_qty"], b["ask_qty"], rec.get("levels"))
            else:
                oracle.bar(b)
        mid_x2[leg] = b["bid_px"] + b["ask_px"] if "bid_px" in b else 2 * b["close"]
        if mid_x2[0] is None or mid_x2[1] is None:
            continue
        x1 = _px(float(mid_x2[0]) * 0.5, ticks[0])
        x2 = _px(float(mid_x2[1]) * 0.5, ticks[1])
        beta = ols.update(x1, x2) if ols is not None else hr
        if beta is None or not math.isfinite(beta):
            continue
        spread = x1 - beta * x2
        if not math.isfinite(spread):
            continue
        zv = z.update(spread)
        if zv is None:
            continue
        long_ = oracle.role(ctx, "entry_long") if ctx.roles.get("entry_long") is not None else zv < -entry_z
        short = oracle.role(ctx, "entry_short") if ctx.roles.get("entry_short") is not None else zv > entry_z
        if not (long_ or short):
            continue
        q2 = math.floor(beta * (float(qty) * float(lots[0])) / float(lots[1]) + 0.5)
        if q2 < 1:
            continue
        return k, ((SF_SIDE_BUY, SF_SIDE_SELL) if long_ else (SF_SIDE_SELL, SF_SIDE_BUY))
    return None


_BUILDERS: dict[str, Callable[[StrategyContext], tuple[list[dict[str, Any]], list[tuple[str, int, int]]]]] = {
    "momentum": _directional, "mean_reversion": _directional, "custom": _directional,
    "order_book_imbalance": _obi, "market_making": _market_making, "stat_arb": _pair,
}


def scenario(ctx: StrategyContext) -> tuple[list[dict[str, Any]], list[tuple[str, int, int]]]:
    """``(tape, expectations)`` for the strategy: never an empty expectation list."""
    build = _BUILDERS.get(ctx.type)
    if build is None:
        raise ScenarioError(f"Invariant: no scenario for strategy type {ctx.type}")
    tape, expect = build(ctx)
    if not expect:
        raise ScenarioError(f"Invariant: the {ctx.type} scenario expects no decision: its test could not fail")
    return tape, expect

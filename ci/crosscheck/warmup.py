"""Warm-up requirements of a generated strategy, derived as the generator compiles its spec.

Shared by the bar checks (:mod:`.bias`) and the L2 checks (:mod:`.bias_l2`): what must be
counted (signal updates, bars, trades, two-sided books, pair updates) before a gated order.
"""

from __future__ import annotations

from dataclasses import dataclass

from stratforge.core.spec import SpecLike, as_loaded_spec
from stratforge.generator.render import render_context

__all__ = ["DIRECTIONAL_TYPES", "KIND_TEXT", "WarmupNeed", "WarmupPlan", "warmup_plan"]

DIRECTIONAL_TYPES = frozenset({"momentum", "mean_reversion", "order_book_imbalance", "custom"})


#: What each counted update kind is, in reports.
KIND_TEXT = {
    "signal": "signal update(s)",
    "trade": "trade(s)",
    "quote": "two-sided book update(s)",
    "pair": "pair update(s) (a book or bar of either leg, both legs priced)",
    "bar": "bar update(s)",
}


@dataclass(frozen=True)
class WarmupNeed:
    """``count`` updates of ``kind`` must precede a gated order on a side in ``sides``."""

    kind: str
    count: int
    why: str
    sides: frozenset[str] = frozenset({"long", "short"})


@dataclass(frozen=True)
class WarmupPlan:
    type: str
    data: str  # "bars" | "book"
    needs: tuple[WarmupNeed, ...] = ()
    every_submit: bool = False  # market making: every quote needs the warm estimate
    signal_kinds: tuple[str, ...] = ("book",)  # callbacks that update the signals
    note: str = ""

    @property
    def required(self) -> bool:
        return bool(self.needs)

    def describe(self) -> str:
        if not self.needs:
            return self.note
        return "; ".join(f"{n.why} needs {n.count} {KIND_TEXT[n.kind]}" for n in self.needs)


def _stateful(name: str, exprs: dict) -> list:
    """Stateful nodes of signal ``name`` and of every signal it reads (transitively)."""
    out, seen, todo = [], set(), [name]
    while todo:
        n = todo.pop()
        if n in seen or n not in exprs:
            continue
        seen.add(n)
        out.extend(exprs[n].stateful_nodes)
        todo.extend(exprs[n].signals_used)
    return out


def _signal_needs(name: str, exprs: dict, sides: frozenset[str], kind: str) -> list[WarmupNeed]:
    e = exprs[name]
    needs = []
    if int(e.warmup) > 0:
        needs.append(WarmupNeed(kind, int(e.warmup), f"signal {name}", sides))
    for node in _stateful(name, exprs):
        if node.function == "vwap" and int(node.own_warmup) > 0:  # vwap counts trades, not updates
            needs.append(WarmupNeed("trade", int(node.own_warmup), f"signal {name} ({node.source})", sides))
    return needs


def _merge(needs: list[WarmupNeed]) -> tuple[WarmupNeed, ...]:
    """Keep, per (kind, sides), the largest count."""
    best: dict[tuple, WarmupNeed] = {}
    for n in needs:
        key = (n.kind, n.sides)
        if key not in best or n.count > best[key].count:
            best[key] = n
    return tuple(sorted(best.values(), key=lambda n: (n.kind, sorted(n.sides), n.count)))


def warmup_plan(spec: SpecLike) -> WarmupPlan:
    """The warm-up requirements of the strategy the generator builds from ``spec``."""
    ctx = render_context(as_loaded_spec(spec), build_id="warmup")
    exprs = dict(ctx.sigset.exprs)
    directional = ctx.type in DIRECTIONAL_TYPES
    kind = "bar" if ctx.data == "bars" else "signal"
    sig_kinds = tuple(ctx.update_on) if directional else ("book",)
    needs: list[WarmupNeed] = []
    role_given = directional and any(ctx.roles.get(f"entry_{s}") for s in ("long", "short"))
    if role_given:
        for side in ("long", "short"):
            name = ctx.roles.get(f"entry_{side}")
            if name:
                needs += _signal_needs(name, exprs, frozenset({side}), kind)
    else:
        for name in exprs:
            needs += _signal_needs(name, exprs, frozenset({"long", "short"}), kind)
    if ctx.type == "market_making":
        vw = int(ctx.consts["vol_window"])
        needs.append(WarmupNeed("quote", vw + 1, f"volatility estimate (vol_window {vw}: {vw} returns)"))
    elif ctx.type == "stat_arb":
        w = int(ctx.consts["window"])
        if ctx.consts.get("rolling_ols"):
            ow = int(ctx.consts["ols_window"])
            needs.append(WarmupNeed("pair", ow + w - 1, f"spread z-score (rolling OLS window {ow}, then z window {w})"))
        else:
            needs.append(WarmupNeed("pair", w, f"spread z-score (window {w})"))
    note = ""
    if not needs:
        why = ("the order-book imbalance is computed from the current book only"
               if ctx.type == "order_book_imbalance" else "no stateful signal or estimator")
        note = f"no warm-up required: {ctx.type} strategy with no signals needing history ({why})"
    return WarmupPlan(ctx.type, ctx.data, _merge(needs), every_submit=ctx.type == "market_making",
                      signal_kinds=sig_kinds, note=note)



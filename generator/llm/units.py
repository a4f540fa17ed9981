"""A conservative units check for model answers: a price compared with (or added to) a percentage,
a tick count, or a time in seconds compared with minutes, hours or nanoseconds.

The expression language has no units, so a small model's commonest meaning slip — issue 16's
``change(close, ret_bars) <= -entry_ret_pct``, a price difference against a percentage — type-checks.
This check infers units only where they are certain and flags only a direct comparison between a
price-valued side and a side that is a percentage or basis-point parameter (named ``*_pct``,
``*_percent`` or ``*_bps``, possibly negated or scaled by a literal), and a price or
``time_in_position`` (seconds) compared directly with a parameter whose name states ticks, minutes,
hours, or milli/micro/nanoseconds (``max_spread_ticks``, ``hold_minutes``, ``hold_ns``) without a
conversion (any scaling by a literal counts as one). Anything it cannot be sure of
is left alone: it feeds a repair round back to the model, so a false alarm would cost an answer
that was right. It is not part of the language checker (``core/expr``), which stays exact.
"""

from __future__ import annotations

from typing import Mapping

from stratforge.core.expr import Binary, BoolLit, Call, FloatLit, IntLit, Name, Node, Unary, parse, to_source
from stratforge.core.expr.nodes import COMPARISONS

__all__ = ["units_problems"]

PRICE, PCT, BPS, LIT = "price", "percent", "basis points", "literal"
SECONDS = "seconds"
#: units a parameter's name can state that need a conversion before they meet a price or a time:
#: (unit, how to convert it). Scaling one by a literal is taken as that conversion (its unit is then
#: unknown), so ``hold_min * 60`` and ``max_spread_ticks * 0.01`` pass.
CONVERT = {"ticks": "multiply by the tick size (e.g. max_spread_ticks * 0.01 when one tick is 0.01)",
           "minutes": "multiply by 60 (time_in_position is in seconds)",
           "hours": "multiply by 3600 (time_in_position is in seconds)",
           "milliseconds": "divide by 1000 (time_in_position is in seconds)",
           "microseconds": "divide by 1000000 (time_in_position is in seconds)",
           "nanoseconds": "divide by 1000000000 (time_in_position is in seconds)"}
_SUFFIX = {("_ticks", "_tick"): "ticks", ("_mins", "_minutes", "_minute"): "minutes",
           ("_hours", "_hour"): "hours", ("_ms", "_millis"): "milliseconds",
           ("_us", "_micros"): "microseconds", ("_ns", "_nanos"): "nanoseconds"}
#: series whose values are prices
PRICE_SERIES = frozenset({"mid", "bid", "ask", "microprice", "last", "open", "high", "low", "close",
                          "entry_price", "spread"})
#: functions whose value is in the unit of their first argument
SAME_UNIT = frozenset({"ema", "sma", "std", "rolling_min", "rolling_max", "rolling_median",
                       "rolling_quantile", "lag", "change", "abs"})


def _param_unit(name: str) -> str | None:
    low = name.lower()
    if low.endswith(("_pct", "_percent")) or low.startswith("pct_"):
        return PCT
    if low.endswith("_bps") or low.startswith("bps_"):
        return BPS
    for suffixes, unit in _SUFFIX.items():
        if low.endswith(suffixes):
            return unit
    return None


def _unit(node: Node, params: Mapping[str, object]) -> str | None:
    if isinstance(node, IntLit | FloatLit):
        return LIT
    if isinstance(node, Name):
        if node.id in PRICE_SERIES:
            return PRICE
        if node.id == "time_in_position":
            return SECONDS
        return _param_unit(node.id) if node.id in params else None
    if isinstance(node, Unary):
        return _unit(node.operand, params) if node.op == "-" else None
    if isinstance(node, Call):
        if node.func == "vwap":
            return PRICE
        if node.func in SAME_UNIT and node.args:
            return _unit(node.args[0], params)
        if node.func in ("min", "max") and len(node.args) == 2:
            a, b = (_unit(x, params) for x in node.args)
            return a if a == b else None
        return None
    if isinstance(node, Binary):
        a, b = _unit(node.left, params), _unit(node.right, params)
        if node.op in ("+", "-"):
            return a if a == b else None
        if node.op == "*":  # scaled by a literal: the other side's unit (a conversion: unknown)
            unit = b if a == LIT else a if b == LIT else None
            return None if unit in CONVERT else unit
        if node.op == "/":
            return a if b == LIT and a != LIT and a not in CONVERT else None
    return None


def _wrong_scale(node: Binary, params: Mapping[str, object]) -> str | None:
    """``x_bps / 100`` or ``x_pct / 10000``: a percentage or basis-point parameter divided by the
    other unit's scale; ``x_bps * 10000`` or ``x_pct * 100``: one multiplied by its own scale,
    which turns a fraction into the unit, never the unit into a fraction."""
    if node.op == "*":
        for name, lit in ((node.left, node.right), (node.right, node.left)):
            if isinstance(name, Name) and name.id in params and isinstance(lit, IntLit | FloatLit):
                unit, by = _param_unit(name.id), float(lit.value)
                if (unit, by) in ((BPS, 10000.0), (PCT, 100.0)):
                    return (f"'{to_source(node)}': {name.id} is already in {unit}; multiplying it by "
                            f"{lit.value} does not make a fraction of it: divide by {lit.value} "
                            f"(a move of {name.id} from a price x is x * (1 + {name.id} / {lit.value}))")
        return None
    if node.op != "/" or not isinstance(node.left, Name) or node.left.id not in params:
        return None
    if not isinstance(node.right, IntLit | FloatLit):
        return None
    unit, by = _param_unit(node.left.id), float(node.right.value)
    name = node.left.id
    if unit == BPS and by == 100.0:
        return (f"'{to_source(node)}': {name} is in basis points (hundredths of a percent): "
                f"divide by 10000 for a fraction, i.e. write {name} / 10000 where you wrote {to_source(node)}")
    if unit == PCT and by == 10000.0:
        return (f"'{to_source(node)}': {name} is in percent: divide by 100 for a fraction, i.e. write "
                f"{name} / 100 where you wrote {to_source(node)}")
    return None


#: series whose values are price levels (spread is a price difference: a fraction of it is fine)
LEVEL_SERIES = PRICE_SERIES - {"spread"}
#: functions whose value is a level when their first argument is one
LEVEL_FUNCS = frozenset({"ema", "sma", "rolling_min", "rolling_max", "rolling_median", "rolling_quantile", "lag"})


def _is_level(node: Node) -> bool:
    if isinstance(node, Name):
        return node.id in LEVEL_SERIES
    if isinstance(node, Call):
        return node.func == "vwap" or (node.func in LEVEL_FUNCS and bool(node.args) and _is_level(node.args[0]))
    return False


def _scaled_level(node: Node) -> float | None:
    """k when ``node`` is a price level times (or divided by) a literal far from 1 (k outside
    [0.5, 2]): no price near the level, so comparing a price with it is a slip for a fraction of
    a price difference ("a quarter of the spread", "the top quarter of the range")."""
    if not isinstance(node, Binary) or node.op not in ("*", "/"):
        return None
    pairs = [(node.left, node.right)] + ([(node.right, node.left)] if node.op == "*" else [])
    for level, lit in pairs:
        if _is_level(level) and isinstance(lit, IntLit | FloatLit) and float(lit.value) > 0:
            k = float(lit.value) if node.op == "*" else 1.0 / float(lit.value)
            if not 0.5 <= k <= 2.0:
                return k
    return None


def units_problems(text: str, params: Mapping[str, object]) -> list[str]:
    """Comparisons in ``text`` between a price and a percentage/basis-point parameter."""
    problems: list[str] = []
    stack: list[Node] = [parse(text)]
    while stack:
        node = stack.pop()
        if isinstance(node, Binary):
            stack += [node.left, node.right]
            scale = _wrong_scale(node, params)
            if scale:
                problems.append(scale)
            if node.op in ("+", "-"):
                a, b = _unit(node.left, params), _unit(node.right, params)
                if {a, b} in ({PRICE, PCT}, {PRICE, BPS}):
                    price, other = (node.left, node.right) if a == PRICE else (node.right, node.left)
                    unit = a if a != PRICE else b
                    scale = "100" if unit == PCT else "10000"
                    verb = "adds" if node.op == "+" else "subtracts"
                    p = other.id if isinstance(other, Name) else "p"
                    problems.append(
                        f"'{to_source(node)}' {verb} a price ({to_source(price)}) and {to_source(other)}, "
                        f"which is in {unit}: {p} {unit} of a price x are x * {p} / {scale}, e.g. "
                        f"{to_source(price)} * (1 {node.op} {p} / {scale})")
            if node.op in COMPARISONS:
                for side, other in ((node.left, node.right), (node.right, node.left)):
                    k = _scaled_level(other)
                    if k is not None and _unit(side, params) == PRICE:
                        problems.append(
                            f"'{to_source(node)}' compares a price ({to_source(side)}) with {to_source(other)}, "
                            f"{k:g} times a price level: no price is near it. A fraction k of the "
                            f"distance between two prices a and b is a + k * (b - a)")
                a, b = _unit(node.left, params), _unit(node.right, params)
                if {a, b} in ({PRICE, PCT}, {PRICE, BPS}):
                    price, other = (node.left, node.right) if a == PRICE else (node.right, node.left)
                    unit = a if a != PRICE else b
                    scale = "100" if unit == PCT else "10000"
                    p = other.id if isinstance(other, Name) else "x"
                    if isinstance(price, Name) and price.id == "spread":  # "a spread under b bps"
                        fix = f"the spread in {unit} of the mid is spread / mid * {scale}"
                    else:
                        fix = (f"express the price move in {unit} first, e.g. change(close, n) / "
                               f"lag(close, n) * {scale}, or compare with a price such as "
                               f"entry_price * (1 + {p} / {scale})")
                    problems.append(
                        f"'{to_source(node)}' compares a price ({to_source(price)}) with "
                        f"{to_source(other)}, which is in {unit}: {fix}")
                elif ({a, b} & {PRICE, SECONDS}) and ({a, b} & set(CONVERT)) and a != b:
                    known, other = (node.left, node.right) if a in (PRICE, SECONDS) else (node.right, node.left)
                    unit = b if a in (PRICE, SECONDS) else a
                    what = "a price" if PRICE in (a, b) else "a time in seconds"
                    problems.append(
                        f"'{to_source(node)}' compares {what} ({to_source(known)}) with "
                        f"{to_source(other)}, which is in {unit}: {CONVERT[unit]}")
        elif isinstance(node, Unary):
            stack.append(node.operand)
        elif isinstance(node, Call):
            stack += list(node.args)
        elif not isinstance(node, IntLit | FloatLit | BoolLit | Name):
            break
    return problems

"""Name resolution, type checking and window checking: syntax tree -> :class:`TypedExpr`."""

from __future__ import annotations

import difflib
import math
import numbers
import re
from typing import Iterable, Mapping

from .catalog import FUNCTIONS, KEYWORDS, MAX_LEVELS, SERIES, ArgKind, DataKind, FunctionInfo, Type, depth_series
from .errors import ExpressionError
from .nodes import COMPARISONS, Binary, BoolLit, Call, FloatLit, IntLit, Name, Node, Span, Unary
from .printer import format_number, to_source
from .typed import (BinaryOp, Const, ParamRef, PureCall, SeriesRef, SignalRef, SlotRef,
                    StatefulNode, TExpr, TypedExpr, UnaryOp)

__all__ = ["check", "validate_params"]

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_ARITH = frozenset({"+", "-", "*", "/", "%"})
_LOGIC = frozenset({"and", "or"})


def validate_params(params: Mapping[str, object]) -> dict[str, int | float | bool]:
    """Normalise a parameter mapping; raise ``ValueError``/``TypeError`` naming every bad entry."""
    if not isinstance(params, Mapping):
        raise TypeError(f"params must be a mapping of name -> int, float or bool, was {type(params).__name__}")
    out: dict[str, int | float | bool] = {}
    problems: list[str] = []
    for name, value in params.items():
        if not isinstance(name, str) or not _IDENT.match(name):
            problems.append(f"param name {name!r} is not an identifier ([A-Za-z_][A-Za-z0-9_]*)")
            continue
        clash = _reserved(name)
        if clash:
            problems.append(f"param '{name}' clashes with the {clash} '{name}'; rename it")
            continue
        if isinstance(value, bool) or type(value).__name__ == "bool_":
            out[name] = bool(value)
        elif isinstance(value, numbers.Integral):
            out[name] = int(value)
        elif isinstance(value, numbers.Real):
            f = float(value)
            if not math.isfinite(f):
                problems.append(f"param '{name}' must be finite, was {value!r}")
                continue
            out[name] = f
        else:
            problems.append(f"param '{name}' must be int, float or bool, was {value!r} ({type(value).__name__})")
    if problems:
        raise ValueError("; ".join(problems))
    return out


def _reserved(name: str) -> str | None:
    if name in KEYWORDS:
        return "keyword"
    if name in SERIES:
        return "series"
    if name in FUNCTIONS:
        return "function"
    return None


def _validate_signals(signals: Mapping[str, object], params: Mapping[str, object]) -> dict[str, tuple[Type, int]]:
    if not isinstance(signals, Mapping):
        raise TypeError(f"signals must be a mapping of name -> Type or TypedExpr, was {type(signals).__name__}")
    out: dict[str, tuple[Type, int]] = {}
    problems: list[str] = []
    for name, sig in signals.items():
        if not isinstance(name, str) or not _IDENT.match(name):
            problems.append(f"signal name {name!r} is not an identifier")
            continue
        clash = _reserved(name) or ("param" if name in params else None)
        if clash:
            problems.append(f"signal '{name}' clashes with the {clash} '{name}'; rename it")
            continue
        if isinstance(sig, Type):
            out[name] = (sig, 1)
        elif isinstance(sig, TypedExpr):
            out[name] = (sig.type, sig.warmup)
        else:
            problems.append(f"signal '{name}' must map to a Type or TypedExpr, was {type(sig).__name__}")
    if problems:
        raise ValueError("; ".join(problems))
    return out


def check(
    node: Node,
    params: Mapping[str, int | float | bool],
    *,
    signals: Mapping[str, "Type | TypedExpr"] = {},  # noqa: B006 - read only
    expect: Type | None = None,
    data: Iterable[DataKind] | None = None,
) -> TypedExpr:
    """Resolve names, check types and windows; raise :class:`ExpressionError` on the first problem.

    ``signals`` maps earlier named signals to their type (or their ``TypedExpr``, which also
    carries their warm-up). ``expect`` optionally requires the result type (e.g. ``Type.BOOL``
    for an entry condition). ``data`` optionally names the data kinds the strategy has; a series
    (or a function reading one) of another kind is then an error at its column.
    """
    if not isinstance(node, IntLit | FloatLit | BoolLit | Name | Unary | Binary | Call):
        raise TypeError(f"check() needs a syntax tree from parse(), got {type(node).__name__}")
    p = validate_params(params)
    s = _validate_signals(signals, p)
    allowed = None
    if data is not None:
        allowed = frozenset(data)
        if not all(isinstance(k, DataKind) for k in allowed):
            raise TypeError(f"data must be DataKind values, was {sorted(map(repr, allowed))}")
    checker = _Checker(p, s, allowed)
    root, warm = checker.visit(node)
    if expect is not None and root.type is not expect:
        raise ExpressionError(
            f"expression must be {expect}, found {root.type} ({_short(node)})", node.span.start, node.span.end,
            expected=str(expect))
    kinds = frozenset(SERIES[name].kind for name in checker.series)
    return TypedExpr(
        node=node,
        root=root,
        type=root.type,
        stateful_nodes=tuple(checker.slots),
        series_used=frozenset(checker.series),
        params_used={k: p[k] for k in sorted(checker.params_used)},
        signals_used=frozenset(checker.signals_used),
        data_kinds=kinds,
        warmup=warm,
    )


def _short(node: Node, limit: int = 60) -> str:
    text = to_source(node)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _a(t: Type) -> str:
    return "a number" if t is Type.NUMBER else "a bool"


class _Checker:
    def __init__(self, params: dict[str, int | float | bool], signals: dict[str, tuple[Type, int]],
                 data: frozenset[DataKind] | None = None) -> None:
        self.params = params
        self.signals = signals
        self.data = data
        self.slots: list[StatefulNode] = []
        self.slot_keys: dict[tuple, int] = {}
        self.series: set[str] = set()
        self.params_used: set[str] = set()
        self.signals_used: set[str] = set()

    def visit(self, node: Node) -> tuple[TExpr, int]:
        """Typed node and the update number at which it is first defined."""
        span = node.span
        if isinstance(node, IntLit | FloatLit):
            return Const(float(node.value), Type.NUMBER, span=span), 0
        if isinstance(node, BoolLit):
            return Const(node.value, Type.BOOL, span=span), 0
        if isinstance(node, Name):
            return self.name(node)
        if isinstance(node, Unary):
            operand, warm = self.visit(node.operand)
            want = Type.BOOL if node.op == "not" else Type.NUMBER
            if operand.type is not want:
                what = "'not'" if node.op == "not" else "unary '-'"
                raise ExpressionError(
                    f"{what} needs {_a(want)} operand, found {operand.type} ({_short(node.operand)})",
                    node.operand.span.start, node.operand.span.end, expected=str(want))
            return UnaryOp(node.op, operand, want, span=span), warm
        if isinstance(node, Binary):
            return self.binary(node)
        if isinstance(node, Call):
            return self.call(node)
        raise TypeError(f"check() needs a syntax tree from parse(), got {type(node).__name__}")

    def name(self, node: Name) -> tuple[TExpr, int]:
        n = node.id
        if n in SERIES:
            self.need_data((n,), node.span, f"series '{n}'")
            self.series.add(n)
            return SeriesRef(n, span=node.span), 1
        if n in self.params:
            self.params_used.add(n)
            v = self.params[n]
            t = Type.BOOL if isinstance(v, bool) else Type.NUMBER
            return ParamRef(n, v if isinstance(v, bool) else float(v), t, span=node.span), 0
        if n in self.signals:
            self.signals_used.add(n)
            t, warm = self.signals[n]
            return SignalRef(n, t, span=node.span), warm
        if n in FUNCTIONS:
            info = FUNCTIONS[n]
            raise ExpressionError(f"'{n}' is a function; call it as {info.signature}", node.span.start, node.span.end)
        raise self.unknown(n, node.span, prefer_functions=False)

    def need_data(self, names: Iterable[str], span: Span, what: str) -> None:
        """Refuse series of a data kind the strategy does not have (when the caller said which)."""
        if self.data is None:
            return
        for name in names:
            kind = SERIES[name].kind
            if kind not in self.data:
                have = ", ".join(sorted(str(k) for k in self.data if k is not DataKind.POSITION)) or "none"
                reads = "" if what == f"series '{name}'" else f" (it reads series '{name}')"
                raise ExpressionError(
                    f"{what} needs {kind} data{reads}, but this strategy's data is {have}",
                    span.start, span.end, expected=" or ".join(sorted(str(k) for k in self.data)))

    def unknown(self, name: str, span: Span, *, prefer_functions: bool) -> ExpressionError:
        values = [*SERIES, *self.params, *self.signals, "true", "false"]
        pools = [list(FUNCTIONS), values] if prefer_functions else [values, list(FUNCTIONS)]
        suggestion = None
        for pool in pools:
            match = difflib.get_close_matches(name, pool, n=1, cutoff=0.6) or difflib.get_close_matches(
                name.lower(), pool, n=1, cutoff=0.6)
            if match:
                suggestion = match[0]
                break
        msg = f"unknown name '{name}'"
        if suggestion:
            msg += f"; did you mean '{suggestion}'?"
        elif prefer_functions:
            msg += f"; functions are: {', '.join(sorted(FUNCTIONS))}"
        else:
            msg += "; it is not a series, parameter or signal"
        return ExpressionError(msg, span.start, span.end, suggestion=suggestion)

    def binary(self, node: Binary) -> tuple[TExpr, int]:
        left, lw = self.visit(node.left)
        right, rw = self.visit(node.right)
        op = node.op
        if op in _LOGIC:
            want, result = Type.BOOL, Type.BOOL
        elif op in COMPARISONS:
            want, result = Type.NUMBER, Type.BOOL
        else:
            want, result = Type.NUMBER, Type.NUMBER
        for side, typed, child in (("left", left, node.left), ("right", right, node.right)):
            if typed.type is not want:
                hint = ""
                if op in COMPARISONS:
                    hint = "; compare numbers, combine bools with 'and' / 'or' / 'not'"
                raise ExpressionError(
                    f"'{op}' needs {want} operands, {side} side is {typed.type} ({_short(child)}){hint}",
                    child.span.start, child.span.end, expected=str(want))
        return BinaryOp(op, left, right, result, span=node.span), max(lw, rw)

    def call(self, node: Call) -> tuple[TExpr, int]:
        fname = node.func
        info = FUNCTIONS.get(fname)
        if info is None:
            if fname in SERIES or fname in self.params or fname in self.signals:
                kind = "series" if fname in SERIES else ("parameter" if fname in self.params else "signal")
                raise ExpressionError(f"'{fname}' is a {kind}, not a function; write {fname} without parentheses",
                                      node.name_span.start, node.name_span.end)
            raise self.unknown(fname, node.name_span, prefer_functions=True)
        if not info.min_args <= len(node.args) <= len(info.args):
            n = len(info.args)
            if info.min_args == n:
                want = f"{n} argument{'s' if n != 1 else ''}"
            else:
                want = f"{info.min_args} {'or' if n - info.min_args == 1 else 'to'} {n} arguments"
            raise ExpressionError(
                f"{fname} takes {want} {info.signature}, found {len(node.args)}",
                node.span.start, node.span.end, expected=info.signature)
        window: int | None = None
        window_param: str | None = None
        consts: list[float] = []
        args: list[TExpr] = []
        warm = 1 if info.implicit_series else 0
        given = len(node.args)
        for i, (arg_name, kind) in enumerate(info.args, start=1):
            if i > given:  # an omitted trailing argument takes its default
                default = info.defaults[i - 1 - info.min_args]
                if kind is ArgKind.LEVELS:
                    names = (depth_series("bid", default), depth_series("ask", default))
                    self.need_data(names, node.span, f"{fname}()")
                    args += [SeriesRef(n, span=node.span) for n in names]
                    self.series.update(names)
                    warm = max(warm, 1)
                continue
            arg = node.args[i - 1]
            if kind is ArgKind.WINDOW:
                window, window_param = self.int_const(info, arg_name, i, arg, info.max_window, "window")
                if window_param:
                    self.params_used.add(window_param)
                continue
            if kind is ArgKind.LEVELS:
                levels, levels_param = self.int_const(info, arg_name, i, arg, MAX_LEVELS, "")
                if levels_param:
                    self.params_used.add(levels_param)
                names = (depth_series("bid", levels), depth_series("ask", levels))
                self.need_data(names, node.span, f"{fname}({to_source(arg)})")
                self.series.update(names)
                args += [SeriesRef(n, span=arg.span) for n in names]
                warm = max(warm, 1)
                continue
            if kind is ArgKind.FRACTION:
                value, param = self.fraction(info, arg_name, i, arg)
                if param:
                    self.params_used.add(param)
                consts.append(value)
                continue
            typed, w = self.visit(arg)
            if typed.type is not Type.NUMBER:
                raise ExpressionError(
                    f"argument {i} ({arg_name}) of {fname} must be a number, found {typed.type} ({_short(arg)})",
                    arg.span.start, arg.span.end, expected="number")
            args.append(typed)
            warm = max(warm, w)
        self.need_data(info.implicit_series, node.span, _short(node))
        self.series.update(info.implicit_series)
        if not info.stateful:
            return PureCall(fname, tuple(args), info.result, span=node.span), warm
        if fname == "rolling_median":
            consts.append(0.5)
        own = info.warmup(window)
        first = max(1, warm) + own - 1
        key = (fname, tuple(args), window, tuple(consts))
        slot = self.slot_keys.get(key)
        if slot is None:
            slot = len(self.slots)
            self.slot_keys[key] = slot
            self.slots.append(StatefulNode(
                slot=slot, function=fname, args=tuple(args), window=window, window_param=window_param,
                type=info.result, own_warmup=own, warmup=first, ring_capacity=info.ring(window),
                series=frozenset(info.implicit_series) | _series_of(args, self.slots),
                source=to_source(node), consts=tuple(consts), span=node.span))
        return SlotRef(slot, info.result, span=node.span), first

    def fraction(self, info: FunctionInfo, arg_name: str, index: int, arg: Node) -> tuple[float, str | None]:
        """A constant in [0, 1]: a number literal or a number parameter (it is part of the state)."""
        where = f"{arg_name} (argument {index}) of {info.name}"
        rule = "a number literal or number parameter between 0 and 1"
        span = arg.span

        def in_range(value: float, shown: str) -> float:
            if not 0.0 <= value <= 1.0:
                raise ExpressionError(f"{where} must be between 0 and 1, {shown}", span.start, span.end,
                                      expected=rule)
            return float(value)

        if isinstance(arg, IntLit | FloatLit):
            return in_range(float(arg.value), f"was {format_number(arg.value)}"), None
        if isinstance(arg, Unary) and arg.op == "-" and isinstance(arg.operand, IntLit | FloatLit):
            return in_range(-float(arg.operand.value), f"was {to_source(arg)}"), None
        if isinstance(arg, Name) and arg.id in self.params:
            v = self.params[arg.id]
            if isinstance(v, bool):
                raise ExpressionError(f"{where} must be {rule}, found bool parameter '{arg.id}' = {str(v).lower()}",
                                      span.start, span.end, expected=rule)
            return in_range(float(v), f"parameter '{arg.id}' is {format_number(v)}"), arg.id
        if isinstance(arg, Name) and arg.id not in SERIES and arg.id not in self.signals and arg.id not in FUNCTIONS:
            match = difflib.get_close_matches(arg.id, list(self.params), n=1, cutoff=0.6)
            if match:
                raise ExpressionError(f"unknown name '{arg.id}'; did you mean '{match[0]}'?", span.start, span.end,
                                      suggestion=match[0])
            raise self.unknown(arg.id, span, prefer_functions=False)
        raise ExpressionError(
            f"{where} must be {rule}, found '{_short(arg)}' (it is a constant of the function's state, "
            "so it cannot vary)", span.start, span.end, expected=rule)

    def int_const(self, info: FunctionInfo, arg_name: str, index: int, arg: Node, upper: int,
                  what: str) -> tuple[int, str | None]:
        """A window or a level count: an integer literal or int parameter in 1..upper."""
        where = f"{what} {arg_name} (argument {index}) of {info.name}".strip()
        rule = f"an integer literal or int parameter between 1 and {upper}"
        span = arg.span
        sizes = "windows size fixed buffers" if what == "window" else "the levels read are fixed"

        def bad(found: str) -> ExpressionError:
            return ExpressionError(f"{where} must be {rule}, found {found}", span.start, span.end, expected=rule)

        def in_range(value: int, shown: str) -> int:
            if not 1 <= value <= upper:
                raise ExpressionError(f"{where} must be between 1 and {upper}, {shown}",
                                      span.start, span.end, expected=rule)
            return value

        if isinstance(arg, IntLit):
            return in_range(arg.value, f"was {arg.value}"), None
        if isinstance(arg, Unary) and arg.op == "-" and isinstance(arg.operand, IntLit):
            return in_range(-arg.operand.value, f"was -{arg.operand.value}"), None
        if isinstance(arg, FloatLit) or (isinstance(arg, Unary) and isinstance(arg.operand, FloatLit)):
            raise bad(f"decimal {to_source(arg)}")
        if isinstance(arg, BoolLit):
            raise bad(f"bool {to_source(arg)}")
        if isinstance(arg, Name):
            n = arg.id
            if n in self.params:
                v = self.params[n]
                if isinstance(v, bool):
                    raise bad(f"bool parameter '{n}' = {str(v).lower()}")
                if isinstance(v, float):
                    raise bad(f"float parameter '{n}' = {format_number(v)}")
                return in_range(v, f"parameter '{n}' is {v}"), n
            if n in SERIES:
                raise bad(f"series '{n}' ({sizes}, so they cannot vary)")
            if n in self.signals:
                raise bad(f"signal '{n}' ({sizes}, so they cannot vary)")
            if n in FUNCTIONS:
                raise bad(f"function '{n}'")
            # unknown: suggest among parameters first
            match = difflib.get_close_matches(n, list(self.params), n=1, cutoff=0.6)
            if match:
                raise ExpressionError(f"unknown name '{n}'; did you mean '{match[0]}'?", span.start, span.end,
                                      suggestion=match[0])
            raise self.unknown(n, span, prefer_functions=False)
        raise bad(f"expression '{_short(arg)}' ({sizes}, so they cannot be computed)")


def _series_of(args: tuple[TExpr, ...], slots: list[StatefulNode]) -> frozenset[str]:
    out: set[str] = set()
    stack: list[TExpr] = list(args)
    while stack:
        e = stack.pop()
        if isinstance(e, SeriesRef):
            out.add(e.name)
        elif isinstance(e, SlotRef):
            out |= slots[e.slot].series
        elif isinstance(e, UnaryOp):
            stack.append(e.operand)
        elif isinstance(e, BinaryOp):
            stack += [e.left, e.right]
        elif isinstance(e, PureCall):
            stack += list(e.args)
            out |= set(FUNCTIONS[e.function].implicit_series)
    return frozenset(out)

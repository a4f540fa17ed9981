"""Render a spec's signal expressions into C++ and Python with shared incremental state.

All named signals of a strategy are rendered together: every stateful call (``ema(mid, 20)``, ...)
becomes one *global slot* shared by every signal that makes the identical call. Per update, in
signal order, a signal first updates the slots it introduced (in slot order), then evaluates its
pure tree; a shared slot was already updated, with the same argument values, by the earlier
signal that introduced it, so sharing never changes a value (docs/expressions.md semantics).

C++ (:func:`render_cpp`): a ``struct`` holding fixed-size state (``sfsig::Ema<20>``, rings as
``std::array`` sized from the window, constants such as a quantile's ``q`` as constructor arguments), an ``update(const sfsig::Inputs&)`` method and accessors
``sig_<name>()`` returning ``sfsig::V`` (number) or ``sfsig::B`` (condition) — value plus defined
flag. Python (:func:`render_python`): a class with ``update(inputs)`` (a mapping series -> value
or ``None``) and attributes ``sig_<name>`` (``None`` while undefined). Both need the signal
runtime (``templates/{cpp,python}/signal_runtime.*.j2``) in the same file. Output depends only on
the expressions: it is byte-deterministic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Mapping

from stratforge.core.expr import (FUNCTIONS, MAX_LEVELS, SERIES, BinaryOp, Const, DataKind, ExpressionError,
                                       ParamRef, PureCall, SeriesRef, SignalRef, SlotRef, StatefulNode, TExpr, Type,
                                       TypedExpr, UnaryOp, compile_expression, depth_series)

from .env import environment

__all__ = ["SignalSet", "GlobalSlot", "build_signal_set", "compile_signals", "render_cpp", "render_python",
           "cpp_runtime", "python_runtime", "SERIES_ORDER", "RenderError"]

#: Every series, in the order of ``sfsig::Inputs``.
SERIES_ORDER = tuple(SERIES)

_CMP = {"<": "lt", "<=": "le", ">": "gt", ">=": "ge", "==": "eq", "!=": "ne"}
_STATE_CPP = {
    "ema": "sfsig::Ema<{n}>", "sma": "sfsig::Sma<{n}>", "std": "sfsig::Std<{n}>", "zscore": "sfsig::Zscore<{n}>",
    "rolling_min": "sfsig::RollingExtreme<{n}, true>", "rolling_max": "sfsig::RollingExtreme<{n}, false>",
    "rolling_median": "sfsig::RollingQuantile<{n}>", "rolling_quantile": "sfsig::RollingQuantile<{n}>",
    "lag": "sfsig::Lag<{n}>", "change": "sfsig::Change<{n}>", "vwap": "sfsig::Vwap<{n}>",
    "cross_above": "sfsig::Cross<true>", "cross_below": "sfsig::Cross<false>",
}
_STATE_PY = {
    "ema": "_Ema({n})", "sma": "_Sma({n})", "std": "_Std({n})", "zscore": "_Zscore({n})",
    "rolling_min": "_RollingExtreme({n}, True)", "rolling_max": "_RollingExtreme({n}, False)",
    "rolling_median": "_RollingQuantile({n}, {c})", "rolling_quantile": "_RollingQuantile({n}, {c})",
    "lag": "_Lag({n}, False)", "change": "_Lag({n}, True)", "vwap": "_Vwap({n})",
    "cross_above": "_Cross(True)", "cross_below": "_Cross(False)",
}
assert set(_STATE_CPP) == set(_STATE_PY) == {f.name for f in FUNCTIONS.values() if f.stateful}, \
    "Invariant: every stateful function has a C++ and a Python state class"


class RenderError(ValueError):
    """The signals cannot be rendered (a caller or spec problem; the message says which)."""


@dataclass(frozen=True)
class GlobalSlot:
    """One shared stateful node: ``args`` read global slots through ``SlotRef``."""

    slot: int
    function: str
    args: tuple[TExpr, ...]
    window: int | None
    ring_capacity: int
    source: str
    type: Type
    consts: tuple[float, ...] = ()


@dataclass(frozen=True)
class SignalSet:
    """Signals in evaluation order with their global slots.

    ``owned[name]``: the global slots a signal introduces (updated just before its root);
    ``roots[name]``: its pure tree with ``SlotRef`` re-pointed at global slots.
    """

    names: tuple[str, ...]
    exprs: Mapping[str, TypedExpr]
    slots: tuple[GlobalSlot, ...]
    owned: Mapping[str, tuple[int, ...]]
    roots: Mapping[str, TExpr]

    @property
    def series(self) -> tuple[str, ...]:
        used = set()
        for e in self.exprs.values():
            used |= e.series_used
        return tuple(s for s in SERIES_ORDER if s in used)

    def type_of(self, name: str) -> Type:
        return self.exprs[name].type

    @property
    def depth_levels(self) -> int:
        """Deepest book level any signal reads (bid_depthK / ask_depthK, imbalance(K)); 1 = top only."""
        used = set(self.series)
        deepest = 1
        for k in range(2, MAX_LEVELS + 1):
            if depth_series("bid", k) in used or depth_series("ask", k) in used:
                deepest = k
        return deepest

    @property
    def uses_position(self) -> bool:
        """Whether any signal reads the strategy's position state (the templates then track it)."""
        return any(SERIES[s].kind is DataKind.POSITION for s in self.series)


def compile_signals(texts: Mapping[str, str], params: Mapping[str, int | float | bool], *,
                    data: Iterable[DataKind] | None = None) -> dict[str, TypedExpr]:
    """Compile named signals in order; each may use the parameters and the signals before it.

    ``data``: the data kinds the strategy has (``DataKind.POSITION`` included when its templates
    supply position state); a series of another kind is an ``ExpressionError`` at its column.
    """
    out: dict[str, TypedExpr] = {}
    for name, text in texts.items():
        try:
            out[name] = compile_expression(text, params, signals=dict(out), data=data)
        except ExpressionError as err:
            raise ExpressionError(f"signal '{name}' ({text}): {err.message}", err.column, err.end_column,
                                  expected=err.expected, suggestion=err.suggestion) from None
    return out


def _remap(e: TExpr, local_to_global: Mapping[int, int]) -> TExpr:
    if isinstance(e, SlotRef):
        return SlotRef(local_to_global[e.slot], e.type)
    if isinstance(e, UnaryOp):
        return UnaryOp(e.op, _remap(e.operand, local_to_global), e.type)
    if isinstance(e, BinaryOp):
        return BinaryOp(e.op, _remap(e.left, local_to_global), _remap(e.right, local_to_global), e.type)
    if isinstance(e, PureCall):
        return PureCall(e.function, tuple(_remap(a, local_to_global) for a in e.args), e.type)
    return e


def build_signal_set(signals: Mapping[str, TypedExpr]) -> SignalSet:
    """Merge the stateful nodes of ``signals`` (in the mapping's order) into shared global slots."""
    slots: list[GlobalSlot] = []
    index: dict[tuple, int] = {}
    owned: dict[str, tuple[int, ...]] = {}
    roots: dict[str, TExpr] = {}
    for name, typed in signals.items():
        if not isinstance(typed, TypedExpr):
            raise TypeError(f"Condition failed: signal {name!r} must be a TypedExpr, was {type(typed).__name__}")
        local: dict[int, int] = {}
        mine: list[int] = []
        for node in typed.stateful_nodes:
            node: StatefulNode
            args = tuple(_remap(a, local) for a in node.args)
            if node.window is not None and node.ring_capacity not in (0, node.window):
                raise RenderError(f"Invariant: ring capacity {node.ring_capacity} of {node.source} is not its window")
            key = (node.function, args, node.window, node.consts)
            if key not in index:
                index[key] = len(slots)
                slots.append(GlobalSlot(len(slots), node.function, args, node.window, node.ring_capacity,
                                        node.source, node.type, node.consts))
                mine.append(index[key])
            local[node.slot] = index[key]
        owned[name] = tuple(mine)
        roots[name] = _remap(typed.root, local)
    return SignalSet(tuple(signals), dict(signals), tuple(slots), owned, roots)


# ---------------------------------------------------------------------------------------------
# literals


def _cpp_num(x: float) -> str:
    x = float(x)
    if math.isnan(x):
        return "sfsig::kNaN"
    if math.isinf(x):
        return "(std::numeric_limits<double>::infinity())" if x > 0 else "(-std::numeric_limits<double>::infinity())"
    s = repr(x)
    return f"({s})" if s.startswith("-") else s


def _py_num(x: float) -> str:
    x = float(x)
    if math.isnan(x):
        return "_NAN"
    if math.isinf(x):
        return "_INF" if x > 0 else "(-_INF)"
    s = repr(x)
    return f"({s})" if s.startswith("-") else s


# ---------------------------------------------------------------------------------------------
# C++


class _CppEmitter:
    """Emits SSA temporaries ``t<k>`` (``sfsig::V`` / ``sfsig::B``) for a pure tree."""

    def __init__(self, lines: list[str], indent: str, counter: list[int]) -> None:
        self.lines, self.indent, self.counter = lines, indent, counter

    def _tmp(self, is_bool: bool, value: str, ok: str) -> str:
        k = self.counter[0]
        self.counter[0] += 1
        name = f"t{k}"
        self.lines.append(f"{self.indent}const sfsig::{'B' if is_bool else 'V'} {name}{{{value}, {ok}}};")
        return name

    def emit(self, e: TExpr) -> str:
        if isinstance(e, Const | ParamRef):
            comment = f" /* {e.name} */" if isinstance(e, ParamRef) else ""
            if e.type is Type.BOOL:
                return self._tmp(True, ("true" if e.value else "false") + comment, "true")
            return self._tmp(False, _cpp_num(e.value) + comment, "true")
        if isinstance(e, SeriesRef):
            return f"in.{e.name}"
        if isinstance(e, SignalRef):
            return f"sig_{e.name}_"
        if isinstance(e, SlotRef):
            return f"o{e.slot}_"
        if isinstance(e, UnaryOp):
            a = self.emit(e.operand)
            if e.op == "not":
                return self._tmp(True, f"!{a}.v", f"{a}.ok")
            return self._tmp(False, f"-{a}.v", f"{a}.ok")
        if isinstance(e, BinaryOp):
            a = self.emit(e.left)
            b = self.emit(e.right)
            ok = f"{a}.ok && {b}.ok"
            if e.op in ("and", "or"):
                return self._tmp(True, f"{a}.v {'&&' if e.op == 'and' else '||'} {b}.v", ok)
            if e.op in _CMP:
                return self._tmp(True, f"sfsig::{_CMP[e.op]}({a}.v, {b}.v)", ok)
            if e.op == "/":
                return self._tmp(False, f"sfsig::div({a}.v, {b}.v)", ok)
            if e.op == "%":
                return self._tmp(False, f"sfsig::mod({a}.v, {b}.v)", ok)
            return self._tmp(False, f"{a}.v {e.op} {b}.v", ok)
        if isinstance(e, PureCall):
            args = [self.emit(a) for a in e.args] + [f"in.{s}" for s in FUNCTIONS[e.function].implicit_series]
            ok = " && ".join(f"{a}.ok" for a in args) or "true"
            vals = ", ".join(f"{a}.v" for a in args)
            fn = {"abs": "std::fabs", "min": "sfsig::vmin", "max": "sfsig::vmax", "clip": "sfsig::clip",
                  "sign": "sfsig::sign", "imbalance": "sfsig::imbalance"}[e.function]
            return self._tmp(False, f"{fn}({vals})", ok)
        raise RenderError(f"Invariant: unknown typed node {e!r}")


def render_cpp(sigset: SignalSet, struct_name: str = "Signals") -> str:
    """The C++ struct for ``sigset`` (needs the signal runtime earlier in the file)."""
    out: list[str] = []
    out.append("/// Signals, updated incrementally: fixed-size state, no allocation (cost per update of each")
    out.append("/// function: docs/expressions.md; O(1) except rolling min/max and median/quantile).")
    for name in sigset.names:
        out.append(f"///   {name} = {sigset.exprs[name].to_source()}")
    out.append(f"struct {struct_name} {{")
    out.append("  /// One update: every stateful slot is updated and every signal re-evaluated (no short-circuit).")
    out.append("  void update(const sfsig::Inputs& in) noexcept {")
    out.append("    (void)in;")
    counter = [0]
    for name in sigset.names:
        out.append(f"    {{  // {name} = {sigset.exprs[name].to_source()}")
        em = _CppEmitter(out, "      ", counter)
        for s in sigset.owned[name]:
            slot = sigset.slots[s]
            out.append(f"      // slot {s}: {slot.source}")
            args = [em.emit(a) for a in slot.args] + [f"in.{x}" for x in FUNCTIONS[slot.function].implicit_series]
            cond = " && ".join(f"sfsig::fin({a})" for a in args)
            vals = ", ".join(f"{a}.v" for a in args)
            empty = "sfsig::B{}" if slot.type is Type.BOOL else "sfsig::V{}"
            out.append(f"      o{s}_ = ({cond}) ? s{s}_.update({vals}) : {empty};")
        root = em.emit(sigset.roots[name])
        out.append(f"      sig_{name}_ = {root};")
        out.append("    }")
    out.append("  }")
    for name in sigset.names:
        t = "B" if sigset.type_of(name) is Type.BOOL else "V"
        out.append(f"  [[nodiscard]] sfsig::{t} sig_{name}() const noexcept {{ return sig_{name}_; }}")
    out.append("")
    for slot in sigset.slots:
        cls = _STATE_CPP[slot.function].format(n=slot.window)
        init = ", ".join(_cpp_num(c) for c in slot.consts)
        out.append(f"  {cls} s{slot.slot}_{{{init}}};  // {slot.source}")
        out.append(f"  sfsig::{'B' if slot.type is Type.BOOL else 'V'} o{slot.slot}_{{}};")
    for name in sigset.names:
        t = "B" if sigset.type_of(name) is Type.BOOL else "V"
        out.append(f"  sfsig::{t} sig_{name}_{{}};")
    out.append("};")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------------
# Python


class _PyEmitter:
    def __init__(self, lines: list[str], indent: str, counter: list[int]) -> None:
        self.lines, self.indent, self.counter = lines, indent, counter

    def _tmp(self, expr: str) -> str:
        k = self.counter[0]
        self.counter[0] += 1
        name = f"t{k}"
        self.lines.append(f"{self.indent}{name} = {expr}")
        return name

    def emit(self, e: TExpr) -> str:
        if isinstance(e, Const | ParamRef):
            comment = f"  # {e.name}" if isinstance(e, ParamRef) else ""
            if e.type is Type.BOOL:
                return self._tmp(("True" if e.value else "False") + comment)
            return self._tmp(_py_num(e.value) + comment)
        if isinstance(e, SeriesRef):
            return self._tmp(f"_f(inp[{e.name!r}])")
        if isinstance(e, SignalRef):
            return f"self.sig_{e.name}"
        if isinstance(e, SlotRef):
            return f"self._o{e.slot}"
        if isinstance(e, UnaryOp):
            a = self.emit(e.operand)
            op = "not " if e.op == "not" else "-"
            return self._tmp(f"None if {a} is None else {op}{a}")
        if isinstance(e, BinaryOp):
            a = self.emit(e.left)
            b = self.emit(e.right)
            if e.op in ("and", "or"):
                v = f"({a} {e.op} {b})"
            elif e.op == "!=":
                v = f"_ne({a}, {b})"
            elif e.op in _CMP:
                v = f"({a} {e.op} {b})"
            elif e.op == "/":
                v = f"_div({a}, {b})"
            elif e.op == "%":
                v = f"_mod({a}, {b})"
            else:
                v = f"({a} {e.op} {b})"
            return self._tmp(f"None if {a} is None or {b} is None else {v}")
        if isinstance(e, PureCall):
            args = [self.emit(a) for a in e.args]
            args += [self._tmp(f"_f(inp[{s!r}])") for s in FUNCTIONS[e.function].implicit_series]
            fn = {"abs": "abs", "min": "_vmin", "max": "_vmax", "clip": "_clip", "sign": "_sign",
                  "imbalance": "_imbalance"}[e.function]
            cond = " or ".join(f"{a} is None" for a in args)
            call = f"{fn}({', '.join(args)})"
            return self._tmp(f"None if {cond} else {call}" if cond else call)
        raise RenderError(f"Invariant: unknown typed node {e!r}")


def render_python(sigset: SignalSet, class_name: str = "Signals") -> str:
    """The Python class for ``sigset`` (needs the signal runtime earlier in the module)."""
    out: list[str] = [f"class {class_name}:"]
    out.append('    """Signals, updated incrementally (the twin of the C++ struct of the same name).')
    out.append("")
    for name in sigset.names:
        out.append(f"        {name} = {sigset.exprs[name].to_source()}")
    out.append('    """')
    out.append("")
    out.append("    def __init__(self):")
    for slot in sigset.slots:
        state = _STATE_PY[slot.function].format(n=slot.window, c=", ".join(_py_num(c) for c in slot.consts))
        out.append(f"        self._s{slot.slot} = {state}  # {slot.source}")
        out.append(f"        self._o{slot.slot} = None")
    for name in sigset.names:
        out.append(f"        self.sig_{name} = None")
    if not sigset.slots and not sigset.names:
        out.append("        pass")
    out.append("")
    out.append("    def update(self, inp):")
    out.append('        """One update; ``inp`` maps each series to its value or None (undefined)."""')
    counter = [0]
    for name in sigset.names:
        out.append(f"        # {name} = {sigset.exprs[name].to_source()}")
        em = _PyEmitter(out, "        ", counter)
        for s in sigset.owned[name]:
            slot = sigset.slots[s]
            out.append(f"        # slot {s}: {slot.source}")
            args = [em.emit(a) for a in slot.args]
            args += [em._tmp(f"_f(inp[{x!r}])") for x in FUNCTIONS[slot.function].implicit_series]
            cond = " and ".join(f"_fin({a})" for a in args)
            out.append(f"        self._o{s} = self._s{s}.update({', '.join(args)}) if {cond} else None")
        root = em.emit(sigset.roots[name])
        out.append(f"        self.sig_{name} = {root}")
    if not sigset.names:
        out.append("        pass")
    return "\n".join(out) + "\n"


def cpp_runtime() -> str:
    """The C++ signal runtime (``namespace sfsig``); needs <algorithm>, <array>, <cmath>, <cstdint>, <limits>."""
    return environment().get_template("cpp/signal_runtime.hpp.j2").render()


def python_runtime() -> str:
    """The Python signal runtime; needs ``import math``."""
    return environment().get_template("python/signal_runtime.py.j2").render()

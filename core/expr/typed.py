"""Typed, resolved expression tree -- the input of C++/Python code generation.

The root tree is *pure*: it reads series, parameters, named signals and the outputs of stateful
nodes (``SlotRef``). Every stateful function call is hoisted into ``TypedExpr.stateful_nodes`` with
a stable slot index (post-order, left to right, identical calls shared), a resolved window, the
size of its ring buffer and the series it reads. A generator therefore emits, per update::

    for node in stateful_nodes (in slot order): slot[node.slot].update(eval(node.args))
    result = eval(root)

which is exactly what :class:`~.evaluator.Evaluator` does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from .catalog import DataKind, Type
from .nodes import Node, Span
from .printer import to_source

__all__ = [
    "Const", "SeriesRef", "ParamRef", "SignalRef", "UnaryOp", "BinaryOp", "PureCall", "SlotRef",
    "TExpr", "StatefulNode", "TypedExpr",
]


def _span():
    return field(default=Span(1, 2), compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Const:
    """A literal; numbers are stored as float (the language computes in doubles)."""

    value: float | bool
    type: Type
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class SeriesRef:
    name: str
    type: Type = Type.NUMBER
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class ParamRef:
    """A named parameter; a constant whose value is known at generation time."""

    name: str
    value: float | bool
    type: Type
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class SignalRef:
    """An earlier named signal; its value is an input of each update."""

    name: str
    type: Type
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class UnaryOp:
    op: str  # "-" or "not"
    operand: "TExpr"
    type: Type
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class BinaryOp:
    op: str
    left: "TExpr"
    right: "TExpr"
    type: Type
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class PureCall:
    function: str
    args: tuple["TExpr", ...]
    type: Type
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class SlotRef:
    """This update's output of stateful node ``slot``."""

    slot: int
    type: Type
    span: Span = _span()


TExpr = Union[Const, SeriesRef, ParamRef, SignalRef, UnaryOp, BinaryOp, PureCall, SlotRef]


@dataclass(frozen=True, slots=True)
class StatefulNode:
    """One incremental function instance: its own state, updated once per update.

    Attributes:
        slot: stable index, ``0..len(stateful_nodes)-1``; dependencies have smaller slots.
        function: the function name (``ema``, ``sma``, ...).
        args: typed value arguments (the window is not among them).
        window: the resolved window ``n`` (``None`` for cross_above / cross_below).
        window_param: name of the int parameter that gave the window, if any.
        type: the result type.
        own_warmup: updates with defined inputs this node needs before its value is defined.
        warmup: update number at which this node's value is first defined (inputs included).
        ring_capacity: elements in each of its ring buffers (0 when it needs none).
        series: series this node reads directly or through its arguments.
        source: canonical source of the first call that created this slot (for comments/review).
        consts: compile-time constant arguments of the state other than the window, e.g. the
            quantile ``q`` of ``rolling_quantile`` (0.5 for ``rolling_median``).
    """

    slot: int
    function: str
    args: tuple[TExpr, ...]
    window: int | None
    window_param: str | None
    type: Type
    own_warmup: int
    warmup: int
    ring_capacity: int
    series: frozenset[str]
    source: str
    consts: tuple[float, ...] = ()
    span: Span = _span()


@dataclass(frozen=True)
class TypedExpr:
    """A checked expression, ready for evaluation and code generation.

    Attributes:
        node: the syntax tree it was checked from.
        root: the pure typed tree producing the value.
        type: ``Type.NUMBER`` or ``Type.BOOL``.
        stateful_nodes: the incremental function instances in slot order.
        series_used: every series read (including implicit ones, e.g. ``vwap`` reads ``last``).
        params_used: name -> value of every parameter referenced (windows included).
        signals_used: names of earlier named signals referenced.
        data_kinds: data kinds the series need (book / trade / bar, and position for the
            strategy's own position state).
        warmup: the update number at which the value is first defined, assuming every input is
            defined and finite on every update; 0 for a constant expression. For ``vwap`` it is a
            lower bound (vwap counts trades, not updates).
    """

    node: Node
    root: TExpr
    type: Type
    stateful_nodes: tuple[StatefulNode, ...]
    series_used: frozenset[str]
    params_used: dict[str, int | float | bool] = field(hash=False)
    signals_used: frozenset[str]
    data_kinds: frozenset[DataKind]
    warmup: int

    def to_source(self) -> str:
        """Canonical, deterministic source text; ``parse(to_source())`` equals ``node``."""
        return to_source(self.node)

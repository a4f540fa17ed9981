"""The signal expression language: typed entry/exit conditions for strategy specs.

    >>> t = compile_expression("zscore(mid, n) < -entry and spread < 3 * tick", {"n": 50, "entry": 2.0, "tick": 0.01})
    >>> t.type, t.warmup, [s.function for s in t.stateful_nodes]
    (<Type.BOOL: 'bool'>, 50, ['zscore'])

See docs/expressions.md for the grammar, the function table and the exact semantics that the
generated C++ and Python implement.
"""

from __future__ import annotations

from typing import Iterable, Mapping

from .catalog import (FUNCTIONS, KEYWORDS, MAX_DEPTH, MAX_INT_LITERAL, MAX_LENGTH, MAX_LEVELS, MAX_NESTING,
                      MAX_QUANTILE_WINDOW, MAX_WINDOW, SERIES, ArgKind, DataKind, FunctionInfo, SeriesInfo, Type,
                      depth_series)
from .checker import check, validate_params
from .errors import ExpressionError
from .evaluator import Evaluator
from .nodes import Binary, BoolLit, Call, FloatLit, IntLit, Name, Node, Span, Unary
from .parser import parse
from .printer import to_source as _node_source
from .typed import (BinaryOp, Const, ParamRef, PureCall, SeriesRef, SignalRef, SlotRef, StatefulNode,
                    TExpr, TypedExpr, UnaryOp)

__all__ = [
    # entry points
    "parse", "check", "compile_expression", "to_source", "warmup", "Evaluator", "ExpressionError",
    "validate_params",
    # vocabulary
    "Type", "DataKind", "SeriesInfo", "SERIES", "FunctionInfo", "FUNCTIONS", "ArgKind", "KEYWORDS",
    "MAX_WINDOW", "MAX_QUANTILE_WINDOW", "MAX_LEVELS", "MAX_LENGTH", "MAX_NESTING", "MAX_DEPTH", "MAX_INT_LITERAL",
    "depth_series",
    # syntax tree
    "Node", "Span", "IntLit", "FloatLit", "BoolLit", "Name", "Unary", "Binary", "Call",
    # typed tree
    "TypedExpr", "TExpr", "StatefulNode", "Const", "SeriesRef", "ParamRef", "SignalRef", "UnaryOp",
    "BinaryOp", "PureCall", "SlotRef",
]


def compile_expression(
    text: str,
    params: Mapping[str, int | float | bool],
    *,
    signals: Mapping[str, "Type | TypedExpr"] = {},  # noqa: B006 - read only
    expect: Type | None = None,
    data: "Iterable[DataKind] | None" = None,
) -> TypedExpr:
    """``check(parse(text), params, signals=signals, expect=expect, data=data)``."""
    return check(parse(text), params, signals=signals, expect=expect, data=data)


def to_source(expr: "Node | TypedExpr") -> str:
    """Canonical source text of a syntax tree or a checked expression."""
    if isinstance(expr, TypedExpr):
        return expr.to_source()
    return _node_source(expr)


def warmup(expr: TypedExpr) -> int:
    """Update number at which ``expr`` is first defined (0 for a constant expression)."""
    return expr.warmup

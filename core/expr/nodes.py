"""Syntax tree produced by :func:`parse` (untyped; names are not resolved yet).

Nodes are frozen dataclasses. Their ``span`` (1-based ``[start, end)`` columns) and ``depth`` do
not take part in equality, so ``parse(to_source(n)) == n`` compares structure only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple, Union

__all__ = ["Span", "IntLit", "FloatLit", "BoolLit", "Name", "Unary", "Binary", "Call", "Node", "PRECEDENCE",
           "COMPARISONS", "PREC_NOT", "PREC_NEG", "PREC_ATOM"]

# Operator precedence (the parser's and the printer's; see parser.py's module doc)
COMPARISONS = frozenset({"<", "<=", ">", ">=", "==", "!="})
PRECEDENCE: dict[str, int] = {
    "or": 1,
    "and": 2,
    **{op: 4 for op in COMPARISONS},
    "+": 5,
    "-": 5,
    "*": 6,
    "/": 6,
    "%": 6,
}
PREC_NOT = 3
PREC_NEG = 7
PREC_ATOM = 8



class Span(NamedTuple):
    """1-based columns; ``end`` is exclusive."""

    start: int
    end: int


_NO_SPAN = Span(1, 2)


def _meta():
    return field(default=_NO_SPAN, compare=False, repr=False, kw_only=True)


def _depth():
    return field(default=1, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class IntLit:
    value: int
    span: Span = _meta()
    depth: int = _depth()


@dataclass(frozen=True, slots=True)
class FloatLit:
    value: float
    span: Span = _meta()
    depth: int = _depth()


@dataclass(frozen=True, slots=True)
class BoolLit:
    value: bool
    span: Span = _meta()
    depth: int = _depth()


@dataclass(frozen=True, slots=True)
class Name:
    id: str
    span: Span = _meta()
    depth: int = _depth()


@dataclass(frozen=True, slots=True)
class Unary:
    op: str  # "-" or "not"
    operand: "Node"
    span: Span = _meta()
    depth: int = _depth()


@dataclass(frozen=True, slots=True)
class Binary:
    op: str  # or and < <= > >= == != + - * / %
    left: "Node"
    right: "Node"
    span: Span = _meta()
    depth: int = _depth()
    #: column span of the operator token itself
    op_span: Span = _meta()


@dataclass(frozen=True, slots=True)
class Call:
    func: str
    args: tuple["Node", ...]
    span: Span = _meta()
    depth: int = _depth()
    #: column span of the function name
    name_span: Span = _meta()


Node = Union[IntLit, FloatLit, BoolLit, Name, Unary, Binary, Call]

"""Canonical pretty-printer: one normalised spelling per tree, minimal parentheses.

``parse(to_source(node)) == node`` for every tree, and ``to_source(parse(t))`` is the canonical
form of ``t``: single spaces around binary operators, ``not x``, ``-x``, ``f(a, b)``, integers in
decimal, decimals as Python's shortest round-trip ``repr`` (``0.5``, ``1e-05``).
"""

from __future__ import annotations

from .nodes import (COMPARISONS, PREC_ATOM, PREC_NEG, PREC_NOT, PRECEDENCE, Binary, BoolLit, Call, FloatLit, IntLit,
                    Name, Node, Unary)

__all__ = ["to_source", "format_number"]


def format_number(value: int | float) -> str:
    return str(value) if isinstance(value, int) else repr(float(value))


def to_source(node: Node) -> str:
    return _fmt(node)[0]


def _fmt(node: Node) -> tuple[str, int]:
    if isinstance(node, IntLit | FloatLit):
        return format_number(node.value), PREC_ATOM
    if isinstance(node, BoolLit):
        return ("true" if node.value else "false"), PREC_ATOM
    if isinstance(node, Name):
        return node.id, PREC_ATOM
    if isinstance(node, Call):
        return f"{node.func}({', '.join(to_source(a) for a in node.args)})", PREC_ATOM
    if isinstance(node, Unary):
        text, prec = _fmt(node.operand)
        if node.op == "not":
            return f"not {_paren(text, prec < PREC_NOT)}", PREC_NOT
        nested_neg = isinstance(node.operand, Unary) and node.operand.op == "-"
        return f"-{_paren(text, prec < PREC_NEG or nested_neg)}", PREC_NEG
    if isinstance(node, Binary):
        p = PRECEDENCE[node.op]
        lt, lp = _fmt(node.left)
        rt, rp = _fmt(node.right)
        left_paren = lp < p or (lp == p and node.op in COMPARISONS)
        return f"{_paren(lt, left_paren)} {node.op} {_paren(rt, rp <= p)}", p
    raise TypeError(f"Invariant: not an expression node: {node!r}")


def _paren(text: str, wrap: bool) -> str:
    return f"({text})" if wrap else text

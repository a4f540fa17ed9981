"""Hand-written Pratt parser: tokens -> syntax tree (:mod:`.nodes`) with column spans.

Precedence, lowest to highest (all binary operators are left-associative except comparisons,
which do not associate at all)::

    1 or   2 and   3 not (prefix)   4 < <= > >= == !=   5 + -   6 * / %   7 unary -   8 call, ( )

Recursion is bounded by :data:`MAX_NESTING` (the parser's own nesting) and :data:`MAX_DEPTH` (the
depth of the tree it builds), so no input -- however deep or long -- can raise ``RecursionError``.
"""

from __future__ import annotations

from .catalog import MAX_DEPTH, MAX_LENGTH, MAX_NESTING
from .errors import ExpressionError
from .lexer import Token, describe, tokenize
from .nodes import (COMPARISONS, PREC_NEG, PREC_NOT, PRECEDENCE, Binary, BoolLit, Call, FloatLit, IntLit, Name, Node, Span,
                    Unary)
from .printer import to_source

__all__ = ["parse"]

_OPERAND = "an operand (number, true/false, name, function call or '(')"


def parse(text: str) -> Node:
    """Parse expression text into a syntax tree. Raises :class:`ExpressionError`."""
    if not isinstance(text, str):
        raise TypeError(f"expression must be a str, was {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(
            f"expression is too long ({len(text)} characters, max {MAX_LENGTH})", MAX_LENGTH + 1, len(text) + 1)
    tokens = tokenize(text)
    if tokens[0].kind == "end":
        raise ExpressionError("empty expression", 1, expected=_OPERAND)
    return _Parser(tokens).parse_all()


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.nesting = 0

    # -- helpers -----------------------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.tokens[self.pos]

    def advance(self) -> Token:
        tok = self.tokens[self.pos]
        if tok.kind != "end":
            self.pos += 1
        return tok

    def error(self, message: str, tok: Token, expected: str | None = None) -> ExpressionError:
        return ExpressionError(message, tok.start, tok.end, expected=expected)

    def expected(self, what: str, context: str = "") -> ExpressionError:
        found = describe(self.tok)
        return self.error(f"expected {what}{context}, found {found}", self.tok, expected=what)

    @staticmethod
    def depth_of(*children: Node) -> int:
        return 1 + max((c.depth for c in children), default=0)

    def check_depth(self, node: Node) -> Node:
        if node.depth > MAX_DEPTH:
            raise ExpressionError(f"expression nests too deeply (more than {MAX_DEPTH} levels); "
                                  "split it into named signals", node.span.start, node.span.end)
        return node

    # -- grammar -----------------------------------------------------------------------------
    def parse_all(self) -> Node:
        node = self.expr(0)
        if self.tok.kind != "end":
            if self.tok.kind == ")":
                raise self.error("unmatched ')'", self.tok)
            raise self.expected("an operator or end of expression")
        return node

    def expr(self, min_prec: int) -> Node:
        self.nesting += 1
        try:
            if self.nesting > MAX_NESTING:
                raise self.error(f"expression nests too deeply (more than {MAX_NESTING} levels); "
                                 "split it into named signals", self.tok)
            left = self.prefix(min_prec)
            while True:
                op_tok = self.tok
                prec = PRECEDENCE.get(op_tok.kind)
                if prec is None or prec < min_prec:
                    return left
                self.advance()
                right = self.expr(prec + 1)
                left = self.check_depth(Binary(
                    op_tok.kind, left, right,
                    span=Span(left.span.start, right.span.end), depth=self.depth_of(left, right),
                    op_span=Span(op_tok.start, op_tok.end)))
                if op_tok.kind in COMPARISONS and self.tok.kind in COMPARISONS:
                    self.chained_comparison(left)
        finally:
            self.nesting -= 1

    def chained_comparison(self, left: Binary) -> None:
        op2 = self.advance()
        a, b = to_source(left.left), to_source(left.right)
        try:
            c = to_source(self.expr(PRECEDENCE[op2.kind] + 1))
        except ExpressionError:
            c = "c"
        raise ExpressionError(
            f"comparisons cannot be chained: '{a} {left.op} {b} {op2.kind} {c}' is ambiguous; "
            f"write '{a} {left.op} {b} and {b} {op2.kind} {c}'",
            op2.start, op2.end)

    def prefix(self, min_prec: int) -> Node:
        tok = self.tok
        kind = tok.kind
        if kind == "not":
            if min_prec > PREC_NOT:
                raise self.error("'not' binds looser than this operator; put 'not ...' in parentheses", tok)
            self.advance()
            operand = self.expr(PREC_NOT)
            return self.check_depth(Unary("not", operand, span=Span(tok.start, operand.span.end),
                                          depth=self.depth_of(operand)))
        if kind == "-":
            self.advance()
            operand = self.expr(PREC_NEG)
            return self.check_depth(Unary("-", operand, span=Span(tok.start, operand.span.end),
                                          depth=self.depth_of(operand)))
        if kind == "(":
            self.advance()
            if self.tok.kind == ")":
                raise self.expected(_OPERAND, " inside '()'")
            inner = self.expr(0)
            if self.tok.kind != ")":
                raise self.expected("')'", f" to close '(' at column {tok.start}")
            self.advance()
            return inner
        if kind == "int":
            self.advance()
            return IntLit(tok.value, span=Span(tok.start, tok.end))
        if kind == "float":
            self.advance()
            return FloatLit(tok.value, span=Span(tok.start, tok.end))
        if kind in ("true", "false"):
            self.advance()
            return BoolLit(kind == "true", span=Span(tok.start, tok.end))
        if kind == "name":
            self.advance()
            if self.tok.kind == "(":
                return self.call(tok)
            return Name(tok.text, span=Span(tok.start, tok.end))
        if kind == ")":
            raise self.expected(_OPERAND, "" if self.pos == 0 else f" after {describe(self.tokens[self.pos - 1])}")
        if kind == "end":
            prev = self.tokens[self.pos - 1]
            raise self.expected(_OPERAND, f" after {describe(prev)}")
        raise self.expected(_OPERAND)

    def call(self, name: Token) -> Node:
        self.advance()  # "("
        args: list[Node] = []
        if self.tok.kind == ")":
            end = self.advance()
        else:
            while True:
                if self.tok.kind in (")", ",", "end"):
                    raise self.expected(f"argument {len(args) + 1} of {name.text}")
                args.append(self.expr(0))
                if self.tok.kind == ",":
                    self.advance()
                    continue
                if self.tok.kind == ")":
                    end = self.advance()
                    break
                if self.tok.kind == "end":
                    raise self.expected("')'", f" after arguments of {name.text}")
                raise self.expected("',' or ')'", f" after argument {len(args)} of {name.text}")
        return self.check_depth(Call(name.text, tuple(args), span=Span(name.start, end.end),
                                     depth=self.depth_of(*args),
                                     name_span=Span(name.start, name.end)))

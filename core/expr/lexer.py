"""Tokenizer: text -> tokens with 1-based column spans. Rejects anything outside the language."""

from __future__ import annotations

import math
from dataclasses import dataclass

from .catalog import KEYWORDS, MAX_INT_LITERAL
from .errors import ExpressionError

__all__ = ["Token", "tokenize", "describe"]

_TWO_CHAR = {"<=", ">=", "==", "!="}
_ONE_CHAR = set("()+-*/%<>,")
_WHITESPACE = " \t\r\n"
# Characters people reach for from other languages, with the fix.
_HINTS = {
    "&&": "'&&' is not an operator; use 'and'",
    "||": "'||' is not an operator; use 'or'",
    "**": "there is no power operator",
    "!": "'!' is not an operator; use 'not' (or '!=' for inequality)",
    "=": "'=' is not an operator; use '==' to compare",
    "&": "'&' is not an operator; use 'and'",
    "|": "'|' is not an operator; use 'or'",
    "[": "indexing is not supported; use lag(x, n) for past values",
    "]": "indexing is not supported; use lag(x, n) for past values",
    "?": "there is no conditional operator; combine conditions with 'and' / 'or'",
    ":": "there is no conditional operator; combine conditions with 'and' / 'or'",
    "'": "strings are not part of the language",
    '"': "strings are not part of the language",
    "^": "'^' is not an operator; there is no power operator",
    ".": "a number needs a digit before '.', e.g. 0.5",
}


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # "int", "float", "name", a keyword, an operator, or "end"
    text: str
    start: int  # 1-based column
    end: int  # exclusive
    value: int | float | None = None


def describe(tok: Token) -> str:
    """How a token is named in 'found X' messages."""
    if tok.kind == "end":
        return "end of expression"
    if tok.kind == "name":
        return f"name '{tok.text}'"
    if tok.kind in ("int", "float"):
        return f"number {tok.text}"
    return f"'{tok.text}'"


def _is_digit(ch: str) -> bool:
    return "0" <= ch <= "9"


def _is_name_start(ch: str) -> bool:
    return ("a" <= ch <= "z") or ("A" <= ch <= "Z") or ch == "_"


def _is_name_char(ch: str) -> bool:
    return _is_name_start(ch) or _is_digit(ch)


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        col = i + 1
        if ch in _WHITESPACE:
            i += 1
            continue
        if _is_digit(ch):
            i = _number(text, i, tokens)
            continue
        if _is_name_start(ch):
            j = i + 1
            while j < n and _is_name_char(text[j]):
                j += 1
            word = text[i:j]
            tokens.append(Token(word if word in KEYWORDS else "name", word, col, j + 1))
            i = j
            continue
        two = text[i : i + 2]
        if two in _TWO_CHAR:
            tokens.append(Token(two, two, col, col + 2))
            i += 2
            continue
        if two in _HINTS:
            raise ExpressionError(_HINTS[two], col, col + 2)
        if ch in _ONE_CHAR:
            tokens.append(Token(ch, ch, col, col + 1))
            i += 1
            continue
        if ch in _HINTS:
            raise ExpressionError(_HINTS[ch], col, col + 1)
        shown = repr(ch) if ch.isprintable() else f"U+{ord(ch):04X}"
        raise ExpressionError(f"unexpected character {shown}; it is not part of the expression language", col, col + 1)
    tokens.append(Token("end", "", n + 1, n + 2))
    return tokens


def _number(text: str, i: int, tokens: list[Token]) -> int:
    """Scan ``digits ['.' digits] [('e'|'E') ['+'|'-'] digits]`` starting at ``i``."""
    n = len(text)
    start = i
    while i < n and _is_digit(text[i]):
        i += 1
    is_float = False
    if i < n and text[i] == ".":
        is_float = True
        i += 1
        if not (i < n and _is_digit(text[i])):
            raise ExpressionError("expected digits after '.' in number", start + 1, i + 1,
                                  expected="digits after '.'")
        while i < n and _is_digit(text[i]):
            i += 1
    if i < n and text[i] in "eE":
        is_float = True
        j = i + 1
        if j < n and text[j] in "+-":
            j += 1
        if not (j < n and _is_digit(text[j])):
            raise ExpressionError("expected digits in the exponent of number", start + 1, j + 1,
                                  expected="exponent digits")
        while j < n and _is_digit(text[j]):
            j += 1
        i = j
    if i < n and (_is_name_char(text[i]) or text[i] == "."):
        j = i
        while j < n and (_is_name_char(text[j]) or text[j] == "."):
            j += 1
        raise ExpressionError(f"malformed number '{text[start:j]}'", start + 1, j + 1)
    lexeme = text[start:i]
    col, end = start + 1, i + 1
    if is_float:
        value = float(lexeme)
        if not math.isfinite(value):
            raise ExpressionError(f"number {lexeme} is out of range for a double", col, end)
        tokens.append(Token("float", lexeme, col, end, value))
    else:
        if len(lexeme) > 20 or int(lexeme) > MAX_INT_LITERAL:
            raise ExpressionError(
                f"integer {lexeme} is too large (max {MAX_INT_LITERAL}, the largest exact double integer)",
                col, end)
        tokens.append(Token("int", lexeme, col, end, int(lexeme)))
    return i

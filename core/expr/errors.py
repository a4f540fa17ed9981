"""The one error type of the expression language.

Every problem with an expression -- a bad character, a syntax error, an unknown name, a type or
window error -- is an :class:`ExpressionError` carrying a 1-based column span, so the spec loader
and the LLM repair loop can both point at the exact characters. Caller bugs (a malformed
``params`` mapping, a missing evaluator input) are ordinary ``ValueError``/``TypeError``/``KeyError``.
"""

from __future__ import annotations

__all__ = ["ExpressionError"]


class ExpressionError(Exception):
    """A problem in an expression's text.

    Attributes:
        message: what is wrong and, where possible, how to fix it.
        column: 1-based column of the first offending character.
        end_column: 1-based column just *after* the last offending character (exclusive), so the
            offending text is ``text[column - 1:end_column - 1]``; always ``> column``.
        expected: what the parser expected at this point, if the error is "expected X, found Y".
        suggestion: the closest valid name for an unknown name, if one is close enough.
    """

    def __init__(
        self,
        message: str,
        column: int,
        end_column: int | None = None,
        *,
        expected: str | None = None,
        suggestion: str | None = None,
    ) -> None:
        column = max(1, int(column))
        end_column = column + 1 if end_column is None else max(column + 1, int(end_column))
        self.message = message
        self.column = column
        self.end_column = end_column
        self.expected = expected
        self.suggestion = suggestion
        super().__init__(message, column, end_column)

    def __str__(self) -> str:
        return f"column {self.column}: {self.message}"

    def __repr__(self) -> str:
        return f"ExpressionError({self.message!r}, column={self.column}, end_column={self.end_column})"

    def render(self, text: str) -> str:
        """The expression on one line with carets under the offending span, then the message."""
        line = "".join(" " if ch in "\t\r\n" else ch for ch in text)
        width = max(1, min(self.end_column, len(line) + 2) - self.column)
        return f"{line}\n{' ' * (self.column - 1)}{'^' * width}\n{self}"

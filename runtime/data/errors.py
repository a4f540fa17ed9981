"""Errors of the market-data package, grouped by what the caller should do.

``DataError`` is the root, caught once at the CLI boundary and printed as one line.
"""

from __future__ import annotations


class DataError(Exception):
    """Root of every error raised by ``stratforge.runtime.data``."""


class InputError(DataError):
    """Bad input from the caller (missing file, bad option, malformed row): fix the input."""


class DataFormatError(DataError):
    """A file is not in the format it claims (bad magic, truncated, wrong layout)."""


def row_error(path: object, line: int, message: str) -> InputError:
    """An ``InputError`` naming the file and the 1-based line number."""
    return InputError(f"{path}:{line}: {message}")

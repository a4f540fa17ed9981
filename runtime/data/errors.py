"""Errors of the market-data package, grouped by what the caller should do.

``DataError`` is the root, caught once at the CLI boundary and printed as one line (a malformed
file's message has one line per bad row).
"""

from __future__ import annotations

#: A malformed file lists at most this many bad rows, then the count of the rest.
MAX_ROW_ERRORS = 20


class DataError(Exception):
    """Root of every error raised by ``stratforge.runtime.data``."""


class InputError(DataError):
    """Bad input from the caller (missing file, bad option, malformed row): fix the input."""


class DataFormatError(DataError):
    """A file is not in the format it claims (bad magic, truncated, wrong layout)."""


class MalformedRowsError(InputError):
    """Rows of a text file that cannot be read; ``rows`` holds every ``(line, message)``."""

    def __init__(self, path: object, rows: list[tuple[int, str]]) -> None:
        self.path = path
        self.rows = sorted(rows)
        shown = self.rows[:MAX_ROW_ERRORS]
        lines = [f"{path}:{line}: {message}" for line, message in shown]
        if len(self.rows) == 1:
            text = lines[0]
        else:
            text = f"{path}: {len(self.rows)} malformed rows:\n  " + "\n  ".join(lines)
            if len(self.rows) > len(shown):
                text += f"\n  ... and {len(self.rows) - len(shown)} more"
        super().__init__(text)


def row_error(path: object, line: int, message: str) -> InputError:
    """An ``InputError`` naming the file and the 1-based line number."""
    return MalformedRowsError(path, [(line, message)])


class RowErrors:
    """Collects the bad rows of one file so that all of them are reported at once."""

    def __init__(self, path: object) -> None:
        self.path = path
        self.rows: list[tuple[int, str]] = []

    def add(self, line: int, message: str) -> None:
        self.rows.append((int(line), message))

    def __bool__(self) -> bool:
        return bool(self.rows)

    def raise_if_any(self) -> None:
        if self.rows:
            raise MalformedRowsError(self.path, self.rows)

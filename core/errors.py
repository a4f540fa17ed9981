"""The project's exceptions, grouped by what the caller should do about them.

Everything raised on purpose derives from :class:`StratforgeError`, which the CLI catches at the
top and prints as a clear message (no traceback). The groups:

* :class:`UserInputError` — the user must fix an input (a spec, a path, a flag).
* :class:`RetryableError` — a transient fault (a provider timeout); trying again may work.
* :class:`GeneratedCodeError` — generated code is at fault (does not compile, fails a check).
* :class:`ProviderError` — an LLM provider misbehaved or is misconfigured.
* :class:`InvariantError` — a bug in stratforge itself ("Invariant: ...").
"""

from __future__ import annotations

from dataclasses import dataclass


class StratforgeError(Exception):
    """Root of every error stratforge raises on purpose."""


class UserInputError(StratforgeError):
    """Bad input from the user; the message says how to fix it."""


class RetryableError(StratforgeError):
    """A transient failure; the same call may succeed later."""


class GeneratedCodeError(StratforgeError):
    """Generated code failed a check, a build or a test."""


class ProviderError(StratforgeError):
    """An LLM provider failed or is misconfigured."""


class InvariantError(StratforgeError):
    """An internal invariant broke: a bug in stratforge."""


@dataclass(frozen=True)
class SpecIssue:
    """One problem in a spec file, positioned: ``file:line:column path: message``."""

    file: str
    line: int
    column: int
    path: str
    message: str
    rule: str = ""

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column} {self.path}: {self.message}"

    def to_dict(self) -> dict[str, object]:
        return {"file": self.file, "line": self.line, "column": self.column, "path": self.path,
                "message": self.message, "rule": self.rule or None}


class SpecError(UserInputError):
    """A spec is invalid; ``issues`` lists every problem found."""

    def __init__(self, issues: list[SpecIssue]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))

"""The result type shared by the C++ and Python static checks, and the rule table type.

A :class:`Finding` is one violation, positioned ``file:line:column``, with a stable rule id
(``SF-CPP-HEAP``, ``SF-PY-IMPORT``, ...) and a message that says how to fix it. Findings are
values (frozen, ordered), so a list of them sorts deterministically and compares with ``==``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Literal

Severity = Literal["error", "warning"]

__all__ = ["Finding", "Rule", "Severity", "sort_findings"]


@dataclass(frozen=True, order=True)
class Finding:
    """One static-check violation. Field order is the sort order: file, line, column, rule."""

    file: str
    line: int
    column: int
    rule: str
    severity: Severity
    message: str
    snippet: str = ""

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.severity}: {self.message} [{self.rule}]"

    def to_dict(self) -> dict[str, object]:
        return {"rule": self.rule, "severity": self.severity, "file": self.file, "line": self.line,
                "column": self.column, "message": self.message, "snippet": self.snippet}


@dataclass(frozen=True)
class Rule:
    """A documented check: its stable id, default severity, where it applies and why."""

    id: str
    severity: Severity
    scope: str
    summary: str
    why: str
    instead: str


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Deduplicated findings in a stable order (file, line, column, rule, message)."""
    return sorted(set(findings))

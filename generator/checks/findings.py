"""The rule table type of the C++ and Python static checks, and their result type
(:class:`Finding`, defined in ``stratforge.core.steps`` so the manifest and scorecard share it).

A :class:`Finding` is one violation, positioned ``file:line:column``, with a stable rule id
(``SF-CPP-HEAP``, ``SF-PY-IMPORT``, ...) and a message that says how to fix it. Findings are
values (frozen, ordered), so a list of them sorts deterministically and compares with ``==``.
"""

from __future__ import annotations

from dataclasses import dataclass

from stratforge.core.steps import Finding, Severity, sort_findings

__all__ = ["Finding", "Rule", "Severity", "sort_findings"]


@dataclass(frozen=True)
class Rule:
    """A documented check: its stable id, default severity, where it applies and why."""

    id: str
    severity: Severity
    scope: str
    summary: str
    why: str
    instead: str

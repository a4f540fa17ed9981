"""What a spec rule reports: :class:`Violation`, and :class:`RuleViolations` that carries them.

A module of its own so that the rules (:mod:`stratforge.core.spec.rules`) and the signal checks
(:mod:`stratforge.core.spec.signals`) share it without importing each other in a cycle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Violation:
    """One broken rule: where (field path), what (message), and the value found."""

    path: Path
    message: str
    value: Any = None
    rule: str = ""
    column: int | None = None  # 1-based column inside a string value (expressions)


class RuleViolations(ValueError):
    """Raised from the spec's model validator with every violation found."""

    def __init__(self, violations: list[Violation]) -> None:
        self.violations = violations
        super().__init__("; ".join(f"{'.'.join(map(str, v.path))}: {v.message}" for v in violations))


__all__ = ["Path", "RuleViolations", "Violation"]

"""Static checks for generated strategy code (C++ via libclang, Python via ``ast``).

Public API::

    check_cpp(source, *, include_dirs=None, filename=None, expected_name=None) -> list[Finding]
    check_python(text, filename="strategy.py") -> list[Finding]
    RULES          # every rule id -> Rule (id, severity, scope, summary, why, instead)

Rules and their rationale are documented in docs/static-checks.md (a test keeps it complete).
"""

from __future__ import annotations

from .cpp.check import check_cpp
from .cpp.rules import CPP_RULES, HANDLERS
from .findings import Finding, Rule, Severity, sort_findings
from .python import PY_RULES, check_python

RULES: dict[str, Rule] = {**CPP_RULES, **PY_RULES}

__all__ = ["RULES", "CPP_RULES", "PY_RULES", "HANDLERS", "Finding", "Rule", "Severity", "check_cpp",
           "check_python", "sort_findings"]

"""Every rule is documented in docs/static-checks.md, and the doc names no unknown rule."""

from __future__ import annotations

import re
from pathlib import Path

from stratforge.generator.checks import RULES

DOC = Path(__file__).resolve().parents[3] / "docs" / "static-checks.md"


def test_every_rule_is_documented():
    text = DOC.read_text()
    missing = [r for r in RULES if f"`{r}`" not in text]
    assert not missing, f"undocumented rules in docs/static-checks.md: {missing}"


def test_doc_mentions_only_known_rules():
    text = DOC.read_text()
    unknown = sorted(set(re.findall(r"SF-(?:CPP|PY)-[A-Z-]+[A-Z]", text)) - set(RULES))
    assert not unknown, unknown


def test_rule_table_is_complete():
    for rule in RULES.values():
        assert rule.severity in ("error", "warning")
        assert rule.summary and rule.why and rule.instead and rule.scope


def test_cpp_module_table_matches_the_package():
    """docs/static-checks.md lists each module of generator/checks/cpp/ (and no other)."""
    package = DOC.parents[1] / "generator" / "checks" / "cpp"
    modules = {p.name for p in package.glob("*.py") if p.name != "__init__.py"}
    text = DOC.read_text()
    listed = set(re.findall(r"^\| `([a-z_]+\.py)` \|", text, flags=re.MULTILINE))
    assert modules, package
    assert listed == modules, f"docs/static-checks.md module table: missing {sorted(modules - listed)}, " \
                              f"stale {sorted(listed - modules)}"

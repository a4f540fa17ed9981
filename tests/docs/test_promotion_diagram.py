"""docs/promotion.md's stage diagram is the registry's rules: every arrow it draws is allowed by
registry/rules.py, and every promotion the rules allow is drawn."""

from __future__ import annotations

import re
import pytest

from stratforge.registry import reasons as R
from stratforge.registry import rules
from stratforge.registry.models import STAGES
from stratforge.registry.phase import GateOutcome, GateResult

from doc_kit import REPO

PAGE = REPO / "docs" / "promotion.md"


def stage_edges(text: str) -> dict[tuple[str, str], str]:
    """(from, to) -> label of the first Mermaid block of the stage section."""
    section = text[text.index("## The stages of a version"):]
    body = re.search(r"```mermaid\n(.*?)```", section, re.S).group(1)
    edges = {}
    for line in body.splitlines():
        m = re.match(r"\s*(\S+)\s*-->\s*(\S+?)(?::\s*(.*))?$", line)
        if m:
            edges[(m.group(1), m.group(2))] = m.group(3) or ""
    return edges


def facts(stage: str) -> rules.PromotionFacts:
    """A version in ``stage`` with everything else in order (PASS, observed where it is,
    shadow gate Successful, approved by someone else)."""
    return rules.PromotionFacts(strategy="s", number=2, build_id="b2", author="ann", stage=stage,
                                observed=stage if stage in ("shadow", "live") else None,
                                verdict="PASS", shadow_gate=GateResult(GateOutcome.SUCCESSFUL),
                                approvals=(("bob", "b2"),))


def mismatches(text: str) -> list[str]:
    """Every way the drawn promotion arrows differ from what rules.check_promotion allows."""
    edges = stage_edges(text)
    out = []
    for stage in STAGES:
        for to in ("shadow", "live"):
            drawn = (stage, to) in edges and edges[(stage, to)].startswith("promote")
            allowed = rules.check_promotion(facts(stage), to) is None
            if drawn != allowed:
                out.append(f"{stage} -> {to}: drawn {drawn}, rules allow {allowed}")
    return out


def test_the_diagram_has_the_registrys_stages():
    edges = stage_edges(PAGE.read_text(encoding="utf-8"))
    drawn = {s for pair in edges for s in pair} - {"[*]"}
    assert drawn == set(STAGES)


def test_promotion_arrows_match_the_rules():
    assert mismatches(PAGE.read_text(encoding="utf-8")) == []


def test_rollback_arrow_matches_the_rules():
    edges = stage_edges(PAGE.read_text(encoding="utf-8"))
    assert edges[("retired", "live")].startswith("rollback")
    assert rules.check_rollback((5, 3), (4, 2), "s") is None
    assert rules.check_rollback((5, 3), None, "s").reason == R.NO_ROLLBACK_TARGET


@pytest.mark.parametrize("edit", [
    ("    candidate --> shadow:", "    candidate --> live: promote --to live\n    candidate --> shadow:"),
    ("    shadow --> live: promote", "    shadow --> live: approve"),
])
def test_a_wrong_diagram_is_caught(edit):
    text = PAGE.read_text(encoding="utf-8").replace(*edit)
    assert mismatches(text) != []

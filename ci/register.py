"""Record what ``stratforge build`` built in the registry (issue 12, item 5).

Every build that produced a scorecard becomes a version of its strategy — PASS, FAIL or
INCONCLUSIVE alike — so the registry is the one list of what exists; only a PASS may later be
promoted (registry/rules.py decides that, not this module). A build that stopped before it had
code (``BuildFailed`` in generate) leaves no bundle and so no version. Registering the same build
id again (an unchanged rerun) records nothing new and returns the same version number.
"""

from __future__ import annotations

import json

from stratforge.ci.build import ScoreOutcome
from stratforge.core.errors import InvariantError
from stratforge.core.spec import LoadedSpec
from stratforge.registry import Registry
from stratforge.registry.phase import ShadowGate

__all__ = ["register_outcome"]


def register_outcome(reg: Registry, loaded: LoadedSpec, out: ScoreOutcome, *, author: str) -> int:
    """Register the scored build ``out`` of ``loaded`` as a version; its number."""
    card = out.scorecard
    written = [p for p in out.files if p.name == "scorecard.json"]
    if not written:
        raise InvariantError("Invariant: a scored build wrote no scorecard.json")
    return reg.register_build(
        strategy=loaded.spec.metadata.name, spec_hash=card.provenance.spec_hash,
        build_id=card.provenance.build_id, bundle=str(written[0].parent),
        scorecard=json.loads(card.model_dump_json()), verdict=card.verdict.value, author=author,
        shadow_gate=ShadowGate.from_spec_gates(loaded.spec.gates))

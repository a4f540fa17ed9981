"""Record what ``stratforge build`` built in the registry (issue 12, item 5).

Every build that produced a scorecard becomes a version of its strategy — PASS, FAIL or
INCONCLUSIVE alike — so the registry is the one list of what exists; only a PASS may later be
promoted (registry/rules.py decides that, not this module). A build that stopped before it had
code (``BuildFailed`` in generate) leaves no bundle and so no version. Registering the same build
id again (an unchanged rerun) records nothing new and returns the same version number.

A version's bundle must never change after it is registered: the deployer loads the plugin its
scorecard names, the dashboard shows its code and diffs it against live. The working copy
``strategies/<name>/`` is rewritten by the next build of the strategy, so the registry records
the version's own copy, :func:`archive_bundle`: ``<build root>/versions/<name>/<build id>/``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from stratforge.ci.build import ScoreOutcome
from stratforge.core.errors import InvariantError
from stratforge.core.spec import LoadedSpec
from stratforge.registry import Registry
from stratforge.registry.phase import ShadowGate

__all__ = ["archive_bundle", "register_outcome"]

#: what a version's copy leaves out: the working copy's own build products
_NOT_ARCHIVED = shutil.ignore_patterns("build", "__pycache__")


def archive_bundle(bundle: Path, build_root: Path, strategy: str, build_id: str) -> Path:
    """The version's immutable copy of ``bundle``: ``build_root/versions/strategy/build_id``.
    Written whole into a temporary folder and renamed into place, so it exists complete or not
    at all; an existing copy is kept as it is (the same build id is the same build)."""
    card = bundle / "scorecard.json"
    try:
        found = json.loads(card.read_text(encoding="utf-8"))["provenance"]["build_id"]
    except (OSError, ValueError, KeyError, TypeError):
        raise InvariantError(f"Invariant: {card} is missing or has no provenance.build_id") \
            from None
    if found != build_id:
        raise InvariantError(f"Invariant: {card} is build {found}, not {build_id}")
    dest = build_root / "versions" / strategy / build_id
    if dest.is_dir():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{build_id}-", dir=dest.parent))
    try:
        shutil.copytree(bundle, tmp / "b", ignore=_NOT_ARCHIVED)
        os.replace(tmp / "b", dest)
    except OSError:
        if not dest.is_dir():  # else another process archived the same build meanwhile
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def register_outcome(reg: Registry, loaded: LoadedSpec, out: ScoreOutcome, *, author: str,
                     build_root: Path) -> int:
    """Register the scored build ``out`` of ``loaded`` as a version (its bundle archived under
    ``build_root``); its number."""
    card = out.scorecard
    written = [p for p in out.files if p.name == "scorecard.json"]
    if not written:
        raise InvariantError("Invariant: a scored build wrote no scorecard.json")
    name, build_id = loaded.spec.metadata.name, card.provenance.build_id
    return reg.register_build(
        strategy=name, spec_hash=card.provenance.spec_hash, build_id=build_id,
        bundle=str(archive_bundle(written[0].parent, build_root, name, build_id)),
        scorecard=json.loads(card.model_dump_json()), verdict=card.verdict.value, author=author,
        shadow_gate=ShadowGate.from_spec_gates(loaded.spec.gates))

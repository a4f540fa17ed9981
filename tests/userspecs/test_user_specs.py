"""Specs written fresh, on data the examples do not use, built end to end as a user would.

Each spec in ``specs/`` has an entry in ``expected.yaml``: the verdict it must reach, the gates
that decide it, and why. A build must never end in an internal error, and a spec written only
with templates (no LLM) must never fail for the pipeline: every gate that judges the pipeline's
own work (the run itself, generated tests, sanitizers, static checks, parity, bias checks) must
pass, so a FAIL or INCONCLUSIVE verdict is always the strategy's (performance, activity, latency).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SPECS = HERE / "specs"
EXPECTED: dict[str, dict] = yaml.safe_load((HERE / "expected.yaml").read_text())
#: gate kinds that judge the pipeline's own work, not the strategy
PIPELINE_KINDS = {"run", "quality"}
TYPES = {"market_making", "momentum", "mean_reversion", "stat_arb", "order_book_imbalance",
         "custom"}


def _cases() -> list:
    out = []
    for path in sorted(SPECS.glob("*.yaml")):
        exp = EXPECTED.get(path.stem, {})
        marks = [pytest.mark.slow]
        if exp.get("data") == "shared":
            marks.append(pytest.mark.shared_data)
        out.append(pytest.param(path.stem, marks=marks, id=path.stem))
    return out


def test_the_set_is_complete_and_explained() -> None:
    names = {p.stem for p in SPECS.glob("*.yaml")}
    assert len(names) >= 12
    assert names == set(EXPECTED), names ^ set(EXPECTED)
    kinds = set()
    for name, exp in EXPECTED.items():
        assert exp["verdict"] in ("PASS", "FAIL", "INCONCLUSIVE"), name
        assert len(exp.get("why", "").split()) >= 8, f"{name}: say why this verdict is expected"
        assert exp.get("data") in ("repo", "shared"), name
        assert exp.get("gates"), f"{name}: name the gates that decide the verdict"
        kinds.add(yaml.safe_load((SPECS / f"{name}.yaml").read_text())["strategy"]["type"])
    assert kinds == TYPES, TYPES - kinds
    assert any(e["data"] == "repo" for e in EXPECTED.values())
    assert {e["verdict"] for e in EXPECTED.values()} >= {"PASS", "FAIL"}


@pytest.mark.parametrize("name", _cases())
def test_user_spec_builds_to_its_expected_verdict(name: str, tmp_path: Path) -> None:
    exp = EXPECTED[name]
    out_root, build_dir = tmp_path / "strategies", tmp_path / "build"
    proc = subprocess.run([sys.executable, "-m", "stratforge", "build", str(SPECS / f"{name}.yaml"),
                           "--out", str(out_root), "--build-dir", str(build_dir)],
                          cwd=REPO, capture_output=True, text=True, timeout=1200)
    output = proc.stdout + proc.stderr
    assert "internal error" not in output and "Traceback" not in output, output[-3000:]
    card_path = out_root / name / "scorecard.json"
    assert card_path.is_file(), f"no scorecard (exit {proc.returncode}):\n{output[-3000:]}"
    card = json.loads(card_path.read_text())
    gates = {g["name"]: g for g in card["gates"]}
    summary = "\n".join(f"  {g['name']} {g['kind']} {g['status']} {g['reason']}: {g['message']}"
                        for g in card["gates"])
    assert card["verdict"] == exp["verdict"], f"{card['verdict_line']}\n{summary}"
    assert proc.returncode == (0 if exp["verdict"] == "PASS" else 1), output[-2000:]
    for gate, status in exp["gates"].items():
        assert gate in gates, f"{gate} not on the scorecard:\n{summary}"
        assert gates[gate]["status"] == status, f"{gate}: {gates[gate]}\n{summary}"
    pipeline_faults = [g for g in card["gates"]
                       if g["kind"] in PIPELINE_KINDS and g["status"] != "PASS"
                       and g["name"] not in exp["gates"]]
    assert not pipeline_faults, f"the pipeline, not the strategy, failed:\n{summary}"

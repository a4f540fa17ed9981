""".github/workflows/strategy-pipeline.yml: parsed and held to the issue's requirements; each
requirement is also shown to catch a planted defect."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

WORKFLOW = Path(__file__).resolve().parents[3] / ".github" / "workflows" / "strategy-pipeline.yml"
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")


def load() -> dict[str, Any]:
    doc = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    if True in doc:  # YAML 1.1 reads the key `on` as a boolean
        doc["on"] = doc.pop(True)
    return doc


def _steps(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for job in doc["jobs"].values() for s in job.get("steps", ())]


def problems(doc: dict[str, Any]) -> list[str]:
    """What the workflow lacks of the issue's requirements (empty: none)."""
    out = []
    for event in ("push", "pull_request"):
        if "specs/**" not in (doc.get("on", {}).get(event) or {}).get("paths", ()):
            out.append(f"{event} trigger not limited to specs/**")
    if doc.get("permissions") != {"contents": "read"}:
        out.append("top-level permissions are not read-only")
    conc = doc.get("concurrency") or {}
    if "github.ref" not in str(conc.get("group", "")) and "head_ref" not in str(conc.get("group")):
        out.append("no concurrency group per branch")
    for name, job in doc["jobs"].items():
        if not isinstance(job.get("timeout-minutes"), int):
            out.append(f"job {name} has no timeout")
        if set((job.get("permissions") or {}).items()) - {("contents", "write"),
                                                          ("pull-requests", "write")}:
            out.append(f"job {name} asks for more than contents/pull-requests write")
    steps = _steps(doc)
    for s in steps:
        if "uses" in s and not PINNED.match(s["uses"].split("#")[0].strip()):
            out.append(f"action not pinned to a commit: {s['uses']}")
        if s.get("continue-on-error"):
            out.append(f"step {s.get('name', s.get('uses'))} may fail silently")
    uses = [s.get("uses", "").split("@")[0] for s in steps]
    for action in ("actions/checkout", "actions/setup-python", "actions/upload-artifact"):
        if action not in uses:
            out.append(f"no {action} step")
    setup = next((s for s in steps if s.get("uses", "").startswith("actions/setup-python")), {})
    if (setup.get("with") or {}).get("cache") != "pip":
        out.append("no pip cache")
    cached = " ".join(str((s.get("with") or {}).get("path", "")) for s in steps
                      if s.get("uses", "").startswith("actions/cache"))
    if "build/" not in cached:
        out.append("no cache of the built engine")
    if "models" not in cached:
        out.append("no cache of the bundled model")
    runs = [(s, s.get("run", "")) for s in steps]
    self_test = [s for s, r in runs if "stratforge ci sandbox-check" in r]
    if not self_test:
        out.append("no sandbox self-test step")
    ci = [(s, r) for s, r in runs if re.search(r"stratforge ci run --base \S+ --publish github", r)]
    if not ci:
        out.append("no `stratforge ci run --base ... --publish github` step")
    else:
        step, _ = ci[0]
        base = str((step.get("env") or {}).get("BASE", ""))
        if "github.event.before" not in base:
            out.append("--base is not the push's before SHA")
        if "secrets.GITHUB_TOKEN" not in str((step.get("env") or {}).get("GITHUB_TOKEN", "")):
            out.append("the publishing step has no GITHUB_TOKEN")
        if self_test and steps.index(self_test[0]) > steps.index(step):
            out.append("the sandbox self-test runs after the pipeline")
    for name, job in doc["jobs"].items():
        if any("stratforge ci run" in s.get("run", "") for s in job.get("steps", ())) and \
                "github.workspace" not in str((job.get("env") or {}).get("STRATFORGE_DATA_ROOTS", "")):
            out.append(f"job {name} does not confine a spec's data files to the checkout "
                       "(STRATFORGE_DATA_ROOTS)")
    upload = next((s for s in steps if s.get("uses", "").startswith("actions/upload-artifact")),
                  {})
    if "strategies/" not in str((upload.get("with") or {}).get("path", "")):
        out.append("bundles and scorecards are not uploaded")
    return out


def test_the_workflow_meets_every_requirement() -> None:
    assert problems(load()) == []


def test_checkout_has_the_history_the_diff_needs() -> None:
    checkout = next(s for s in _steps(load()) if s.get("uses", "").startswith("actions/checkout"))
    assert checkout["with"]["fetch-depth"] == 0


def _plant(edit) -> list[str]:  # noqa: ANN001
    doc = copy.deepcopy(load())
    edit(doc)
    return problems(doc)


def _step(doc: dict[str, Any], needle: str) -> dict[str, Any]:
    return next(s for s in _steps(doc) if needle in s.get("uses", "") + s.get("run", ""))


@pytest.mark.parametrize(("edit", "caught"), [
    (lambda d: d["on"]["push"].pop("paths"), "push trigger"),
    (lambda d: d.update(permissions="write-all"), "top-level permissions"),
    (lambda d: next(iter(d["jobs"].values()))["permissions"].update(actions="write"),
     "asks for more"),
    (lambda d: next(iter(d["jobs"].values())).pop("timeout-minutes"), "no timeout"),
    (lambda d: d.pop("concurrency"), "concurrency"),
    (lambda d: _step(d, "actions/checkout").update(uses="actions/checkout@v4"), "not pinned"),
    (lambda d: _step(d, "sandbox-check").update({"continue-on-error": True}), "fail silently"),
    (lambda d: _step(d, "sandbox-check").update(run="echo skipped"), "sandbox self-test"),
    (lambda d: _step(d, "--publish github")["env"].update(BASE="HEAD~1"), "before SHA"),
    (lambda d: _step(d, "--publish github")["env"].pop("GITHUB_TOKEN"), "GITHUB_TOKEN"),
    (lambda d: _step(d, "actions/setup-python")["with"].pop("cache"), "pip cache"),
    (lambda d: _step(d, "upload-artifact")["with"].update(path="x"), "not uploaded"),
    (lambda d: next(iter(d["jobs"].values()))["env"].pop("STRATFORGE_DATA_ROOTS"),
     "STRATFORGE_DATA_ROOTS"),
])
def test_a_planted_defect_is_caught(edit, caught: str) -> None:  # noqa: ANN001
    found = _plant(edit)
    assert any(caught in p for p in found), found

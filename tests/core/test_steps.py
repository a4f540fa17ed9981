"""core/steps.py: the build's typed steps, statuses, results, findings and manifest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stratforge.core.steps import (BuildRecord, Finding, Manifest, ManifestError, Status, Step,
                                   StepRecord, StepResult, sort_findings)

#: A manifest as `stratforge generate` wrote it before it was typed (string findings included).
_OLD = {
    "format": 1, "name": "zz-test", "spec_hash": "ab" * 32, "build_id": "0123456789abcdef",
    "stratforge_version": "0.1.0", "template_version": "1.0.0", "templates_hash": "cd" * 32,
    "codegen": {"mode": "auto", "seed": 7, "max_repair_rounds": 3, "used": False},
    "signals": {"entry_long": {"expr": "close > sma(close, 5)", "origin": "spec"}},
    "sources": {"spec.yaml": "ef" * 32},
    "toolchain": {"compiler": "g++ (Debian 12.2.0-14) 12.2.0"},
    "checks": {"static_findings": ["cpp/strategy.cpp:41:7: warning: a loop without a visible bound "
                                   "[SF-CPP-LOOP]", "something the checker said"],
               "steps": ["render", "static-checks", "compile"]},
}


def test_steps_run_in_the_documented_order():
    assert [s.value for s in Step.order()] == ["validate", "generate", "test", "backtest", "score",
                                               "publish"]
    assert Step.test.after() == (Step.backtest, Step.score, Step.publish)


def test_step_result_status_follows_ok_and_refuses_a_contradiction():
    assert StepResult("compile", True).status is Status.ok
    assert StepResult("compile", False, 1.0, "x").status is Status.failed
    assert StepResult("test-cpp", True, status=Status.reused).status.good
    with pytest.raises(ValueError, match="contradicts"):
        StepResult("compile", True, status=Status.failed)


def test_finding_text_form_keeps_rule_column_and_severity_of_warnings():
    f = Finding.parse("cpp/strategy.cpp:41:7: warning: a loop without a visible bound [SF-CPP-LOOP]")
    assert (f.file, f.line, f.column, f.severity, f.rule) == ("cpp/strategy.cpp", 41, 7, "warning",
                                                              "SF-CPP-LOOP")
    assert Finding.parse(str(f)) == f
    odd = Finding.parse("the checker said something odd")
    assert odd.rule == "STATIC" and odd.message == "the checker said something odd"
    a = Finding("b.cpp", 2, 1, "SF-X", "error", "m")
    b = Finding("a.cpp", 9, 1, "SF-X", "error", "m")
    assert sort_findings([a, b, a]) == [b, a]


def test_an_older_manifest_reads_typed_and_writes_back_its_keys(tmp_path: Path):
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(_OLD))
    m = Manifest.read(path)
    assert m.build_id == "0123456789abcdef" and m.build is None
    assert [f.rule for f in m.checks.static_findings] == ["SF-CPP-LOOP", "STATIC"]
    m.write(path)
    back = json.loads(path.read_text())
    assert set(back) == set(_OLD)  # nothing added (no build record yet), nothing lost
    assert back["checks"]["static_findings"][0]["rule"] == "SF-CPP-LOOP"
    assert back["codegen"] == _OLD["codegen"] and back["signals"] == _OLD["signals"]


@pytest.mark.parametrize("text,needle", [
    ("{not json", "is not JSON"),
    ("[1, 2]", "is not a manifest"),
    (json.dumps({k: v for k, v in _OLD.items() if k != "build_id"}), "build_id"),
])
def test_a_broken_manifest_is_one_error_naming_the_file(tmp_path: Path, text: str, needle: str):
    path = tmp_path / "manifest.json"
    path.write_text(text)
    with pytest.raises(ManifestError, match=needle) as info:
        Manifest.read(path)
    assert str(path) in str(info.value)


def test_recording_a_step_drops_the_records_of_later_steps():
    rec = BuildRecord()
    for step in (Step.validate, Step.generate, Step.test, Step.score):
        rec = rec.with_record(StepRecord(step=step, status=Status.ok, inputs=step.value))
    again = rec.with_record(StepRecord(step=Step.generate, status=Status.ok, inputs="new"))
    assert [s.step for s in again.steps] == [Step.validate, Step.generate]
    assert again.get(Step.generate).inputs == "new" and again.get(Step.test) is None


def test_the_build_record_round_trips_through_the_manifest(tmp_path: Path):
    rec = BuildRecord(steps=(StepRecord(step=Step.test, status=Status.failed, inputs="h",
                                        seconds=1.5, detail="C++ 7 passed, 1 failed",
                                        data={"tests": {"sanitizer": "clean"}}),))
    m = Manifest.model_validate(_OLD).model_copy(update={"build": rec})
    m.write(tmp_path / "manifest.json")
    back = Manifest.read(tmp_path / "manifest.json")
    assert back.build == rec and back.build.get(Step.test).status is Status.failed

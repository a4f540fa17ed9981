"""Static-check findings reach the scorecard with their rule, file and line — structured in the
manifest, and read back from the text form of bundles written before that."""

from __future__ import annotations

from pathlib import Path

from stratforge.ci.build import static_findings
from stratforge.generator.checks import check_cpp, check_python
from stratforge.core.tools import find_sdk_include

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "tests" / "generator" / "checks" / "corpus"


def _planted() -> list:
    """Real findings: a heap allocation in a C++ callback and a forbidden Python import."""
    cpp = check_cpp(CORPUS / "cpp" / "bad" / "heap_new.cpp", include_dirs=[find_sdk_include()])
    py = check_python("import socket\n\ndef on_book(ctx, book):\n    socket.socket()\n",
                      filename="python/strategy.py")
    assert cpp and py
    return [*cpp, *py]


def test_structured_findings_keep_rule_file_and_line() -> None:
    planted = _planted()
    read = static_findings({"checks": {"static_findings": [f.to_dict() for f in planted]}})
    assert read.ran and len(read.findings) == len(planted)
    for got, want in zip(read.findings, planted):
        assert (got.rule, got.file, got.line, got.message) == (want.rule, want.file, want.line,
                                                               want.message)
    assert {f.rule for f in read.findings} >= {"SF-CPP-HEAP"}
    assert all(f.rule != "STATIC" for f in read.findings)


def test_text_form_of_older_bundles_keeps_the_rule() -> None:
    planted = _planted()
    read = static_findings({"checks": {"static_findings": [str(f) for f in planted]}})
    assert [(f.rule, f.line) for f in read.findings] == [(f.rule, f.line) for f in planted]


def test_unparseable_text_is_kept_not_dropped() -> None:
    read = static_findings({"checks": {"static_findings": ["the checker said something odd"]}})
    assert len(read.findings) == 1 and read.findings[0].rule == "STATIC"
    assert static_findings({"checks": {}}).ran is False

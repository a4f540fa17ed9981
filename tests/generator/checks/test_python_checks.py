"""Python twin static checks: forbidden and clean corpora, syntax errors, loops."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from stratforge.generator.checks import RULES, check_python

CORPUS = Path(__file__).parent / "corpus" / "python"
BAD = sorted((CORPUS / "bad").glob("*.py"))
GOOD = sorted((CORPUS / "good").glob("*.py"))


def test_corpus_sizes():
    assert len(BAD) >= 18
    assert len(GOOD) >= 6


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_forbidden_snippet_is_caught_with_its_rule(path: Path):
    text = path.read_text()
    m = re.match(r"#\s*expect:\s*(.+)", text.splitlines()[0])
    assert m, f"{path.name}: first line must be '# expect: SF-PY-...'"
    findings = check_python(text, path.name)
    assert {f.rule for f in findings} == set(m.group(1).split()), [str(f) for f in findings]
    for f in findings:
        assert f.rule in RULES and f.file == path.name and f.line >= 1 and f.column >= 1 and f.message


@pytest.mark.parametrize("path", GOOD, ids=[p.stem for p in GOOD])
def test_clean_twin_has_no_finding(path: Path):
    findings = check_python(path.read_text(), path.name)
    assert findings == [], [str(f) for f in findings]


@pytest.mark.parametrize("text", ["def f(:\n", "x = 1\x00\n", "\tdef x():\n  pass\n", "async def"])
def test_syntax_errors_become_findings(text: str):
    findings = check_python(text, "t.py")
    assert [f.rule for f in findings] == ["SF-PY-SYNTAX"]


@pytest.mark.parametrize("src,ok", [
    ("i = 0\nwhile i < 10:\n    i += 1\n", True),
    ("i = 10\nwhile i > 0:\n    i -= 2\n", True),
    ("i = 0\nwhile i < MAX:\n    i += 1\n", True),
    ("i = 0\nwhile i < n:\n    i += 1\n", False),
    ("i = 0\nwhile i < 10:\n    if x:\n        i += 1\n", False),
    ("i = 0\nwhile i < 10:\n    i += 1\n    i = 0\n", False),
    ("i = 0\nwhile i < 10:\n    i -= 1\n", False),
    ("import itertools\nfor x in itertools.repeat(1):\n    pass\n", False),
    ("import itertools\nfor x in itertools.repeat(1, 3):\n    pass\n", True),
    ("for x in iter(f, None):\n    pass\n", False),
])
def test_loop_bounds(src: str, ok: bool):
    findings = check_python(src, "t.py")
    assert (findings == []) == ok, [str(f) for f in findings]


def test_findings_are_sorted_and_deterministic():
    src = "import os\nprint(1)\nwhile True:\n    pass\nx = ().__class__\n"
    a = check_python(src, "t.py")
    assert a == check_python(src, "t.py") == sorted(a)
    assert [(f.rule, f.line, f.column) for f in a] == [
        ("SF-PY-IMPORT", 1, 1), ("SF-PY-CALL", 2, 1), ("SF-PY-LOOP", 3, 1), ("SF-PY-DUNDER", 5, 5)]


def test_literal_getattr_and_dataclass_fields_are_allowed():
    src = ("from dataclasses import dataclass, field\n\n\n@dataclass\nclass A:\n"
           "    xs: list = field(default_factory=list)\n\n    def f(self):\n        return getattr(self, 'xs')\n")
    assert check_python(src, "t.py") == []

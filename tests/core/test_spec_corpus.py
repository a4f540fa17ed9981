"""Every malformed spec is rejected with exit 1 and a positioned message, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from stratforge.cli import main

CORPUS = Path(__file__).resolve().parent / "spec_corpus"
EXPECTED = json.loads((CORPUS / "EXPECTED.json").read_text())
BASE = (Path(__file__).resolve().parents[2] / "specs" / "btc-perp-avellaneda.yaml").read_bytes()


def run_validate(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["validate", "--format", "json", *args])
    return result.exit_code, result.stdout, result.stderr


def test_corpus_is_large_enough() -> None:
    assert len(EXPECTED) >= 40
    assert sorted(p.name for p in (CORPUS / "invalid").glob("*.yaml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_malformed_spec_rejected_with_position(name: str) -> None:
    want = EXPECTED[name]
    path = CORPUS / "invalid" / name
    code, out, err = run_validate(str(path))
    assert code == 1, out + err
    assert "Traceback" not in out + err
    report = json.loads(out)
    assert report["valid"] is False
    issues = report["specs"][0]["issues"]
    assert issues, "an invalid spec must report at least one issue"
    matching = [i for i in issues if want["contains"] in i["message"]
                and (want["path"] is None or i["path"] == want["path"])]
    assert matching, f"no issue at {want['path']} containing {want['contains']!r}: {issues}"
    issue = matching[0]
    assert issue["file"] == str(path)
    if want["line"] is not None:
        assert issue["line"] == want["line"], issue
    if want["column"] is not None:
        assert issue["column"] == want["column"], issue


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


GENERATED = {
    "ten-megabytes.yaml": lambda: BASE + b"# " + b"x" * (10 * 1024 * 1024) + b"\n",
    "binary-garbage.yaml": lambda: bytes(range(256)) * 64,
    "empty.yaml": lambda: b"",
    "only-comments.yaml": lambda: b"# nothing here\n",
    "latin1.yaml": lambda: BASE.replace(b"mm-desk@example.com", "d\u00e9sk".encode("latin-1")),
    "nul-bytes.yaml": lambda: BASE.replace(b"gamma: 0.1", b"gamma: 0\x00.1"),
}
GENERATED_EXPECT = {
    "ten-megabytes.yaml": ("(document)", "at most 262,144 bytes", 1, 1),
    "binary-garbage.yaml": ("(document)", "not UTF-8", None, None),
    "empty.yaml": ("(document)", "the file is empty", 1, 1),
    "only-comments.yaml": ("(document)", "the file is empty", 1, 1),
    "latin1.yaml": ("(document)", "not UTF-8 text: byte 0xe9", 7, 11),
    "nul-bytes.yaml": ("(document)", "character #x0000", 21, 13),
}


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_generated_hostile_files(tmp_path: Path, name: str) -> None:
    path = _write(tmp_path, name, GENERATED[name]())
    code, out, err = run_validate(str(path))
    assert code == 1
    issue = json.loads(out)["specs"][0]["issues"][0]
    want_path, fragment, line, column = GENERATED_EXPECT[name]
    assert issue["path"] == want_path
    assert fragment in issue["message"], issue
    if line is not None:
        assert (issue["line"], issue["column"]) == (line, column), issue


def test_text_output_names_file_line_column_field(tmp_path: Path) -> None:
    path = CORPUS / "invalid" / "negative-position.yaml"
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 1
    line = EXPECTED["negative-position.yaml"]["line"]
    col = EXPECTED["negative-position.yaml"]["column"]
    assert f"{path}:{line}:{col} risk.max_position: must be > 0, was -5" in result.stderr


def test_every_error_reported_at_once(tmp_path: Path) -> None:
    text = BASE.replace(b"gamma: 0.1", b"gamma: -1").replace(b"max_open_orders: 4",
                                                            b"max_open_orders: zero")
    text = text.replace(b"price_band_bps: 25", b"price_band_bps: 25\n  surprise: 1")
    code, out, _ = run_validate(str(_write(tmp_path, "btc-perp-avellaneda.yaml", text)))
    assert code == 1
    paths = {i["path"] for i in json.loads(out)["specs"][0]["issues"]}
    assert {"strategy.params.gamma", "risk.max_open_orders", "risk.surprise"} <= paths


def test_name_must_match_file_name(tmp_path: Path) -> None:
    code, out, _ = run_validate(str(_write(tmp_path, "other-name.yaml", BASE)))
    assert code == 1
    issue = json.loads(out)["specs"][0]["issues"][0]
    assert issue["path"] == "metadata.name" and "other-name" in issue["message"]


def test_console_script_prints_no_traceback(tmp_path: Path) -> None:
    bad = _write(tmp_path, "x.yaml", b"a: [1\n")
    proc = subprocess.run([sys.executable, "-m", "stratforge", "validate", str(bad)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stdout + proc.stderr
    assert f"{bad}:2:1" in proc.stderr

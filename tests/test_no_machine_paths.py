"""No committed file names a path of the machine it was made on: recordings, benchmark reports and
docs are read on other machines (llama-cpp-python names its model by its absolute path in every
response, and a benchmark's output tail carried its build folder, until both were cut)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from stratforge.core.tools import find_executable

REPO = Path(__file__).resolve().parents[1]
#: an absolute path under a machine's own folders, as it appears in text or JSON
MACHINE_PATH = re.compile(r"""(?<![\w.])/(?:work|home|root|Users)/[\w.-]+/""")


def _tracked() -> list[Path]:
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout: the tracked files are unknown")
    out = subprocess.run([find_executable("git"), "-C", str(REPO), "ls-files", "-z"], check=True,
                         capture_output=True).stdout.decode()
    return [REPO / p for p in out.split("\0") if p]


def test_no_tracked_file_names_a_machine_path() -> None:
    found = []
    for path in _tracked():
        if not path.is_file() or path.suffix in {".gguf", ".png", ".sfe", ".gz", ".zst"}:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for m in MACHINE_PATH.finditer(text):
            found.append(f"{path.relative_to(REPO)}: {m.group(0)}")
    assert not found, "\n".join(found[:20])


def test_the_pattern_finds_a_planted_path() -> None:
    root = "/" + "work"  # built, so this file does not hold what it looks for
    assert MACHINE_PATH.search(f'"model": "{root}/modelcache/models/x.gguf"')
    assert MACHINE_PATH.search("report: " + "/" + "home/ci/build/x.json")
    assert not MACHINE_PATH.search("see docs/work/notes.md and ./build/x.json")

"""Every executable is located through ``stratforge.core.tools`` (the interpreter's scripts
folder first, then PATH), never looked up on the bare PATH.

A test run as ``.venv/bin/python -m pytest`` without an activated venv does not have
``.venv/bin`` on PATH: a bare lookup then misses the engine the project just built, or finds a
stale one installed elsewhere — which once let CI pass on a binary that a fresh machine lacks.
"""

from __future__ import annotations

import ast
import os
import re
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from stratforge.core import tools
from stratforge.core.tools import PROJECT_EXECUTABLES, ExecutableNotFound, find_executable

REPO = Path(__file__).resolve().parents[1]
SKIP_PARTS = {".venv", "build", ".git", "node_modules"}
#: Python files that are data for the static checks (forbidden-code corpora), not project code.
CORPORA = ("tests/generator/checks/corpus",)
#: The one module allowed to call shutil.which.
LOOKUP_MODULE = REPO / "core" / "tools.py"
SUBPROCESS_CALLS = {"run", "Popen", "check_output", "check_call", "call"}
EXEC_CALLS = {"execvp", "execlp", "execvpe", "execlpe", "spawnvp", "spawnlp", "spawnvpe",
              "spawnlpe", "create_subprocess_exec"}


def python_files() -> list[Path]:
    out = []
    for path in REPO.rglob("*.py"):
        rel = path.relative_to(REPO)
        if SKIP_PARTS.intersection(rel.parts) or str(rel).startswith(CORPORA):
            continue
        out.append(path)
    return sorted(out)


def _first_literal(arg: ast.expr) -> str | None:
    """The program named by a literal argv (a list/tuple whose first item is a string)."""
    if isinstance(arg, (ast.List, ast.Tuple)) and arg.elts:
        head = arg.elts[0]
        if isinstance(head, ast.Constant) and isinstance(head.value, str):
            return head.value
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value.split()[0] if arg.value.split() else None
    return None


def bare_lookups(source: str, filename: str) -> list[str]:
    """Places in ``source`` that look a program up on the bare PATH."""
    tree = ast.parse(source, filename)
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "shutil" and any(
                a.name == "which" for a in node.names):
            found.append(f"{filename}:{node.lineno}: `from shutil import which`")
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        owner = func.value.id if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) else None
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if owner == "shutil" and name == "which":
            found.append(f"{filename}:{node.lineno}: shutil.which(...)")
            continue
        if not node.args:
            continue
        program = _first_literal(node.args[0])
        if program is None or "/" in program:
            continue
        via_os = owner in ("os", "asyncio") and name in EXEC_CALLS
        via_subprocess = owner == "subprocess" and name in SUBPROCESS_CALLS
        argv_of_ours = isinstance(node.args[0], (ast.List, ast.Tuple)) and program in PROJECT_EXECUTABLES
        if via_os or via_subprocess or argv_of_ours:
            found.append(f"{filename}:{node.lineno}: runs {program!r} by bare name")
    return found


def test_no_module_or_test_looks_a_binary_up_on_the_bare_path() -> None:
    offenders = []
    for path in python_files():
        if path == LOOKUP_MODULE:
            continue
        offenders += bare_lookups(path.read_text(encoding="utf-8"), str(path.relative_to(REPO)))
    assert not offenders, ("use stratforge.core.tools.find_executable / which instead:\n"
                           + "\n".join(offenders))


@pytest.mark.parametrize("snippet", [
    "import shutil\nshutil.which('sf-replay')\n",
    "from shutil import which\n",
    "import subprocess\nsubprocess.run(['g++', '--version'])\n",
    "import subprocess\nsubprocess.Popen('git status', shell=True)\n",
    "import os\nos.execvp('bwrap', ['bwrap'])\n",
    "def run(cmd): ...\nrun(['sf-bench', '--synth', '10'])\n",
    "def go(argv): ...\ngo(('stratforge', 'build'))\n",
])
def test_the_scan_catches_each_planted_lookup(snippet: str) -> None:
    assert bare_lookups(snippet, "planted.py"), snippet


@pytest.mark.parametrize("snippet", [
    "import subprocess, sys\nsubprocess.run([sys.executable, '-m', 'stratforge'])\n",
    "import subprocess\nsubprocess.run(['/usr/bin/env', 'true'])\n",
    "from stratforge.core.tools import find_executable\nimport subprocess\n"
    "subprocess.run([str(find_executable('sf-replay')), '--help'])\n",
    "def run(expr): ...\nrun('ema(mid, 3)')\n",
])
def test_the_scan_accepts_lookups_that_do_not_use_the_bare_path(snippet: str) -> None:
    assert bare_lookups(snippet, "fine.py") == []


def test_project_executables_are_what_the_project_installs() -> None:
    scripts = set(tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"])
    cmake = (REPO / "runtime" / "engine" / "CMakeLists.txt").read_text()
    installed = set()
    for targets in re.findall(r"install\(TARGETS\s+([^)]*?)\s+RUNTIME", cmake):
        installed |= {t for t in targets.split() if not t.startswith("$")}
    assert installed, "no executable install() rule found in runtime/engine/CMakeLists.txt"
    assert set(PROJECT_EXECUTABLES) == scripts | installed


def _fake_tool(folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_scripts_folder_wins_over_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    venv_bin, elsewhere = tmp_path / "venv" / "bin", tmp_path / "usr-local-bin"
    mine = _fake_tool(venv_bin, "sf-probe-tool")
    _fake_tool(elsewhere, "sf-probe-tool")
    monkeypatch.setattr(tools, "scripts_dirs", lambda: [venv_bin])
    monkeypatch.setenv("PATH", str(elsewhere))
    assert find_executable("sf-probe-tool") == mine


def test_path_is_the_fallback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = tmp_path / "bin"
    other = _fake_tool(elsewhere, "sf-probe-tool")
    monkeypatch.setattr(tools, "scripts_dirs", lambda: [tmp_path / "empty"])
    monkeypatch.setenv("PATH", str(elsewhere))
    assert find_executable("sf-probe-tool") == other


def test_missing_executable_names_where_it_looked_and_how_to_get_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tools, "scripts_dirs", lambda: [tmp_path])
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ExecutableNotFound) as err:
        find_executable("sf-replay")
    assert str(tmp_path) in str(err.value) and "pip install ." in str(err.value)


def test_engine_found_without_the_venv_on_path() -> None:
    """The engine of this environment is found by an interpreter whose PATH lacks its scripts
    folder — as in `.venv/bin/python -m pytest` run from a plain shell."""
    env = dict(os.environ, PATH=os.pathsep.join(["/usr/bin", "/bin"]))
    code = ("from stratforge.core.tools import find_executable\n"
            "print(find_executable('sf-replay'))\n")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    found = Path(proc.stdout.strip())
    assert found.parent in [d for d in tools.scripts_dirs()], found

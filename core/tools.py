"""The one way to find an executable: the running interpreter's scripts folder, then ``PATH``.

``pip install .`` puts the engine's binaries (``sf-replay``, ``sf-bench``) and the ``stratforge``
console script into the scripts folder of the environment it installs into (``.venv/bin``). A
process started as ``.venv/bin/python`` does not have that folder on ``PATH`` unless the venv is
activated, so a bare ``shutil.which`` can miss the right binary, or worse, find a stale one that an
earlier install left in ``/usr/local/bin``. Every lookup in the project goes through
:func:`find_executable`; a test (tests/test_tool_lookup.py) refuses any other.
"""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
from pathlib import Path

#: Executables that stratforge itself installs (console scripts and the C++ engine's binaries).
PROJECT_EXECUTABLES = ("stratforge", "sf-replay", "sf-bench", "sf-venue", "sf-engine")


class ExecutableNotFound(FileNotFoundError):
    """An executable is neither in the interpreter's scripts folder nor on ``PATH``."""

    def __init__(self, name: str, searched: list[Path], hint: str) -> None:
        self.name = name
        self.searched = searched
        where = ", ".join(str(p) for p in searched) or "(nothing)"
        super().__init__(f"{name} not found (looked in {where} and on PATH): {hint}")


def scripts_dirs() -> list[Path]:
    """The running interpreter's scripts folders, most specific first, without duplicates."""
    dirs = [Path(sysconfig.get_path("scripts")), Path(sys.prefix) / "bin",
            Path(sys.executable).parent]
    out: list[Path] = []
    for d in dirs:
        if d not in out:
            out.append(d)
    return out


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def find_executable(name: str, hint: str | None = None) -> Path:
    """Locate ``name``: the interpreter's scripts folder first, then ``PATH``.

    Raises :class:`ExecutableNotFound` naming where it looked and ``hint`` (how to get it).
    """
    searched = scripts_dirs()
    for d in searched:
        candidate = d / name
        if _is_executable(candidate):
            return candidate
    found = shutil.which(name)
    if found:
        return Path(found)
    if hint is None:
        hint = ("`pip install .` builds and installs it into the environment"
                if name in PROJECT_EXECUTABLES else f"install {name}")
    raise ExecutableNotFound(name, searched, hint)


def which(name: str) -> Path | None:
    """:func:`find_executable`, or None when it is nowhere."""
    try:
        return find_executable(name)
    except ExecutableNotFound:
        return None


def first_executable(*names: str) -> Path | None:
    """The first of ``names`` that :func:`which` finds (e.g. ``chromium``, ``chromium-browser``)."""
    for name in names:
        if (path := which(name)) is not None:
            return path
    return None


def reference_plugin(name: str) -> Path:
    """The engine's reference strategy plugin ``sf_strategy_<name>.so`` that ``pip install .``
    builds into the package (``stratforge/runtime/lib``): beside this installed package, else in
    the environment's site-packages (a source checkout imports ``stratforge`` from the tree)."""
    filename = f"sf_strategy_{name}.so"
    roots = [Path(__file__).resolve().parents[1] / "runtime" / "lib"]
    for key in ("platlib", "purelib"):
        roots.append(Path(sysconfig.get_path(key)) / "stratforge" / "runtime" / "lib")
    for root in roots:
        if (root / filename).is_file():
            return root / filename
    raise ExecutableNotFound(filename, roots, "`pip install .` builds the engine's reference plugins")


def find_sdk_include() -> Path | None:
    """The engine's public C/C++ headers (the folder holding ``sf/sdk.hpp``), or None.

    ``runtime/engine/include`` in a source checkout or an editable install, ``runtime/include``
    in an installed wheel (``pip install .`` copies the headers there)."""
    roots = [Path(__file__).resolve().parents[1] / "runtime"]
    for key in ("platlib", "purelib"):
        roots.append(Path(sysconfig.get_path(key)) / "stratforge" / "runtime")
    for root in roots:
        for rel in ("engine/include", "include"):
            cand = root / rel
            if (cand / "sf" / "sdk.hpp").is_file():
                return cand
    return None

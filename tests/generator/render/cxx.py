"""Helpers shared by the render tests: the C++ compiler invocation and exact value encoding."""

from __future__ import annotations

import math
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
ENGINE_INCLUDE = REPO / "runtime" / "engine" / "include"
CXX = shutil.which("g++") or shutil.which("c++")
#: The flags generated code must build with: exact IEEE doubles, warnings are errors.
CXXFLAGS = ["-std=c++20", "-O2", "-ffp-contract=off", "-Wall", "-Wextra", "-Werror"]

needs_cxx = pytest.mark.skipif(CXX is None, reason="no C++ compiler on PATH")


def compile_cpp(sources: list[Path], output: Path, *, shared: bool = False, extra: list[str] = ()) -> None:
    cmd = [CXX, *CXXFLAGS, "-I", str(ENGINE_INCLUDE), *extra]
    if shared:
        cmd += ["-fPIC", "-shared"]
    cmd += [str(s) for s in sources] + ["-o", str(output)]
    if not shared:
        cmd += ["-ldl"]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise AssertionError(f"compile failed: {' '.join(cmd)}\n{res.stderr[-6000:]}")


def encode_value(v) -> str:
    """Exact text of an expression value: u (undefined), T/F, nan, or the double's 64 bits."""
    if v is None:
        return "u"
    if isinstance(v, bool):
        return "T" if v else "F"
    v = float(v)
    if math.isnan(v):
        return "nan"
    return format(struct.unpack("<Q", struct.pack("<d", v))[0], "016x")

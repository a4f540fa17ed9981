"""Helpers shared by the render tests: the C++ compiler invocation and exact value encoding."""

from __future__ import annotations

import functools
import math
import struct
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import ParamSpec, TypeVar

import pytest

from resource_kit import missing
from stratforge.core.tools import first_executable

P = ParamSpec("P")
R = TypeVar("R")
REPO = Path(__file__).resolve().parents[3]
ENGINE_INCLUDE = REPO / "runtime" / "engine" / "include"
CXX = first_executable("g++", "c++")
#: The flags generated code must build with: exact IEEE doubles, warnings are errors.
CXXFLAGS = ["-std=c++20", "-O2", "-ffp-contract=off", "-Wall", "-Wextra", "-Werror"]



def needs_cxx(test: Callable[P, R]) -> Callable[P, R]:
    """Skip ``test`` (fail where CI requires a compiler) when no C++ compiler is installed."""
    @functools.wraps(test)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        if CXX is None:
            missing("compiler")
        return test(*args, **kwargs)
    return run


def compile_cpp(sources: list[Path], output: Path, *, shared: bool = False, extra: list[str] = ()) -> None:
    cmd = [str(CXX), *CXXFLAGS, "-I", str(ENGINE_INCLUDE), *extra]
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

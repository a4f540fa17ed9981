"""The machine a benchmark ran on: one description shared by every script in bench/.

    from machine import describe, line     # bench/ is the script's folder, so it is on sys.path

``describe()`` returns CPU model, logical cores, RAM, the load average (1/5/15 min) at the moment
of the call, OS, the C++ compiler that builds the engine, Python, the stratforge commit and the
UTC time. A benchmark calls it at its start and records ``load_average()`` again at its end:
on a shared machine the load average is what tells a quiet run from a noisy one.
``line(desc)`` is the one-line form the scripts print and docs/benchmarks.md shows.
"""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from stratforge.core.tools import first_executable, which

REPO = Path(__file__).resolve().parents[1]


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else what ``platform`` says."""
    try:
        for row in Path("/proc/cpuinfo").read_text().splitlines():
            if row.startswith("model name"):
                return row.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def mem_gib() -> float:
    """Physical memory in GiB (0.0 where the OS does not say)."""
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError):
        return 0.0


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages, rounded to 2 decimals."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def _first_line(argv: list[str]) -> str:
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    out = (p.stdout or p.stderr).strip().splitlines()
    return out[0].strip() if p.returncode == 0 and out else ""


def compiler() -> str:
    """The first line of ``--version`` of the C++ compiler CMake picks by default (``$CXX``,
    then c++, g++, clang++), or '' when there is none."""
    cxx = os.environ.get("CXX")
    exe = which(cxx) if cxx else first_executable("c++", "g++", "clang++")
    return _first_line([str(exe), "--version"]) if exe else ""


def commit() -> str:
    """The checkout's short commit, with ``+dirty`` when tracked files are changed ('' outside git)."""
    git = which("git")
    if git is None:
        return ""
    head = _first_line([str(git), "-C", str(REPO), "rev-parse", "--short", "HEAD"])
    if head:
        p = subprocess.run([str(git), "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True)
        if p.returncode == 0 and p.stdout.strip():
            head += "+dirty"
    return head


def os_name() -> str:
    """'Debian GNU/Linux 12 (bookworm), Linux 6.1.0 x86_64' where /etc/os-release says, else platform()."""
    pretty = ""
    try:
        for row in Path("/etc/os-release").read_text().splitlines():
            if row.startswith("PRETTY_NAME="):
                pretty = row.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    kernel = f"{platform.system()} {platform.release()} {platform.machine()}"
    return f"{pretty}, {kernel}" if pretty else platform.platform()


def describe() -> dict[str, Any]:
    """The machine as a JSON-ready dict (see the module docstring)."""
    return {
        "cpu_model": cpu_model(),
        "cores": os.cpu_count(),
        "mem_gib": mem_gib(),
        "load_avg_start": load_average(),
        "os": os_name(),
        "compiler": compiler(),
        "python": platform.python_version(),
        "stratforge_commit": commit(),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def line(desc: dict[str, Any]) -> str:
    """One line: 'AMD EPYC, 2 cores, 23.5 GiB RAM, load 0.26 → 0.99, Debian …, g++ …, Python 3.11.7'."""
    start = " ".join(f"{x:g}" for x in desc.get("load_avg_start", [])[:1])
    end = " ".join(f"{x:g}" for x in desc.get("load_avg_end", [])[:1])
    load = f"load average {start}" + (f" → {end}" if end else "") if start else "load average unknown"
    parts = [desc.get("cpu_model") or "unknown CPU", f"{desc.get('cores')} cores",
             f"{desc.get('mem_gib')} GiB RAM", load, desc.get("os") or "",
             desc.get("compiler") or "no C++ compiler found", f"Python {desc.get('python')}"]
    if desc.get("stratforge_commit"):
        parts.append(f"stratforge {desc['stratforge_commit']}")
    return ", ".join(p for p in parts if p)

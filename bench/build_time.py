#!/usr/bin/env python3
"""`stratforge build` wall time, old design (a git ref) against this checkout, same run.

    python bench/build_time.py [--ref REF] [--specs specs/*.yaml] [--json out.json]

The old design is the tree of ``--ref`` (``git archive``, into a temporary folder), run by a
copy of this virtual environment whose editable-install hook is replaced by a path entry for
that tree: ``stratforge`` and its components import from the old tree (also inside the sandbox,
which mounts the environment), while the engine binaries (sf-replay) and the Python
dependencies are the same files: only the Python build pipeline differs. Each spec is built by the old
design and then by the new one (alternated, so both see the same machine load), each into fresh
``--out``/``--build-dir`` folders (cold caches, a fresh bundle: a rerun of the new design would
reuse its recorded steps and prove nothing about the build itself). Then the new design builds
the same spec again into the same folders: the unchanged rerun, which reuses every step (the old
design had no such rerun: it rebuilt everything). Prints per spec the verdict and seconds of
both, the rerun's seconds and verdict, then the total ratio new/old; exits 1 when a verdict
differs.

Run it from the repository root (the specs' relative data paths resolve against it).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import time
import tomllib
from io import BytesIO
from pathlib import Path

from stratforge.core.tools import find_executable

sys.path.insert(0, str(Path(__file__).resolve().parent))
import machine  # noqa: E402 - bench/machine.py, on the path set just above

REPO = Path(__file__).resolve().parents[1]
GIT = str(find_executable("git"))
#: main before issue 11's state machine, the core package and the splits landed (the old design)
PRE_STATE_MACHINE = "605aab5"

_VERDICT = re.compile(r"Verdict: (PASS|FAIL|INCONCLUSIVE)")


def extract(ref: str, dest: Path) -> str:
    """The tree of ``ref`` into ``dest``; returns the commit it resolved to."""
    commit = subprocess.run([GIT, "-C", str(REPO), "rev-parse", "--verify", f"{ref}^{{commit}}"],
                            capture_output=True, text=True, check=True).stdout.strip()
    tar = subprocess.run([GIT, "-C", str(REPO), "archive", commit], capture_output=True,
                         check=True).stdout
    with tarfile.open(fileobj=BytesIO(tar)) as tf:
        # our own commit's tree; the "data" filter where this Python has it (3.11.4+)
        if hasattr(tarfile, "data_filter"):
            tf.extractall(dest, filter="data")
        else:
            tf.extractall(dest)  # noqa: S202 - git archive of this repository
    return commit


def old_environment(old_root: Path, dest: Path) -> Path:
    """A copy of this virtual environment with the old tree installed into it the way the wheel
    lays it out (``[tool.scikit-build.wheel.packages]`` of the old pyproject.toml) in place of
    the editable install; returns its python. The engine's built files (binaries, SDK headers,
    reference plugins) are this environment's."""
    shutil.copytree(sys.prefix, dest, symlinks=True)
    site = Path(sysconfig.get_path("purelib", vars={"base": str(dest), "platbase": str(dest)}))
    install_old_tree(old_root, site)
    return dest / "bin" / "python"


#: what the engine's CMake install puts into the package folder (CMakeLists: SKBUILD_PLATLIB_DIR):
#: kept from this environment; everything else of the installed package is replaced by the old tree
ENGINE_FILES = ("stratforge/runtime/include", "stratforge/runtime/lib")


def install_old_tree(old_root: Path, site: Path) -> None:
    """Replace the ``stratforge`` package in ``site`` by the old tree, laid out as its wheel
    would be, keeping only the engine's built files (ENGINE_FILES). The environment's package
    folder is emptied first: an environment that holds a regular (non-editable) install of the
    new tree has the new modules there, and a module the old tree has as ``cpp.py`` where the
    new one has a ``cpp/`` package would otherwise be shadowed by the new package
    (``ImportError: cannot import name 'CPP_RULES'``)."""
    for hook in site.glob("_editable_*stratforge*"):
        hook.unlink()
    pkg = site / "stratforge"
    keep = site.parent / f"{site.name}.engine-files"
    for rel in ENGINE_FILES:
        if (site / rel).exists():
            shutil.copytree(site / rel, keep / rel, symlinks=True)
    shutil.rmtree(pkg, ignore_errors=True)
    layout = tomllib.loads((old_root / "pyproject.toml").read_text())
    packages = layout["tool"]["scikit-build"]["wheel"]["packages"]
    for target, source in packages.items():
        shutil.copytree(old_root / source, site / target, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("engine", "__pycache__", "build"))
    if keep.exists():
        shutil.copytree(keep, site, symlinks=True, dirs_exist_ok=True)
        shutil.rmtree(keep)


def one(argv: list[str], work: Path, spec: Path) -> tuple[str, float, int, str]:
    """(verdict, seconds, exit code, output tail) of one fresh build of ``spec``; the build
    registers into a registry of its own in ``work`` (never the user's)."""
    out, build = work / "strategies", work / "build"
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    p = subprocess.run([*argv, "build", str(spec), "--out", str(out), "--build-dir", str(build)],
                       capture_output=True, text=True, cwd=REPO,
                       env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1",
                            "STRATFORGE_DB_URL": f"sqlite:///{work / 'registry.db'}"})
    seconds = time.monotonic() - t0
    text = p.stdout + p.stderr
    found = _VERDICT.findall(text)
    verdict = found[-1] if found else f"exit {p.returncode}"
    return verdict, seconds, p.returncode, "\n".join(text.strip().splitlines()[-3:])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ref", default=PRE_STATE_MACHINE, help="git ref of the old design (default: "
                    "the last commit before the build became a state machine)")
    ap.add_argument("--specs", nargs="*", default=None, help="spec files (default: specs/*.yaml)")
    ap.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = ap.parse_args()
    specs = [Path(s).resolve() for s in (args.specs or sorted(glob.glob(str(REPO / "specs" / "*.yaml"))))]
    if not specs:
        raise SystemExit("build_time: no spec files")

    info = machine.describe()
    print(f"machine: {machine.line(info)}", flush=True)
    rows = []
    scratch = REPO / "build"  # not /tmp: the sandbox gives every job a private /tmp
    scratch.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-build-time-", dir=scratch) as tmp:
        old_root = Path(tmp) / "old"
        old_root.mkdir()
        commit = extract(args.ref, old_root)
        # -P: the working folder (this checkout) is not put on sys.path, so each imports its own
        old = [str(old_environment(old_root, Path(tmp) / "venv")), "-P", "-m", "stratforge"]
        new = [sys.executable, "-P", "-m", "stratforge"]
        print(f"old: {args.ref} ({commit[:10]}), new: {REPO} (this checkout)", flush=True)
        print(f"{'spec':<24} {'old verdict':<13} {'old s':>7} {'new verdict':<13} {'new s':>7} "
              f"{'new/old':>7} {'rerun s':>7}", flush=True)
        for i, spec in enumerate(specs):
            ov, os_, _, otail = one(old, Path(tmp) / f"old-{i}", spec)
            nv, ns, _, ntail = one(new, Path(tmp) / f"new-{i}", spec)
            rv, rs, _, rtail = one(new, Path(tmp) / f"new-{i}", spec)
            rows.append({"spec": spec.stem, "old_verdict": ov, "old_s": round(os_, 2),
                         "new_verdict": nv, "new_s": round(ns, 2), "rerun_verdict": rv,
                         "rerun_s": round(rs, 2)})
            differs = ov != nv or rv != nv
            print(f"{spec.stem:<24} {ov:<13} {os_:7.1f} {nv:<13} {ns:7.1f} {ns / os_:7.2f} {rs:7.1f}"
                  + ("   VERDICT DIFFERS" if differs else ""), flush=True)
            if differs:
                print(f"  old: {otail}\n  new: {ntail}\n  rerun: {rtail}", flush=True)
    total_old = sum(r["old_s"] for r in rows)
    total_new = sum(r["new_s"] for r in rows)
    print(f"{'total':<24} {'':<13} {total_old:7.1f} {'':<13} {total_new:7.1f} "
          f"{total_new / total_old:7.2f}")
    same = all(r["old_verdict"] == r["new_verdict"] == r["rerun_verdict"] for r in rows)
    print("verdicts: all the same" if same else "verdicts: SOME DIFFER")
    if args.json is not None:
        info["load_avg_end"] = machine.load_average()
        args.json.write_text(json.dumps({"ref": args.ref, "commit": commit, "rows": rows,
                                         "total_old_s": round(total_old, 2),
                                         "total_new_s": round(total_new, 2),
                                         "ratio": round(total_new / total_old, 3),
                                         "verdicts_same": same, "machine": info}, indent=2) + "\n")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())

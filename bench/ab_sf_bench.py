#!/usr/bin/env python3
"""A/B of two engine builds on one event file: replay_noop events/s, runs alternated.

    python bench/ab_sf_bench.py OLD/sf-bench NEW/sf-bench DATA.sfe [--rounds 8] [--repeat 3]

Each round runs `sf-bench --data DATA --repeat R --no-latency` once per build (A then B), the
no-op workload only; prints every run, the best and the median of each build, and the ratio of
the bests B/A. On a shared machine a run is only slowed by other work, so the best of several
alternated runs is the stable comparison (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import machine  # noqa: E402 - bench/machine.py, on the path set just above


def one(binary: str, data: str, repeat: int, out: Path) -> float:
    cmd = [binary, "--data", data, "--repeat", str(repeat), "--no-latency",
           "--mm-plugin", "builtin:noop", "--mm-params", "", "--json", str(out)]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True)
    except OSError as e:
        raise SystemExit(f"ab_sf_bench: error: cannot run {binary}: {e.strerror}") from None
    if p.returncode != 0:
        raise SystemExit(f"{binary} failed ({p.returncode}): {p.stderr.strip()}")
    return json.loads(out.read_text())["throughput"]["replay_noop"]["events_per_s"] / 1e6


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("data")
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    print(f"machine: {machine.line(machine.describe())}", flush=True)
    runs: dict[str, list[float]] = {"A": [], "B": []}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "r.json"
        for _ in range(max(1, args.rounds)):
            runs["A"].append(one(args.a, args.data, args.repeat, out))
            runs["B"].append(one(args.b, args.data, args.repeat, out))
    for k, v in runs.items():
        print(f"{k} best {max(v):.1f} median {statistics.median(v):.1f} M events/s  ({' '.join(f'{x:.0f}' for x in v)})")
    print(f"B/A (best) {max(runs['B']) / max(runs['A']):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

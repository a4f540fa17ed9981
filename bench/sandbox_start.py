"""Start-up cost of the local sandbox: bubblewrap + cgroups + seccomp around /bin/true.

    python bench/sandbox_start.py [--runs 20]

Prints the median and worst wall time of a sandboxed /bin/true next to the same command run
directly in the same loop (the baseline), and their ratio.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from stratforge.sandbox import LocalBackend, RunRequest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import machine  # noqa: E402 - bench/machine.py, on the path set just above


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args()
    info = machine.describe()
    print(f"machine: {machine.line(info)}", flush=True)
    backend = LocalBackend()
    ok, why = backend.available()
    if not ok:
        raise SystemExit(f"sandbox not available: {why}")
    sandboxed, direct = [], []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        res = backend.run(RunRequest(argv=("/bin/true",), label="bench"))
        sandboxed.append(time.perf_counter() - t0)
        assert res.ok, res.reason
        t0 = time.perf_counter()
        subprocess.run(["/bin/true"], check=True)
        direct.append(time.perf_counter() - t0)
    ms = lambda xs: (1000 * statistics.median(xs), 1000 * max(xs))  # noqa: E731
    (sm, sw), (dm, dw) = ms(sandboxed), ms(direct)
    print(f"sandboxed /bin/true: median {sm:.1f} ms, worst {sw:.1f} ms ({args.runs} runs)")
    print(f"direct /bin/true:    median {dm:.1f} ms, worst {dw:.1f} ms")
    print(f"ratio (median):      {sm / dm:.1f}x")
    if args.json is not None:
        info["load_avg_end"] = machine.load_average()
        args.json.write_text(json.dumps({"machine": info, "runs": args.runs,
                                         "sandboxed_ms": {"median": round(sm, 3), "worst": round(sw, 3)},
                                         "direct_ms": {"median": round(dm, 3), "worst": round(dw, 3)},
                                         "ratio_median": round(sm / dm, 2)}, indent=2) + "\n")


if __name__ == "__main__":
    main()

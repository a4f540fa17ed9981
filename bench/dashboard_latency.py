#!/usr/bin/env python3
"""The dashboard's strategy list under load: 100 requests/s for 30 s on loopback, p50/p99.

    python bench/dashboard_latency.py [--rate 100] [--seconds 30] [--strategies 20] [--versions 3]

Starts a real `stratforge dashboard` (uvicorn) over a fresh SQLite registry holding
STRATEGIES × VERSIONS registered versions (each with a bundle folder: spec.yaml and
scorecard.json, numbers of this script's own), logs in as a viewer, then sends requests on an
open-loop schedule (request i at t0 + i/rate, whatever the answers before it did) from a pool
of keep-alive connections (http.client, one per thread):

- the strategy list page ``GET /`` at RATE requests/s — what the issue's target is about;
- the same server's static stylesheet ``GET /static/app.css`` at RATE/5 — the baseline: what
  the server, the loopback and this client cost with no registry work.

Latency is measured from the scheduled send time (so a stalled server cannot hide queued
requests: no coordinated omission). Prints p50, p99 and max of both and the ratio of the p99s.
The issue's target: strategy list p99 < 50 ms at 100 requests/s.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from stratforge.registry import Registry, ShadowGate

sys.path.insert(0, str(Path(__file__).resolve().parent))
import machine  # noqa: E402 - bench/machine.py, on the path set just above

GATE = ShadowGate(min_duration_s=2_400, min_fills=5, max_pnl_deviation_pct=30.0,
                  max_fill_ratio_deviation_pct=15.0, max_drawdown_pct=7.0,
                  max_callback_p99_ns=9_900)
PASSWORD = "bench-viewer-pass-31"


def populate(reg: Registry, root: Path, strategies: int, versions: int) -> None:
    reg.add_user("root", "admin", actor="root")
    reg.add_user("viewer", "viewer", actor="root")
    reg.set_password("viewer", PASSWORD, actor="viewer")
    for s in range(strategies):
        name = f"bench-{s:03d}"
        for v in range(versions):
            b = root / name / f"v{v}"
            b.mkdir(parents=True)
            (b / "spec.yaml").write_text(
                f"metadata:\n  name: {name}\n  owner: desk-{s % 4}\nstrategy:\n  type: momentum\n")
            card = {"verdict": "PASS", "strategy": name, "gates": [], "charts": {}}
            (b / "scorecard.json").write_text(json.dumps(card))
            reg.register_build(strategy=name, spec_hash=f"h{s}-{v}", build_id=f"b{s}-{v}",
                               bundle=str(b), scorecard=card, verdict="PASS",
                               author="root", shadow_gate=GATE)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=float, default=100.0)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--strategies", type=int, default=20)
    ap.add_argument("--versions", type=int, default=3)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args()
    info = machine.describe()
    print(f"machine: {machine.line(info)}", flush=True)

    tmp = Path(tempfile.mkdtemp(prefix="sf-dash-bench-"))
    url = f"sqlite:///{tmp / 'registry.db'}"
    reg = Registry.open(url)
    populate(reg, tmp / "bundles", args.strategies, args.versions)
    reg.engine.dispose()
    port = free_port()
    env = {**os.environ, "STRATFORGE_DB_URL": url,
           "STRATFORGE_DASHBOARD_SECRET_KEY_FILE": str(tmp / "dashboard.key")}
    server = subprocess.Popen([sys.executable, "-m", "stratforge", "dashboard", "--host",
                               "127.0.0.1", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                requests.get(base + "/static/app.css", timeout=1)
                break
            except requests.ConnectionError:
                if server.poll() is not None:
                    raise SystemExit(server.stderr.read().decode()) from None
                time.sleep(0.1)
        login = requests.Session()
        token = re.search(r'name="csrf_token" value="([^"]+)"', login.get(base + "/login").text)
        r = login.post(base + "/login", data={"username": "viewer", "password": PASSWORD,
                                              "csrf_token": token.group(1)})
        assert r.ok and "bench-000" in r.text, r.status_code
        cookies = login.cookies.get_dict()

        local = threading.local()
        cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())

        def get(path: str) -> tuple[int, bytes]:
            """One keep-alive connection per client thread (http.client: the lightest client,
            so that the load generator takes as little of the shared CPU as it can)."""
            if not hasattr(local, "c"):
                local.c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            try:
                local.c.request("GET", path, headers={"Cookie": cookie})
                resp = local.c.getresponse()
                return resp.status, resp.read()
            except (OSError, http.client.HTTPException):
                local.c.close()
                del local.c
                raise

        results: dict[str, list[float]] = {"/": [], "/static/app.css": []}
        errors: list[str] = []

        def one(path: str, due: float, counted: bool = True) -> None:
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            try:
                status, body = get(path)
            except (OSError, http.client.HTTPException) as err:
                errors.append(f"{path}: {err}")
                return
            elapsed = time.perf_counter() - due
            if status != 200 or (path == "/" and b"bench-000" not in body):
                errors.append(f"{path}: HTTP {status}")
            elif counted:
                results[path].append(elapsed * 1000)

        # one second at the full rate first (not counted), then the measured schedule
        t0 = time.perf_counter() + 0.5
        n = int(args.rate * args.seconds)
        schedule = [("/", t0 + i / args.rate, False) for i in range(int(args.rate))]
        for i in range(n):
            schedule.append(("/", t0 + 1.0 + i / args.rate, True))
            if i % 5 == 0:
                schedule.append(("/static/app.css", t0 + 1.0 + (i + 0.5) / args.rate, True))
        with ThreadPoolExecutor(args.threads) as pool:
            for path, due, counted in sorted(schedule, key=lambda x: x[1]):
                pool.submit(one, path, due, counted)
    finally:
        server.terminate()
        server.wait(timeout=10)

    page, static = results["/"], results["/static/app.css"]
    print(f"dashboard latency: {args.strategies} strategies x {args.versions} versions, "
          f"{args.rate:g} req/s for {args.seconds:g} s on loopback ({len(page)} + {len(static)} "
          f"requests, {len(errors)} errors)")
    for label, xs in (("strategy list  GET /", page), ("baseline       GET /static/app.css",
                                                      static)):
        if xs:
            print(f"  {label}: p50 {statistics.median(xs):7.2f} ms  p99 {pct(xs, 99):7.2f} ms  "
                  f"max {max(xs):7.2f} ms")
    if page and static:
        p99 = pct(page, 99)
        print(f"  p99 ratio strategy list / static: {p99 / pct(static, 99):.1f}x; "
              f"target p99 < 50 ms: {'met' if p99 < 50 else 'NOT met'}")
    for e in errors[:5]:
        print("  error:", e)
    info["load_avg_end"] = machine.load_average()
    if args.json is not None:
        def figures(xs: list[float]) -> dict | None:
            return ({"n": len(xs), "p50_ms": round(statistics.median(xs), 3),
                     "p99_ms": round(pct(xs, 99), 3), "max_ms": round(max(xs), 3)} if xs else None)
        args.json.write_text(json.dumps({
            "machine": info, "rate_per_s": args.rate, "seconds": args.seconds,
            "strategies": args.strategies, "versions": args.versions,
            "strategy_list": figures(page), "static_baseline": figures(static),
            "errors": len(errors), "target_p99_ms": 50}, indent=2) + "\n")
    return 0 if page and not errors else 1


if __name__ == "__main__":
    sys.exit(main())

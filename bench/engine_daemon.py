#!/usr/bin/env python3
"""sf-engine figures: swap pause, tick-to-order with 1 live + 3 shadow instances, control round trip.

    python bench/engine_daemon.py [--events 2000000] [--swaps 500] [--seconds 5] [--calls 2000]
                                  [--shadow-thread on|off] [--shadow-cpu N] [--speed X]
                                  [--engine sf-engine] [--replay sf-replay] [--bench sf-bench]

1. Data: `sf-bench --synth N` writes one synthetic event file used by both programs.
2. `sf-replay` replays it with one `builtin:market_maker` slot: its tick-to-order p50/p99/p99.9.
3. `sf-engine` replays the same file as fast as possible, looping, with four instances of the same
   market maker (the same params): one live, three shadow. After `--seconds` the live instance's
   tick-to-order p50/p99/p99.9 (its whole life, over the same data repeated) and the ratio to
   sf-replay's single slot. The shadows run on the shadow thread (`--shadow-thread on`, the
   default) or inline after the live engine (`off`); the events the shadow thread missed because
   its ring was full (it does three times the live work) and its ring high-water mark are printed.
4. Swap pause: `--swaps` promote/rollback pairs while the feed runs; `swap_ns` (engine time of the
   swap, TSC) p50/p99/max, and the wait for the shadow thread to park before each (quiesce_ns).
5. Control socket round trip: `--calls` `events` requests (a small response) while the feed runs
   and once it is paused: p50/p99 of the client-side wall time per request.

Not a test: prints the figures (docs/benchmarks.md records them). On a shared machine the numbers
move with other load; compare figures from one run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from stratforge.core.tools import first_executable, which

sys.path.insert(0, str(Path(__file__).resolve().parent))
import machine  # noqa: E402 - bench/machine.py, on the path set just above

RISK = {"max_order_qty": 10, "max_order_notional": 1e9, "max_position": 50, "price_band_bps": 500,
        "max_open_orders": 32, "max_msgs_per_sec": 10000000, "max_loss": 1e9}
VENUE = {"latency": {"feed": {"model": "constant", "ns": 2000}, "entry": {"model": "constant", "ns": 10000},
                     "response": {"model": "constant", "ns": 10000}},
         "queue_model": "risk_averse", "fees": {"maker_bps": -0.2, "taker_bps": 1.0}, "seed": 3}
MM_PARAMS = {"qty": 1, "offset_ticks": 1, "max_inventory": 10, "requote_ticks": 1}
BUILTIN_BUILD_ID = "sf-engine-0.1.0"


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(q * len(xs)) - 1))]


class Client:
    def __init__(self, path: Path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(60)
        self.sock.connect(str(path))
        self.buf = b""
        self.n = 0

    def call(self, cmd: str, **fields) -> dict:
        self.n += 1
        self.sock.sendall(json.dumps({"id": self.n, "cmd": cmd, **fields}).encode() + b"\n")
        while b"\n" not in self.buf:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise SystemExit("engine_daemon: sf-engine closed the control socket")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        r = json.loads(line)
        if not r["ok"]:
            raise SystemExit(f"engine_daemon: {cmd} failed: {r['error']}")
        return r


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=2_000_000)
    ap.add_argument("--swaps", type=int, default=500)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--engine", default="sf-engine")
    ap.add_argument("--replay", default="sf-replay")
    ap.add_argument("--bench", default="sf-bench")
    ap.add_argument("--shadow-plugin", default="builtin:market_maker",
                    help="plugin of the three shadows (builtin:noop: shadows that never trade)")
    ap.add_argument("--shadow-thread", choices=("on", "off"), default="on",
                    help="engine.json shadow_thread: shadows on their own thread (on) or inline (off)")
    ap.add_argument("--shadow-cpu", type=int, default=None, help="engine.json shadow_cpu (pin hint)")
    ap.add_argument("--speed", type=float, default=0.0, help="feed speed (0 = as fast as possible)")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args()
    info = machine.describe()
    print(f"machine: {machine.line(info)}", flush=True)
    tools = {}
    for name in ("engine", "replay", "bench"):
        value = getattr(args, name)
        found = (value if Path(value).is_file() else None) if "/" in value else which(value)
        if found is None:
            raise SystemExit(f"engine_daemon: {getattr(args, name)} not found (pip install . puts it on PATH)")
        tools[name] = str(found)

    work = Path(tempfile.mkdtemp(prefix="sfe-bench-"))
    try:
        data = work / "bench.sfe"
        subprocess.run([tools["bench"], "--synth", str(args.events), "--seed", "7", "--out", str(data), "--no-run"],
                       check=True, capture_output=True)

        # sf-replay, one slot
        cfg = {"data": str(data), "strategies": [{"id": "mm", "plugin": "builtin:market_maker", "params": MM_PARAMS,
                                                  "instruments": ["SYN0"]}], "risk": RISK, "venue": VENUE}
        (work / "replay.json").write_text(json.dumps(cfg))
        subprocess.run([tools["replay"], "--config", str(work / "replay.json"), "--out", str(work / "results.json"),
                        "--quiet"], check=True)
        res = json.loads((work / "results.json").read_text())
        rep = res["strategies"][0]["latency_ns"]["tick_to_order"]

        # sf-engine, 1 live + 3 shadow
        sock = work / "engine.sock"
        ecfg = {"control_socket": str(sock),
                "feed": {"kind": "replay", "path": str(data), "speed": args.speed, "loop": True},
                "venue": None, "risk": RISK, "sim_venue": VENUE, "shadow_thread": args.shadow_thread == "on",
                "shadow_cpu": args.shadow_cpu}
        (work / "engine.json").write_text(json.dumps(ecfg))
        proc = subprocess.Popen([tools["engine"], "--config", str(work / "engine.json"), "--quiet"])
        try:
            deadline = time.monotonic() + 60
            while not sock.exists():
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("engine_daemon: sf-engine did not start")
                time.sleep(0.01)
            c = Client(sock)
            # one live instance and three shadows (three strategies: the builtin has one build id)
            c.call("load", strategy="mm", build_id=BUILTIN_BUILD_ID, plugin="builtin:market_maker",
                   params=MM_PARAMS, instruments=["SYN0"], role="live")
            for k in (1, 2, 3):
                c.call("load", strategy=f"mm{k}", build_id=BUILTIN_BUILD_ID, plugin=args.shadow_plugin,
                       params=MM_PARAMS if args.shadow_plugin == "builtin:market_maker" else {},
                       instruments=["SYN0"], role="shadow")
            time.sleep(args.seconds)
            m = {(x["strategy"], x["role"]): x for x in c.call("metrics")["instances"]}
            live = m[("mm", "live")]["t2o_ns"]
            shadows = [m[(f"mm{k}", "shadow")]["t2o_ns"] for k in (1, 2, 3)]
            shadow_events = [m[(f"mm{k}", "shadow")] for k in (1, 2, 3)]
            status = c.call("status")
            feed, shadow_side = status["feed"], status["shadow"]
            # one response: every instance loaded before it saw every event since its load, up to the same seq
            seq_ok = all(i["first_seq"] == i["loaded_at_seq"] + 1 and i["last_seq"] == feed["seq"]
                         and i["events"] == i["last_seq"] - i["first_seq"] + 1 and i["complete"]
                         for st in status["strategies"] for i in st["instances"])

            # swap pause: two builds of the test strategy (distinct manifest build ids)
            swap_ns = []
            quiesce_ns = []
            swap_note = ""
            sw = find_swap_plugins(work)
            if sw is None:
                swap_note = "(no C++ compiler: swap pause not measured)"
            else:
                (pa, sa), (pb, sb) = sw
                c.call("load", strategy="sw", build_id="bench-a", plugin=str(pa), sha256=sa, instruments=["SYN0"],
                       role="live", params={"mode": "quote"})
                c.call("load", strategy="sw", build_id="bench-b", plugin=str(pb), sha256=sb, instruments=["SYN0"],
                       params={"mode": "quote"})
                for _ in range(args.swaps):
                    for r in (c.call("promote", strategy="sw", build_id="bench-b"), c.call("rollback", strategy="sw")):
                        swap_ns.append(r["swap_ns"])
                        quiesce_ns.append(r.get("quiesce_ns", 0))
                insts = {i["build_id"]: i for s in c.call("status")["strategies"] if s["name"] == "sw"
                         for i in s["instances"]}
                for i in insts.values():
                    if i["events"] != i["last_seq"] - i["first_seq"] + 1:
                        raise SystemExit(f"engine_daemon: seq accounting broken after the swaps: {i}")

            rtt_busy = []
            for _ in range(args.calls):
                t0 = time.perf_counter_ns()
                c.call("events", since=1 << 40)
                rtt_busy.append((time.perf_counter_ns() - t0) / 1000)
        finally:
            try:
                Client(sock).call("shutdown")
            except (OSError, SystemExit):
                pass
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()

        print(f"data: {args.events} synthetic events; sf-engine ran {feed['seq']} events in {args.seconds:.1f} s "
              f"({feed['seq'] / args.seconds / 1e6:.2f} M events/s with 4 instances + control)")
        print(f"tick-to-order sf-replay (1 slot):           p50={rep['p50']} ns p99={rep['p99']} ns "
              f"p99.9={rep['p99_9']} ns (n={rep['count']})")
        print(f"shadows: {args.shadow_plugin}, shadow_thread={args.shadow_thread}; ring {shadow_side['ring_capacity']}, "
              f"high water {shadow_side['ring_high_water']}, missed {shadow_side['missed_events']} events; "
              f"shadow events/live events: {[x['events'] for x in shadow_events]} / {m[('mm', 'live')]['events']} "
              f"(each since its own load), complete: {[x['complete'] for x in shadow_events]}; every instance "
              f"gap-free up to the same seq in one status: {seq_ok}")
        print(f"tick-to-order sf-engine live (1+3 shadow):  p50={live['p50']} ns p99={live['p99']} ns "
              f"p99.9={live['p999']} ns (n={live['count']})")
        for k, s in enumerate(shadows, 1):
            print(f"tick-to-order sf-engine shadow {k}:           p50={s['p50']} ns p99={s['p99']} ns "
                  f"p99.9={s['p999']} ns (n={s['count']})")
        print(f"ratio live/replay: p50={live['p50'] / max(rep['p50'], 1):.2f} p99={live['p99'] / max(rep['p99'], 1):.2f} "
              f"p99.9={live['p999'] / max(rep['p99_9'], 1):.2f}")
        if swap_ns:
            print(f"swap pause (engine time, {len(swap_ns)} swaps): p50={pct(swap_ns, 0.5)} ns "
                  f"p99={pct(swap_ns, 0.99)} ns max={max(swap_ns)} ns")
            print(f"quiesce before the swap (shadow thread drains and parks): p50={pct(quiesce_ns, 0.5)} ns "
                  f"p99={pct(quiesce_ns, 0.99)} ns max={max(quiesce_ns)} ns")
        else:
            print(f"swap pause: {swap_note}")
        print(f"control round trip ({len(rtt_busy)} requests, feed running): p50={statistics.median(rtt_busy):.1f} us "
              f"p99={pct(rtt_busy, 0.99):.1f} us")
        if args.json is not None:
            info["load_avg_end"] = machine.load_average()
            args.json.write_text(json.dumps({
                "machine": info, "events": args.events, "seconds": args.seconds,
                "shadow_thread": args.shadow_thread, "seq_ok": seq_ok,
                "missed_events": shadow_side["missed_events"],
                "engine_events_per_s": feed["seq"] / args.seconds,
                "t2o_replay_ns": {"p50": rep["p50"], "p99": rep["p99"], "p99_9": rep["p99_9"], "n": rep["count"]},
                "t2o_live_ns": {"p50": live["p50"], "p99": live["p99"], "p99_9": live["p999"], "n": live["count"]},
                "swap_ns": ({"n": len(swap_ns), "p50": pct(swap_ns, 0.5), "p99": pct(swap_ns, 0.99),
                             "max": max(swap_ns)} if swap_ns else None),
                "swap_note": swap_note,
                "control_rtt_us": {"n": len(rtt_busy), "p50": round(statistics.median(rtt_busy), 1),
                                   "p99": round(pct(rtt_busy, 0.99), 1)}}, indent=2) + "\n")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


def find_swap_plugins(work: Path):
    """Two builds (distinct manifest build ids) of the sf-engine test strategy, compiled here."""
    cxx = first_executable("c++", "g++", "clang++")
    if cxx is None:
        return None
    root = Path(__file__).resolve().parents[1]
    src = root / "runtime/engine/tests/plugins/daemon_trader.cpp"
    out = []
    for v in ("a", "b"):
        so = work / f"bench_{v}.so"
        subprocess.run([cxx, "-std=c++20", "-O2", "-shared", "-fPIC", "-fvisibility=hidden",
                        f"-I{root / 'runtime/engine/include'}", f'-DSF_BUILD_ID="bench-{v}"', str(src), "-o", str(so)],
                       check=True)
        out.append((so, hashlib.sha256(so.read_bytes()).hexdigest()))
    return out[0], out[1]


if __name__ == "__main__":
    sys.exit(main())

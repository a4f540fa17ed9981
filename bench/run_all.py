#!/usr/bin/env python3
"""Every benchmark in bench/, one command: writes the measured sections of docs/benchmarks.md.

    python bench/run_all.py            # the full run (prints its expected duration first)
    python bench/run_all.py --quick    # small sizes: checks the machinery in a few minutes, not figures to publish
    bench/run_all [options]            # the same, through the executable wrapper

Runs each leg as its own process (one leg's crash, timeout or missing package never stops the
others), collects each leg's JSON report and writes

- the block between ``<!-- run_all:begin -->`` and ``<!-- run_all:end -->`` of ``--doc``
  (default docs/benchmarks.md; the hand-written method and history around it stay as they are);
- every figure, with each leg's raw report, to ``--json`` (default bench/results/run_all.json).

Legs (``--only``/``--skip`` take these names), each figure next to a baseline from the same run:

replay     bench/replay_vs_hftbacktest.py: sf-bench vs hftbacktest on the same synthetic L2 file
           (events/s, ratio), stratforge tick-to-order; bench/nautilus_replay.py: sf-bench vs
           NautilusTrader's BacktestEngine (where nautilus_trader is installed)
build      bench/build_time.py: `stratforge build` of every spec in specs/ (fresh folders), the
           previous design (a git ref) against this checkout, alternated per spec
llm        the recorded codegen evaluations (bench/codegen_eval/runs/*/results.json): seconds per
           spec and completion tokens/s per model and grammar setting (``--llm``: also run it live)
dashboard  bench/dashboard_latency.py: strategy list under load vs the same server's static file
engine     bench/engine_daemon.py: sf-engine live tick-to-order (1 live + 3 shadows) vs sf-replay's
           single slot, swap pause, control round trip
sandbox    bench/sandbox_start.py: sandboxed /bin/true vs the same command run directly

The machine (bench/machine.py) is described at the start; its load average again at the end.
A leg that fails is reported as "not measured: <reason>" in the document and the JSON.
Exit status: 0 when every leg selected was measured, 1 otherwise.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
import machine  # noqa: E402 - bench/machine.py, on the path set just above

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
BEGIN, END = "<!-- run_all:begin -->", "<!-- run_all:end -->"
RUNS = HERE / "codegen_eval" / "runs"
QUICK_SPEC = HERE / "quick" / "quick-momentum-bars.yaml"
FORMAT = "stratforge-run-all/1"


class NotMeasured(Exception):
    """A leg could not produce its figures; the message says why (it goes into the document)."""


@dataclass(frozen=True)
class Leg:
    name: str
    title: str
    run: Callable[["Context"], dict[str, Any]]
    render: Callable[[dict[str, Any]], list[str]]
    estimate_s: Callable[["Context"], float]


@dataclass
class Context:
    quick: bool
    work: Path
    specs: list[Path]
    llm_model: str | None = None
    timeout_scale: float = 1.0


# ----------------------------------------------------------------------------- running a script


def script(ctx: Context, name: str, args: list[str], timeout_s: float, ok_codes: tuple[int, ...] = (0,),
           json_arg: bool = True) -> dict[str, Any]:
    """Run ``bench/<name>`` with ``--json FILE`` appended; its report, or NotMeasured naming why
    (``json_arg=False``: a script that writes its own files; returns only the exit status)."""
    out = ctx.work / f"{Path(name).stem}.json"
    log = ctx.work / f"{Path(name).stem}.log"
    argv = [sys.executable, str(HERE / name), *args, *(["--json", str(out)] if json_arg else [])]
    print(f"  $ {' '.join(Path(a).name if a == sys.executable else a for a in argv)}", flush=True)
    with log.open("w") as fh:
        # its own process group: on a timeout the script and everything it started (servers,
        # engines) are stopped together
        p = subprocess.Popen(argv, cwd=REPO, stdout=fh, stderr=subprocess.STDOUT, text=True,
                             env={**os.environ, "PYTHONUNBUFFERED": "1"}, start_new_session=True)
        try:
            p.wait(timeout=timeout_s * ctx.timeout_scale)
        except subprocess.TimeoutExpired:
            stop_group(p)
            raise NotMeasured(f"{Path(name).name} did not finish within {timeout_s * ctx.timeout_scale:.0f} s"
                              ) from None
        except BaseException:  # Ctrl-C: stop the leg's processes too, then stop run_all
            stop_group(p)
            raise
    text = log.read_text(errors="replace")
    if p.returncode not in ok_codes or (json_arg and not out.exists()):
        tail = [x for x in text.strip().splitlines() if x.strip()][-1:] or ["(no output)"]
        raise NotMeasured(f"{Path(name).name} exited with status {p.returncode}: {tail[0].strip()[:300]}")
    report = json.loads(out.read_text()) if json_arg else {}
    report["_exit_status"] = p.returncode
    # the tail goes into a committed file: no path of this machine in it
    report["_output_tail"] = text.replace(f"{REPO}/", "./").strip().splitlines()[-12:]
    return report


def stop_group(p: subprocess.Popen) -> None:
    """SIGTERM to the process group of ``p``, SIGKILL after 10 s."""
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        try:
            os.killpg(p.pid, sig)
        except ProcessLookupError:
            return
        try:
            p.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def need(module: str, extra: str = "bench") -> None:
    if importlib.util.find_spec(module) is None:
        raise NotMeasured(f"the Python package {module!r} is not installed (pip install '.[{extra}]')")


def fmt(x: float, digits: int = 0) -> str:
    return f"{x:,.{digits}f}"


def ratio(x: float) -> str:
    return f"{x:.2f}×"


# ----------------------------------------------------------------------------- 1. replay vs hftbacktest


def replay_args(quick: bool) -> list[str]:
    if quick:
        return ["--events", "60000", "--seed", "1", "--repeat", "1", "--best-of", "1", "--verify-prefix", "20000"]
    return ["--events", "10000000", "--seed", "1", "--repeat", "5", "--best-of", "3"]


def run_replay(ctx: Context) -> dict[str, Any]:
    for m in ("hftbacktest", "numba"):
        need(m)
    rep = script(ctx, "replay_vs_hftbacktest.py", replay_args(ctx.quick), 3600, ok_codes=(0, 1))
    if rep["_exit_status"] == 1:
        v = rep.get("verification", {})
        raise NotMeasured(f"the conversion check found {v.get('mismatches')} best bid/ask mismatches "
                          f"between stratforge and hftbacktest on the same data (first: {v.get('first_mismatch')})")
    res, t2o = rep["results"], rep["tick_to_order_ns"]
    out = {"args": rep["args"], "events": rep["data"]["events"], "hftbacktest_version": rep["machine"]["hftbacktest"],
           "numba_version": rep["machine"]["numba"], "verification": rep["verification"],
           "workloads": {k: {"stratforge_events_per_s": v["stratforge_events_per_s"],
                             "hftbacktest_events_per_s": v["hftbacktest_events_per_s"],
                             "ratio": v["ratio"], "paired_ratio_median": v["paired_ratio_median"],
                             "target_ratio": v["target_ratio"]} for k, v in res.items()},
           "tick_to_order_ns": {k: t2o[k] for k in ("p50", "p90", "p99", "p99_9", "max", "count") if k in t2o},
           "tick_to_order_target_p99_ns": rep["tick_to_order_target_p99_ns"], "report": rep}
    try:
        out["nautilus"] = run_nautilus(ctx)
    except NotMeasured as err:
        out["nautilus_trader"] = f"not measured: {err}"
    return out


def nautilus_args(quick: bool) -> list[str]:
    if quick:
        return ["--events", "30000", "--seed", "1", "--repeat", "1", "--best-of", "1", "--verify-prefix", "10000"]
    return ["--events", "2000000", "--seed", "1", "--repeat", "3", "--best-of", "3", "--verify-prefix", "50000"]


def run_nautilus(ctx: Context) -> dict[str, Any]:
    need("nautilus_trader")
    rep = script(ctx, "nautilus_replay.py", nautilus_args(ctx.quick), 1800, ok_codes=(0, 1))
    if rep["_exit_status"] == 1:
        v = rep["verification"]
        raise NotMeasured(f"NautilusTrader's book differs from stratforge's at {v['mismatches']} of "
                          f"{v['points_compared']} batch ends (first: {v['first_mismatch']})")
    rep.pop("_output_tail", None)
    return rep


def render_replay(r: dict[str, Any]) -> list[str]:
    a = r["args"]
    lines = [f"`python bench/replay_vs_hftbacktest.py --events {a['events']} --seed {a['seed']} --repeat {a['repeat']} "
             f"--best-of {a['best_of']}`: {fmt(r['events'])} synthetic L2 events, hftbacktest {r['hftbacktest_version']} "
             f"(numba {r['numba_version']}) on the same records in the same run. Conversion check: "
             f"{r['verification']['points_compared']:,} batch ends compared, **{r['verification']['mismatches']} mismatches**.",
             "",
             "| workload | stratforge events/s | hftbacktest events/s (baseline) | ratio (medians) | median of paired ratios | target | holds |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for k, v in r["workloads"].items():
        holds = "yes" if v["ratio"] >= v["target_ratio"] else "**no**"
        lines.append(f"| {k} | {fmt(v['stratforge_events_per_s'])} | {fmt(v['hftbacktest_events_per_s'])} | "
                     f"**{ratio(v['ratio'])}** | {ratio(v['paired_ratio_median'])} | ≥ {v['target_ratio']:g}× | {holds} |")
    t = r["tick_to_order_ns"]
    target = r["tick_to_order_target_p99_ns"]
    lines += ["", "| stratforge tick-to-order (market maker, fully timed run) | p50 | p90 | p99 | p99.9 | target |",
              "|---|---:|---:|---:|---:|---|",
              f"| ns (n = {fmt(t['count'])}) | {t['p50']} | {t.get('p90', '')} | **{t['p99']}** | {t['p99_9']} | "
              f"p99 ≤ {target} ns: {'holds' if t['p99'] <= target else '**does not hold**'} |",
              ""]
    nt = r.get("nautilus")
    if nt is None:
        lines.append(f"NautilusTrader: {r.get('nautilus_trader', 'not measured')}.")
        return lines
    v = nt["verification"]
    lines += [f"NautilusTrader {nt['nautilus_trader']} (`python bench/nautilus_replay.py --events {nt['events']} "
              f"--seed {nt['seed']} --repeat {nt['repeat']} --best-of {nt['best_of']}`): its `BacktestEngine` with a "
              f"no-op strategy subscribed to the book deltas (managed L2_MBP book) and trades, on a file of "
              f"{fmt(nt['events'])} records from the same generator; sf-bench's replay_noop on the same file in the "
              f"same run. Book check: {v['points_compared']:,} batch ends of a {v['prefix_records']:,}-record prefix, "
              f"**{v['mismatches']} mismatches**.",
              "",
              "| workload | stratforge events/s | NautilusTrader events/s (baseline) | ratio (medians) |",
              "|---|---:|---:|---:|",
              f"| replay_noop | {fmt(nt['stratforge_events_per_s'])} | {fmt(nt['nautilus_events_per_s'])} | "
              f"**{ratio(nt['ratio'])}** |"]
    return lines


# ----------------------------------------------------------------------------- 2. build wall time


def run_build(ctx: Context) -> dict[str, Any]:
    args = ["--specs", *[str(s) for s in ctx.specs]]
    per_spec = 60 if ctx.quick else 240
    rep = script(ctx, "build_time.py", args, 600 + per_spec * len(ctx.specs), ok_codes=(0, 1))
    rep.pop("_output_tail", None)
    rep["spec_files"] = [str(s.relative_to(REPO)) if s.is_relative_to(REPO) else s.name for s in ctx.specs]
    return rep


def render_build(r: dict[str, Any]) -> list[str]:
    old = r.get("old_design", {})
    lines = [f"`python bench/build_time.py --specs {' '.join(r['spec_files'])}`: "
             f"each spec built cold (fresh `--out` and `--build-dir`) by the previous design "
             f"(baseline: `{r['ref']}` = {r['commit'][:10]}, {old.get('what', 'the build before it became a state machine')}) "
             f"and by this checkout, alternated per spec; then rebuilt unchanged by this checkout (the rerun reuses every step).",
             "",
             "| spec | verdict (old / new / rerun) | old design s (baseline) | this checkout s | new/old | unchanged rerun s |",
             "|---|---|---:|---:|---:|---:|"]
    for x in r["rows"]:
        same = x["old_verdict"] == x["new_verdict"] == x["rerun_verdict"]
        verdicts = x["new_verdict"] if same else f"**{x['old_verdict']} / {x['new_verdict']} / {x['rerun_verdict']}**"
        rel = ratio(x["new_s"] / x["old_s"]) if x.get("old_s") else "—"
        lines.append(f"| {x['spec']} | {verdicts} | {x['old_s']:.1f} | {x['new_s']:.1f} | {rel} | {x['rerun_s']:.1f} |")
    lines.append(f"| **total** | {'all the same' if r.get('verdicts_same') else '**some differ**'} | "
                 f"**{r['total_old_s']:.1f}** | **{r['total_new_s']:.1f}** | **{ratio(r['ratio'])}** | "
                 f"{sum(x['rerun_s'] for x in r['rows']):.1f} |")
    return lines


# ----------------------------------------------------------------------------- 3. LLM generation


def llm_summary(runs_dir: Path | None = None) -> dict[str, Any]:
    """Per (provider, model, grammar[, per-signal]) of the recorded evaluations (default
    bench/codegen_eval/runs): intents timed, median and max seconds per spec, completion
    tokens/s (sum of tokens / sum of seconds)."""
    runs_dir = runs_dir or RUNS
    groups: dict[tuple, dict[str, Any]] = {}
    for res in sorted(runs_dir.glob("*/results.json")):
        d = json.loads(res.read_text())
        rows = [x for x in d.get("intents", []) if x.get("seconds") is not None]
        if not rows:
            continue
        key = (d.get("provider"), d.get("model"), d.get("grammar"), bool(d.get("per_signal")))
        g = groups.setdefault(key, {"provider": key[0], "model": key[1], "grammar": key[2],
                                    "per_signal": key[3], "runs": [], "rows": []})
        g["runs"].append(res.parent.name)
        g["rows"].extend(rows)
    out = []
    for g in groups.values():
        rows = g.pop("rows")
        secs = [float(x["seconds"]) for x in rows]
        toks = sum(int(x.get("completion_tokens") or 0) for x in rows)
        out.append({**g, "intents": len(rows), "median_s": round(statistics.median(secs), 1),
                    "max_s": round(max(secs), 1), "completion_tokens": toks,
                    "tokens_per_s": round(toks / sum(secs), 2) if sum(secs) > 0 else None,
                    "accepted": sum(1 for x in rows if x.get("accepted")),
                    "correct": sum(1 for x in rows if x.get("correct"))})
    return {"groups": out}


#: intents the live run (``--llm MODEL``) asks the model for: one per strategy family the eval has
LIVE_INTENTS_QUICK = ("mom-ema-cross-long",)
LIVE_INTENTS = ("mom-ema-cross-long", "mr-dip-pct-hold", "obi-levels-hold")


def run_llm(ctx: Context) -> dict[str, Any]:
    s = llm_summary()
    if ctx.llm_model:
        intents = LIVE_INTENTS_QUICK if ctx.quick else LIVE_INTENTS
        folder = ctx.work / "llm-live"
        try:
            script(ctx, "codegen_eval.py", ["--provider", "local", "--model", ctx.llm_model, "--grammar", "on",
                                            "--intents", ",".join(intents), "--record", str(folder)],
                   timeout_s=900 * len(intents), json_arg=False)
            live = llm_summary(ctx.work)["groups"]
            for g in live:
                g["runs"] = ["live, this run"]
            s["groups"] += live
            s["live"] = "measured"
        except NotMeasured as err:
            s["live"] = f"not measured: {err}"
    if not s["groups"]:
        raise NotMeasured(f"no recorded evaluation with timed intents under {RUNS.relative_to(REPO)}/*/results.json"
                          + (f"; the live run: {s['live']}" if s.get("live") else ""))
    return s


def render_llm(r: dict[str, Any]) -> list[str]:
    lines = ["Read from the recorded evaluations `bench/codegen_eval/runs/*/results.json` (the model is not "
             "run by `run_all`; each run's own machine and load are in its `run.json`). One spec = one intent "
             "translated to signal expressions, repair rounds included. Baseline: the same model with the "
             "grammar off, where a run of it is recorded.",
             "",
             "| provider / model | grammar | runs | intents | median s per spec | max s | completion tokens/s | accepted | correct | vs grammar off (median s) |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---|"]
    if r.get("live"):
        lines[0] += f" Live run of this invocation (`--llm`): {r['live']}."
    by = {(g["provider"], g["model"], g["grammar"], g["per_signal"]): g for g in r["groups"]
          if "live, this run" not in g["runs"]}
    for g in r["groups"]:
        base = by.get((g["provider"], g["model"], "off", g["per_signal"]))
        vs = (ratio(g["median_s"] / base["median_s"]) if base and base is not g and base["median_s"]
              else ("baseline" if g["grammar"] == "off" else "no grammar-off run recorded"))
        lines.append(f"| {g['provider']} / {g['model']}{' (one signal per request)' if g['per_signal'] else ''} | "
                     f"{g['grammar']} | {', '.join(g['runs'])} | {g['intents']} | {g['median_s']:.1f} | {g['max_s']:.1f} | "
                     f"{g['tokens_per_s'] if g['tokens_per_s'] is not None else '—'} | {g['accepted']}/{g['intents']} | "
                     f"{g['correct']}/{g['intents']} | {vs} |")
    return lines


# ----------------------------------------------------------------------------- 4. dashboard


def run_dashboard(ctx: Context) -> dict[str, Any]:
    args = (["--rate", "20", "--seconds", "2", "--strategies", "3", "--versions", "2"] if ctx.quick
            else ["--rate", "100", "--seconds", "30", "--strategies", "20", "--versions", "3"])
    rep = script(ctx, "dashboard_latency.py", args, 300)
    if not rep.get("strategy_list") or not rep.get("static_baseline"):
        raise NotMeasured("dashboard_latency.py recorded no successful request")
    rep.pop("_output_tail", None)
    return rep


def render_dashboard(r: dict[str, Any]) -> list[str]:
    p, s = r["strategy_list"], r["static_baseline"]
    return [f"`python bench/dashboard_latency.py --rate {r['rate_per_s']:g} --seconds {r['seconds']:g} "
            f"--strategies {r['strategies']} --versions {r['versions']}`: a real `stratforge dashboard` on loopback, "
            f"open-loop schedule; baseline: the same server's static stylesheet at a fifth of the rate. "
            f"{r['errors']} errors.",
            "",
            "| request | n | p50 ms | p99 ms | max ms |",
            "|---|---:|---:|---:|---:|",
            f"| strategy list `GET /` | {p['n']} | {p['p50_ms']:.2f} | **{p['p99_ms']:.2f}** | {p['max_ms']:.2f} |",
            f"| baseline `GET /static/app.css` | {s['n']} | {s['p50_ms']:.2f} | {s['p99_ms']:.2f} | {s['max_ms']:.2f} |",
            f"| **ratio list / static** | | {ratio(p['p50_ms'] / s['p50_ms'])} | **{ratio(p['p99_ms'] / s['p99_ms'])}** | |",
            "",
            f"Target: strategy list p99 < {r['target_p99_ms']} ms — "
            f"{'**met**' if p['p99_ms'] < r['target_p99_ms'] else '**not met**'}."]


# ----------------------------------------------------------------------------- 5. sf-engine


def run_engine(ctx: Context) -> dict[str, Any]:
    args = (["--events", "100000", "--swaps", "20", "--seconds", "1", "--calls", "100"] if ctx.quick
            else ["--events", "2000000", "--swaps", "500", "--seconds", "5", "--calls", "2000"])
    rep = script(ctx, "engine_daemon.py", args, 600)
    rep.pop("_output_tail", None)
    return rep


def render_engine(r: dict[str, Any]) -> list[str]:
    rep, live = r["t2o_replay_ns"], r["t2o_live_ns"]
    lines = [f"`python bench/engine_daemon.py --events {r['events']} --seconds {r['seconds']:g}` (shadow thread "
             f"{r['shadow_thread']}): one market maker live and three trading shadows in sf-engine on a looping replay; "
             f"baseline: the same market maker alone in sf-replay on the same file. Shadows missed "
             f"{r['missed_events']} events; every instance gap-free: {'yes' if r['seq_ok'] else '**no**'}.",
             "",
             "| tick-to-order ns | p50 | p99 | p99.9 | n |",
             "|---|---:|---:|---:|---:|",
             f"| sf-replay, one slot (baseline) | {rep['p50']} | {rep['p99']} | {rep['p99_9']} | {fmt(rep['n'])} |",
             f"| sf-engine live, 1 live + 3 shadows | {live['p50']} | **{live['p99']}** | {live['p99_9']} | {fmt(live['n'])} |",
             f"| **ratio live / single slot** | {ratio(live['p50'] / max(rep['p50'], 1))} | "
             f"**{ratio(live['p99'] / max(rep['p99'], 1))}** | {ratio(live['p99_9'] / max(rep['p99_9'], 1))} | |",
             ""]
    sw = r.get("swap_ns")
    lines.append(f"Swap pause ({sw['n']} swaps): p50 {sw['p50'] / 1000:.1f} µs, p99 **{sw['p99'] / 1000:.1f} µs**, "
                 f"max {sw['max'] / 1000:.1f} µs (target p99 ≤ 10 µs: {'met' if sw['p99'] <= 10_000 else '**not met**'})."
                 if sw else f"Swap pause: {r.get('swap_note')}.")
    c = r["control_rtt_us"]
    lines.append(f"Control round trip (`events`, {c['n']} requests, feed running): p50 {c['p50']} µs, p99 {c['p99']} µs. "
                 f"sf-engine ran {r['engine_events_per_s'] / 1e6:.2f} M events/s with 4 instances.")
    return lines


# ----------------------------------------------------------------------------- 6. sandbox


def run_sandbox(ctx: Context) -> dict[str, Any]:
    rep = script(ctx, "sandbox_start.py", ["--runs", "3" if ctx.quick else "20"], 300)
    rep.pop("_output_tail", None)
    return rep


def render_sandbox(r: dict[str, Any]) -> list[str]:
    s, d = r["sandboxed_ms"], r["direct_ms"]
    return [f"`python bench/sandbox_start.py --runs {r['runs']}`: the local sandbox (bubblewrap, cgroups, seccomp) "
            f"around `/bin/true`; baseline: `/bin/true` run directly in the same loop.",
            "",
            "| | median ms | worst ms |",
            "|---|---:|---:|",
            f"| sandboxed | {s['median']:.1f} | {s['worst']:.1f} |",
            f"| direct (baseline) | {d['median']:.1f} | {d['worst']:.1f} |",
            f"| **ratio** | **{ratio(r['ratio_median'])}** | |"]


# ----------------------------------------------------------------------------- the legs


def _specs(ctx: Context) -> int:
    return len(ctx.specs)


LEGS: tuple[Leg, ...] = (
    Leg("replay", "Replay throughput and tick-to-order vs hftbacktest and NautilusTrader", run_replay, render_replay,
        lambda c: 60 if c.quick else 480 + (150 if importlib.util.find_spec("nautilus_trader") else 0)),
    Leg("build", "`stratforge build` spec-to-scorecard wall time, cold, old vs new design", run_build, render_build,
        lambda c: 40 + (70 if c.quick else 90) * _specs(c)),
    Leg("llm", "LLM generation time per spec", run_llm, render_llm,
        lambda c: 1 + (300 * len(LIVE_INTENTS_QUICK if c.quick else LIVE_INTENTS) if c.llm_model else 0)),
    Leg("dashboard", "Dashboard: strategy list under load", run_dashboard, render_dashboard,
        lambda c: 12 if c.quick else 45),
    Leg("engine", "sf-engine: live tick-to-order with shadows, swap pause, control round trip", run_engine,
        render_engine, lambda c: 15 if c.quick else 75),
    Leg("sandbox", "Sandbox start-up", run_sandbox, render_sandbox, lambda c: 3 if c.quick else 10),
)


def run_legs(ctx: Context, legs: tuple[Leg, ...] | list[Leg]) -> dict[str, Any]:
    """Run every leg; a leg that raises is recorded as not measured with its reason, and the
    others still run."""
    results: dict[str, Any] = {}
    for leg in legs:
        print(f"[{leg.name}] {leg.title} (expected ~{leg.estimate_s(ctx) / 60:.1f} min)", flush=True)
        t0 = time.monotonic()
        try:
            figures = leg.run(ctx)
            entry = {"status": "measured", "figures": figures}
        except NotMeasured as err:
            entry = {"status": "not measured", "reason": str(err)}
        except Exception as err:  # noqa: BLE001 - one leg's bug must not stop the others; named in the doc
            entry = {"status": "not measured", "reason": f"run_all's {leg.name} leg failed: {type(err).__name__}: {err}"}
        entry["seconds"] = round(time.monotonic() - t0, 1)
        results[leg.name] = entry
        print(f"[{leg.name}] {entry['status']}" + (f": {entry['reason']}" if "reason" in entry else "")
              + f" ({entry['seconds']:.0f} s)", flush=True)
    return results


# ----------------------------------------------------------------------------- the document


def render_block(report: dict[str, Any], legs: tuple[Leg, ...] | list[Leg]) -> str:
    m = report["machine"]
    mode = "quick run: small sizes, checks the machinery, not figures to quote" if report["quick"] else "full run"
    lines = [BEGIN,
             "<!-- Generated by `python bench/run_all.py`: do not edit by hand, rerun it. -->",
             "",
             f"## Measured by `bench/run_all` ({report['started']}; {mode})",
             "",
             f"**Machine:** {machine.line(m)}.",
             f"Load average (1/5/15 min) at the start {' / '.join(f'{x:g}' for x in m.get('load_avg_start', []))}, "
             f"at the end {' / '.join(f'{x:g}' for x in m.get('load_avg_end', []))}. "
             f"Whole run {report['seconds'] / 60:.1f} min. Figures: `{report['json']}`.",
             ""]
    for i, leg in enumerate(legs, 1):
        entry = report["legs"].get(leg.name)
        lines += [f"### {i}. {leg.title}", ""]
        if entry is not None and entry.get("kept_from"):
            lines += [f"(Kept from the run of {entry['kept_from']}: this run left the leg out.)", ""]
        if entry is None:
            lines += ["not measured: left out of this run (`--only`/`--skip`)", ""]
        elif entry["status"] != "measured":
            lines += [f"not measured: {entry['reason']}", ""]
        else:
            try:
                lines += leg.render(entry["figures"]) + ["", f"(This leg took {entry['seconds']:.0f} s.)", ""]
            except (KeyError, TypeError, ValueError, ZeroDivisionError) as err:
                lines += [f"not measured: the {leg.name} report could not be read ({type(err).__name__}: {err})", ""]
    lines.append(END)
    return "\n".join(lines)


def write_doc(doc: Path, block: str) -> None:
    """Replace the block between the markers of ``doc`` (create the file when it does not exist);
    refuse a document that has the file but not exactly one pair of markers."""
    if not doc.exists():
        doc.parent.mkdir(parents=True, exist_ok=True)
        doc.write_text(block + "\n")
        return
    text = doc.read_text()
    if text.count(BEGIN) != 1 or text.count(END) != 1 or text.index(BEGIN) > text.index(END):
        raise SystemExit(f"run_all: {doc} must hold exactly one {BEGIN} … {END} pair (found "
                         f"{text.count(BEGIN)} begin and {text.count(END)} end markers); nothing written")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    doc.write_text(head + block + tail)


def read_block(text: str) -> str:
    """The generated block of a document (markers included); '' when there is none."""
    m = re.search(re.escape(BEGIN) + r".*?" + re.escape(END), text, re.S)
    return m.group(0) if m else ""


def kept_legs(path: Path, quick: bool, names: set[str]) -> dict[str, Any]:
    """The legs ``names`` (left out of this run by --only/--skip) as the previous report at
    ``path`` has them, each marked with the run it comes from; {} when there is none."""
    try:
        prev = json.loads(path.read_text())
        if prev.get("format") != FORMAT or prev.get("quick") != quick:
            return {}
        return {k: {**v, "kept_from": v.get("kept_from") or prev["started"]}
                for k, v in prev["legs"].items() if k in names}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def previous_duration(path: Path, quick: bool) -> str:
    """'the last full run (…) took N min: replay …' from an earlier report at ``path``, or ''."""
    try:
        prev = json.loads(path.read_text())
        if prev.get("format") != FORMAT or prev.get("quick") != quick:
            return ""
        legs = ", ".join(f"{k} {v['seconds'] / 60:.1f}" for k, v in prev["legs"].items())
        return (f"the last {'quick' if quick else 'full'} run ({prev['started']}) took "
                f"{prev['seconds'] / 60:.0f} min ({legs} min)")
    except (OSError, ValueError, KeyError, TypeError):
        return ""


# ----------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes (a test of the machinery, a few minutes); "
                    "then --doc and --json default to build/run_all-quick/")
    ap.add_argument("--doc", type=Path, default=None, help="document to write the block into "
                    "(default docs/benchmarks.md; --quick: build/run_all-quick/benchmarks.md)")
    ap.add_argument("--json", type=Path, default=None, help="all figures (default bench/results/run_all.json; "
                    "--quick: build/run_all-quick/run_all.json)")
    ap.add_argument("--only", nargs="+", choices=[g.name for g in LEGS], default=None, help="run only these legs")
    ap.add_argument("--skip", nargs="+", choices=[g.name for g in LEGS], default=[], help="leave these legs out")
    ap.add_argument("--specs", nargs="+", type=Path, default=None,
                    help="specs for the build leg (default specs/*.yaml; --quick: bench/quick/quick-momentum-bars.yaml)")
    ap.add_argument("--llm", metavar="MODEL", default=None,
                    help="also run the bundled model MODEL (e.g. 1.5b; `stratforge model list`) live on "
                         f"{len(LIVE_INTENTS)} intents ({len(LIVE_INTENTS_QUICK)} with --quick), grammar on; "
                         "default: only the recorded runs")
    ap.add_argument("--estimate", action="store_true", help="print the expected duration and exit")
    args = ap.parse_args(argv)

    quick_dir = REPO / "build" / "run_all-quick"
    doc = args.doc or (quick_dir / "benchmarks.md" if args.quick else REPO / "docs" / "benchmarks.md")
    out_json = args.json or (quick_dir / "run_all.json" if args.quick else HERE / "results" / "run_all.json")
    specs = [s.resolve() for s in args.specs] if args.specs else (
        [QUICK_SPEC] if args.quick else sorted((REPO / "specs").glob("*.yaml")))
    legs = [g for g in LEGS if (args.only is None or g.name in args.only) and g.name not in args.skip]

    # scratch under build/ (not /tmp: the sandbox gives its jobs a private /tmp)
    (REPO / "build").mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="run-all-", dir=REPO / "build"))
    ctx = Context(quick=args.quick, work=work, specs=specs, llm_model=args.llm)
    expected = sum(g.estimate_s(ctx) for g in legs)
    print(f"run_all: {'quick' if args.quick else 'full'} run of {', '.join(g.name for g in legs)}; expected duration "
          f"~{expected / 60:.0f} min on an idle 2-core machine ("
          + ", ".join(f"{g.name} ~{g.estimate_s(ctx) / 60:.1f}" for g in legs) + " min); more under load", flush=True)
    last = previous_duration(out_json, args.quick)
    if last:
        print(f"run_all: {last}", flush=True)
    if args.estimate:
        shutil.rmtree(work, ignore_errors=True)
        return 0
    info = machine.describe()
    print(f"machine: {machine.line(info)}", flush=True)
    started = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    t0 = time.monotonic()
    try:
        results = run_legs(ctx, legs)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    info["load_avg_end"] = machine.load_average()
    results = {**kept_legs(out_json, args.quick, {g.name for g in LEGS} - {g.name for g in legs}), **results}
    rel = out_json.resolve().relative_to(REPO) if out_json.resolve().is_relative_to(REPO) else out_json
    report = {"format": FORMAT, "quick": args.quick, "started": started, "seconds": round(time.monotonic() - t0, 1),
              "machine": info, "json": str(rel), "legs": results}
    out_json.parent.mkdir(parents=True, exist_ok=True)
    out_json.write_text(json.dumps(report, indent=2) + "\n")
    write_doc(doc, render_block(report, LEGS))
    print(f"run_all: {sum(1 for e in results.values() if e['status'] == 'measured')}/{len(results)} legs measured "
          f"in {report['seconds'] / 60:.1f} min; wrote {doc} and {out_json}", flush=True)
    return 0 if all(e["status"] == "measured" for e in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())

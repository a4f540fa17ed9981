"""bench/run_all.py: one command that runs every benchmark and writes docs/benchmarks.md's block.

The fast tests plant the failures run_all must survive (a leg that raises, a leg script that
exits non-zero or hangs, a document without markers) and check what the document then says; the
slow test runs the real ``run_all --quick`` into a temporary document and parses it.
Also here: bench/machine.py and bench/build_time.py's old-design environment (the CPP_RULES
ImportError: leftovers of a regular install shadowed the old tree's modules).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from resource_kit import missing  # tests/ is on sys.path (tests/conftest.py)

from stratforge.core.tools import first_executable, which

import build_time  # bench/ is on sys.path (tests/bench/conftest.py)
import machine
import run_all

REPO = Path(__file__).resolve().parents[2]


def _ctx(tmp_path: Path, quick: bool = True) -> run_all.Context:
    return run_all.Context(quick=quick, work=tmp_path, specs=[])


def _leg(name: str, fn, render=lambda r: [f"figure {r['x']:.2f}×"]) -> run_all.Leg:
    return run_all.Leg(name, f"title of {name}", fn, render, lambda c: 1)


# ----------------------------------------------------------------------------- one leg's failure


def test_a_failing_leg_is_named_in_the_doc_and_the_others_still_run(tmp_path):
    def not_measured(ctx):
        raise run_all.NotMeasured("the widget is not installed")

    def bug(ctx):
        return {}["missing"]  # a bug in the leg itself

    def fine(ctx):
        return {"x": 3.25}

    legs = [_leg("first", not_measured), _leg("second", bug), _leg("third", fine)]
    results = run_all.run_legs(_ctx(tmp_path), legs)
    assert results["first"] == {"status": "not measured", "reason": "the widget is not installed",
                                "seconds": results["first"]["seconds"]}
    assert results["second"]["status"] == "not measured"
    assert "second leg failed: KeyError" in results["second"]["reason"]
    assert results["third"]["status"] == "measured" and results["third"]["figures"] == {"x": 3.25}

    report = {"machine": {**machine.describe(), "load_avg_end": [0.5, 0.4, 0.3]}, "quick": True,
              "started": "2026-12-04 20:00 UTC", "seconds": 61.0, "json": "r.json", "legs": results}
    block = run_all.render_block(report, legs)
    assert "### 1. title of first\n\nnot measured: the widget is not installed" in block
    assert "### 2. title of second\n\nnot measured: run_all's second leg failed: KeyError" in block
    assert "### 3. title of third\n\nfigure 3.25×" in block


def test_a_report_that_cannot_be_rendered_is_not_measured_not_a_crash(tmp_path):
    legs = [_leg("odd", lambda ctx: {"y": 1})]  # render reads 'x'
    results = run_all.run_legs(_ctx(tmp_path), legs)
    report = {"machine": machine.describe(), "quick": True, "started": "s", "seconds": 1.0,
              "json": "r.json", "legs": results}
    assert "not measured: the odd report could not be read (KeyError" in run_all.render_block(report, legs)


def _bench_script(tmp_path: Path, body: str) -> str:
    p = tmp_path / "leg_script.py"
    p.write_text("import sys, json, time\n" + body)
    return str(p)  # absolute: run_all.script joins it to bench/ and gets it back unchanged


def test_a_leg_script_that_exits_non_zero_is_not_measured_with_its_last_line(tmp_path):
    name = _bench_script(tmp_path, "print('working')\nprint('hftbacktest: wait_next_feed error 3')\nsys.exit(2)\n")
    with pytest.raises(run_all.NotMeasured, match=r"exited with status 2: hftbacktest: wait_next_feed error 3"):
        run_all.script(_ctx(tmp_path), name, [], timeout_s=60)


def test_a_leg_script_that_hangs_is_stopped_and_not_measured(tmp_path):
    name = _bench_script(tmp_path, "time.sleep(60)\n")
    with pytest.raises(run_all.NotMeasured, match=r"did not finish within 1 s"):
        run_all.script(_ctx(tmp_path), name, [], timeout_s=1)


def test_a_leg_script_report_is_read_from_its_json(tmp_path):
    name = _bench_script(tmp_path, "out = sys.argv[sys.argv.index('--json') + 1]\n"
                                   "json.dump({'p99_ms': 7.5}, open(out, 'w'))\n")
    rep = run_all.script(_ctx(tmp_path), name, [], timeout_s=60)
    assert rep["p99_ms"] == 7.5 and rep["_exit_status"] == 0


# ----------------------------------------------------------------------------- the document


def test_write_doc_replaces_only_the_block_between_the_markers(tmp_path):
    doc = tmp_path / "benchmarks.md"
    doc.write_text(f"# Title\n\nprose before\n\n{run_all.BEGIN}\nold figures\n{run_all.END}\n\n## Method\nprose after\n")
    run_all.write_doc(doc, f"{run_all.BEGIN}\nnew figures\n{run_all.END}")
    assert doc.read_text() == (f"# Title\n\nprose before\n\n{run_all.BEGIN}\nnew figures\n{run_all.END}\n\n"
                               "## Method\nprose after\n")


@pytest.mark.parametrize("text", ["no markers at all\n", f"{run_all.BEGIN}\nonly a begin\n",
                                  f"{run_all.END}\nx\n{run_all.BEGIN}\n",
                                  f"{run_all.BEGIN}\n{run_all.END}\n{run_all.BEGIN}\n{run_all.END}\n"])
def test_write_doc_refuses_a_document_without_one_marker_pair_and_writes_nothing(tmp_path, text):
    doc = tmp_path / "benchmarks.md"
    doc.write_text(text)
    with pytest.raises(SystemExit, match="must hold exactly one"):
        run_all.write_doc(doc, f"{run_all.BEGIN}\nnew\n{run_all.END}")
    assert doc.read_text() == text


def test_the_checked_in_doc_has_one_block_and_says_how_to_reproduce():
    text = (REPO / "docs" / "benchmarks.md").read_text()
    assert text.count(run_all.BEGIN) == 1 and text.count(run_all.END) == 1
    assert "python bench/run_all.py" in text


# ----------------------------------------------------------------------------- the LLM section


def _eval_run(root: Path, name: str, grammar: str, rows: list[tuple[float, int, bool]]) -> None:
    folder = root / name
    folder.mkdir(parents=True)
    intents = [{"id": f"i{k}", "seconds": s, "completion_tokens": t, "accepted": ok, "correct": ok}
               for k, (s, t, ok) in enumerate(rows)]
    intents.append({"id": "never-timed", "seconds": None, "completion_tokens": 0})
    (folder / "results.json").write_text(json.dumps({"format": "stratforge-codegen-eval/1", "provider": "local",
                                                     "model": "tiny", "grammar": grammar, "intents": intents}))


def test_llm_summary_per_model_and_grammar_with_grammar_off_as_baseline(tmp_path):
    _eval_run(tmp_path, "tiny-on", "on", [(10.0, 40, True), (30.0, 20, False), (50.0, 60, True)])
    _eval_run(tmp_path, "tiny-off", "off", [(4.0, 30, False), (6.0, 30, True)])
    s = run_all.llm_summary(tmp_path)
    on = next(g for g in s["groups"] if g["grammar"] == "on")
    off = next(g for g in s["groups"] if g["grammar"] == "off")
    assert (on["intents"], on["median_s"], on["max_s"], on["tokens_per_s"]) == (3, 30.0, 50.0, 1.33)
    assert (on["accepted"], on["correct"]) == (2, 2)
    assert (off["median_s"], off["tokens_per_s"]) == (5.0, 6.0)
    table = "\n".join(run_all.render_llm(s))
    assert "| local / tiny | on | tiny-on | 3 | 30.0 | 50.0 | 1.33 | 2/3 | 2/3 | 6.00× |" in table
    assert "| local / tiny | off | tiny-off | 2 | 5.0 | 6.0 | 6.0 | 1/2 | 1/2 | baseline |" in table


def test_llm_leg_without_recorded_runs_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(run_all, "RUNS", tmp_path / "bench" / "codegen_eval" / "runs")
    monkeypatch.setattr(run_all, "REPO", tmp_path)
    with pytest.raises(run_all.NotMeasured, match="no recorded evaluation"):
        run_all.run_llm(_ctx(tmp_path))


def test_llm_live_run_is_summarised_beside_the_recorded_ones(tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    _eval_run(runs, "tiny-on", "on", [(10.0, 40, True)])
    monkeypatch.setattr(run_all, "RUNS", runs)
    calls = []

    def fake_codegen_eval(ctx, name, args, timeout_s, json_arg=True):
        calls.append((name, args, json_arg))
        _eval_run(ctx.work, "llm-live", "on", [(2.0, 10, True), (4.0, 30, True)])
        return {}

    monkeypatch.setattr(run_all, "script", fake_codegen_eval)
    ctx = run_all.Context(quick=True, work=tmp_path / "work", specs=[], llm_model="tiny")
    s = run_all.run_llm(ctx)
    assert calls == [("codegen_eval.py", ["--provider", "local", "--model", "tiny", "--grammar", "on", "--intents",
                                          ",".join(run_all.LIVE_INTENTS_QUICK), "--record",
                                          str(ctx.work / "llm-live")], False)]
    assert s["live"] == "measured"
    live = next(g for g in s["groups"] if g["runs"] == ["live, this run"])
    assert (live["intents"], live["median_s"], live["tokens_per_s"]) == (2, 3.0, 6.67)
    assert "| local / tiny | on | live, this run | 2 | 3.0 | 4.0 | 6.67 |" in "\n".join(run_all.render_llm(s))


def test_llm_live_run_that_fails_keeps_the_recorded_figures_and_says_why(tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    _eval_run(runs, "tiny-on", "on", [(10.0, 40, True)])
    monkeypatch.setattr(run_all, "RUNS", runs)

    def not_installed(ctx, name, args, timeout_s, json_arg=True):
        raise run_all.NotMeasured("codegen_eval.py exited with status 2: model tiny is not installed")

    monkeypatch.setattr(run_all, "script", not_installed)
    s = run_all.run_llm(run_all.Context(quick=True, work=tmp_path / "work", specs=[], llm_model="tiny"))
    assert [g["runs"] for g in s["groups"]] == [["tiny-on"]]
    assert ("Live run of this invocation (`--llm`): not measured: codegen_eval.py exited with status 2: "
            "model tiny is not installed.") in run_all.render_llm(s)[0]


# ----------------------------------------------------------------------------- machine


def test_machine_describes_cpu_cores_ram_load_os_compiler_python():
    d = machine.describe()
    assert d["cores"] >= 1 and d["mem_gib"] > 0 and len(d["load_avg_start"]) == 3
    assert d["cpu_model"] and d["os"] and re.fullmatch(r"\d+\.\d+\.\d+", d["python"])
    d["load_avg_end"] = [9.5, 1.0, 1.0]
    line = machine.line(d)
    assert f"{d['cores']} cores" in line and f"Python {d['python']}" in line and "→ 9.5" in line


# ----------------------------------------------------------------------------- build_time's old design


def test_old_design_environment_drops_a_regular_installs_modules_and_keeps_the_engine_files(tmp_path):
    """The failure of 2026-12-04: a venv with a regular install of the new tree has
    stratforge/generator/checks/cpp/ (a package); the old tree's cpp.py was copied beside it and
    the package won: ImportError: cannot import name 'CPP_RULES'."""
    site = tmp_path / "site-packages"
    new_pkg = site / "stratforge" / "generator" / "checks" / "cpp"
    new_pkg.mkdir(parents=True)
    (new_pkg / "__init__.py").write_text("# the new design's package\n")
    (site / "stratforge" / "only_in_new.py").write_text("")
    (site / "_editable_impl_stratforge.py").write_text("")
    lib = site / "stratforge" / "runtime" / "lib"
    lib.mkdir(parents=True)
    (lib / "sf_strategy_noop.so").write_bytes(b"\x7fELF built")
    old = tmp_path / "old"
    (old / "generator" / "checks").mkdir(parents=True)
    (old / "generator" / "checks" / "cpp.py").write_text("CPP_RULES = {}\n")
    (old / "stratforge").mkdir()
    (old / "stratforge" / "__init__.py").write_text("")
    (old / "pyproject.toml").write_text('[tool.scikit-build.wheel.packages]\n"stratforge" = "stratforge"\n'
                                        '"stratforge/generator" = "generator"\n')
    build_time.install_old_tree(old, site)
    assert (site / "stratforge" / "generator" / "checks" / "cpp.py").read_text() == "CPP_RULES = {}\n"
    assert not new_pkg.exists() and not (site / "stratforge" / "only_in_new.py").exists()
    assert not (site / "_editable_impl_stratforge.py").exists()
    assert (lib / "sf_strategy_noop.so").read_bytes() == b"\x7fELF built"


# ----------------------------------------------------------------------------- the real quick run


SECTION = re.compile(r"^### (\d)\. (.+)$", re.M)


def check_block(block: str, report: dict) -> None:
    """Every section of a run_all block present and measured, its numbers parsed and consistent."""
    machine_line = re.search(r"^\*\*Machine:\*\* (.+)$", block, re.M).group(1)
    assert f"{report['machine']['cores']} cores" in machine_line and "GiB RAM" in machine_line
    assert "Python 3." in machine_line and re.search(r"load average [\d.]+ → [\d.]+", machine_line)

    sections = dict(SECTION.findall(block))
    assert [sections[str(i)] for i in range(1, len(run_all.LEGS) + 1)] == [g.title for g in run_all.LEGS]
    body = {int(m.group(1)): block[m.end():nxt] for m, nxt in
            zip(SECTION.finditer(block), [m.start() for m in SECTION.finditer(block)][1:] + [len(block)])}
    for n, part in body.items():
        assert not part.strip().startswith("not measured"), part

    def num(pattern: str, part: str) -> float:
        m = re.search(pattern, part, re.M)
        assert m, f"no match for {pattern!r} in:\n{part}"
        return float(m.group(1).replace(",", ""))

    # 1. replay: both engines' events/s and the ratio agree with each other
    sf = num(r"^\| replay_noop \| ([\d,]+) \|", body[1])
    hbt = num(r"^\| replay_noop \| [\d,]+ \| ([\d,]+) \|", body[1])
    assert sf > 0 and hbt > 0
    assert num(r"^\| replay_noop \|[^|]+\|[^|]+\| \*\*([\d.]+)×\*\*", body[1]) == pytest.approx(sf / hbt, rel=0.01)
    assert num(r"\*\*(\d+) mismatches\*\*", body[1]) == 0
    assert num(r"^\| ns \(n = ([\d,]+)\)", body[1]) > 0
    if report["legs"]["replay"]["figures"].get("nautilus"):
        sf_nt = num(r"^\| replay_noop \| ([\d,]+) \| [\d,]+ \| \*\*[\d.]+×\*\* \|$", body[1])
        nt = num(r"^\| replay_noop \| [\d,]+ \| ([\d,]+) \| \*\*[\d.]+×\*\* \|$", body[1])
        assert num(r"^\| replay_noop \| [\d,]+ \| [\d,]+ \| \*\*([\d.]+)×\*\* \|$", body[1]) == pytest.approx(
            sf_nt / nt, rel=0.01)
        assert num(r"Book check: [\d,]+ batch ends of a [\d,]+-record prefix, \*\*(\d+) mismatches", body[1]) == 0
    elif importlib.util.find_spec("nautilus_trader") is not None:
        raise AssertionError(f"nautilus_trader is installed but the replay section has no NautilusTrader row:\n{body[1]}")
    # 2. build: the quick spec by both designs, a verdict, seconds and the ratio
    row = re.search(r"^\| quick-momentum-bars \| (PASS|FAIL|INCONCLUSIVE) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+)× \| ([\d.]+) \|",
                    body[2], re.M)
    assert row, body[2]
    old_s, new_s, rel = float(row.group(2)), float(row.group(3)), float(row.group(4))
    assert old_s > 1 and new_s > 1 and rel == pytest.approx(new_s / old_s, abs=0.01)
    # 3. LLM: at least one model row with seconds and tokens/s
    assert re.search(r"^\| \w+ / [\w.-]+.* \| (on|off) \| .+ \| \d+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \|", body[3], re.M)
    # 4. dashboard: both request kinds and their ratio
    assert num(r"^\| strategy list `GET /` \| \d+ \| [\d.]+ \| \*\*([\d.]+)\*\*", body[4]) > 0
    assert num(r"^\| \*\*ratio list / static\*\* \| \| [\d.]+× \| \*\*([\d.]+)×\*\*", body[4]) > 0
    # 5. engine: live vs single slot
    assert num(r"^\| \*\*ratio live / single slot\*\* \| [\d.]+× \| \*\*([\d.]+)×\*\*", body[5]) > 0
    # 6. sandbox
    assert num(r"^\| \*\*ratio\*\* \| \*\*([\d.]+)×\*\*", body[6]) > 0


def _figures() -> dict:
    """One report of every leg, numbers of this test's own, shaped as the scripts write them."""
    return {
        "replay": {"args": {"events": 5000, "seed": 3, "repeat": 2, "best_of": 1}, "events": 5000,
                   "hftbacktest_version": "9.9", "numba_version": "9.8",
                   "verification": {"points_compared": 1234, "mismatches": 0},
                   "workloads": {"replay_noop": {"stratforge_events_per_s": 40e6, "hftbacktest_events_per_s": 5e6,
                                                "ratio": 8.0, "paired_ratio_median": 7.9, "target_ratio": 10.0},
                                 "market_maker": {"stratforge_events_per_s": 9e6, "hftbacktest_events_per_s": 1.5e6,
                                                  "ratio": 6.0, "paired_ratio_median": 6.1, "target_ratio": 5.0}},
                   "tick_to_order_ns": {"p50": 140, "p90": 260, "p99": 510, "p99_9": 880, "max": 9000, "count": 777},
                   "tick_to_order_target_p99_ns": 1000,
                   "nautilus": {"nautilus_trader": "9.7", "events": 3000, "seed": 3, "repeat": 2, "best_of": 1,
                                "verification": {"points_compared": 900, "prefix_records": 1000, "mismatches": 0},
                                "stratforge_events_per_s": 30e6, "nautilus_events_per_s": 0.2e6, "ratio": 150.0}},
        "build": {"ref": "abc1234", "commit": "abc1234def", "spec_files": ["bench/quick/quick-momentum-bars.yaml"],
                  "rows": [{"spec": "quick-momentum-bars", "old_verdict": "FAIL", "old_s": 20.0, "new_verdict": "FAIL",
                            "new_s": 18.0, "rerun_verdict": "FAIL", "rerun_s": 1.2}],
                  "total_old_s": 20.0, "total_new_s": 18.0, "ratio": 0.9, "verdicts_same": True},
        "llm": {"groups": [{"provider": "local", "model": "tiny", "grammar": "on", "per_signal": False,
                            "runs": ["tiny-on"], "intents": 4, "median_s": 12.5, "max_s": 40.0,
                            "completion_tokens": 100, "tokens_per_s": 1.5, "accepted": 4, "correct": 2}]},
        "dashboard": {"rate_per_s": 50, "seconds": 3, "strategies": 4, "versions": 2, "errors": 0, "target_p99_ms": 50,
                      "strategy_list": {"n": 150, "p50_ms": 4.0, "p99_ms": 12.0, "max_ms": 13.0},
                      "static_baseline": {"n": 30, "p50_ms": 2.0, "p99_ms": 8.0, "max_ms": 9.0}},
        "engine": {"events": 1000, "seconds": 1.0, "shadow_thread": "on", "seq_ok": True, "missed_events": 0,
                   "engine_events_per_s": 2e6, "t2o_replay_ns": {"p50": 100, "p99": 300, "p99_9": 900, "n": 50},
                   "t2o_live_ns": {"p50": 120, "p99": 390, "p99_9": 800, "n": 60},
                   "swap_ns": {"n": 10, "p50": 1500, "p99": 4000, "max": 5000}, "swap_note": "",
                   "control_rtt_us": {"n": 10, "p50": 80.0, "p99": 300.0}},
        "sandbox": {"runs": 3, "sandboxed_ms": {"median": 20.0, "worst": 25.0},
                    "direct_ms": {"median": 2.0, "worst": 2.5}, "ratio_median": 10.0},
    }


def _rendered(figures: dict) -> tuple[str, dict]:
    legs = {k: {"status": "measured", "figures": v, "seconds": 1.0} for k, v in figures.items()}
    report = {"machine": {**machine.describe(), "load_avg_end": [1.5, 1.0, 1.0]}, "quick": True,
              "started": "2026-12-04 20:00 UTC", "seconds": 60.0, "json": "r.json", "legs": legs}
    return run_all.render_block(report, run_all.LEGS), report


def test_every_section_renders_and_the_quick_run_check_accepts_it():
    block, report = _rendered(_figures())
    check_block(block, report)
    assert "| replay_noop | 40,000,000 | 5,000,000 | **8.00×** | 7.90× | ≥ 10× | **no** |" in block
    assert "| replay_noop | 30,000,000 | 200,000 | **150.00×** |" in block
    assert "| quick-momentum-bars | FAIL | 20.0 | 18.0 | 0.90× | 1.2 |" in block
    assert "| **ratio list / static** | | 2.00× | **1.50×** | |" in block
    assert "| **ratio live / single slot** | 1.20× | **1.30×** | 0.89× | |" in block
    assert "p99 **4.0 µs**, max 5.0 µs (target p99 ≤ 10 µs: met)" in block


@pytest.mark.parametrize("plant", ["a leg not measured", "a ratio that does not follow from its figures",
                                   "no machine line", "a section missing"])
def test_the_quick_run_check_catches_a_bad_block(plant):
    figures = _figures()
    block, report = _rendered(figures)
    if plant == "a leg not measured":
        report["legs"]["dashboard"] = {"status": "not measured", "reason": "server did not start", "seconds": 1.0}
        block = run_all.render_block(report, run_all.LEGS)
    elif plant == "a ratio that does not follow from its figures":
        block = block.replace("**8.00×**", "**9.00×**")
    elif plant == "no machine line":
        block = block.replace("**Machine:**", "Machine:")
    else:
        block = block.replace("### 6. Sandbox start-up", "")
    with pytest.raises((AssertionError, AttributeError, KeyError)):
        check_block(block, report)


@pytest.mark.slow
def test_quick_run_writes_every_section_with_numbers_and_the_machine(tmp_path):
    """`bench/run_all --quick` for real (about 3 minutes on a 2-core machine: the build leg builds
    one small spec with the old and the new design, and numba compiles hftbacktest's loops)."""
    if first_executable("g++", "c++", "clang++") is None:
        missing("compiler")
    if which("bwrap") is None:
        missing("sandbox")
    if importlib.util.find_spec("hftbacktest") is None or importlib.util.find_spec("numba") is None:
        pytest.skip("the bench extra is not installed (pip install '.[bench]')")
    doc, out = tmp_path / "benchmarks.md", tmp_path / "run_all.json"
    doc.write_text(f"# Benchmarks\n\nhand-written prose\n\n{run_all.BEGIN}\n{run_all.END}\n\n## Method\nmore prose\n")
    p = subprocess.run([sys.executable, str(REPO / "bench" / "run_all.py"), "--quick", "--doc", str(doc),
                        "--json", str(out)], capture_output=True, text=True, cwd=REPO, timeout=900)
    assert "expected duration" in p.stdout
    text = doc.read_text()
    assert text.startswith("# Benchmarks\n\nhand-written prose\n\n") and text.endswith("## Method\nmore prose\n")
    block = run_all.read_block(text)
    report = json.loads(out.read_text())
    not_measured = {k: v["reason"] for k, v in report["legs"].items() if v["status"] != "measured"}
    assert p.returncode == 0 and not not_measured, (not_measured, p.stdout[-3000:], p.stderr[-3000:])

    check_block(block, report)


def test_the_executable_wrapper_runs_run_all(tmp_path):
    p = subprocess.run([str(REPO / "bench" / "run_all"), "--estimate", "--quick"], capture_output=True, text=True,
                       env={**os.environ, "PYTHON": sys.executable}, timeout=120)
    assert p.returncode == 0, p.stderr
    assert re.search(r"quick run of replay, build, llm, dashboard, engine, sandbox; expected duration ~\d+ min",
                     p.stdout)


def test_a_leg_that_hangs_is_stopped_with_what_it_started(tmp_path):
    """A timed-out leg takes its children with it (a dashboard server, an engine), not only itself."""
    pid_file = tmp_path / "child.pid"
    name = _bench_script(tmp_path, "import subprocess\n"
                                   f"c = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
                                   f"open({str(pid_file)!r}, 'w').write(str(c.pid))\n"
                                   "time.sleep(120)\n")
    with pytest.raises(run_all.NotMeasured, match="did not finish within 2 s"):
        run_all.script(_ctx(tmp_path), name, [], timeout_s=2)
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while Path(f"/proc/{child}").exists() and time.monotonic() < deadline:
        state = Path(f"/proc/{child}/stat").read_text().split()[2] if Path(f"/proc/{child}/stat").exists() else "X"
        if state == "Z":
            break
        time.sleep(0.1)
    stat = Path(f"/proc/{child}/stat")
    assert not stat.exists() or stat.read_text().split()[2] == "Z", "the leg's child process is still running"


def test_a_leg_left_out_keeps_its_figures_from_the_previous_report(tmp_path, monkeypatch):
    out, doc = tmp_path / "run_all.json", tmp_path / "benchmarks.md"
    fake = {g.name: _leg(g.name, lambda ctx, n=g.name: {"x": len(n)}) for g in run_all.LEGS}
    legs = tuple(run_all.Leg(g.name, g.title, fake[g.name].run, fake[g.name].render, g.estimate_s)
                 for g in run_all.LEGS)
    monkeypatch.setattr(run_all, "LEGS", legs)
    assert run_all.main(["--quick", "--doc", str(doc), "--json", str(out)]) == 0
    first = json.loads(out.read_text())
    assert run_all.main(["--quick", "--doc", str(doc), "--json", str(out), "--only", "sandbox"]) == 0
    second = json.loads(out.read_text())
    assert second["legs"]["replay"]["figures"] == {"x": 6}
    assert second["legs"]["replay"]["kept_from"] == first["started"]
    assert "kept_from" not in second["legs"]["sandbox"]
    text = doc.read_text()
    assert text.count("this run left the leg out") == len(legs) - 1
    assert "### 1. " + legs[0].title + f"\n\n(Kept from the run of {first['started']}" in text

"""Spec to scorecard: generate → test → backtest → score (docs/backtest.md).

* :func:`test_bundle` — the generated C++ test and pytest again, plus the ASan/UBSan build of
  the plugin and the generated C++ test run under the sanitizers → ``TestResults``.
* :func:`backtest_bundle` — data preparation (cached), ``sf-replay`` in the sandbox, parity of
  the Python twin on the run's tape, and the cross-checks of ``stratforge.ci.crosscheck`` when
  that package is installed.
* :func:`score_bundle` — both of the above, then the scorecard (``scorecard.json/.md/.html``)
  written into the bundle, with provenance from ``manifest.json``.
* :func:`build` — :func:`stratforge.generator.generate.generate` first, then :func:`score_bundle`.

Every step reports a :class:`~stratforge.generator.generate.StepResult` to ``progress``. The
plugin built by ``generate`` is reused by build id (``<build_root>/<name>/<build_id>/``).
"""

from __future__ import annotations

import json
import re
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from stratforge.ci.backtest.data import PreparedData, calendar_of, prepare_data
from stratforge.ci.backtest.parity import parity_run
from stratforge.ci.scorecard import (BacktestRun, BarAgreement, BiasResult, Finding, ParityResult,
                                     Provenance, Scorecard, StaticFindings, TestResults, TestSuite,
                                     Verdict, build_scorecard, write_scorecard)
from stratforge.ci.scorecard.adapters import ReplayFormatError, from_replay_results
from stratforge.ci.scorecard.inputs import (EquitySeries, OrderCounts, RecordedModels, RunPeriod,
                                            SanitizerStatus)
from stratforge.errors import InvariantError, StratforgeError, UserInputError
from stratforge.generator.generate import BuildFailed, StepResult, generate, instruments_of
from stratforge.generator.spec import load_spec
from stratforge.sandbox.base import Backend
from stratforge.sandbox.replay import QUEUE_MODELS, ReplayRun, run_replay
from stratforge.sandbox.runners import compile_plugin, run_cpp_test, run_pytest
from stratforge.sandbox.verify import NO_ORDERS, SandboxVerifier

Progress = Callable[[StepResult], None]
EXIT_PASS, EXIT_NOT_PASSED, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


def _quiet(_: StepResult) -> None:
    return None


@dataclass(frozen=True)
class Workspace:
    """Where things live: the repository (for ``shared:`` data), build products and caches."""

    repo_root: Path
    build_root: Path

    @classmethod
    def default(cls, repo_root: Path | None = None, build_root: Path | None = None) -> "Workspace":
        root = (repo_root or Path.cwd()).resolve()
        return cls(root, (build_root or root / "build" / "stratforge").resolve())

    @property
    def data_cache(self) -> Path:
        return self.build_root / "data"

    @property
    def verify_cache(self) -> Path:
        return self.build_root / "cache"


@dataclass
class Bundle:
    """A generated bundle on disk: its spec, manifest and build folder."""

    path: Path
    spec: Any
    manifest: dict[str, Any]
    build: Path

    @property
    def name(self) -> str:
        return self.spec.metadata.name

    @property
    def build_id(self) -> str:
        return str(self.manifest["build_id"])


def load_bundle(bundle: Path, ws: Workspace) -> Bundle:
    """Read ``bundle`` (``strategies/<name>/``): its spec and manifest."""
    from stratforge.generator.spec import load_spec

    bundle = bundle.resolve()
    if not (bundle / "manifest.json").is_file() or not (bundle / "spec.yaml").is_file():
        raise UserInputError(f"{bundle} is not a bundle (no manifest.json/spec.yaml); "
                             f"run `stratforge generate specs/<name>.yaml` first")
    try:
        manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise UserInputError(f"{bundle}/manifest.json is not JSON: {err}") from None
    if "build_id" not in manifest:
        raise UserInputError(f"{bundle}/manifest.json has no build_id")
    spec = load_spec(bundle / "spec.yaml", check_filename=False).spec
    return Bundle(bundle, spec, manifest, ws.build_root / spec.metadata.name / manifest["build_id"])


def _fail_text(res, limit: int = 2000) -> str:
    body = (res.stderr or res.stdout)[-limit:].decode("utf-8", "replace").strip()
    return f"{res.reason.value} (exit {res.exit_code}) {res.detail}\n{body}".strip()


def ensure_plugin(backend: Backend, b: Bundle) -> Path:
    """The release plugin of this build id (compiled only when ``generate`` did not leave it)."""
    so = b.build / "strategy.so"
    if so.is_file() and not so.is_symlink():
        return so
    b.build.mkdir(parents=True, exist_ok=True)
    comp = compile_plugin(backend, b.path / "cpp", b.build, build_id=b.build_id,
                          spec_hash=str(b.manifest.get("spec_hash", "")))
    if comp.artifact is None:
        raise StratforgeError(f"{b.name}: the plugin does not compile: {_fail_text(comp.result)}")
    return comp.artifact


# ------------------------------------------------------------------------------------------------
# test


_PYTEST_COUNTS = re.compile(r"(\d+) (passed|failed|error|errors|skipped)")


def _pytest_suite(res) -> TestSuite:
    text = res.stdout.decode("utf-8", "replace")
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    for n, what in _PYTEST_COUNTS.findall(text.splitlines()[-1] if text.strip() else ""):
        key = "failed" if what.startswith("error") or what == "failed" else what
        counts[key] += int(n)
    failures = tuple(sorted(set(re.findall(r"^FAILED (\S+)", text, re.M))))[:20]
    if not res.ok and counts["failed"] == 0:
        counts["failed"] = 1
        failures = failures or (f"pytest: {res.reason.value} (exit {res.exit_code})",)
    return TestSuite(passed=counts["passed"], failed=counts["failed"], skipped=counts["skipped"],
                     failures=failures)


def _cpp_suite(ok: bool, what: str) -> TestSuite:
    return TestSuite(passed=1 if ok else 0, failed=0 if ok else 1,
                     failures=() if ok else (what,))


def test_bundle(bundle: Path, *, backend: Backend, ws: Workspace,
                progress: Progress = _quiet) -> TestResults:
    """Generated C++ test and pytest, then the ASan+UBSan build and run of the C++ test."""
    b = load_bundle(bundle, ws)
    ensure_plugin(backend, b)
    spec_hash = str(b.manifest.get("spec_hash", ""))

    # generated C++ test (release)
    t0 = time.monotonic()
    data = b.build / "testdata"
    data.mkdir(parents=True, exist_ok=True)
    shutil.copy2(b.path / "tests" / "scenario.tape", data / "scenario.tape")
    shutil.copy2(b.path / "params.txt", data / "params.txt")
    exe = b.build / "test_strategy"
    cpp_ok, cpp_what = True, ""
    if not exe.is_file():
        comp = compile_plugin(backend, b.path / "cpp", b.build, build_id=b.build_id,
                              spec_hash=spec_hash, source="test_strategy.cpp",
                              output="test_strategy", shared=False)
        if comp.artifact is None:
            cpp_ok, cpp_what = False, "test_strategy.cpp does not compile"
    if cpp_ok:
        res = run_cpp_test(backend, b.build, "test_strategy",
                           ("/data/scenario.tape", "/data/params.txt"), data=data)
        cpp_ok, cpp_what = res.ok, "" if res.ok else f"test_strategy: {_fail_text(res, 300)}"
    cpp = _cpp_suite(cpp_ok, cpp_what)
    progress(StepResult("test-cpp", cpp_ok, time.monotonic() - t0, cpp_what))

    # generated pytest
    t0 = time.monotonic()
    py = _pytest_suite(run_pytest(backend, b.path))
    progress(StepResult("test-python", py.failed == 0, time.monotonic() - t0,
                        f"{py.passed} passed, {py.failed} failed"
                        + (f": {', '.join(py.failures)}" if py.failures else "")))

    # sanitizer build of the plugin and of the C++ test, run under ASan+UBSan
    t0 = time.monotonic()
    asan = b.build / "asan"
    asan.mkdir(parents=True, exist_ok=True)
    status, details = SanitizerStatus.clean, ""
    jobs = [(src, out, shared) for src, out, shared in (("strategy.cpp", "strategy.so", True),
                                                        ("test_strategy.cpp", "test_strategy", False))
            if not (asan / out).is_file()]

    def _compile(job):
        source, output, shared = job
        return source, compile_plugin(backend, b.path / "cpp", asan, sanitize=True,
                                      build_id=b.build_id, spec_hash=spec_hash, source=source,
                                      output=output, shared=shared)

    with ThreadPoolExecutor(max_workers=2) as pool:  # two cores: both builds at once
        for source, comp in pool.map(_compile, jobs):
            if comp.artifact is None and status is SanitizerStatus.clean:
                status, details = SanitizerStatus.build_failed, (
                    f"{source}: {_fail_text(comp.result, 1500)}")
    if status is SanitizerStatus.clean:
        shutil.copy2(data / "scenario.tape", asan / "scenario.tape")
        shutil.copy2(data / "params.txt", asan / "params.txt")
        res = run_cpp_test(backend, asan, "test_strategy",
                           ("/data/scenario.tape", "/data/params.txt"), sanitize=True, data=data)
        if not res.ok:
            text = res.stderr.decode("utf-8", "replace")
            found = re.search(r"(ERROR: AddressSanitizer.*|runtime error:.*)", text)
            status = SanitizerStatus.findings
            details = (found.group(1) if found else _fail_text(res, 1500))[:1500]
    progress(StepResult("sanitizers", status is SanitizerStatus.clean, time.monotonic() - t0,
                        "ASan+UBSan clean" if status is SanitizerStatus.clean else details))
    return TestResults(python=py, cpp=cpp, sanitizer=status, sanitizer_details=details)


# ------------------------------------------------------------------------------------------------
# backtest


@dataclass
class BacktestOutcome:
    """Everything the backtest step produced."""

    data: PreparedData
    replay: ReplayRun
    run: BacktestRun
    parity: ParityResult | None
    bias: BiasResult | None = None
    bar_agreement: BarAgreement | None = None
    notes: list[str] = field(default_factory=list)


def _fault_run(spec, data: PreparedData, replay: ReplayRun, status: str) -> BacktestRun:
    """A run that produced no results document (strategy fault or data error)."""
    lat = spec.backtest.latency
    return BacktestRun(
        strategy=spec.metadata.name, status=status, error=replay.message[:2000],
        data_profile="bars" if data.profile == "bars" else "l2",
        calendar=calendar_of(spec),
        models=RecordedModels(venue="sim", latency=f"{lat.model} (not run)",
                              queue=QUEUE_MODELS[spec.backtest.queue.model],
                              fees=f"maker_bps={spec.backtest.fees.maker_bps} "
                                   f"taker_bps={spec.backtest.fees.taker_bps}"),
        period=RunPeriod(start_ns=data.start_ns, end_ns=data.end_ns,
                         out_of_sample_start_ns=data.oos_start_ns),
        equity=EquitySeries(ts_ns=(), pnl=(), fees=()),
        orders=OrderCounts(sent=0, accepted=0, cancelled=0, replaced=0, filled_qty=0.0),
        events_processed=0, wall_time_s=0.0)


def _crosscheck():
    try:
        from stratforge.ci import crosscheck  # written by the cross-check owners
    except ImportError:
        return None
    return crosscheck


def backtest_bundle(bundle: Path, data_override: Path | None = None, *, backend: Backend,
                    ws: Workspace, progress: Progress = _quiet) -> BacktestOutcome:
    """Prepare the data, replay the plugin in the sandbox, parity and cross-checks."""
    b = load_bundle(bundle, ws)
    spec = b.spec
    plugin = ensure_plugin(backend, b)

    t0 = time.monotonic()
    data = prepare_data(spec, repo_root=ws.repo_root, cache_dir=ws.data_cache,
                        override=data_override.resolve() if data_override else None)
    progress(StepResult("data", True, time.monotonic() - t0,
                        f"{data.profile}, {data.events} events, "
                        f"{'cached' if data.cached else 'prepared'} {data.path.name}"
                        + "".join(f"; {n}" for n in data.notes)))

    t0 = time.monotonic()
    out = b.build / "backtest"
    replay = run_replay(backend, spec, plugin=plugin, params=b.path / "params.txt",
                        data=data.path, out_dir=out, bar_mode=data.profile == "bars")
    if replay.status == "error" and replay.exit_code != 4:
        progress(StepResult("replay", False, time.monotonic() - t0, replay.message))
        raise InvariantError(f"{b.name}: the replay could not run: {replay.message}")
    if replay.status == "ok":
        try:
            run = from_replay_results(replay.results, spec, spec_hash=b.manifest.get("spec_hash"))
        except ReplayFormatError as err:
            raise InvariantError(f"{b.name}: the results document was rejected: {err}") from None
        if run.calendar is None:
            run = run.model_copy(update={"calendar": calendar_of(spec)})
        s = replay.results["strategies"][0]["summary"]
        detail = (f"pnl {s.get('pnl', 0):.2f}, {s.get('trades', 0)} fills, "
                  f"{run.events_processed} events")
    else:
        status = "strategy_fault" if replay.status == "strategy_fault" else "data_error"
        if replay.results is not None and status == "strategy_fault":
            try:
                run = from_replay_results(replay.results, spec,
                                          spec_hash=b.manifest.get("spec_hash"))
            except ReplayFormatError:
                run = _fault_run(spec, data, replay, status)
        else:
            run = _fault_run(spec, data, replay, status)
        detail = replay.message
    progress(StepResult("replay", replay.ok, time.monotonic() - t0, detail))

    parity = prun = None
    if replay.tape is not None:
        t0 = time.monotonic()
        prun = parity_run(backend, b.path, replay.tape, strategy_id=b.name,
                          instruments=instruments_of(spec), work=b.build, data=data.path)
        parity = prun.result
        first = parity.first_mismatch
        progress(StepResult("run-parity", parity.status.value == "match", time.monotonic() - t0,
                            parity.details if first is None else
                            f"first mismatch at callback #{first.event_index}: {first.event}\n"
                            f"  C++:    {first.cpp_decision}\n  Python: {first.python_decision}"))

    outcome = BacktestOutcome(data, replay, run, parity)
    cc = _crosscheck()
    if cc is None:
        outcome.notes.append("stratforge.ci.crosscheck is not installed: bias and bar "
                             "cross-checks not run")
        progress(StepResult("crosscheck", True, 0.0, "skipped: stratforge.ci.crosscheck "
                            "not installed (gates marked ERROR)"))
        return outcome
    if replay.ok:
        if data.profile == "bars" and hasattr(cc, "bar_agreement"):
            t0 = time.monotonic()
            try:
                outcome.bar_agreement = cc.bar_agreement(backend, b.path, b.build, data.path, spec,
                                                         replay.results)
                st = outcome.bar_agreement.status.value
                progress(StepResult("bar-agreement", st == "pass", time.monotonic() - t0,
                                    f"{st} {outcome.bar_agreement.details}".strip()))
            except Exception as err:  # noqa: BLE001 - another component's fault: gate ERROR
                progress(StepResult("bar-agreement", False, time.monotonic() - t0,
                                    f"{type(err).__name__}: {err}"))
        l2 = data.profile != "bars"
        if hasattr(cc, "l2_bias_checks" if l2 else "bias_checks"):
            t0 = time.monotonic()
            try:
                if l2:  # on the run's callback tape, reusing the parity run (docs/crosscheck.md)
                    outcome.bias = cc.l2_bias_checks(backend, b.path, b.build, data.path, spec,
                                                     replay.tape, parity=prun)
                else:
                    outcome.bias = cc.bias_checks(backend, b.path, b.build, data.path, spec)
                bias = outcome.bias
                warm = {True: "respected", False: "VIOLATED", None: "not checked"}[bias.warmup_respected]
                progress(StepResult("bias", bias.lookahead.value == "pass"
                                    and bias.warmup_respected is not False,
                                    time.monotonic() - t0,
                                    f"{'L2 tape' if l2 else 'bars'}: lookahead {bias.lookahead.value}: "
                                    f"{bias.lookahead_details[:240]}; warm-up {warm}: "
                                    f"{bias.warmup_details[:200]}\n  lookahead: "
                                    f"{bias.lookahead_details[:400]}\n  warm-up: "
                                    f"{bias.warmup_details[:400]}"))
            except Exception as err:  # noqa: BLE001 - another component's fault: gate ERROR
                progress(StepResult("bias", False, time.monotonic() - t0,
                                    f"{type(err).__name__}: {err}"))
    return outcome


# ------------------------------------------------------------------------------------------------
# score


def provenance(manifest: dict[str, Any]) -> Provenance:
    """The scorecard's provenance block, from the bundle's manifest."""
    cg = manifest.get("codegen", {})
    used = bool(cg.get("used"))
    prompts = cg.get("prompts") or []
    hashes = tuple(p if isinstance(p, str) else json.dumps(p, sort_keys=True) for p in prompts)
    return Provenance(spec_hash=str(manifest.get("spec_hash", "")),
                      build_id=str(manifest["build_id"]),
                      template_version=str(manifest.get("template_version", "")),
                      provider=cg.get("provider") if used else None,
                      model=cg.get("model") if used else None,
                      prompt_hashes=hashes, seed=int(cg.get("seed", 0)),
                      compiler=str(manifest.get("toolchain", {}).get("compiler", "")),
                      source_hashes=dict(manifest.get("sources", {})))


def static_findings(manifest: dict[str, Any]) -> StaticFindings:
    """The static-check findings recorded by ``generate``."""
    checks = manifest.get("checks", {})
    if "static_findings" not in checks:
        return StaticFindings(ran=False)
    found = []
    for item in checks["static_findings"]:
        if isinstance(item, dict):  # structured (generator.checks.Finding.to_dict)
            found.append(Finding(rule=str(item.get("rule") or "STATIC"), file=str(item.get("file", "")),
                                 line=int(item.get("line") or 0),
                                 message=str(item.get("message", ""))))
            continue
        m = _FINDING_TEXT.match(str(item))  # bundles written before findings were structured
        if m:
            found.append(Finding(rule=m["rule"], file=m["file"], line=int(m["line"]),
                                 message=m["msg"]))
        else:
            found.append(Finding(rule="STATIC", file="", line=0, message=str(item)))
    return StaticFindings(ran=True, findings=tuple(found))


#: ``file:line:col: severity: message [RULE]`` — the text form of generator.checks.Finding.
_FINDING_TEXT = re.compile(r"(?P<file>[^:]+):(?P<line>\d+):\d+: (?:error|warning): (?P<msg>.*) "
                           r"\[(?P<rule>[A-Z][A-Z0-9_-]*)\]$")


#: Steps that turn the spec into compiled code: a failure there means the code did not build.
BUILD_STEPS = ("llm", "llm-signals", "llm-code", "render", "static-checks", "compile")


def build_failure_verdict(err: BuildFailed) -> tuple[Verdict, str]:
    """The verdict of a build stopped by ``err``, with its reason, in the scorecard's words.

    INCONCLUSIVE when the code built and its generated tests passed but the parity market never
    made the strategy trade (``sandbox.verify.NO_ORDERS``); FAIL otherwise, naming the step:
    "the code did not build" only when a step that makes the code failed."""
    step = err.result.failure()
    name = step.name if step else "?"
    detail = step.detail.strip() if step else ""
    if name == "parity" and detail.startswith(NO_ORDERS):
        return Verdict.INCONCLUSIVE, (f"Verdict: INCONCLUSIVE (the code built and its generated tests passed, "
                                      f"but {detail[len(NO_ORDERS):].strip()})")
    if name in BUILD_STEPS:
        return Verdict.FAIL, f"Verdict: FAIL (the code did not build: step '{name}' failed)"
    first = detail.splitlines()[0][:300] if detail else ""
    return Verdict.FAIL, f"Verdict: FAIL (the generated code failed step '{name}'{': ' + first if first else ''})"


@dataclass
class ScoreOutcome:
    scorecard: Scorecard
    files: list[Path]
    tests: TestResults
    backtest: BacktestOutcome

    @property
    def verdict(self) -> Verdict:
        return self.scorecard.verdict

    @property
    def exit_code(self) -> int:
        return EXIT_PASS if self.scorecard.verdict == Verdict.PASS else EXIT_NOT_PASSED


def score_bundle(bundle: Path, *, backend: Backend, ws: Workspace, data_override: Path | None = None,
                 progress: Progress = _quiet) -> ScoreOutcome:
    """Test and backtest ``bundle``; write ``scorecard.json/.md/.html`` into it."""
    b = load_bundle(bundle, ws)
    tests = test_bundle(b.path, backend=backend, ws=ws, progress=progress)
    bt = backtest_bundle(b.path, data_override, backend=backend, ws=ws, progress=progress)
    t0 = time.monotonic()
    card = build_scorecard(bt.run, b.spec, tests=tests, findings=static_findings(b.manifest),
                           parity=bt.parity, bias=bt.bias, bar_agreement=bt.bar_agreement,
                           provenance=provenance(b.manifest))
    files = write_scorecard(card, b.path)
    progress(StepResult("scorecard", True, time.monotonic() - t0,
                        ", ".join(p.name for p in files if p.suffix in (".json", ".md", ".html"))))
    return ScoreOutcome(card, files, tests, bt)


def build(spec_path: Path, *, backend: Backend, ws: Workspace, out_root: Path,
          provider: Any = None, progress: Progress = _quiet) -> ScoreOutcome:
    """generate → test → backtest → score for one spec file (raises BuildFailed when the code
    does not get through generate; :func:`build_failure_verdict` words its verdict)."""
    loaded = load_spec(spec_path)
    # the data first: a missing or malformed file is reported before any code is built (the
    # prepared file is cached, so the backtest step reuses it)
    prepare_data(loaded.spec, repo_root=ws.repo_root, cache_dir=ws.data_cache)
    result = generate(loaded, verifier=SandboxVerifier(backend, ws.verify_cache),
                      out_root=out_root.resolve(), build_root=ws.build_root, provider=provider,
                      progress=progress)
    return score_bundle(result.bundle, backend=backend, ws=ws, progress=progress)


__all__ = ["BUILD_STEPS", "BacktestOutcome", "Bundle", "ScoreOutcome", "Workspace", "backtest_bundle", "build",
           "build_failure_verdict", "load_bundle", "provenance", "score_bundle", "static_findings", "test_bundle"]

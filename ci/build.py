"""Spec to scorecard: ``stratforge build`` as a state machine (docs/architecture.md, "The build
as a state machine"; docs/backtest.md).

The build runs the phases of :class:`~stratforge.core.steps.Step` in order — validate →
generate → test → backtest → score (publish is ``stratforge ci``'s) — each once, handing its
result to the next:

* validate — the spec parsed once, its data kind decided once (``data_kind`` against this
  workspace) and its backtest data prepared (cached), so bad input stops the build before any
  code is built.
* generate — :func:`stratforge.generator.generate.generate`: render, static checks, compile, the
  generated C++ test and pytest, parity, in the sandbox.
* test — the generated tests' results *from generate* (not run again), per check, plus the
  ASan/UBSan build of the plugin and of the C++ test run under the sanitizers.
* backtest — ``sf-replay`` in the sandbox on the prepared data, run parity, cross-checks.
* score — the scorecard (``scorecard.json/.md/.html``) written into the bundle.

Each phase's result is recorded in the bundle's ``manifest.json`` (``build``) with the hash of
its inputs; a rerun whose inputs hash the same reuses it (status ``reused``), and a changed
spec, template, toolchain or data file reruns from the first phase it changes.

``test_bundle``, ``backtest_bundle`` and ``score_bundle`` run one phase on a bundle already on
disk (``stratforge test/backtest/score``). The plugin built by generate is reused by build id
(``<build_root>/<name>/<build_id>/``).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from stratforge.ci.backtest.data import PreparedData, calendar_of, prepare_data
from stratforge.ci import crosscheck
from stratforge.ci.backtest.parity import parity_run
from stratforge.ci.scorecard import (BacktestRun, BarAgreement, BiasResult, Finding, ParityResult,
                                     Provenance, Scorecard, StaticFindings, TestResults, TestSuite,
                                     Verdict, build_scorecard, write_scorecard)
from stratforge.ci.scorecard.adapters import ReplayFormatError, from_replay_results
from stratforge.ci.scorecard.inputs import (EquitySeries, OrderCounts, RecordedModels, RunPeriod,
                                            SanitizerStatus)
from stratforge.core.steps import (BuildRecord, Checks, Manifest, ManifestError, Status, Step, StepRecord,
                                   StepResult)
from stratforge.core.errors import InvariantError, StratforgeError, UserInputError
from stratforge.generator.generate import (BuildFailed, compiler_version, generate, instruments_of,
                                           stratforge_version)
from stratforge.generator.render import TEMPLATE_VERSION, templates_hash
from stratforge.core.spec import LoadedSpec, StrategySpec, load_spec
from stratforge.runtime.data.spec_data import data_kind
from stratforge.sandbox.base import Backend
from stratforge.sandbox.replay import ReplayRun, run_replay
from stratforge.core.engine_config import QUEUE_MODELS
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
    spec: StrategySpec
    manifest: Manifest
    build: Path

    @property
    def name(self) -> str:
        return self.spec.metadata.name

    @property
    def build_id(self) -> str:
        return self.manifest.build_id


def read_manifest(bundle: Path) -> Manifest:
    """The typed manifest of ``bundle`` (``UserInputError`` naming the file when it is not one)."""
    try:
        return Manifest.read(bundle / "manifest.json")
    except ManifestError as err:
        raise UserInputError(str(err)) from None


def load_bundle(bundle: Path, ws: Workspace) -> Bundle:
    """Read ``bundle`` (``strategies/<name>/``): its spec and manifest."""
    bundle = bundle.resolve()
    if not (bundle / "manifest.json").is_file() or not (bundle / "spec.yaml").is_file():
        raise UserInputError(f"{bundle} is not a bundle (no manifest.json/spec.yaml); "
                             f"run `stratforge generate specs/<name>.yaml` first")
    manifest = read_manifest(bundle)
    spec = load_spec(bundle / "spec.yaml", check_filename=False).spec
    return Bundle(bundle, spec, manifest, ws.build_root / spec.metadata.name / manifest.build_id)


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
                          spec_hash=b.manifest.spec_hash)
    if comp.artifact is None:
        raise StratforgeError(f"{b.name}: the plugin does not compile: {_fail_text(comp.result)}")
    return comp.artifact


# ------------------------------------------------------------------------------------------------
# test


_PYTEST_COUNTS = re.compile(r"(\d+) (passed|failed|error|errors|skipped)")


def pytest_suite(text: str, ok: bool, why: str = "") -> TestSuite:
    """Counts of a pytest run from its ``-q`` output (its last line) and failed test names."""
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    for n, what in _PYTEST_COUNTS.findall(text.splitlines()[-1] if text.strip() else ""):
        key = "failed" if what.startswith("error") or what == "failed" else what
        counts[key] += int(n)
    failures = tuple(sorted(set(re.findall(r"^FAILED (\S+)", text, re.M))))[:20]
    if not ok and counts["failed"] == 0:
        counts["failed"] = 1
        failures = failures or (f"pytest: {why}",)
    return TestSuite(passed=counts["passed"], failed=counts["failed"], skipped=counts["skipped"],
                     failures=failures)


def _pytest_suite(res) -> TestSuite:
    return pytest_suite(res.stdout.decode("utf-8", "replace"), res.ok,
                        f"{res.reason.value} (exit {res.exit_code})")


#: One line per check of the generated C++ test (templates/tests/test_strategy.cpp.j2).
_CPP_CHECK = re.compile(r"^sf-check (?P<result>pass|fail) (?P<name>[A-Za-z0-9_.-]+)(?:: (?P<what>.*))?$",
                        re.M)


def cpp_suite(output: str, ok: bool, what: str = "") -> TestSuite:
    """Per-check counts of the generated C++ test from its ``sf-check`` lines; failures are named
    ``<check>: <what went wrong>``. A run that failed without a failing check line (it did not
    compile, crashed or timed out) counts one failure named by ``what``."""
    passed, failures = 0, []
    for m in _CPP_CHECK.finditer(output):
        if m["result"] == "pass":
            passed += 1
        else:
            failures.append(f"{m['name']}: {m['what'] or 'failed'}")
    if not ok and not failures:
        failures.append(what or "test_strategy failed")
    elif ok and not passed and not failures:  # a bundle rendered before the per-check lines
        passed = 1
    return TestSuite(passed=passed, failed=len(failures), failures=tuple(failures[:20]))


def _stage_test_data(b: Bundle) -> Path:
    data = b.build / "testdata"
    data.mkdir(parents=True, exist_ok=True)
    shutil.copy2(b.path / "tests" / "scenario.tape", data / "scenario.tape")
    shutil.copy2(b.path / "params.txt", data / "params.txt")
    return data


def _run_generated_tests(b: Bundle, backend: Backend,
                         progress: Progress) -> tuple[TestSuite, TestSuite]:
    """The generated C++ test and pytest, run here (a bundle on disk: ``stratforge test``)."""
    t0 = time.monotonic()
    data = _stage_test_data(b)
    exe = b.build / "test_strategy"
    output, ok, what = "", True, ""
    if not exe.is_file():
        comp = compile_plugin(backend, b.path / "cpp", b.build, build_id=b.build_id,
                              spec_hash=b.manifest.spec_hash, source="test_strategy.cpp",
                              output="test_strategy", shared=False)
        if comp.artifact is None:
            ok, what = False, "test_strategy.cpp does not compile"
    if ok:
        res = run_cpp_test(backend, b.build, "test_strategy",
                           ("/data/scenario.tape", "/data/params.txt"), data=data)
        output = res.stdout.decode("utf-8", "replace")
        ok, what = res.ok, "" if res.ok else f"test_strategy: {_fail_text(res, 300)}"
    cpp = cpp_suite(output, ok, what)
    progress(StepResult("test-cpp", cpp.failed == 0, time.monotonic() - t0, _suite_line(cpp)))

    t0 = time.monotonic()
    py = _pytest_suite(run_pytest(backend, b.path))
    progress(StepResult("test-python", py.failed == 0, time.monotonic() - t0, _suite_line(py)))
    return cpp, py


def _suite_line(suite: TestSuite) -> str:
    return (f"{suite.passed} passed, {suite.failed} failed"
            + (f": {'; '.join(suite.failures)}" if suite.failures else ""))


def _reuse_generated_tests(steps: list[StepResult], progress: Progress) -> tuple[TestSuite, TestSuite]:
    """The generated C++ test and pytest results of the generate step (run once, there)."""
    by_name = {s.name: s for s in steps}
    cpp_step, py_step = by_name.get("cpp-test"), by_name.get("pytest")
    if cpp_step is None or py_step is None:
        raise InvariantError("Invariant: generate passed without running the generated tests "
                             f"(steps: {', '.join(by_name)})")
    cpp = cpp_suite(cpp_step.output, cpp_step.ok, cpp_step.detail)
    py = pytest_suite(py_step.output, py_step.ok, py_step.detail)
    progress(StepResult("test-cpp", cpp.failed == 0, 0.0, f"{_suite_line(cpp)} (run by generate)",
                        status=Status.reused if cpp.failed == 0 else Status.failed))
    progress(StepResult("test-python", py.failed == 0, 0.0, f"{_suite_line(py)} (run by generate)",
                        status=Status.reused if py.failed == 0 else Status.failed))
    return cpp, py


def _sanitizers(b: Bundle, backend: Backend, progress: Progress) -> tuple[SanitizerStatus, str]:
    """ASan+UBSan build of the plugin and of the generated C++ test, the test run under them."""
    t0 = time.monotonic()
    data = _stage_test_data(b)
    asan = b.build / "asan"
    asan.mkdir(parents=True, exist_ok=True)
    status, details = SanitizerStatus.clean, ""
    jobs = [(src, out, shared) for src, out, shared in (("strategy.cpp", "strategy.so", True),
                                                        ("test_strategy.cpp", "test_strategy", False))
            if not (asan / out).is_file()]

    def _compile(job):
        source, output, shared = job
        return source, compile_plugin(backend, b.path / "cpp", asan, sanitize=True,
                                      build_id=b.build_id, spec_hash=b.manifest.spec_hash,
                                      source=source, output=output, shared=shared)

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
    return status, details


def _test(b: Bundle, backend: Backend, progress: Progress,
          generated: list[StepResult] | None = None) -> TestResults:
    ensure_plugin(backend, b)
    if generated is not None:
        cpp, py = _reuse_generated_tests(generated, progress)
    else:
        cpp, py = _run_generated_tests(b, backend, progress)
    status, details = _sanitizers(b, backend, progress)
    return TestResults(python=py, cpp=cpp, sanitizer=status, sanitizer_details=details)


def test_bundle(bundle: Path, *, backend: Backend, ws: Workspace,
                progress: Progress = _quiet) -> TestResults:
    """Generated C++ test and pytest, then the ASan+UBSan build and run of the C++ test."""
    return _test(load_bundle(bundle, ws), backend, progress)


test_bundle.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


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


def _fault_run(spec: StrategySpec, data: PreparedData, replay: ReplayRun, status: str) -> BacktestRun:
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


def _prepare(spec: StrategySpec, ws: Workspace, progress: Progress,
             override: Path | None = None) -> PreparedData:
    """The backtest data of ``spec``, converted and sliced once (cached by source hash)."""
    t0 = time.monotonic()
    data = prepare_data(spec, repo_root=ws.repo_root, cache_dir=ws.data_cache,
                        override=override.resolve() if override else None)
    progress(StepResult("data", True, time.monotonic() - t0,
                        f"{data.profile}, {data.events} events, "
                        f"{'cached' if data.cached else 'prepared'} {data.path.name}"
                        + "".join(f"; {n}" for n in data.notes)))
    return data


def backtest_bundle(bundle: Path, data_override: Path | None = None, *, backend: Backend,
                    ws: Workspace, progress: Progress = _quiet) -> BacktestOutcome:
    """Prepare the data, replay the plugin in the sandbox, parity and cross-checks."""
    b = load_bundle(bundle, ws)
    ensure_plugin(backend, b)
    return _backtest(b, _prepare(b.spec, ws, progress, data_override), backend, progress)


def _backtest(b: Bundle, data: PreparedData, backend: Backend,
              progress: Progress) -> BacktestOutcome:
    spec = b.spec
    plugin = ensure_plugin(backend, b)
    t0 = time.monotonic()
    out = b.build / "backtest"
    replay = run_replay(backend, spec, plugin=plugin, params=b.path / "params.txt",
                        data=data.path, out_dir=out, bar_mode=data.profile == "bars")
    if replay.status == "error" and replay.exit_code != 4:
        progress(StepResult("replay", False, time.monotonic() - t0, replay.message))
        raise InvariantError(f"{b.name}: the replay could not run: {replay.message}")
    if replay.status == "ok":
        try:
            run = from_replay_results(replay.results, spec, spec_hash=b.manifest.spec_hash)
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
                                          spec_hash=b.manifest.spec_hash)
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
    cc = crosscheck
    if replay.ok:
        if data.profile == "bars" and hasattr(cc, "build_bar_agreement"):
            t0 = time.monotonic()
            try:  # against a replay with non-binding risk limits: backtrader has no risk gate
                outcome.bar_agreement = cc.build_bar_agreement(
                    backend, b.path, b.build, data.path, spec, plugin=plugin,
                    replay_results=replay.results).agreement
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


def provenance(manifest: Manifest | dict[str, Any]) -> Provenance:
    """The scorecard's provenance block, from the bundle's manifest."""
    m = manifest if isinstance(manifest, Manifest) else Manifest.model_validate(manifest)
    cg = m.codegen
    used = bool(cg.get("used"))
    prompts = cg.get("prompts") or []
    hashes = tuple(p if isinstance(p, str) else json.dumps(p, sort_keys=True) for p in prompts)
    return Provenance(spec_hash=m.spec_hash, build_id=m.build_id,
                      template_version=m.template_version,
                      provider=cg.get("provider") if used else None,
                      model=cg.get("model") if used else None,
                      prompt_hashes=hashes, seed=int(cg.get("seed", 0)),
                      compiler=str(m.toolchain.get("compiler", "")),
                      source_hashes=dict(m.sources))


def static_findings(manifest: Manifest | dict[str, Any]) -> StaticFindings:
    """The static-check findings recorded by ``generate`` (structured, or the text form of
    bundles written before findings were structured: ``core.steps.Finding.parse``)."""
    if isinstance(manifest, Manifest):
        checks = manifest.checks
        if "static_findings" not in checks.model_fields_set:
            return StaticFindings(ran=False)
    else:
        raw = manifest.get("checks", {})
        if "static_findings" not in raw:
            return StaticFindings(ran=False)
        checks = Checks.model_validate(raw)
    return StaticFindings(ran=True, findings=tuple(
        Finding(rule=f.rule, file=f.file, line=f.line, message=f.message)
        for f in checks.static_findings))


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
    tests: TestResults | None
    backtest: BacktestOutcome | None  # None when the build reused an earlier run's scorecard
    record: BuildRecord | None = None  # the phases of `stratforge build` (None for `score`)

    @property
    def verdict(self) -> Verdict:
        return self.scorecard.verdict

    @property
    def exit_code(self) -> int:
        return EXIT_PASS if self.scorecard.verdict == Verdict.PASS else EXIT_NOT_PASSED


def tested_plugin(b: Bundle) -> dict[str, str]:
    """The provenance of the plugin the tests and the backtest ran (``plugin`` relative to the
    workspace build root, ``plugin_sha256``), so the runtime deploys exactly that file."""
    so = b.build / "strategy.so"
    if not so.is_file():
        return {}
    digest = hashlib.sha256(so.read_bytes()).hexdigest()
    return {"plugin": f"{b.name}/{b.build_id}/strategy.so", "plugin_sha256": digest}


def _score(b: Bundle, tests: TestResults, bt: BacktestOutcome, progress: Progress) -> ScoreOutcome:
    t0 = time.monotonic()
    prov = provenance(b.manifest).model_copy(update=tested_plugin(b))
    card = build_scorecard(bt.run, b.spec, tests=tests, findings=static_findings(b.manifest),
                           parity=bt.parity, bias=bt.bias, bar_agreement=bt.bar_agreement,
                           provenance=prov)
    files = write_scorecard(card, b.path)
    progress(StepResult("scorecard", True, time.monotonic() - t0,
                        ", ".join(p.name for p in files if p.suffix in (".json", ".md", ".html"))))
    return ScoreOutcome(card, files, tests, bt)


def score_bundle(bundle: Path, *, backend: Backend, ws: Workspace, data_override: Path | None = None,
                 progress: Progress = _quiet) -> ScoreOutcome:
    """Test and backtest ``bundle``; write ``scorecard.json/.md/.html`` into it."""
    b = load_bundle(bundle, ws)
    tests = _test(b, backend, progress)
    bt = _backtest(b, _prepare(b.spec, ws, progress, data_override), backend, progress)
    return _score(b, tests, bt, progress)


# ------------------------------------------------------------------------------------------------
# build: the state machine


def _digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:24]


_CODE_DIRS = ("core", "generator", "sandbox", "templates", "ci", "runtime")
_CODE_SUFFIXES = {".py", ".j2", ".hpp", ".json"}
_code_hash_cache: list[str] = []


def code_hash() -> str:
    """Hash of stratforge's own code that a build depends on (the components' Python sources,
    templates and SDK headers), so that a changed stratforge never reuses an earlier result."""
    if not _code_hash_cache:
        root = Path(__file__).resolve().parents[1]
        h = hashlib.sha256()
        for sub in _CODE_DIRS:
            for f in sorted((root / sub).rglob("*")):
                if (f.suffix in _CODE_SUFFIXES and f.is_file() and "__pycache__" not in f.parts
                        and "build" not in f.relative_to(root).parts):
                    h.update(str(f.relative_to(root)).encode())
                    h.update(f.read_bytes())
        _code_hash_cache.append(h.hexdigest()[:24])
    return _code_hash_cache[0]


def _bundle_intact(path: Path, manifest: Manifest) -> bool:
    """Every file the manifest hashes is on disk with that hash (nobody edited the bundle)."""
    for rel, want in manifest.sources.items():
        f = path / rel
        if not f.is_file() or hashlib.sha256(f.read_bytes()).hexdigest() != want:
            return False
    return True


def _one_line(text: str) -> str:
    return text.strip().splitlines()[0][:300] if text.strip() else ""


@dataclass
class BuildMachine:
    """One ``stratforge build``: the phases of :class:`Step` in order, each run once, its result
    handed to the next and recorded in the bundle's manifest with its inputs' hash. With
    ``resume`` a phase whose recorded inputs hash the same as now is reused, not run."""

    loaded: LoadedSpec
    backend: Backend
    ws: Workspace
    out_root: Path
    provider: Any = None
    progress: Progress = _quiet
    resume: bool = True
    # what the phases produced
    kind: str = ""
    data: PreparedData | None = None
    bundle: Bundle | None = None
    generated: list[StepResult] | None = None
    tests: TestResults | None = None
    record: BuildRecord = field(default_factory=BuildRecord)
    previous: BuildRecord = field(default_factory=BuildRecord)
    inputs: dict[Step, str] = field(default_factory=dict)
    _validated: tuple[float, str] = (0.0, "")

    @property
    def name(self) -> str:
        return self.loaded.spec.metadata.name

    def run(self) -> ScoreOutcome:
        self.validate()
        self.generate()
        self.test()
        return self.backtest_and_score()

    # -- bookkeeping ---------------------------------------------------------------------------

    def _reusable(self, step: Step) -> StepRecord | None:
        if not self.resume:
            return None
        rec = self.previous.get(step)
        if rec is None or rec.inputs != self.inputs[step] or rec.status not in (Status.ok,
                                                                                  Status.reused):
            return None
        return rec

    def _record(self, step: Step, status: Status, seconds: float, detail: str,
                results: list[StepResult] = (), data: dict[str, Any] | None = None) -> None:
        rec = StepRecord(step=step, status=status, inputs=self.inputs.get(step, ""),
                         seconds=round(seconds, 3), detail=_one_line(detail),
                         results=tuple({"name": r.name, "status": r.status.value,
                                        "seconds": round(r.seconds, 3),
                                        "detail": _one_line(r.detail)} for r in results),
                         data=data or {})
        self.record = self.record.with_record(rec)
        self._write()

    def _reuse(self, step: Step, rec: StepRecord, what: str) -> None:
        self.record = self.record.with_record(rec.model_copy(update={"status": Status.reused}))
        self._write()
        self.progress(StepResult(step.value, True, 0.0, f"reused: {what} (inputs unchanged)",
                                 status=Status.reused))

    def _write(self) -> None:
        """The record into the bundle's manifest (written atomically)."""
        if self.bundle is not None:
            self.bundle.manifest = self.bundle.manifest.model_copy(update={"build": self.record})
            self.bundle.manifest.write(self.bundle.path / "manifest.json")

    # -- phases --------------------------------------------------------------------------------

    def validate(self) -> None:
        """The spec (parsed once, by the caller or here), its data kind and its prepared data:
        bad input stops the build before any code is built."""
        t0 = time.monotonic()
        spec = self.loaded.spec
        self.kind = data_kind(spec, self.ws.repo_root)  # the one decision, for every phase
        self.data = _prepare(spec, self.ws, self.progress)
        final = self.out_root / self.name
        if (final / "manifest.json").is_file():
            try:
                self.previous = Manifest.read(final / "manifest.json").build or BuildRecord()
            except ManifestError:
                self.previous = BuildRecord()
        code = code_hash()
        provider = getattr(self.provider, "identity", None)
        self.inputs[Step.validate] = _digest(self.loaded.hash, self.data.source_hash)
        self.inputs[Step.generate] = _digest(
            hashlib.sha256(self.loaded.text.encode()).hexdigest(), self.loaded.hash, self.kind,
            provider, templates_hash(), TEMPLATE_VERSION, stratforge_version(),
            compiler_version(), code)
        self._validated = (time.monotonic() - t0, f"{spec.strategy.type.value} on {self.kind} data, "
                           f"spec {self.loaded.short_hash}")

    def generate(self) -> None:
        final = self.out_root / self.name
        rec = self._reusable(Step.generate)
        if rec is not None:
            try:
                manifest = Manifest.read(final / "manifest.json")
            except ManifestError:
                manifest = None
            if manifest is not None and _bundle_intact(final, manifest):
                self.bundle = Bundle(final, self.loaded.spec, manifest,
                                     self.ws.build_root / self.name / manifest.build_id)
                self._record(Step.validate, Status.ok, *self._validated)
                self._reuse(Step.generate, rec, f"bundle of build {manifest.build_id}")
                return
        t0 = time.monotonic()
        result = generate(self.loaded, verifier=SandboxVerifier(self.backend, self.ws.verify_cache),
                          out_root=self.out_root, build_root=self.ws.build_root,
                          provider=self.provider, progress=self.progress, data=self.kind)
        if result.bundle is None or result.manifest is None:
            raise InvariantError(f"Invariant: {self.name}: generate returned without a bundle")
        self.generated = result.steps
        self.bundle = Bundle(result.bundle, self.loaded.spec, result.manifest,
                             self.ws.build_root / self.name / result.manifest.build_id)
        self.record = BuildRecord()
        self._record(Step.validate, Status.ok, *self._validated)
        self._record(Step.generate, Status.ok, time.monotonic() - t0,
                     f"build {result.manifest.build_id}", result.steps)

    def test(self) -> None:
        b = self.bundle
        if b is None:
            raise InvariantError("Invariant: the test step ran before generate")
        self.inputs[Step.test] = _digest(self.inputs[Step.generate], b.build_id)
        rec = self._reusable(Step.test) if self.generated is None else None
        if rec is not None and "tests" in rec.data:
            self.tests = TestResults.model_validate(rec.data["tests"])
            self._reuse(Step.test, rec, "generated tests and sanitizers of this build")
            return
        t0 = time.monotonic()
        self.tests = _test(b, self.backend, self.progress, self.generated)
        t = self.tests
        good = (t.cpp is not None and t.cpp.failed == 0 and t.python is not None
                and t.python.failed == 0 and t.sanitizer is SanitizerStatus.clean)
        self._record(Step.test, Status.ok if good else Status.failed, time.monotonic() - t0,
                     f"C++ {_suite_line(t.cpp) if t.cpp else 'not run'}; "
                     f"Python {_suite_line(t.python) if t.python else 'not run'}; "
                     f"sanitizers {t.sanitizer.value}",
                     data={"tests": t.model_dump(mode="json")})

    def backtest_and_score(self) -> ScoreOutcome:
        b, data = self.bundle, self.data
        if b is None or data is None or self.tests is None:
            raise InvariantError("Invariant: the backtest step ran before validate, generate or test")
        self.inputs[Step.backtest] = _digest(self.inputs[Step.test], data.source_hash, self.kind)
        self.inputs[Step.score] = self.inputs[Step.backtest]
        rec = self._reusable(Step.score) if self.generated is None else None
        card_path = b.path / "scorecard.json"
        if rec is not None and card_path.is_file():
            try:
                card = Scorecard.model_validate_json(card_path.read_text(encoding="utf-8"))
            except ValueError:
                card = None
            if card is not None and card.provenance.build_id == b.build_id:
                bt_rec = self.previous.get(Step.backtest)
                if bt_rec is not None:
                    self._reuse(Step.backtest, bt_rec, "backtest of this build on the same data")
                self._reuse(Step.score, rec, card.verdict_line)
                files = sorted(p for p in b.path.glob("scorecard*") if p.is_file())
                return ScoreOutcome(card, files, self.tests, None, self.record)
        t0 = time.monotonic()
        try:
            bt = _backtest(b, data, self.backend, self.progress)
        except StratforgeError as err:  # recorded, so a rerun resumes here (test is kept)
            self._record(Step.backtest, Status.error, time.monotonic() - t0, str(err))
            raise
        self._record(Step.backtest, Status.ok if bt.replay.ok else Status.failed,
                     time.monotonic() - t0, f"replay {bt.replay.status}")
        t0 = time.monotonic()
        out = _score(b, self.tests, bt, self.progress)
        self._record(Step.score, Status.ok, time.monotonic() - t0, out.scorecard.verdict_line)
        out.record = self.record
        return out


def build(spec_path: Path | None = None, *, backend: Backend, ws: Workspace, out_root: Path,
          provider: Any = None, progress: Progress = _quiet, loaded: LoadedSpec | None = None,
          resume: bool = True) -> ScoreOutcome:
    """validate → generate → test → backtest → score for one spec (``loaded`` when the caller
    parsed it already, else ``spec_path``). Raises BuildFailed when the code does not get
    through generate (:func:`build_failure_verdict` words its verdict)."""
    if loaded is None:
        if spec_path is None:
            raise TypeError("build() needs spec_path or loaded")
        loaded = load_spec(spec_path)
    machine = BuildMachine(loaded, backend, ws, out_root.resolve(), provider, progress, resume)
    return machine.run()


__all__ = ["BUILD_STEPS", "BacktestOutcome", "Bundle", "BuildMachine", "ScoreOutcome", "Workspace",
           "backtest_bundle", "build", "build_failure_verdict", "code_hash", "cpp_suite",
           "load_bundle", "provenance", "pytest_suite", "read_manifest", "score_bundle",
           "static_findings", "test_bundle"]

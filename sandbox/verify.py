"""Build and test a bundle's generated code inside the sandbox.

:class:`SandboxVerifier` implements the generator's ``Verifier`` protocol: the repair loop in
``stratforge.generator.generate`` hands it a staged bundle and gets back one
:class:`~stratforge.core.steps.StepResult` per step, each with the precise error text
that goes back to the LLM when a step fails:

1. ``compile`` — the plugin with g++ ``-Wall -Wextra -Wpedantic -Werror`` (release),
2. ``cpp-test`` — the generated C++ test, compiled with the plugin source and run,
3. ``pytest`` — the generated pytest file against the Python twin,
4. ``parity`` — the bundle's scenario tape through the C++ plugin (the parity harness, via the C
   ABI) and through the Python twin; every decision must match, and the first mismatch is
   reported with both decisions.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import time
from pathlib import Path, PurePosixPath

from stratforge.core.steps import StepResult
from stratforge.sandbox.base import Backend, Mount, RunRequest, RunResult
from stratforge.sandbox.results import read_result_bytes  # no symlinks, size-capped
from stratforge.sandbox.runners import (JOB, TEST_LIMITS, compile_plugin, python_mounts,
                                        run_cpp_test, run_pytest)
import hashlib
from stratforge.sandbox.results import read_result_bytes

HARNESS_SOURCE = Path(__file__).resolve().parent / "harness" / "parity_harness.cpp"
#: Start of a parity step's detail when its market never made the strategy trade: the code built
#: and its tests ran, but parity on that market would prove nothing (the build's verdict is
#: INCONCLUSIVE, not FAIL: ``stratforge.ci.build.build_failure_verdict``).
NO_ORDERS = "no orders:"


def _fail_text(res: RunResult, limit: int = 3000) -> str:
    head = f"{res.reason.value}" + (f" (exit {res.exit_code})" if res.exit_code else "")
    body = (res.stderr or res.stdout)[-limit:].decode("utf-8", "replace").strip()
    detail = f"; {res.detail}" if res.detail else ""
    return f"{head}{detail}\n{body}".strip()


def _scrub(text: str, *paths: Path) -> str:
    """Host paths never go into reports or prompts."""
    for p in paths:
        text = text.replace(str(p), "<bundle>")
    return text


class SandboxVerifier:
    """Compiles, tests and parity-checks bundles with a sandbox backend."""

    def __init__(self, backend: Backend, cache_dir: Path) -> None:
        self.backend = backend
        self.cache_dir = cache_dir
        self._harness: Path | None = None

    def harness(self) -> Path:
        """The parity harness binary (trusted code, built once per cache)."""
        if self._harness is not None:
            return self._harness
        out = self.cache_dir / "harness"
        out.mkdir(parents=True, exist_ok=True)
        exe = out / "parity_harness"
        stamp = out / "source.sha"
        digest = hashlib.sha256(HARNESS_SOURCE.read_bytes()).hexdigest()
        if not (exe.is_file() and stamp.is_file() and stamp.read_text() == digest):
            src = out / "src"
            src.mkdir(exist_ok=True)
            shutil.copy2(HARNESS_SOURCE, src / "parity_harness.cpp")
            res = compile_plugin(self.backend, src, out, source="parity_harness.cpp",
                                 output="parity_harness", shared=False)
            if res.artifact is None:
                raise RuntimeError(f"Invariant: the parity harness does not build: "
                                   f"{_fail_text(res.result)}")
            stamp.write_text(digest)
        self._harness = exe
        return exe

    def verify(self, bundle: Path, build: Path, *, instruments: list[tuple[str, int, int]],
               build_id: str, spec_hash: str,
               market: tuple[str, int, int] | None = None) -> list[StepResult]:
        """Run every step; stop at the first failing step (later ones would only repeat it)."""
        steps: list[StepResult] = []
        build.mkdir(parents=True, exist_ok=True)

        t0 = time.monotonic()
        comp = compile_plugin(self.backend, bundle / "cpp", build, build_id=build_id,
                              spec_hash=spec_hash)
        steps.append(StepResult("compile", comp.artifact is not None, time.monotonic() - t0,
                                "" if comp.artifact else _scrub(_fail_text(comp.result), bundle)))
        if comp.artifact is None:
            return steps

        t0 = time.monotonic()
        test_build = compile_plugin(self.backend, bundle / "cpp", build, build_id=build_id,
                                    spec_hash=spec_hash, source="test_strategy.cpp",
                                    output="test_strategy", shared=False)
        if test_build.artifact is None:
            steps.append(StepResult("cpp-test", False, time.monotonic() - t0,
                                    "the generated C++ test does not compile: "
                                    + _scrub(_fail_text(test_build.result), bundle)))
            return steps
        staged = build / "testdata"
        staged.mkdir(exist_ok=True)
        shutil.copy2(bundle / "tests" / "scenario.tape", staged / "scenario.tape")
        shutil.copy2(bundle / "params.txt", staged / "params.txt")
        res = run_cpp_test(self.backend, build, "test_strategy",
                           ("/data/scenario.tape", "/data/params.txt"), data=staged)
        steps.append(StepResult("cpp-test", res.ok, time.monotonic() - t0,
                                "" if res.ok else _fail_text(res),
                                output=res.stdout.decode("utf-8", "replace")))
        if not res.ok:
            return steps

        t0 = time.monotonic()
        res = run_pytest(self.backend, bundle)
        steps.append(StepResult("pytest", res.ok, time.monotonic() - t0,
                                "" if res.ok else _fail_text(res),
                                output=res.stdout.decode("utf-8", "replace")))
        if not res.ok:
            return steps

        t0 = time.monotonic()
        ok, detail = self.parity(bundle, build, instruments)
        if ok and market is not None:
            ok2, detail2 = self.parity_simulated(bundle, build, instruments, market)
            ok, detail = ok2, (detail2 if detail2.startswith(NO_ORDERS) else
                               f"scenario: {detail}; simulated market: {detail2}")
        steps.append(StepResult("parity", ok, time.monotonic() - t0, detail))
        return steps

    def parity_simulated(self, bundle: Path, build: Path, instruments: list[tuple[str, int, int]],
                         market: tuple[str, int, int]) -> tuple[bool, str]:
        """Closed loop: the twin trades a seeded synthetic market against the toy venue (in the
        sandbox), which yields a complete callback tape; the C++ plugin replays that tape and
        must make the same decisions."""
        kind, seed, events = market
        inst_args: list[str] = [str(len(instruments))]
        for sym, tick, lot in instruments:
            inst_args += [sym, str(tick), str(lot)]
        work = self._tape_dir(bundle, bundle / "tests" / "scenario.tape", build)
        out = build / "paritysim"
        if out.exists():
            shutil.rmtree(out)
        out.mkdir()
        py = self.backend.run(RunRequest(
            argv=(sys.executable, "-I", "-m", "stratforge.runtime.twin.run", "--simulate", kind,
                  str(seed), str(events), "/out/tape.txt", "/bundle/python/strategy.py",
                  "/bundle/params.txt", *inst_args),
            inputs=(Mount(work, PurePosixPath("/bundle")), *python_mounts()), output_dir=out,
            limits=TEST_LIMITS, label="parity-sim"))
        if not py.ok:
            return False, "the Python twin failed on the simulated market: " + _fail_text(py)
        try:
            tape_bytes = read_result_bytes(out, "tape.txt", max_bytes=64 * 1024 * 1024)
        except Exception as err:  # noqa: BLE001 - any refusal is a failed parity run
            return False, f"the simulated tape cannot be read: {err}"
        safe = build / "paritysim-tape.txt"
        safe.write_bytes(tape_bytes)
        ok, detail = self.parity(bundle, build, instruments, tape=safe, python_out=py.stdout)
        if not ok and detail.startswith(NO_ORDERS):
            detail = (f"{NO_ORDERS} the simulated {kind} market (seed {seed}, {events} events, shaped by the "
                      f"strategy's instruments and parameters) never made the strategy trade, so closed-loop "
                      f"parity on it would prove nothing")
        return ok, detail

    def parity(self, bundle: Path, build: Path, instruments: list[tuple[str, int, int]],
               tape: Path | None = None, python_out: bytes | None = None) -> tuple[bool, str]:
        """Decisions of the C++ plugin and the Python twin on the same tape; first mismatch."""
        tape = tape or bundle / "tests" / "scenario.tape"
        inst_args: list[str] = [str(len(instruments))]
        for sym, tick, lot in instruments:
            inst_args += [sym, str(tick), str(lot)]
        harness = self.harness()
        data = build / "paritydata"
        data.mkdir(exist_ok=True)
        shutil.copy2(harness, data / "parity_harness")
        shutil.copy2(build / "strategy.so", data / "strategy.so")
        tape_bytes = tape.read_bytes()
        cpp = self.backend.run(RunRequest(
            argv=("/job/parity_harness", "/job/strategy.so", "/bundle/params.txt", *inst_args),
            inputs=(Mount(data, JOB), Mount(bundle, PurePosixPath("/bundle"))),
            stdin=tape_bytes, limits=TEST_LIMITS, label="parity-cpp"))
        if not cpp.ok:
            return False, "the C++ plugin failed on the parity tape: " + _fail_text(cpp)
        if python_out is not None:
            return compare_decisions(cpp.stdout, python_out, tape_bytes)
        py = self.backend.run(RunRequest(
            argv=(sys.executable, "-I", "-m", "stratforge.runtime.twin.run",
                  "/bundle/python/strategy.py", "/bundle/params.txt", "/bundle/tape.txt",
                  *inst_args),
            inputs=(Mount(self._tape_dir(bundle, tape, build), PurePosixPath("/bundle")),
                    *python_mounts()),
            limits=TEST_LIMITS, label="parity-py"))
        if not py.ok:
            return False, "the Python twin failed on the parity tape: " + _fail_text(py)
        return compare_decisions(cpp.stdout, py.stdout, tape_bytes)

    @staticmethod
    def _tape_dir(bundle: Path, tape: Path, build: Path) -> Path:
        d = build / "paritybundle"
        if d.exists():
            shutil.rmtree(d)
        (d / "python").mkdir(parents=True)
        shutil.copy2(bundle / "python" / "strategy.py", d / "python" / "strategy.py")
        shutil.copy2(bundle / "params.txt", d / "params.txt")
        shutil.copy2(tape, d / "tape.txt")
        return d


def compare_decisions(cpp_out: bytes, py_out: bytes, tape: bytes) -> tuple[bool, str]:
    """Equal decision lists, or the first mismatch with the callback that caused it."""
    try:
        cpp = [json.loads(line) for line in cpp_out.decode().splitlines() if line.strip()]
        py = [json.loads(line) for line in py_out.decode().splitlines() if line.strip()]
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        return False, f"decision output is not JSON lines: {err}"
    if not any(d.get("op") == "submit" for d in py):
        return False, f"{NO_ORDERS} the parity tape made the strategy send no order: parity on it would prove nothing"
    events = tape.decode("utf-8", "replace").splitlines()
    for i, (c, p) in enumerate(zip(cpp, py)):
        if c != p:
            seq = p.get("seq", c.get("seq"))
            event = events[seq] if isinstance(seq, int) and 0 <= seq < len(events) else "?"
            return False, (f"decision {i} differs (callback #{seq}: {event[:200]})\n"
                           f"  C++:    {json.dumps(c, sort_keys=True)}\n"
                           f"  Python: {json.dumps(p, sort_keys=True)}")
    if len(cpp) != len(py):
        longer, which = (cpp, "C++") if len(cpp) > len(py) else (py, "Python")
        extra = longer[min(len(cpp), len(py))]
        return False, (f"{which} made {abs(len(cpp) - len(py))} more decisions; first extra: "
                       f"{json.dumps(extra, sort_keys=True)}")
    return True, f"{len(py)} decisions identical"

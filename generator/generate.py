"""Spec → strategy bundle: LLM (only for free-text logic) → render → static checks → verify.

:func:`generate` is what ``stratforge generate`` runs. The generator never runs generated code
itself: compiling and testing go through a :class:`Verifier` (the sandbox implements it and the
CLI wires it in — imports go generator ← sandbox). A bundle is written only when every step
passes, by an atomic rename of a staged folder: a failing build leaves the previous bundle as it
was and keeps its staged files for inspection.

Bundle layout (``strategies/<name>/``)::

    spec.yaml            the spec as committed (byte copy)
    params.txt           the plugin's parameters in integer units
    cpp/strategy.cpp     the plugin (sf/sdk.hpp)        cpp/test_strategy.cpp  its unit test
    python/strategy.py   the Python twin                tests/test_strategy.py, tests/scenario.tape
    llm/NNN-<hash>.json  every LLM exchange (absent when the spec needs no LLM)
    manifest.json        hashes and provenance: spec, templates, prompts, model, sources, compiler
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from importlib.metadata import PackageNotFoundError, version as _dist_version
from pathlib import Path
from typing import Any, Protocol

from stratforge.core.engine_config import instruments_of
from stratforge.core.errors import GeneratedCodeError, StratforgeError
from stratforge.core.spec import LoadedSpec, StrategySpec
from stratforge.core.spec.datakind import BARS
from stratforge.core.steps import MANIFEST_FORMAT, Manifest, StepResult
from stratforge.core.tools import find_sdk_include, which
from stratforge.core.version import __version__
from stratforge.generator import region_repair
from stratforge.generator.checks import check_cpp, check_python
from stratforge.generator.llm import Recorder, SignalsRejected, logic_to_signals
from stratforge.generator.render import TEMPLATE_VERSION, RegionError, render_sources, templates_hash
from stratforge.runtime.data.spec_data import data_kind

ROLE_SIGNALS = ("entry_long", "exit_long", "entry_short", "exit_short")


class Verifier(Protocol):
    """Compiles and tests a staged bundle (implemented by the sandbox)."""

    def verify(self, bundle: Path, build: Path, *, instruments: list[tuple[str, int, int]],
               build_id: str, spec_hash: str,
               market: tuple[str, int, int] | None = None) -> list[StepResult]: ...


Progress = Callable[[StepResult], None]


@dataclass
class GenerateResult:
    """What :func:`generate` did: the steps, the bundle (when written) and the manifest."""

    name: str
    ok: bool
    steps: list[StepResult] = field(default_factory=list)
    bundle: Path | None = None
    staging: Path | None = None
    manifest: Manifest | None = None
    llm_report: str = ""

    def failure(self) -> StepResult | None:
        return next((s for s in self.steps if not s.ok), None)


class BuildFailed(GeneratedCodeError):
    """The generated code failed a step; the previous bundle is untouched."""

    def __init__(self, result: GenerateResult) -> None:
        self.result = result
        step = result.failure()
        where = f" (staged files kept in {result.staging})" if result.staging else ""
        super().__init__(f"{result.name}: step '{step.name if step else '?'}' failed{where}\n"
                         f"{step.detail if step else ''}".rstrip())


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def needs_llm(spec: StrategySpec) -> bool:
    """A spec needs the LLM when it has free-text logic that its signals do not already cover."""
    if not spec.strategy.logic:
        return False
    return not any(name in spec.strategy.signals for name in ("entry_long", "entry_short"))


def unused_logic(spec: StrategySpec) -> str | None:
    """Why the spec's free-text logic will not reach an LLM, or None when it will (or there is none).

    A spec that writes its entry signals itself uses them as written; its ``logic`` then only
    documents them (the SPY example keeps the reviewed signals beside the words they came from).
    """
    if not spec.strategy.logic or needs_llm(spec):
        return None
    given = [n for n in ("entry_long", "entry_short") if n in spec.strategy.signals]
    return (f"strategy.logic is not sent to an LLM: strategy.signals already define "
            f"{' and '.join(given)}, which are used as written (the logic only documents them). "
            f"To have the LLM write the signals from the logic, remove "
            f"{'them' if len(given) > 1 else given[0]} from strategy.signals.")


def with_signals(spec: StrategySpec, signals: dict[str, str]) -> StrategySpec:
    """``spec`` with extra signals appended, re-validated (rules and type checks run again)."""
    data = spec.model_dump(mode="python")
    merged = dict(spec.strategy.signals)
    for name, text in signals.items():
        merged.setdefault(name, text)
    data["strategy"]["signals"] = merged
    return StrategySpec.model_validate(data)


@functools.lru_cache(maxsize=1)
def compiler_version() -> str:
    """First line of ``g++ --version`` (part of the build identity)."""
    gxx = which("g++")
    if gxx is None:
        return "g++ unavailable"
    try:
        out = subprocess.run([str(gxx), "--version"], capture_output=True, text=True, timeout=30)
        return out.stdout.splitlines()[0].strip() if out.returncode == 0 else "g++ unavailable"
    except (OSError, subprocess.TimeoutExpired, IndexError):
        return "g++ unavailable"


def parity_market(spec: StrategySpec, data: str | None = None) -> tuple[str, int, int]:
    """The seeded synthetic market the closed-loop parity run trades: (kind, seed, events).
    ``data`` is the strategy's data kind when the caller decided it already (``data_kind``)."""
    seed = int(hashlib.sha256(spec.metadata.name.encode()).hexdigest()[:8], 16)
    if (data or data_kind(spec)) == BARS:
        return "bars", seed, 600
    if spec.strategy.type.value == "stat_arb":
        return "pairs", seed, 7000
    return "books", seed, 3000


def stratforge_version() -> str:
    """The installed stratforge's version (recorded in the manifest)."""
    try:
        return _dist_version("stratforge")
    except PackageNotFoundError:
        return "unknown"


def _build_id(parts: dict[str, Any]) -> str:
    return _sha256(json.dumps(parts, sort_keys=True, separators=(",", ":")).encode())[:16]


def _attempt(staging: Path, loaded: LoadedSpec, eff_loaded: LoadedSpec, verifier: Verifier,
             build_root: Path, regions: dict[str, Any] | None, id_info: dict[str, Any],
             data: str) -> tuple[list[StepResult], dict[str, str], str, list[Any]]:
    """Render, check and verify one candidate in ``staging`` (emptied first, except llm/).

    Returns the steps (stopping at the first failure), the rendered files, the build id and the
    static-check findings.
    """
    for child in staging.iterdir():
        if child.name != "llm":
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    steps: list[StepResult] = []
    name = loaded.spec.metadata.name

    # render (twice: the build id hashes the sources rendered with a placeholder id)
    t0 = time.monotonic()
    try:
        probe = render_sources(eff_loaded, regions=regions, build_id="0", data=data)
    except (StratforgeError, RegionError) as err:
        steps.append(StepResult("render", False, time.monotonic() - t0, str(err)))
        return steps, {}, "", []
    toolchain = {"compiler": compiler_version()}
    build_id = _build_id({
        "spec": loaded.hash, "templates": templates_hash(), "template_version": TEMPLATE_VERSION,
        "llm": id_info, "sources": {k: _sha256(v.encode()) for k, v in sorted(probe.items())},
        "toolchain": toolchain})
    files = render_sources(eff_loaded, regions=regions, build_id=build_id, data=data)
    for rel, text in sorted(files.items()):
        path = staging / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")
    (staging / "spec.yaml").write_text(loaded.text, encoding="utf-8", newline="\n")
    steps.append(StepResult("render", True, time.monotonic() - t0,
                            f"{len(files)} files, build {build_id}"))

    # static checks (libclang on the plugin, ast on the twin)
    t0 = time.monotonic()
    sdk = find_sdk_include()
    if sdk is None:
        raise StratforgeError("Invariant: the runtime SDK headers (sf/sdk.hpp) are not installed")
    findings = check_cpp(staging / "cpp" / "strategy.cpp", include_dirs=[sdk],
                         filename="cpp/strategy.cpp", expected_name=name)
    findings += check_python(files["python/strategy.py"], filename="python/strategy.py")
    errors = [f for f in findings if f.severity == "error"]
    steps.append(StepResult("static-checks", not errors, time.monotonic() - t0,
                            "\n".join(str(f) for f in findings) or "no findings"))
    if errors:
        return steps, files, build_id, findings

    # compile, generated tests, parity — in the sandbox
    build = build_root / name / build_id
    for res in verifier.verify(staging, build, instruments=instruments_of(loaded.spec),
                               build_id=build_id, spec_hash=loaded.hash,
                               market=parity_market(loaded.spec, data)):
        steps.append(res)
        if not res.ok:
            break
    return steps, files, build_id, findings


def generate(loaded: LoadedSpec, *, verifier: Verifier, out_root: Path, build_root: Path,
             provider: Any = None, progress: Progress | None = None,
             data: str | None = None) -> GenerateResult:
    """Generate, check and verify the bundle of ``loaded``; write it to ``out_root/<name>``.

    Free-text logic goes to ``provider`` (only when :func:`needs_llm`): in ``expressions`` mode
    (and first in ``auto``) as signal expressions, repaired against parser and type errors; in
    ``code`` mode (and in ``auto`` when expressions are rejected) as marked code regions,
    repaired against static-check, compiler, test and parity errors. Every exchange is recorded
    into the bundle's ``llm/`` folder. Raises :class:`BuildFailed` when a step still fails.

    ``data`` is the strategy's data kind (``bars``/``book``) when the caller decided it already
    (``stratforge build`` does, against its workspace); else it is decided here, once.
    """
    spec = loaded.spec
    name = spec.metadata.name
    kind = data or data_kind(spec)
    result = GenerateResult(name=name, ok=False)
    report = progress or (lambda step: None)

    def step(res: StepResult) -> StepResult:
        result.steps.append(res)
        report(res)
        return res

    out_root.mkdir(parents=True, exist_ok=True)
    staging = build_root / "staging" / f"{name}-{uuid.uuid4().hex[:8]}"
    staging.mkdir(parents=True)
    result.staging = staging

    effective = spec
    regions: dict[str, Any] | None = None
    llm_info: dict[str, Any] = {"used": False}
    if (why_unused := unused_logic(spec)) is not None:
        llm_info["logic_unused"] = why_unused
    outcome: tuple[list[StepResult], dict[str, str], str, list[Any]] | None = None
    if needs_llm(spec):
        if provider is None:
            step(StepResult("llm", False, 0.0, "this spec has free-text logic: choose a provider "
                            "(--provider replay|openai|local|transformers)"))
            raise BuildFailed(result)
        recorder = Recorder(staging / "llm")
        mode = spec.codegen.mode.value
        translation = None
        if mode in ("auto", "expressions"):
            t0 = time.monotonic()
            try:
                translation = logic_to_signals(spec, provider, recorder, data=kind)
            except SignalsRejected as err:
                result.llm_report = err.translation.report()
                step(StepResult("llm-signals", False, time.monotonic() - t0, result.llm_report))
                if mode == "expressions":
                    raise BuildFailed(result) from None
            if translation is not None:
                result.llm_report = translation.report()
                effective = with_signals(spec, translation.signals)
                # provider, model, rounds, stop reason, signals, prompt versions, grammar hash,
                # tokens and tokens/s (LogicTranslation.manifest)
                llm_info = {"used": True, "path": "expressions", **translation.manifest()}
                step(StepResult("llm-signals", True, time.monotonic() - t0,
                                f"{len(translation.signals)} signal(s) after "
                                f"{len(translation.rounds)} round(s)"))
        if translation is None:  # code mode, or auto after rejected expressions
            eff = LoadedSpec(spec=effective, source=loaded.source, text=loaded.text,
                             hash=loaded.hash)

            code_id = {"used": True, "path": "code", "provider": provider.identity,
                       "model": spec.codegen.model or provider.model or ""}

            def attempt(candidate: dict[str, Any]) -> list[StepResult]:
                nonlocal outcome
                outcome = _attempt(staging, loaded, eff, verifier, build_root, candidate, code_id,
                                   kind)
                return outcome[0]

            t0 = time.monotonic()
            loop = region_repair.logic_to_regions(spec, provider, recorder, attempt)
            result.llm_report = loop.report()
            if not loop.accepted:
                step(StepResult("llm-code", False, time.monotonic() - t0, result.llm_report))
                raise BuildFailed(result)
            regions = loop.regions
            llm_info = {"used": True, "path": "code", "provider": loop.provider,
                        "model": loop.model, "rounds": len(loop.rounds),
                        "stop_reason": loop.stop_reason, "prompts": loop.prompts,
                        "regions": {k: {"cpp": _sha256(v.cpp.encode()),
                                        "python": _sha256(v.python.encode())}
                                    for k, v in sorted(regions.items())}}
            step(StepResult("llm-code", True, time.monotonic() - t0,
                            f"regions accepted after {len(loop.rounds)} round(s)"))
        llm_info["exchanges"] = sorted(p.name for p in (staging / "llm").glob("*.json"))

    eff_loaded = LoadedSpec(spec=effective, source=loaded.source, text=loaded.text,
                            hash=loaded.hash)
    if outcome is None:  # (the code path has verified its accepted candidate already)
        # the build id covers the LLM's identity and answer; the sources hash covers the code
        id_info = {k: llm_info[k] for k in ("used", "path", "provider", "model", "signals")
                   if k in llm_info}
        outcome = _attempt(staging, loaded, eff_loaded, verifier, build_root, regions, id_info,
                           kind)
    steps, files, build_id, findings = outcome
    for res in steps:
        step(res)
    if not steps or not steps[-1].ok or len(steps) < 2:
        raise BuildFailed(result)

    manifest = Manifest(
        format=MANIFEST_FORMAT, name=name, spec_hash=loaded.hash, build_id=build_id,
        stratforge_version=stratforge_version(), template_version=TEMPLATE_VERSION,
        templates_hash=templates_hash(),
        codegen={"mode": spec.codegen.mode.value, "seed": spec.codegen.seed,
                 "max_repair_rounds": spec.codegen.max_repair_rounds, **llm_info},
        signals={k: {"expr": v, "origin": "spec" if k in spec.strategy.signals else "llm"}
                 for k, v in effective.strategy.signals.items()},
        sources={rel: _sha256((staging / rel).read_bytes())
                 for rel in sorted([*files, "spec.yaml"])},
        toolchain={"compiler": compiler_version()},
        checks={"static_findings": tuple(findings), "steps": tuple(s.name for s in steps)})
    manifest.write(staging / "manifest.json")
    final = out_root / name
    _swap_in(staging, final)
    result.ok, result.bundle, result.manifest, result.staging = True, final, manifest, None
    return result


def _swap_in(staging: Path, final: Path) -> None:
    """Replace ``final`` by ``staging`` with renames only (no half-written bundle)."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".{final.name}.new-{uuid.uuid4().hex[:8]}"
    shutil.copytree(staging, tmp)
    old = final.parent / f".{final.name}.old-{uuid.uuid4().hex[:8]}"
    if final.exists():
        os.replace(final, old)
    os.replace(tmp, final)
    if old.exists():
        shutil.rmtree(old)
    shutil.rmtree(staging, ignore_errors=True)

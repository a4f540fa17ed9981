"""The build's vocabulary: its steps, their statuses and results, static-check findings and the
bundle manifest, typed once for every component (docs/architecture.md, "The build as a state
machine").

* :class:`Step` — the build's phases in order: validate → generate → test → backtest → score →
  publish. :class:`Status` — what became of one (ok, failed, error, skipped, reused).
* :class:`StepResult` — one unit of work inside a phase (``render``, ``compile``, ``cpp-test``,
  ``replay``...), with the precise error text a failure reports (and feeds back to the LLM when
  it wrote the code). The generator, the sandbox and ci all report these.
* :class:`Finding` — one static-check violation, positioned ``file:line:column`` with a stable
  rule id; the C++ and Python checks emit them, the manifest stores them and the scorecard shows
  them.
* :class:`Manifest` — ``strategies/<name>/manifest.json``: the bundle's provenance (hashes,
  provider, model, prompts, seed, template versions, toolchain), its findings, and the record
  of each build phase with the hash of the inputs it ran on (what ``stratforge build`` resumes
  from).

This module imports nothing else of the project.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

__all__ = ["MANIFEST_FORMAT", "BuildRecord", "Finding", "Manifest", "ManifestError", "Severity",
           "Status", "Step", "StepRecord", "StepResult", "sort_findings"]

#: Version of the manifest's layout (readers accept every earlier one).
MANIFEST_FORMAT = 1

Severity = Literal["error", "warning"]


class Step(str, Enum):
    """The build's phases, in the order they run (``Step.order()``)."""

    validate = "validate"
    generate = "generate"
    test = "test"
    backtest = "backtest"
    score = "score"
    publish = "publish"

    @classmethod
    def order(cls) -> tuple["Step", ...]:
        return tuple(cls)

    def after(self) -> tuple["Step", ...]:
        """The phases that run after this one."""
        steps = self.order()
        return steps[steps.index(self) + 1:]


class Status(str, Enum):
    """What became of a step: ``ok`` passed; ``failed`` the code or data failed it (the
    user's problem, with a reason); ``error`` stratforge could not run it (a bug or a missing
    resource); ``skipped`` not run (an earlier step stopped the build, or it does not apply);
    ``reused`` passed in an earlier run on the same inputs and was not run again."""

    ok = "ok"
    failed = "failed"
    error = "error"
    skipped = "skipped"
    reused = "reused"

    @property
    def good(self) -> bool:
        """The step's result can be built on."""
        return self in (Status.ok, Status.reused)


@dataclass(frozen=True)
class StepResult:
    """One unit of work of a build: its name, whether it passed, how long it took, and the
    precise error text (fed back to the LLM when it wrote the code). ``status`` defaults to ok
    or failed from ``ok``; ``output`` keeps a step's machine-readable output (e.g. the
    generated C++ test's per-check lines) for the steps that reuse it."""

    name: str
    ok: bool
    seconds: float = 0.0
    detail: str = ""
    status: Status | None = None
    output: str = field(default="", repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.status is None:
            object.__setattr__(self, "status", Status.ok if self.ok else Status.failed)
        elif self.status.good != self.ok and self.status is not Status.skipped:
            raise ValueError(f"StepResult {self.name!r}: ok={self.ok} contradicts status "
                             f"{self.status.value}")


@dataclass(frozen=True, order=True)
class Finding:
    """One static-check violation. Field order is the sort order: file, line, column, rule."""

    file: str
    line: int
    column: int
    rule: str
    severity: Severity
    message: str
    snippet: str = ""

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.severity}: {self.message} [{self.rule}]"

    def to_dict(self) -> dict[str, object]:
        return {"rule": self.rule, "severity": self.severity, "file": self.file, "line": self.line,
                "column": self.column, "message": self.message, "snippet": self.snippet}

    @classmethod
    def from_dict(cls, item: dict[str, Any]) -> "Finding":
        sev = str(item.get("severity") or "error")
        return cls(file=str(item.get("file", "")), line=int(item.get("line") or 0),
                   column=int(item.get("column") or 0), rule=str(item.get("rule") or "STATIC"),
                   severity="warning" if sev == "warning" else "error",
                   message=str(item.get("message", "")), snippet=str(item.get("snippet", "")))

    @classmethod
    def parse(cls, text: str) -> "Finding":
        """A finding from its text form (``str(finding)``, as bundles written before findings
        were structured stored them); text of another form keeps rule ``STATIC``."""
        m = _FINDING_TEXT.match(text.strip())
        if m is None:
            return cls(file="", line=0, column=0, rule="STATIC", severity="error", message=text)
        return cls(file=m["file"], line=int(m["line"]), column=int(m["col"]), rule=m["rule"],
                   severity=m["sev"], message=m["msg"])  # type: ignore[arg-type]


#: ``file:line:col: severity: message [RULE]`` — the text form of :class:`Finding`.
_FINDING_TEXT = re.compile(r"(?P<file>[^:\s][^:]*):(?P<line>\d+):(?P<col>\d+): "
                           r"(?P<sev>error|warning): (?P<msg>.*) \[(?P<rule>[A-Z][A-Z0-9_-]*)\]$")


def sort_findings(findings: Any) -> list[Finding]:
    """Deduplicated findings in a stable order (file, line, column, rule, message)."""
    return sorted(set(findings))


# ------------------------------------------------------------------------------------------------
# the manifest


class ManifestError(ValueError):
    """manifest.json is missing, not JSON, or not a manifest (the message names the file)."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StepRecord(_Model):
    """One phase of the last build of this bundle."""

    step: Step = Field(description="The phase.")
    status: Status = Field(description="What became of it.")
    inputs: str = Field(default="", description="Hash of what the phase ran on; a rerun whose "
                        "inputs hash the same may reuse the result.")
    seconds: float = Field(default=0.0, ge=0, description="Wall time of the phase.")
    detail: str = Field(default="", description="One line: what it did or why it stopped.")
    results: tuple[dict[str, Any], ...] = Field(
        default=(), description="The units of work of the phase (name, status, seconds, detail).")
    data: dict[str, Any] = Field(default_factory=dict,
                                 description="What later phases reuse (e.g. the test results).")


class BuildRecord(_Model):
    """What ``stratforge build`` records in the bundle: the phases it ran, in order."""

    steps: tuple[StepRecord, ...] = Field(default=(), description="One record per phase run.")

    def get(self, step: Step) -> StepRecord | None:
        return next((s for s in self.steps if s.step is step), None)

    def with_record(self, rec: StepRecord) -> "BuildRecord":
        """This record with ``rec`` replacing the phase's earlier record and every later one."""
        keep = [s for s in self.steps if s.step not in (rec.step, *rec.step.after())]
        return BuildRecord(steps=(*keep, rec))


class SignalOrigin(_Model):
    expr: str = Field(description="The signal expression.")
    origin: Literal["spec", "llm"] = Field(description="Written in the spec or by the LLM.")


class Checks(_Model):
    static_findings: tuple[Finding, ...] = Field(default=(), description="Static-check findings.")
    steps: tuple[str, ...] = Field(default=(), description="The generate step's units of work.")

    @field_validator("static_findings", mode="before")
    @classmethod
    def _findings(cls, value: Any) -> Any:
        if not isinstance(value, (list, tuple)):
            return value
        return tuple(v if isinstance(v, Finding) else
                     Finding.from_dict(v) if isinstance(v, dict) else Finding.parse(str(v))
                     for v in value)


class Manifest(BaseModel):
    """``strategies/<name>/manifest.json``. Unknown keys are kept (``codegen`` carries the LLM's
    free-form provenance), so a manifest reads and writes back unchanged."""

    model_config = ConfigDict(frozen=True, extra="allow")

    format: int = Field(default=MANIFEST_FORMAT, description="Layout version.")
    name: str = Field(description="The strategy's name (metadata.name).")
    spec_hash: str = Field(description="Hash of the spec's canonical form.")
    build_id: str = Field(description="Hash of spec, templates, LLM answer, sources, toolchain.")
    stratforge_version: str = Field(default="", description="stratforge that wrote the bundle.")
    template_version: str = Field(default="", description="Template set version.")
    templates_hash: str = Field(default="", description="Hash of the template files.")
    codegen: dict[str, Any] = Field(default_factory=dict, description="Mode, seed, LLM provenance.")
    signals: dict[str, SignalOrigin] = Field(default_factory=dict, description="Signals used.")
    sources: dict[str, str] = Field(default_factory=dict, description="sha256 per bundle file.")
    toolchain: dict[str, str] = Field(default_factory=dict, description="Compiler version.")
    checks: Checks = Field(default_factory=Checks, description="Static findings, generate steps.")
    build: BuildRecord | None = Field(default=None, description="The last build's phases "
                                      "(absent when only `stratforge generate` ran).")

    def to_json(self) -> str:
        data = self.model_dump(mode="json", exclude_none=True)
        data["checks"]["static_findings"] = [f.to_dict() for f in self.checks.static_findings]
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    def write(self, path: Path) -> None:
        """Write atomically (a reader never sees half a manifest)."""
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(self.to_json(), encoding="utf-8", newline="\n")
        tmp.replace(path)

    @classmethod
    def read(cls, path: Path) -> "Manifest":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ManifestError(f"{path} does not exist") from None
        except (OSError, UnicodeDecodeError) as err:
            raise ManifestError(f"{path} cannot be read: {err}") from None
        except json.JSONDecodeError as err:
            raise ManifestError(f"{path} is not JSON: {err}") from None
        if not isinstance(data, dict):
            raise ManifestError(f"{path} is not a manifest (a JSON object)")
        try:
            return cls.model_validate(data)
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ManifestError(f"{path}: {where}: {first['msg']}"
                                + (f" (and {err.error_count() - 1} more)"
                                   if err.error_count() > 1 else "")) from None

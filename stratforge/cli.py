"""The ``stratforge`` command line: a thin shell over the components.

Exit codes: 0 success, 1 the input is invalid or a check failed, 2 usage error (bad flags,
missing paths), 3 internal error (a bug: the message says so; set STRATFORGE_DEBUG=1 for the
traceback).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from stratforge import cli_ci, cli_dashboard, cli_demo, cli_registry, cli_runtime
from stratforge.ci.build import (ScoreOutcome, Workspace, backtest_bundle, build_failure_verdict, score_bundle,
                                 test_bundle)
from stratforge.ci.build import build as run_build
from stratforge.ci.register import register_outcome
from stratforge.ci.scorecard import Verdict
from stratforge.cli_support import (EXIT_INTERNAL, EXIT_INVALID, EXIT_OK, EXIT_USAGE,
                                    USER_PROVIDERS, SafeGroup)
from stratforge.core.errors import SpecError, StratforgeError, UserInputError
from stratforge.core.spec import LoadedSpec, StrategySpec, load_spec
from stratforge.core.spec.docs import render_spec_reference
from stratforge.core.spec.schema import spec_json_schema_text
from stratforge.core.steps import Status, StepResult
from stratforge.core.version import __version__
from stratforge.generator.generate import BuildFailed, needs_llm, unused_logic
from stratforge.generator.generate import generate as run_generate
from stratforge.generator.llm import Provider, get_provider
from stratforge.generator.llm.bundled import needs_a_model_message
from stratforge.generator.llm.cli import model
from stratforge.runtime.data.cli import data
from stratforge.sandbox.backends import BACKEND_NAMES, BackendUnavailable, ready_backend
from stratforge.sandbox.verify import SandboxVerifier
from stratforge.settings import load_settings


__all__ = ["main", "EXIT_OK", "EXIT_INVALID", "EXIT_USAGE", "EXIT_INTERNAL"]
SPEC_SUFFIXES = (".yaml", ".yml")


_BACKEND = click.option("--backend", "backend_name", type=click.Choice(BACKEND_NAMES), default=None,
                        help="Sandbox backend (default: STRATFORGE_SANDBOX_BACKEND, else local).")


@click.group(cls=SafeGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="stratforge")
def main() -> None:
    """stratforge: YAML strategy specs to tested, backtested, scored trading code."""


def _collect(paths: tuple[str, ...]) -> list[Path]:
    files: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.suffix in SPEC_SUFFIXES and f.is_file()
                           and not any(part.startswith(".") for part in f.relative_to(p).parts))
            if not found:
                raise click.UsageError(f"no spec files (*.yaml, *.yml) under {raw}")
            files.extend(found)
        elif p.exists():
            files.append(p)
        else:
            raise click.UsageError(f"no such file or directory: {raw}")
    return files


def _validate_one(path: Path) -> dict[str, Any]:

    try:
        loaded = load_spec(path)
    except SpecError as err:
        return {"file": str(path), "valid": False, "issues": [i.to_dict() for i in err.issues]}
    spec = loaded.spec
    return {
        "file": str(path),
        "valid": True,
        "name": spec.metadata.name,
        "type": spec.strategy.type.value,
        "instruments": [f"{i.symbol}@{i.venue}" for i in spec.strategy.instruments],
        "hash": loaded.hash,
        "llm": needs_llm(spec),
        "notes": [n for n in (unused_logic(spec),) if n],
        "issues": [],
    }


@main.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Output for people or for machines.")
def validate(paths: tuple[str, ...], fmt: str) -> None:
    """Validate spec files or folders of specs (exit 0 all valid, 1 any invalid)."""
    results = [_validate_one(p) for p in _collect(paths)]
    ok = all(r["valid"] for r in results)
    if fmt == "json":
        click.echo(json.dumps({"valid": ok, "specs": results}, indent=2))
    else:
        _print_validation(results)
    sys.exit(EXIT_OK if ok else EXIT_INVALID)


def _shown_path(path: str) -> str:
    """``path`` relative to the working folder when it lies inside it (short table rows)."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return path


def _print_validation(results: list[dict[str, Any]]) -> None:
    out = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
    table = Table(title=None, show_lines=False, header_style="bold")
    for col in ("spec", "status", "type", "instruments", "hash"):
        table.add_column(col, no_wrap=col in ("spec", "hash", "status"))
    for r in results:
        shown = _shown_path(r["file"])
        if r["valid"]:
            table.add_row(shown, "[green]valid[/]", r["type"], ", ".join(r["instruments"]),
                          r["hash"][:12])
        else:
            n = len(r["issues"])
            table.add_row(shown, f"[red]invalid[/] ({n})", "", "", "")
    out.print(table)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    for r in results:
        for note in r.get("notes", ()):
            err.print(f"[bold]{r['file']}[/]: [yellow]note[/]: {note}", markup=True)
        for issue in r["issues"]:
            err.print(f"[bold]{issue['file']}:{issue['line']}:{issue['column']}[/] "
                      f"[cyan]{issue['path']}[/]: {issue['message']}", markup=True)
    bad = sum(not r["valid"] for r in results)
    summary = f"{len(results) - bad} valid, {bad} invalid"
    out.print(f"[red]{summary}[/]" if bad else f"[green]{summary}[/]")


@main.command()
@click.option("--write", is_flag=True,
              help="Write specs/schema/strategy.schema.json and docs/spec.md under --root.")
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Repository root for --write.")
def schema(write: bool, root: Path) -> None:
    """Print the spec's JSON Schema (or regenerate the checked-in schema and reference)."""
    if not write:
        click.echo(spec_json_schema_text(), nl=False)
        return
    targets = {root / "specs" / "schema" / "strategy.schema.json": spec_json_schema_text(),
               root / "docs" / "spec.md": render_spec_reference()}
    for path, text in targets.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
        click.echo(f"wrote {path}")


def _register_component_groups() -> None:
    """Command groups that live in the components."""
    main.add_command(data)
    main.add_command(model)


_register_component_groups()
cli_registry.register(main)
cli_ci.register(main)
cli_dashboard.register(main)
cli_runtime.register(main)
cli_demo.register(main)


def _provider(spec: StrategySpec, name: str | None, out_root: Path,
              options: tuple[str, ...]) -> Provider | None:
    """The LLM provider for ``spec``, or None when it needs none. The choice: ``--provider``,
    else the spec's ``codegen.provider``, else ``replay`` of the existing bundle's recordings."""
    if not needs_llm(spec):
        return None
    name = name or spec.codegen.provider or "replay"
    opts: dict[str, str] = {}
    for item in options:
        key, sep, value = item.partition("=")
        if not sep:
            raise click.UsageError(f"--provider-option must be KEY=VALUE, was {item!r}")
        opts[key.replace("-", "_")] = value
    if name == "replay" and "path" not in opts:
        folder = out_root / spec.metadata.name / "llm"
        if not any(folder.glob("*.json")):
            raise StratforgeError(needs_a_model_message(spec.metadata.name, folder))
        opts["path"] = str(folder)
    return get_provider(name, **opts)


def _print_notes(console: Console, spec: StrategySpec) -> None:
    if (note := unused_logic(spec)) is not None:
        console.print(f"  [yellow]note[/]: {note}", highlight=False)


def _print_step(console: Console):
    def show(step: StepResult) -> None:
        mark = ("[cyan]↺[/]" if step.status is Status.reused else "[dim]-[/]"
                if step.status is Status.skipped else "[green]✓[/]" if step.ok else "[red]✗[/]")
        first = step.detail.splitlines()[0] if step.detail else ""
        console.print(f"  {mark} {step.name:<14} {step.seconds:6.2f}s  {first}", markup=True,
                      highlight=False)
        if not step.ok and step.detail:
            console.print(step.detail, markup=False, highlight=False)
    return show


@main.command()
@click.argument("spec_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--provider", type=click.Choice(USER_PROVIDERS),
              default=None, help="LLM provider for free-text logic (default: the spec's "
              "codegen.provider, else replay of the bundle's recordings).")
@click.option("--provider-option", "provider_options", multiple=True, metavar="KEY=VALUE",
              help="Provider option, e.g. base_url=http://127.0.0.1:8080/v1 (repeatable).")
@click.option("--out", "out_root", type=click.Path(file_okay=False, path_type=Path),
              default=Path("strategies"), show_default=True, help="Where bundles are written.")
@click.option("--build-dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("build") / "stratforge", show_default=True,
              help="Build products and staged bundles.")
@_BACKEND
def generate(spec_path: Path, provider: str | None, provider_options: tuple[str, ...],
             out_root: Path, build_dir: Path, backend_name: str | None) -> None:
    """Generate, check, compile and test the bundle of one spec (strategies/<name>/)."""
    if not spec_path.is_file():
        raise click.UsageError(f"no such spec file: {spec_path}")
    out_root, build_dir = out_root.resolve(), build_dir.resolve()  # sandbox mounts need absolutes
    loaded = load_spec(spec_path)
    spec = loaded.spec
    console = Console(highlight=False)
    llm = _provider(spec, provider, out_root, provider_options)
    backend = _backend(backend_name)
    console.print(f"[bold]{spec.metadata.name}[/] ({spec.strategy.type.value}, spec "
                  f"{loaded.short_hash}){' with ' + llm.identity if llm else ''}")
    _print_notes(console, spec)
    try:
        result = run_generate(loaded, verifier=SandboxVerifier(backend, build_dir / "cache"),
                              out_root=out_root, build_root=build_dir, provider=llm,
                              progress=_print_step(console))
    except BuildFailed as err:
        console.print(f"[red]failed[/]: step '{err.result.failure().name}'"
                      f"; staged files kept in {err.result.staging}")
        sys.exit(EXIT_INVALID)
    console.print(f"[green]bundle written[/]: {result.bundle} (build "
                  f"{result.manifest.build_id})")


# -- test / backtest / score / build (ci/build.py) ---------------------------------------------

def _backend(name: str | None):
    """The sandbox backend: ``--backend``, else the ``STRATFORGE_SANDBOX_BACKEND`` setting, else
    local; checked before use (one clear line when it cannot start a sandbox)."""
    try:
        settings = load_settings()
    except ValidationError as err:
        bad = "; ".join(f"STRATFORGE_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
                        for e in err.errors())
        raise StratforgeError(f"bad setting: {bad}") from None
    try:
        return ready_backend(name or settings.sandbox_backend, image=settings.sandbox_image,
                             namespace=settings.sandbox_namespace)
    except BackendUnavailable as err:
        raise StratforgeError(str(err)) from None


def _pipeline_env(build_dir: Path, backend_name: str | None):
    """The sandbox backend and workspace of the pipeline commands (one clear line if absent)."""
    return _backend(backend_name), Workspace.default(Path.cwd(), build_dir)


def _bundle_arg(path: Path) -> Path:
    if not path.is_dir() or not (path / "manifest.json").is_file():
        raise click.UsageError(f"not a bundle (no manifest.json): {path}")
    return path


def _verdict_exit(console: Console, outcome: ScoreOutcome) -> None:

    card = outcome.scorecard
    colour = {Verdict.PASS: "green", Verdict.FAIL: "red"}.get(card.verdict, "yellow")
    paths = ", ".join(str(p) for p in outcome.files if p.suffix in (".json", ".md", ".html"))
    console.print(f"wrote {paths}", markup=False, highlight=False)
    console.print(f"[bold {colour}]{card.verdict_line}[/]", highlight=False)
    sys.exit(outcome.exit_code)


_BUILD_DIR = click.option("--build-dir", type=click.Path(file_okay=False, path_type=Path),
                          default=Path("build") / "stratforge", show_default=True,
                          help="Build products, data cache and staged bundles.")


@main.command("test")
@click.argument("bundle", type=click.Path(file_okay=False, path_type=Path))
@_BUILD_DIR
@_BACKEND
def test_cmd(bundle: Path, build_dir: Path, backend_name: str | None) -> None:
    """Run a bundle's generated tests and its ASan/UBSan build (exit 0 all pass, 1 otherwise)."""
    backend, ws = _pipeline_env(build_dir, backend_name)
    console = Console(highlight=False)
    res = test_bundle(_bundle_arg(bundle), backend=backend, ws=ws, progress=_print_step(console))
    ok = (res.python is not None and res.python.failed == 0 and res.cpp is not None
          and res.cpp.failed == 0 and res.sanitizer.value == "clean")
    console.print("[green]tests pass[/]" if ok else "[red]tests failed[/]")
    sys.exit(EXIT_OK if ok else EXIT_INVALID)


@main.command("backtest")
@click.argument("bundle", type=click.Path(file_okay=False, path_type=Path))
@click.option("--data", "data_file", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Replay this .sfe file instead of the spec's data.")
@_BUILD_DIR
@_BACKEND
def backtest_cmd(bundle: Path, data_file: Path | None, build_dir: Path,
                 backend_name: str | None) -> None:
    """Backtest a bundle in the sandbox (sf-replay) and check C++/Python parity on the run."""
    if data_file is not None and not data_file.is_file():
        raise click.UsageError(f"--data: no such file: {data_file}")
    backend, ws = _pipeline_env(build_dir, backend_name)
    console = Console(highlight=False)
    out = backtest_bundle(_bundle_arg(bundle), data_file, backend=backend, ws=ws,
                          progress=_print_step(console))
    ok = out.replay.ok and (out.parity is None or out.parity.status.value == "match")
    console.print(f"results: {out.replay.tape.parent / 'results.json' if out.replay.tape else ''}",
                  markup=False)
    console.print("[green]backtest ok[/]" if ok else "[red]backtest failed[/]")
    sys.exit(EXIT_OK if ok else EXIT_INVALID)


@main.command("score")
@click.argument("bundle", type=click.Path(file_okay=False, path_type=Path))
@click.option("--data", "data_file", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Replay this .sfe file instead of the spec's data.")
@_BUILD_DIR
@_BACKEND
def score_cmd(bundle: Path, data_file: Path | None, build_dir: Path,
              backend_name: str | None) -> None:
    """Test, backtest and score a bundle; write scorecard.* into it (exit 0 only on PASS)."""
    backend, ws = _pipeline_env(build_dir, backend_name)
    console = Console(highlight=False)
    out = score_bundle(_bundle_arg(bundle), backend=backend, ws=ws, data_override=data_file,
                       progress=_print_step(console))
    _verdict_exit(console, out)


@main.command("build")
@click.argument("spec_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--provider", type=click.Choice(USER_PROVIDERS),
              default=None, help="LLM provider for free-text logic (as for generate).")
@click.option("--provider-option", "provider_options", multiple=True, metavar="KEY=VALUE",
              help="Provider option (repeatable).")
@click.option("--out", "out_root", type=click.Path(file_okay=False, path_type=Path),
              default=Path("strategies"), show_default=True, help="Where bundles are written.")
@click.option("--fresh", is_flag=True, help="Run every step again (by default a step whose "
              "inputs are unchanged since the bundle's last build is reused).")
@_BUILD_DIR
@_BACKEND
def build_cmd(spec_path: Path, provider: str | None, provider_options: tuple[str, ...],
              out_root: Path, fresh: bool, build_dir: Path, backend_name: str | None) -> None:
    """Spec to scorecard: validate → generate → test → backtest → score, each step once;
    a rerun reuses the steps whose inputs did not change (exit 0 only on PASS)."""

    if not spec_path.is_file():
        raise click.UsageError(f"no such spec file: {spec_path}")
    loaded = load_spec(spec_path)  # the one parse of this build
    spec = loaded.spec
    llm = _provider(spec, provider, out_root, provider_options)
    backend, ws = _pipeline_env(build_dir, backend_name)
    console = Console(highlight=False)
    console.print(f"[bold]{spec.metadata.name}[/] ({spec.strategy.type.value})"
                  f"{' with ' + llm.identity if llm else ''}")
    _print_notes(console, spec)
    t0 = time.monotonic()
    try:
        out = run_build(loaded=loaded, backend=backend, ws=ws, out_root=out_root, provider=llm,
                        progress=_print_step(console), resume=not fresh)
    except BuildFailed as err:
        verdict, line = build_failure_verdict(err)
        colour = "yellow" if verdict.value == "INCONCLUSIVE" else "red"
        console.print(f"[{colour}]stopped[/]: step '{escape(err.result.failure().name)}'; {escape(line)}")
        sys.exit(EXIT_INVALID)
    console.print(f"build {time.monotonic() - t0:.1f}s", highlight=False)
    _register(console, loaded, out, ws.build_root)
    _verdict_exit(console, out)


def _register(console: Console, loaded: LoadedSpec, out: ScoreOutcome, build_root: Path) -> None:
    """Record the scored build in the registry (every verdict; docs/registry.md). The author is
    the acting registry user when there is one, else the spec's owner."""
    reg = cli_registry.open_registry()
    try:
        try:
            author = cli_registry.acting_user(reg)
        except UserInputError:
            author = loaded.spec.metadata.owner
        number = register_outcome(reg, loaded, out, author=author, build_root=build_root)
    finally:
        reg.engine.dispose()
    console.print(f"registered {loaded.spec.metadata.name} version {number} "
                  f"(build {out.scorecard.provenance.build_id[:12]}, author {author})",
                  markup=False, highlight=False)

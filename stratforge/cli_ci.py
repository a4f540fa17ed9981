"""The CI commands: ``stratforge ci run`` and ``stratforge hooks install|uninstall``.

The shell registers them on the ``stratforge`` group (:func:`register`). See docs/ci.md.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from stratforge.ci.cirun import (EXIT_CHECK_FAILED, EXIT_OK, EXIT_PUBLISH_FAILED, PUBLISH_MODES,
                                 Options, Pipeline, Report, summary_markdown)
from stratforge.ci.publish.git import open_repo
from stratforge.cli_registry import open_registry
from stratforge.cli_support import USER_PROVIDERS
from stratforge.core.errors import StratforgeError, UserInputError
from stratforge.sandbox.backends import BACKEND_NAMES, BackendUnavailable, ready_backend
from stratforge.settings import load_settings

#: marks a hook file written by `stratforge hooks install` (others are never overwritten silently)
HOOK_MARK = "# stratforge-hook: post-commit v1"
HOOK_NAME = "post-commit"
_STATUS_COLOUR = {"published": "green", "built": "green", "unchanged": "dim", "deleted": "yellow",
                  "invalid": "red", "failed": "red", "publish-failed": "red"}


@click.group("ci")
def ci_group() -> None:
    """Continuous integration: build changed specs and publish the bundles."""


@ci_group.command("run")
@click.option("--base", default=None, metavar="REV",
              help="Build the specs added or changed since REV (e.g. HEAD~1, a push's before "
                   "SHA). Without it (or with the null SHA) every spec counts as added.")
@click.option("--specs", "specs", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Build these spec files instead of the changed ones (repeatable).")
@click.option("--publish", type=click.Choice(PUBLISH_MODES), default="none", show_default=True,
              help="github: push the branch and open/update a PR (needs GITHUB_TOKEN); local: "
                   "record a review request in the registry; none: commit the branch only.")
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=2, show_default=True,
              help="Builds run at once.")
@click.option("--rebuild", is_flag=True,
              help="Build specs whose spec hash already has a published branch.")
@click.option("--remote", default="origin", show_default=True, help="Git remote to push to.")
@click.option("--pr-base", default=None, metavar="BRANCH",
              help="Base branch of the PRs (default: the Actions branch, else the current one).")
@click.option("--out", "out_root", type=click.Path(file_okay=False, path_type=Path),
              default=Path("strategies"), show_default=True,
              help="Where bundles are written (relative to the repository root).")
@click.option("--build-dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("build") / "stratforge", show_default=True,
              help="Build products, caches and the builds' logs (build-dir/ci/NAME.log).")
@click.option("--backend", "backend_name", type=click.Choice(BACKEND_NAMES),
              default=None, help="Sandbox backend of the builds (default: the setting).")
@click.option("--provider", type=click.Choice(USER_PROVIDERS), default=None,
              help="LLM provider of the builds for free-text logic (as for build).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Summary for people or for machines.")
def run_cmd(base: str | None, specs: tuple[Path, ...], publish: str, jobs: int, rebuild: bool,
            remote: str, pr_base: str | None, out_root: Path, build_dir: Path,
            backend_name: str | None, provider: str | None, fmt: str) -> None:
    """Build the changed specs and publish each bundle on a branch (exit 0 all PASS and
    published, 1 a spec invalid / failed / not PASS, 4 publishing failed)."""
    repo = open_repo(Path.cwd())
    settings = load_settings()
    opts = Options(base=base, specs=specs, publish=publish, jobs=jobs, rebuild=rebuild,
                   remote=remote, pr_base=pr_base, out_root=out_root, build_dir=build_dir,
                   build_args=(("--backend", backend_name) if backend_name else ())
                   + (("--provider", provider) if provider else ()),
                   user=settings.user)
    err = Console(stderr=True, highlight=False)
    quiet = fmt == "json"
    pipeline = Pipeline(Path(repo.working_tree_dir), opts, registry=open_registry,
                        progress=(lambda _: None) if quiet else
                        (lambda line: err.print(escape(line))))
    report = pipeline.run()
    if (summary := os.environ.get("GITHUB_STEP_SUMMARY")):
        with open(summary, "a", encoding="utf-8") as fh:
            fh.write(summary_markdown(report))
    if os.environ.get("GITHUB_ACTIONS") == "true":
        _annotate(report)
    if quiet:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        _print_report(report)
    sys.exit(report.exit_code)


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _annotate(report: Report) -> None:
    """GitHub Actions workflow commands: each validation error shown on its spec line in the
    pull request's diff, each failed build as an error on its spec (on stderr, so the JSON
    summary on stdout stays clean)."""
    for r in report.results:
        for i in r.issues:
            click.echo(f"::error file={_escape_property(i['file'])},line={i['line']},"
                       f"col={i['column']},title={_escape_property('stratforge: ' + i['path'])}"
                       f"::{_escape_data(i['message'])}", err=True)
        if r.status in ("failed", "publish-failed") or (r.verdict not in (None, "PASS")):
            what = r.verdict_line or (r.details[0] if r.details else r.status)
            click.echo(f"::error file={_escape_property(r.path)},"
                       f"title={_escape_property('stratforge: ' + r.status)}"
                       f"::{_escape_data(what)}", err=True)


def _print_report(report: Report) -> None:
    out = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
    for note in report.notes:
        out.print(escape(note))
    if report.results:
        table = Table(header_style="bold")
        for col in ("spec", "change", "status", "verdict", "branch", "published"):
            table.add_column(col, no_wrap=col in ("spec", "branch", "status"))
        for r in report.results:
            colour = _STATUS_COLOUR.get(r.status, "white")
            table.add_row(escape(r.path), r.change, f"[{colour}]{r.status}[/]", r.verdict or "",
                          escape(r.branch), escape(r.link))
        out.print(table)
        for r in report.results:
            for line in r.details:
                out.print(f"[bold]{escape(r.path)}[/]: {escape(line)}")
    code = report.exit_code
    words = {EXIT_OK: "[green]ok[/]", EXIT_CHECK_FAILED: "[red]a check failed[/]",
             EXIT_PUBLISH_FAILED: "[red]publishing failed[/]"}[code]
    out.print(f"{words} (exit {code})")


@ci_group.command("sandbox-check")
@click.option("--backend", "backend_name", type=click.Choice(BACKEND_NAMES), default=None,
              help="Backend to check (default: STRATFORGE_SANDBOX_BACKEND, else local).")
def sandbox_check_cmd(backend_name: str | None) -> None:
    """Start a probe sandbox and exit 1 with the reason when it cannot (a CI runner's self-test:
    a build whose sandbox cannot start must fail the job, never skip)."""
    settings = load_settings()
    name = backend_name or settings.sandbox_backend
    try:
        backend = ready_backend(name, image=settings.sandbox_image,
                                namespace=settings.sandbox_namespace)
    except BackendUnavailable as err:
        raise StratforgeError(f"{err} — the pipeline cannot run generated code here") from None
    click.echo(f"sandbox {name}: ok ({type(backend).__name__} started a probe sandbox)")


# -- hooks -----------------------------------------------------------------------------------------

def hook_script(python: str) -> str:
    """The post-commit hook: after a commit that touches specs/, the same pipeline with
    ``--publish local``; a commit that touches no spec costs one ``git diff-tree``."""
    return f"""#!/bin/sh
{HOOK_MARK}
# Installed by `stratforge hooks install`; remove with `stratforge hooks uninstall`.
# After a commit that adds or changes specs/*.yaml, build them and record review requests in the
# registry (the offline equivalent of the pull requests CI opens). STRATFORGE_NO_HOOK=1 skips it.
[ -n "$STRATFORGE_NO_HOOK" ] && exit 0
if git rev-parse -q --verify HEAD~1 >/dev/null; then base=HEAD~1; else base=""; fi
if [ -n "$base" ]; then
  changed=$(git diff --name-only "$base" HEAD -- 'specs/*.yaml' 'specs/*.yml')
else
  changed=$(git ls-tree -r --name-only HEAD -- specs/ | grep -E '^specs/[^/]+\\.ya?ml$')
fi
[ -z "$changed" ] && exit 0
echo "stratforge: specs changed; running the CI pipeline (--publish local)"
STRATFORGE_NO_HOOK=1 '{python}' -m stratforge ci run ${{base:+--base "$base"}} --publish local
status=$?
[ $status -ne 0 ] && echo "stratforge: ci run exited $status (the commit itself is kept)"
exit 0
"""


def _hook_path(repo) -> Path:  # noqa: ANN001 - git.Repo
    """``hooks/post-commit`` where git looks for it (honours ``core.hooksPath``)."""
    hooks = Path(repo.git.rev_parse("--git-path", "hooks"))
    if not hooks.is_absolute():
        hooks = Path(repo.working_tree_dir) / hooks
    return hooks / HOOK_NAME


@click.group("hooks")
def hooks_group() -> None:
    """Optional local git hooks."""


@hooks_group.command("install")
@click.option("--force", is_flag=True, help="Replace a post-commit hook stratforge did not write.")
def hooks_install(force: bool) -> None:
    """Install a post-commit hook: `stratforge ci run --publish local` after a commit that
    touches specs/."""
    path = _hook_path(open_repo(Path.cwd()))
    if path.exists() and HOOK_MARK not in path.read_text(encoding="utf-8", errors="replace") \
            and not force:
        raise UserInputError(f"{path} exists and was not written by stratforge; merge it by hand "
                             "or replace it with --force")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(hook_script(sys.executable), encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    click.echo(f"installed {path}")


@hooks_group.command("uninstall")
def hooks_uninstall() -> None:
    """Remove the post-commit hook written by `stratforge hooks install`."""
    path = _hook_path(open_repo(Path.cwd()))
    if not path.exists():
        click.echo("no post-commit hook installed")
        return
    if HOOK_MARK not in path.read_text(encoding="utf-8", errors="replace"):
        raise UserInputError(f"{path} was not written by stratforge; left as it is")
    path.unlink()
    click.echo(f"removed {path}")


def register(group: click.Group) -> None:
    """Add the CI commands to the ``stratforge`` group."""
    group.add_command(ci_group)
    group.add_command(hooks_group)

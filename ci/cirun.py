"""``stratforge ci run``: changed specs → builds → a branch per bundle → a PR or a review request.

1. **Find** the specs added, modified or renamed under ``specs/`` since ``--base`` (gitpython;
   :func:`stratforge.ci.publish.git.changed_specs`), or take ``--specs``. A deleted spec is
   reported and retires nothing by itself. A spec whose spec hash already has a branch that
   reached its destination (a PR open, a review request recorded) is skipped with the verdict
   recorded there (``--rebuild`` builds it again).
2. **Validate** each in-process: an invalid spec is a failed check carrying every validation
   error, and the others go on.
3. **Build** each with ``stratforge build`` in a subprocess (:func:`_run_build`, up to ``jobs``
   at once); the bundle is written to ``strategies/<name>/`` and read back from disk
   (``manifest.json``, ``scorecard.json``, ``scorecard.md``).
4. **Publish** each bundle: committed as ``strategies/<name>/`` on
   ``stratforge/<name>/<short build id>`` (parent: ``HEAD``), then ``github`` pushes it and
   opens or updates its PR, ``local`` records a review request in the registry, ``none`` stops
   at the commit.

Exit codes (:data:`EXIT_OK` …): 0 every spec has a PASS verdict (built now, or recorded on its
published branch) and was published, or nothing to do; 1 a spec is invalid, its build stopped,
or its verdict is not PASS; 4 publishing failed (push, API, registry: retrying the job may
help) — 4 wins over 1.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from git import Repo

from stratforge.ci.publish.git import (TRAILER_BUILD_ID, TRAILER_SPEC, TRAILER_SPEC_HASH,
                                       TRAILER_VERDICT, PublishError, SpecChange, branch_name,
                                       changed_specs, commit_bundle, published_branch,
                                       open_repo, push_branch, remote_url)
from stratforge.ci.publish.github import GitHub, repository_from, token_from
from stratforge.ci.publish.local import request_review
from stratforge.ci.register import archive_bundle
from stratforge.core.errors import SpecError, UserInputError
from stratforge.core.spec import LoadedSpec, load_spec
from stratforge.registry import Registry

EXIT_OK, EXIT_CHECK_FAILED, EXIT_PUBLISH_FAILED = 0, 1, 4
PUBLISH_MODES = ("github", "local", "none")

#: statuses of one spec's row in the summary
PUBLISHED, BUILT, UNCHANGED, INVALID, FAILED, DELETED, PUBLISH_FAILED = (
    "published", "built", "unchanged", "invalid", "failed", "deleted", "publish-failed")

_VERDICT = re.compile(r"Verdict: (PASS|FAIL|INCONCLUSIVE)\b[^\n]*")


@dataclass
class Options:
    base: str | None = None
    specs: tuple[Path, ...] = ()
    publish: str = "none"
    jobs: int = 2
    rebuild: bool = False
    remote: str = "origin"
    pr_base: str | None = None
    out_root: Path = Path("strategies")
    build_dir: Path = Path("build") / "stratforge"
    build_args: tuple[str, ...] = ()
    #: the registry user recorded as the author of a version (else the spec's owner)
    user: str | None = None
    api_url: str | None = None
    api_backoff: float = 1.0


@dataclass
class SpecResult:
    """One spec's row of the summary."""

    path: str
    change: str
    name: str
    status: str = ""
    verdict: str | None = None
    verdict_line: str = ""
    spec_hash: str = ""
    build_id: str = ""
    branch: str = ""
    commit: str = ""
    link: str = ""
    seconds: float = 0.0
    log: str = ""
    details: list[str] = field(default_factory=list)
    #: validation errors, positioned (file relative to the repository, line, column, field, message)
    issues: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass
class Report:
    base: str | None
    head: str
    results: list[SpecResult]
    notes: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        if any(r.status == PUBLISH_FAILED for r in self.results):
            return EXIT_PUBLISH_FAILED
        if any(r.status in (INVALID, FAILED) or (r.status in (PUBLISHED, BUILT, UNCHANGED)
                                                 and r.verdict != "PASS")
               for r in self.results):
            return EXIT_CHECK_FAILED
        return EXIT_OK

    def to_dict(self) -> dict[str, Any]:
        return {"base": self.base, "head": self.head, "exit_code": self.exit_code,
                "notes": self.notes, "specs": [r.to_dict() for r in self.results]}


@dataclass(frozen=True)
class BuildRun:
    exit_code: int
    output: str
    seconds: float


def _run_build(spec_path: Path, out_root: Path, build_dir: Path, cwd: Path,
               extra: tuple[str, ...] = ()) -> BuildRun:
    """``stratforge build`` of one spec, in its own process with this interpreter (isolation,
    and builds of several specs run in parallel). The one place the build is invoked."""
    cmd = [sys.executable, "-m", "stratforge", "build", str(spec_path), "--out", str(out_root),
           "--build-dir", str(build_dir), *extra]
    t0 = time.monotonic()
    env = {**os.environ, "COLUMNS": "120", "NO_COLOR": "1"}
    proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, errors="replace", check=False)
    return BuildRun(proc.returncode, proc.stdout, time.monotonic() - t0)


Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


def _considered(repo: Repo, opts: Options, root: Path) -> list[SpecChange]:
    if not opts.specs:
        return changed_specs(repo, opts.base)
    out = []
    for p in opts.specs:
        full = (p if p.is_absolute() else Path.cwd() / p).resolve()
        if not full.is_file():
            raise UserInputError(f"--specs: no such spec file: {p}")
        try:
            rel = full.relative_to(root)
        except ValueError:
            raise UserInputError(f"--specs: {p} is outside the repository {root}") from None
        out.append(SpecChange(rel.as_posix(), "given"))
    return out


def _committed_matches(repo: Repo, rel: str, full: Path) -> bool:
    """The working-tree file is the committed one (the build reads the file on disk)."""
    try:
        blob = repo.head.commit.tree / rel
    except KeyError:
        return False
    return blob.data_stream.read() == full.read_bytes()


def _squeeze(text: str) -> str:
    return " ".join(text.split())


def _read_bundle(bundle: Path, spec_hash: str, output: str | None = None
                 ) -> tuple[dict, dict, str] | None:
    """Manifest, scorecard and scorecard.md of the bundle of this spec hash (None: there is
    none). With ``output`` (the build's), only when that build ended with this scorecard's
    verdict line: a build that stopped before scoring prints another line, so a bundle an
    earlier build left behind is not taken for this one's. (Not file times: the build reuses
    the steps whose inputs did not change and then rewrites nothing.)"""
    try:
        manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
        card = json.loads((bundle / "scorecard.json").read_text(encoding="utf-8"))
        markdown = (bundle / "scorecard.md").read_text(encoding="utf-8")
    except (OSError, ValueError):
        return None
    if manifest.get("spec_hash") != spec_hash or "build_id" not in manifest:
        return None
    line = str(card.get("verdict_line", ""))
    if output is not None and (not line or _squeeze(line) not in _squeeze(output)):
        return None
    return manifest, card, markdown


def _tail(text: str, lines: int = 12) -> list[str]:
    return [ln for ln in text.strip().splitlines()[-lines:] if ln.strip()]


def commit_message(r: SpecResult) -> str:
    return (f"stratforge: {r.name} — verdict {r.verdict} (spec {r.spec_hash[:12]}, "
            f"build {r.build_id[:12]})\n\n"
            f"Bundle strategies/{r.name}/ generated from {r.path} by `stratforge ci run`.\n"
            f"{r.verdict_line}\n\n"
            f"{TRAILER_SPEC}: {r.path}\n{TRAILER_SPEC_HASH}: {r.spec_hash}\n"
            f"{TRAILER_BUILD_ID}: {r.build_id}\n{TRAILER_VERDICT}: {r.verdict}\n")


def pr_body(r: SpecResult, head: str, markdown: str) -> str:
    return (f"Generated by `stratforge ci run` from `{r.path}` at {head[:12]}: spec "
            f"`{r.spec_hash[:12]}`, build `{r.build_id}`. The bundle is `strategies/{r.name}/` "
            f"(code, tests, manifest, scorecard).\n\n---\n\n{markdown}")


class Pipeline:
    """One ``ci run`` over a repository."""

    def __init__(self, root: Path, opts: Options, *, registry: Callable[[], Registry] | None = None,
                 progress: Progress = _quiet, builder: Callable[..., BuildRun] = _run_build,
                 env: dict[str, str] | None = None) -> None:
        if opts.publish not in PUBLISH_MODES:
            raise UserInputError(f"--publish must be one of {', '.join(PUBLISH_MODES)}")
        self.repo = open_repo(root)
        self.root = Path(self.repo.working_tree_dir).resolve()
        self.opts = opts
        self.open_registry = registry
        self.say = progress
        self.builder = builder
        self.env = dict(os.environ) if env is None else env
        self.out_root = (self.root / opts.out_root).resolve()
        self.build_dir = (self.root / opts.build_dir).resolve()
        self._github: GitHub | None = None
        self._registry: Registry | None = None
        self._open_pulls: list[dict[str, Any]] | None = None

    # -- steps -----------------------------------------------------------------------------
    def run(self) -> Report:
        if not self.repo.head.is_valid():
            raise UserInputError(f"{self.root} has no commit yet: commit specs/<name>.yaml first")
        head = self.repo.head.commit.hexsha
        changes = _considered(self.repo, self.opts, self.root)
        report = Report(self.opts.base, head, [])
        if not changes:
            report.notes.append("no specs given" if self.opts.specs else
                                f"no spec changes since {self.opts.base}: nothing to build"
                                if self.opts.base and self.opts.base.strip("0") else
                                "no specs/*.yaml in the repository: nothing to build")
            return report
        if self.opts.publish == "github":  # fail before building when the token is missing
            self.github()
        todo: list[tuple[SpecResult, Any]] = []
        for ch in changes:
            r = SpecResult(ch.path, ch.status, ch.name)
            report.results.append(r)
            if ch.old_path:
                r.details.append(f"renamed from {ch.old_path}")
            if ch.status == "deleted":
                r.status = DELETED
                r.details.append("the spec was deleted: nothing is retired by that alone (its "
                                 "versions stay in the registry; retire them there)")
                continue
            loaded = self._validate(r)
            if loaded is None:
                continue
            if not self.opts.rebuild and self._already_published(r):
                continue
            todo.append((r, loaded))
        self._build_all(todo)
        for r, loaded in todo:
            if r.status == BUILT:
                self._publish(r, loaded, head)
        built = sum(r.status in (PUBLISHED, BUILT, PUBLISH_FAILED, FAILED) for r in report.results)
        if built == 0:
            report.notes.append("nothing to build: every changed spec is unchanged since it was "
                                "published, invalid or deleted")
        return report

    def _validate(self, r: SpecResult):  # noqa: ANN202 - LoadedSpec | None
        full = self.root / r.path
        try:
            loaded = load_spec(full)
        except SpecError as err:
            r.status = INVALID
            for i in err.issues:
                where = self._shown(i.file) or r.path
                r.issues.append({"file": where, "line": i.line, "column": i.column,
                                 "path": i.path, "message": i.message})
                r.details.append(f"{where}:{i.line}:{i.column} {i.path}: {i.message}")
            return None
        except UserInputError as err:
            r.status = INVALID
            r.details.append(str(err))
            return None
        r.name, r.spec_hash = loaded.spec.metadata.name, loaded.hash
        if not self.opts.specs and not _committed_matches(self.repo, r.path, full):
            r.status = FAILED
            r.details.append(f"{r.path} differs from the committed file: commit or stash the "
                             "change (the pipeline builds what is committed)")
            return None
        return loaded

    def _already_published(self, r: SpecResult) -> bool:
        """A branch holds a bundle of this spec hash and it reached its destination: pushed with
        an open PR (github), with a review request (local), committed (none). The row then
        carries the verdict recorded on that branch."""
        found = published_branch(self.repo, r.name, r.spec_hash)
        if found is None:
            return False
        build_id = found.trailers.get(TRAILER_BUILD_ID, "")
        where = f"on {found.branch}"
        if self.opts.publish == "local":
            try:
                reviews = self.registry().review_requests(r.name)
            except (PublishError, UserInputError):
                return False
            hit = next((rr for rr in reviews if rr.build_id == build_id), None)
            if hit is None:
                return False
            where += f" with review request {hit.id}"
        elif self.opts.publish == "github":
            try:
                if self._open_pulls is None:
                    self._open_pulls = self.github().open_pulls()
            except PublishError as err:
                r.details.append(f"cannot tell whether {found.branch} has a PR ({err}); "
                                 "building again")
                return False
            pr = next((p for p in self._open_pulls if p["head"]["ref"] == found.branch), None)
            if pr is None:
                return False
            where += f" with PR #{pr['number']}"
            r.link = str(pr.get("html_url", ""))
        r.status, r.branch, r.build_id = UNCHANGED, found.branch, build_id
        r.verdict = found.trailers.get(TRAILER_VERDICT)
        r.verdict_line = f"Verdict: {r.verdict} (recorded on {found.branch})"
        r.details.append(f"already published {where} (same spec hash, verdict {r.verdict}); "
                         "--rebuild builds it again")
        return True

    def _shown(self, file: str) -> str:
        """``file`` relative to the repository root when inside it."""
        if not file:
            return ""
        try:
            return Path(file).resolve().relative_to(self.root).as_posix()
        except ValueError:
            return file

    def _build_all(self, todo: list[tuple[SpecResult, Any]]) -> None:
        if not todo:
            return
        logs = self.build_dir / "ci"
        logs.mkdir(parents=True, exist_ok=True)

        def one(item: tuple[SpecResult, Any]) -> tuple[SpecResult, BuildRun]:
            r, _ = item
            self.say(f"building {r.path}")
            return r, self.builder(self.root / r.path, self.out_root, self.build_dir, self.root,
                                   self.opts.build_args)

        with ThreadPoolExecutor(max_workers=max(1, self.opts.jobs)) as pool:
            for r, run in pool.map(one, todo):
                r.seconds = run.seconds
                log = logs / f"{r.name}.log"
                log.write_text(run.output, encoding="utf-8")
                r.log = str(log)
                found = _read_bundle(self.out_root / r.name, r.spec_hash, run.output)
                m = _VERDICT.search(run.output)
                if found is None:
                    r.status = FAILED
                    r.verdict = m.group(1) if m else "FAIL"
                    r.verdict_line = m.group(0) if m else (
                        f"the build exited {run.exit_code} without a scorecard")
                    r.details.append(r.verdict_line)
                    r.details.extend(_tail(run.output))
                    self.say(f"{r.path}: build stopped (exit {run.exit_code}); log {log}")
                    continue
                manifest, card, _ = found
                r.status, r.build_id = BUILT, str(manifest["build_id"])
                r.verdict = str(card.get("verdict", "FAIL"))
                r.verdict_line = str(card.get("verdict_line", f"Verdict: {r.verdict}"))
                self.say(f"{r.path}: {r.verdict_line} ({run.seconds:.0f}s)")

    def github(self) -> GitHub:
        if self._github is None:
            url = remote_url(self.repo, self.opts.remote)
            self._github = GitHub(repository_from(url, self.env), token_from(self.env),
                                  api_url=self.opts.api_url or self.env.get("GITHUB_API_URL")
                                  or "https://api.github.com", backoff=self.opts.api_backoff)
        return self._github

    def _pr_base(self) -> str:
        for candidate in (self.opts.pr_base, self.env.get("GITHUB_HEAD_REF"),
                          self.env.get("GITHUB_REF_NAME")):
            if candidate:
                return candidate
        if self.repo.head.is_detached:
            raise PublishError("HEAD is detached: name the pull requests' base branch with "
                               "--pr-base")
        return self.repo.active_branch.name

    def _publish(self, r: SpecResult, loaded: LoadedSpec, head: str) -> None:
        bundle = self.out_root / r.name
        r.branch = branch_name(r.name, r.build_id)
        manifest, card, markdown = _read_bundle(bundle, r.spec_hash) or ({}, {}, "")
        try:
            r.commit = commit_bundle(self.repo, bundle=bundle, strategy=r.name, branch=r.branch,
                                     message=commit_message(r), parent=head)
            if self.opts.publish == "github":
                push_branch(self.repo, r.branch, self.opts.remote)
                pr = self.github().upsert_pull(
                    branch=r.branch, base=self._pr_base(),
                    title=f"stratforge: {r.name} ({r.verdict})", body=pr_body(r, head, markdown),
                    verdict=str(r.verdict), supersede_prefix=f"stratforge/{r.name}/")
                r.link = pr.url or f"#{pr.number}"
                r.details.append(f"PR #{pr.number} {'opened' if pr.created else 'updated'}, "
                                 f"labels {', '.join(pr.labels)}")
                if pr.superseded:
                    r.details.append("closed superseded PRs "
                                     + ", ".join(f"#{n}" for n in pr.superseded))
                if pr.retries:
                    r.details.append(f"GitHub API: {pr.retries} request(s) retried")
            elif self.opts.publish == "local":
                reg = self.registry()
                spec = loaded.spec
                author = self.opts.user or spec.metadata.owner
                rr = request_review(
                    reg, strategy=r.name, spec_hash=r.spec_hash, build_id=r.build_id,
                    bundle=str(archive_bundle(bundle, self.build_dir, r.name, r.build_id)),
                    scorecard=card, verdict=str(r.verdict), author=author,
                    gates=spec.gates, title=f"stratforge: {r.name} ({r.verdict})",
                    body=pr_body(r, head, markdown), url=f"git:{r.branch}",
                    actor=self.opts.user or "stratforge-ci")
                r.link = f"review request {rr.id} (version {rr.version})"
                if not rr.created:
                    r.details.append("the open review request of this build was kept")
            r.status = PUBLISHED if self.opts.publish != "none" else BUILT
            if self.opts.publish == "none":
                r.details.append(f"committed on {r.branch}; not published (--publish none)")
        except PublishError as err:
            r.status = PUBLISH_FAILED
            r.details.append(str(err))
            self.say(f"{r.path}: publishing failed: {err}")

    def registry(self) -> Registry:
        if self._registry is None:
            if self.open_registry is None:
                raise PublishError("--publish local needs the registry, and none was given")
            try:
                self._registry = self.open_registry()
            except UserInputError as err:
                raise PublishError(str(err)) from None
        return self._registry


def summary_markdown(report: Report) -> str:
    """The summary as Markdown (``$GITHUB_STEP_SUMMARY``)."""
    lines = ["## stratforge ci run", ""]
    lines += [f"- {n}" for n in report.notes]
    if report.results:
        lines += ["", "| spec | change | status | verdict | branch | published | details |",
                  "|---|---|---|---|---|---|---|"]
        for r in report.results:
            detail = "<br>".join(d.replace("|", "\\|") for d in r.details[:8])
            lines.append(f"| `{r.path}` | {r.change} | {r.status} | {r.verdict or ''} | "
                         f"{'`' + r.branch + '`' if r.branch else ''} | {r.link} | {detail} |")
    lines += ["", f"exit code {report.exit_code}"]
    return "\n".join(lines) + "\n"

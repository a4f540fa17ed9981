"""Git for the CI pipeline (gitpython): which specs changed, and a bundle committed on a branch.

* :func:`changed_specs` — the specs under ``specs/`` added, modified, renamed or deleted between
  a base revision and ``HEAD`` (``git diff --name-status -M`` through gitpython's diff API).
* :func:`commit_bundle` — the bundle folder committed as ``strategies/<name>/`` on a branch
  ``stratforge/<name>/<short build id>`` whose parent is ``HEAD``; the user's working tree, index
  and current branch are not touched (the commit is made in a temporary ``git worktree``).
* :func:`push_branch` — the branch pushed to a remote (forced: stratforge owns these branches).

Commits are made with gitpython's ``IndexFile.commit``, which runs no git hooks: the
``post-commit`` hook of ``stratforge hooks install`` is not re-entered by the commits it causes.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import git
from git import Actor, Repo
from git.exc import BadName, GitCommandError, InvalidGitRepositoryError, NoSuchPathError

from stratforge.core.errors import StratforgeError, UserInputError

SPECS_DIR = "specs"
SPEC_SUFFIXES = (".yaml", ".yml")
BRANCH_PREFIX = "stratforge"
#: a git "no commit" id (GitHub's ``before`` of a push that created the branch)
NULL_SHA = "0" * 40
#: commit trailers stratforge writes, read back to find what a branch holds
TRAILER_SPEC_HASH = "Stratforge-Spec-Hash"
TRAILER_BUILD_ID = "Stratforge-Build-Id"
TRAILER_VERDICT = "Stratforge-Verdict"
TRAILER_SPEC = "Stratforge-Spec"
#: who commits bundles when the repository configures no user
DEFAULT_COMMITTER = Actor("stratforge-ci", "stratforge-ci@users.noreply.github.com")


class PublishError(StratforgeError):
    """Publishing a result failed (git push, the GitHub API, the registry); the message says
    what and how to fix it."""


@dataclass(frozen=True)
class SpecChange:
    """One spec file changed between two revisions. ``status``: added, modified, renamed or
    deleted; ``old_path`` is the path before a rename."""

    path: str
    status: str
    old_path: str | None = None

    @property
    def name(self) -> str:
        return Path(self.path).stem


def open_repo(path: Path) -> Repo:
    """The git repository containing ``path`` (a clear error outside one)."""
    try:
        return Repo(path, search_parent_directories=True)
    except (InvalidGitRepositoryError, NoSuchPathError):
        raise UserInputError(f"{path} is not inside a git repository; `stratforge ci run` "
                             "finds changed specs with git") from None


def is_spec_path(path: str) -> bool:
    """A user spec: ``specs/<file>.yaml`` directly under specs/ (not specs/schema/...)."""
    p = Path(path)
    return len(p.parts) == 2 and p.parts[0] == SPECS_DIR and p.suffix in SPEC_SUFFIXES


def resolve_base(repo: Repo, base: str | None) -> git.Commit | None:
    """The base commit, or None when there is none to compare with (no ``--base``, the null
    SHA of a new branch, or ``HEAD~1`` of a first commit): every spec then counts as added."""
    if base is None or base.strip("0") == "":
        return None
    try:
        return repo.commit(base)
    except (BadName, ValueError, GitCommandError) as err:
        if base.startswith("HEAD") and len(repo.head.commit.parents) == 0:
            return None  # HEAD~1 of the first commit: everything is new
        raise UserInputError(f"--base {base}: not a revision of this repository ({err}); in a "
                             "shallow clone fetch more history (actions/checkout fetch-depth: "
                             "0)") from None


def changed_specs(repo: Repo, base: str | None, head: str = "HEAD") -> list[SpecChange]:
    """The specs added, modified, renamed or deleted from ``base`` to ``head`` (all specs of
    ``head`` when there is no base), sorted by path."""
    head_commit = repo.commit(head)
    base_commit = resolve_base(repo, base)
    if base_commit is None:
        return sorted((SpecChange(b.path, "added") for b in head_commit.tree.traverse()
                       if b.type == "blob" and is_spec_path(b.path)), key=lambda c: c.path)
    found: list[SpecChange] = []
    for d in base_commit.diff(head_commit, find_renames=True):
        old, new = d.a_path, d.b_path
        if d.change_type == "A" and is_spec_path(new):
            found.append(SpecChange(new, "added"))
        elif d.change_type in ("M", "T") and is_spec_path(new):
            found.append(SpecChange(new, "modified"))
        elif d.change_type == "D" and is_spec_path(old):
            found.append(SpecChange(old, "deleted"))
        elif d.change_type in ("R", "C"):
            if is_spec_path(new):
                kind = "renamed" if d.change_type == "R" else "added"
                found.append(SpecChange(new, kind, old if is_spec_path(old) else None))
            elif is_spec_path(old) and d.change_type == "R":
                found.append(SpecChange(old, "deleted"))  # moved out of specs/
    return sorted(found, key=lambda c: c.path)


def branch_name(strategy: str, build_id: str) -> str:
    return f"{BRANCH_PREFIX}/{strategy}/{build_id[:12]}"


def trailers(message: str) -> dict[str, str]:
    """The ``Key: value`` trailers of a commit message's last paragraph."""
    last = message.strip().split("\n\n")[-1]
    out = {}
    for line in last.splitlines():
        key, sep, value = line.partition(": ")
        if sep and key.startswith("Stratforge-"):
            out[key] = value.strip()
    return out


@dataclass(frozen=True)
class Published:
    """A bundle branch found in the repository: its name, the ref it was found as (a local
    branch or a remote-tracking ref) and its tip commit's stratforge trailers."""

    branch: str
    ref: str
    trailers: dict[str, str]


def published_branch(repo: Repo, strategy: str, spec_hash: str) -> Published | None:
    """The newest branch (local or remote-tracking) of ``strategy`` whose tip holds a bundle of
    this spec hash, or None."""
    prefix = f"{BRANCH_PREFIX}/{strategy}/"
    candidates = [(h.name, h.path, h.commit) for h in repo.branches]
    candidates += [(r.remote_head, r.path, r.commit) for remote in repo.remotes
                   for r in remote.refs]
    found = [(commit.committed_date, Published(name, path, trailers(commit.message)))
             for name, path, commit in candidates
             if name.startswith(prefix) and trailers(commit.message).get(TRAILER_SPEC_HASH)
             == spec_hash]
    return max(found, key=lambda f: f[0])[1] if found else None


def _committer(repo: Repo) -> Actor:
    reader = repo.config_reader()
    name = reader.get_value("user", "name", default="")
    email = reader.get_value("user", "email", default="")
    return Actor(str(name), str(email)) if name and email else DEFAULT_COMMITTER


def commit_bundle(repo: Repo, *, bundle: Path, strategy: str, branch: str, message: str,
                  parent: str = "HEAD") -> str:
    """Commit ``bundle`` as ``strategies/<strategy>/`` on ``branch`` (created or reset to a new
    commit whose parent is ``parent``) and return the commit id. The bundle's files replace
    whatever ``strategies/<strategy>/`` held at ``parent``."""
    parent_commit = repo.commit(parent)
    tmp = Path(tempfile.mkdtemp(prefix="stratforge-publish-"))
    tree = tmp / "tree"
    try:
        # a detached worktree at the parent: the user's checkout stays as it is
        repo.git.worktree("add", "--detach", "--no-checkout", str(tree), parent_commit.hexsha)
        try:
            wt = Repo(tree)
            wt.git.read_tree(parent_commit.hexsha)  # index = parent's tree, nothing checked out
            dest_rel = f"strategies/{strategy}"
            index = wt.index
            stale = [e[0] for e in index.entries if e[0].startswith(dest_rel + "/")]
            if stale:
                index.remove(stale)
            dest = tree / dest_rel
            shutil.copytree(bundle, dest, ignore=shutil.ignore_patterns(
                "__pycache__", "*.pyc", ".pytest_cache", "build"))
            files = sorted(str(p.relative_to(tree)) for p in dest.rglob("*") if p.is_file())
            index.add(files)
            who = _committer(repo)
            commit = index.commit(message, parent_commits=[parent_commit], head=False,
                                  author=who, committer=who)
        finally:
            repo.git.worktree("remove", "--force", str(tree))
        repo.create_head(branch, commit, force=True)
        return commit.hexsha
    except GitCommandError as err:
        raise PublishError(f"cannot commit the bundle of {strategy} on {branch}: "
                           f"{err.stderr.strip() or err}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def push_branch(repo: Repo, branch: str, remote: str = "origin") -> None:
    """Push ``branch`` to ``remote`` (forced: a re-run replaces stratforge's own branch)."""
    try:
        target = repo.remote(remote)
    except ValueError:
        raise PublishError(f"no git remote named {remote!r} to push {branch} to "
                           "(--remote)") from None
    try:
        infos = target.push(f"+refs/heads/{branch}:refs/heads/{branch}")
        infos.raise_if_error()
    except GitCommandError as err:
        raise PublishError(f"git push of {branch} to {remote} failed: "
                           f"{(err.stderr or str(err)).strip()}") from None
    bad = [i for i in infos if i.flags & (i.ERROR | i.REJECTED | i.REMOTE_REJECTED
                                          | i.REMOTE_FAILURE)]
    if bad:
        raise PublishError(f"git push of {branch} to {remote} was rejected: {bad[0].summary}")


def remote_url(repo: Repo, remote: str = "origin") -> str | None:
    try:
        return next(iter(repo.remote(remote).urls), None)
    except ValueError:
        return None

"""`stratforge hooks install|uninstall` and the installed post-commit hook run by real git."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from publish_kit import Clone, spec_text

from stratforge.cli import main
from stratforge.cli_ci import HOOK_MARK
from stratforge.core.tools import find_executable

GIT = str(find_executable("git"))

BAD = {"slow_window: 23": "slow_window: 5"}


def hooks(*args: str):  # noqa: ANN201
    return CliRunner().invoke(main, ["hooks", *args])


@pytest.fixture
def in_clone(clone: Clone, monkeypatch: pytest.MonkeyPatch) -> Clone:
    monkeypatch.chdir(clone.path)
    return clone


def test_install_reinstall_refuse_foreign_force_uninstall(in_clone: Clone) -> None:
    hook = in_clone.path / ".git" / "hooks" / "post-commit"
    res = hooks("install")
    assert res.exit_code == 0 and str(hook) in res.output, res.output
    text = hook.read_text()
    assert HOOK_MARK in text and sys.executable in text and "--publish local" in text
    assert os.access(hook, os.X_OK)
    assert hooks("install").exit_code == 0  # its own hook is replaced freely
    hook.write_text("#!/bin/sh\necho the team's own hook\n")
    res = hooks("install")
    assert res.exit_code == 1 and "was not written by stratforge" in res.output
    assert hooks("uninstall").exit_code == 1 and hook.read_text().endswith("own hook\n")
    assert hooks("install", "--force").exit_code == 0 and HOOK_MARK in hook.read_text()
    assert hooks("uninstall").exit_code == 0 and not hook.exists()


def test_install_honours_core_hookspath(in_clone: Clone) -> None:
    in_clone.repo.git.config("core.hooksPath", ".githooks")
    assert hooks("install").exit_code == 0
    assert (in_clone.path / ".githooks" / "post-commit").is_file()


def _git_commit(path: Path, env: dict[str, str], *files: str) -> str:
    subprocess.run([GIT, "add", *files], cwd=path, check=True)
    done = subprocess.run([GIT, "commit", "-q", "-m", "commit through git"], cwd=path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


def test_the_hook_runs_the_pipeline_only_when_specs_change(in_clone: Clone,
                                                           tmp_path: Path) -> None:
    assert hooks("install").exit_code == 0
    env = {**os.environ, "STRATFORGE_DB_URL": f"sqlite:///{tmp_path / 'r.db'}"}
    env.pop("STRATFORGE_NO_HOOK", None)
    in_clone.write("notes.md", "no spec")
    out = _git_commit(in_clone.path, env, "notes.md")
    assert "stratforge" not in out
    in_clone.add_spec("pub-bars-trend", spec_text("pub-bars-trend", **BAD))
    out = _git_commit(in_clone.path, env, "specs/pub-bars-trend.yaml")
    assert "running the CI pipeline (--publish local)" in out
    assert "specs/pub-bars-trend.yaml:18:" in out and "invalid" in out
    assert "ci run exited 1 (the commit itself is kept)" in out
    assert in_clone.repo.head.commit.message.strip() == "commit through git"

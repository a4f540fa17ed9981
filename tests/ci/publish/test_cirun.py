"""`stratforge ci run` on real repositories, the cases that stop before any build: invalid,
deleted, uncommitted and unchanged specs, a missing token, no repository."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from publish_kit import Clone, spec_text

from stratforge.cli import main


@pytest.fixture
def in_clone(clone: Clone, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Clone:
    monkeypatch.chdir(clone.path)
    monkeypatch.setenv("STRATFORGE_DB_URL", f"sqlite:///{tmp_path / 'registry.db'}")
    for var in ("GITHUB_TOKEN", "GH_TOKEN", "GITHUB_REPOSITORY", "GITHUB_STEP_SUMMARY",
                "GITHUB_HEAD_REF", "GITHUB_REF_NAME", "STRATFORGE_USER"):
        monkeypatch.delenv(var, raising=False)
    return clone


def ci(*args: str):  # noqa: ANN201
    return CliRunner().invoke(main, ["ci", "run", *args])


BAD = {"slow_window: 23": "slow_window: 5"}  # the slow window must exceed the fast one (7)


def test_an_invalid_spec_is_a_failed_check_with_its_errors(in_clone: Clone) -> None:
    in_clone.add_spec("pub-bars-trend", spec_text("pub-bars-trend", **BAD))
    in_clone.commit("a bad spec", "specs/pub-bars-trend.yaml")
    res = ci("--base", "HEAD~1", "--publish", "local", "--format", "json")
    assert res.exit_code == 1, res.output
    report = json.loads(res.output)
    (row,) = report["specs"]
    assert row["status"] == "invalid" and row["path"] == "specs/pub-bars-trend.yaml"
    assert any("slow_window" in d and d.startswith("specs/pub-bars-trend.yaml:18:") for d in row["details"]), row
    assert in_clone.branches() == []
    assert "Traceback" not in res.output and "internal error" not in res.output


def test_nothing_changed_says_so(in_clone: Clone) -> None:
    in_clone.write("notes.md", "no spec")
    in_clone.commit("notes", "notes.md")
    res = ci("--base", "HEAD~1", "--publish", "local")
    assert res.exit_code == 0, res.output
    assert "no spec changes since HEAD~1: nothing to build" in res.output


def test_a_deleted_spec_is_reported_and_retires_nothing(in_clone: Clone) -> None:
    in_clone.add_spec("pub-bars-trend")
    in_clone.commit("a spec", "specs/pub-bars-trend.yaml")
    in_clone.commit("remove it", remove=("specs/pub-bars-trend.yaml",))
    res = ci("--base", "HEAD~1", "--format", "json")
    assert res.exit_code == 0, res.output
    (row,) = json.loads(res.output)["specs"]
    assert row["status"] == "deleted" and row["change"] == "deleted"
    assert "nothing is retired" in row["details"][0]


def test_an_uncommitted_edit_is_refused_not_built(in_clone: Clone) -> None:
    in_clone.add_spec("pub-bars-trend")
    in_clone.commit("a spec", "specs/pub-bars-trend.yaml")
    in_clone.add_spec("pub-bars-trend", spec_text("pub-bars-trend", **{"seed: 5527": "seed: 5528"}))
    res = ci("--base", "HEAD~1", "--format", "json")
    assert res.exit_code == 1
    (row,) = json.loads(res.output)["specs"]
    assert row["status"] == "failed" and "differs from the committed file" in row["details"][0]


def test_github_without_a_token_fails_before_building(in_clone: Clone) -> None:
    in_clone.add_spec("pub-bars-trend")
    in_clone.commit("a spec", "specs/pub-bars-trend.yaml")
    res = ci("--base", "HEAD~1", "--publish", "github")
    assert res.exit_code == 1
    assert "--publish github needs a token: set GITHUB_TOKEN" in res.output
    assert not (in_clone.path / "build" / "stratforge" / "ci").exists()  # nothing was built


def test_outside_a_repository_is_one_clear_line(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    res = ci("--base", "HEAD~1")
    assert res.exit_code == 1 and "is not inside a git repository" in res.output


def test_a_bad_base_is_one_clear_line(in_clone: Clone) -> None:
    res = ci("--base", "no-such-rev")
    assert res.exit_code == 1 and "--base no-such-rev: not a revision" in res.output

"""`stratforge ci run` on real repositories, the cases that stop before any build: invalid,
deleted, uncommitted and unchanged specs, a missing token, no repository."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from git import Repo
from publish_kit import Clone, GitHubStandIn, GitHubState, fake_bundle, spec_text

from stratforge.ci.cirun import BuildRun, Options, Pipeline, SpecResult, commit_message
from stratforge.ci.publish.git import branch_name, commit_bundle
from stratforge.cli import main
from stratforge.core.spec import load_spec
from stratforge.registry import Registry, ShadowGate


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


def test_an_invalid_spec_is_a_failed_check_with_its_errors(in_clone: Clone, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    in_clone.add_spec("pub-bars-trend", spec_text("pub-bars-trend", **BAD))
    in_clone.commit("a bad spec", "specs/pub-bars-trend.yaml")
    summary = tmp_path / "step-summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    res = ci("--base", "HEAD~1", "--publish", "local", "--format", "json")
    md = summary.read_text()
    assert "| `specs/pub-bars-trend.yaml` | added | invalid |" in md and "exit code 1" in md
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


def _published_by_hand(clone: Clone, tmp_path: Path, verdict: str) -> tuple[str, str]:
    """A spec committed and a bundle of it on its branch, as an earlier run left them."""
    clone.add_spec("pub-bars-trend")
    clone.commit("a spec", "specs/pub-bars-trend.yaml")
    spec_hash = load_spec(clone.path / "specs" / "pub-bars-trend.yaml").hash
    r = SpecResult("specs/pub-bars-trend.yaml", "added", "pub-bars-trend", verdict=verdict,
                   verdict_line=f"Verdict: {verdict}", spec_hash=spec_hash,
                   build_id="4242424242424242")
    bundle = fake_bundle(tmp_path / "out", "pub-bars-trend", spec_hash=spec_hash,
                         build_id=r.build_id, verdict=verdict)
    branch = branch_name(r.name, r.build_id)
    commit_bundle(clone.repo, bundle=bundle, strategy=r.name, branch=branch,
                  message=commit_message(r))
    return branch, spec_hash


class _NoBuild:
    """Records the specs a run would build (the decision under test is whether to build)."""

    def __init__(self) -> None:
        self.built: list[str] = []

    def __call__(self, spec: Path, *args: object) -> BuildRun:
        self.built.append(spec.name)
        return BuildRun(1, "no build in this test", 0.0)


def test_a_published_spec_is_not_rebuilt_and_keeps_its_verdict(in_clone: Clone,
                                                               tmp_path: Path) -> None:
    branch, _ = _published_by_hand(in_clone, tmp_path, "FAIL")
    res = ci("--base", "HEAD~1", "--publish", "none", "--format", "json")
    (row,) = json.loads(res.output)["specs"]
    assert (row["status"], row["branch"], row["verdict"]) == ("unchanged", branch, "FAIL")
    assert res.exit_code == 1  # the spec's recorded verdict is still FAIL: CI stays red
    builder = _NoBuild()
    Pipeline(in_clone.path, Options(base="HEAD~1", rebuild=True), builder=builder).run()
    assert builder.built == ["pub-bars-trend.yaml"]


def test_local_counts_as_published_only_with_a_review_request(in_clone: Clone,
                                                              tmp_path: Path) -> None:
    branch, spec_hash = _published_by_hand(in_clone, tmp_path, "PASS")
    url = f"sqlite:///{tmp_path / 'local.db'}"
    opts = Options(base="HEAD~1", publish="local")
    builder = _NoBuild()
    report = Pipeline(in_clone.path, opts, registry=lambda: Registry.open(url),
                      builder=builder).run()
    assert builder.built == ["pub-bars-trend.yaml"]  # committed, but never reviewed: built
    assert report.results[0].status == "failed"
    reg = Registry.open(url)
    n = reg.register_build(strategy="pub-bars-trend", spec_hash=spec_hash,
                           build_id="4242424242424242", bundle="b", scorecard={},
                           verdict="PASS", author="q", shadow_gate=ShadowGate(1, 1, 1, 1, 1, 1))
    reg.request_review("pub-bars-trend", n, title="t", body="b", actor="ci")
    builder = _NoBuild()
    report = Pipeline(in_clone.path, opts, registry=lambda: reg, builder=builder).run()
    assert builder.built == [] and report.exit_code == 0
    assert report.results[0].status == "unchanged" and "review request 1" in \
        report.results[0].details[0]
    reg.engine.dispose()


def test_a_repository_without_commits_is_one_clear_line(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    Repo.init(tmp_path / "empty")
    monkeypatch.chdir(tmp_path / "empty")
    res = ci()
    assert res.exit_code == 1 and "has no commit yet" in res.output


def test_in_actions_validation_errors_become_annotations(in_clone: Clone,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    in_clone.add_spec("pub-bars-trend", spec_text("pub-bars-trend", **BAD))
    in_clone.commit("a bad spec", "specs/pub-bars-trend.yaml")
    res = CliRunner().invoke(main, ["ci", "run", "--base", "HEAD~1"])
    assert res.exit_code == 1
    assert ("::error file=specs/pub-bars-trend.yaml,line=18,col=18,"
            "title=stratforge%3A strategy.params.fast_window::must be <") in res.stderr


class _BundleWriter:
    """Leaves a bundle as a finished build would (the subject here is publishing, and the
    real builds are in test_cirun_builds.py)."""

    def __call__(self, spec: Path, out_root: Path, *args: object) -> BuildRun:
        fake_bundle(out_root, spec.stem, spec_hash=load_spec(spec).hash,
                    build_id="5151515151515151", verdict="PASS")
        return BuildRun(0, "Verdict: PASS (planted)", 0.0)


@pytest.mark.parametrize(("token", "remote", "expected"), [
    ("wrong", "origin", "GitHub rejected the token (401 Bad credentials)"),
    ("ghs_test_token", "upstream", "no git remote named 'upstream'"),
])
def test_a_publishing_failure_is_reported_with_exit_4(in_clone: Clone, token: str, remote: str,
                                                      expected: str) -> None:
    in_clone.add_spec("pub-bars-trend")
    in_clone.commit("a spec", "specs/pub-bars-trend.yaml")
    state = GitHubState()
    with GitHubStandIn(state) as api:
        env = {"GITHUB_TOKEN": token, "GITHUB_API_URL": api.url,
               "GITHUB_REPOSITORY": "acme/strats"}
        report = Pipeline(in_clone.path, Options(base="HEAD~1", publish="github", remote=remote,
                                                 api_backoff=0.0),
                          builder=_BundleWriter(), env=env).run()
    (row,) = report.results
    assert row.status == "publish-failed" and report.exit_code == 4
    assert any(expected in d for d in row.details), row.details
    assert state.pulls == {}
    assert in_clone.branches() == ["stratforge/pub-bars-trend/515151515151"]  # kept for a retry


class _StoppedBuild:
    """A build that stopped before scoring, beside a bundle an earlier build of the same spec
    left in strategies/."""

    def __call__(self, spec: Path, out_root: Path, *args: object) -> BuildRun:
        fake_bundle(out_root, spec.stem, spec_hash=load_spec(spec).hash,
                    build_id="6161616161616161", verdict="PASS")
        return BuildRun(1, "  ✗ compile  1.0s  error: expected ';'\nstopped: step 'compile'; "
                        "Verdict: FAIL (the code did not build: step 'compile' failed)", 0.0)


def test_a_stopped_build_is_not_published_from_an_older_bundle(in_clone: Clone) -> None:
    in_clone.add_spec("pub-bars-trend")
    in_clone.commit("a spec", "specs/pub-bars-trend.yaml")
    report = Pipeline(in_clone.path, Options(base="HEAD~1"), builder=_StoppedBuild()).run()
    (row,) = report.results
    assert row.status == "failed" and row.verdict == "FAIL" and report.exit_code == 1
    assert row.details[0] == "Verdict: FAIL (the code did not build: step 'compile' failed)"
    assert any("expected ';'" in d for d in row.details)
    assert in_clone.branches() == []

"""`stratforge ci run` end to end with real builds (the issue's acceptance), in repositories made
by the tests: a bare remote plus a clone. Marked slow: five builds of small synthetic-bar specs
(about 25 s each on two cores)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from publish_kit import Clone, GitHubStandIn, GitHubState, spec_text

from stratforge.ci.publish.git import TRAILER_BUILD_ID, TRAILER_SPEC_HASH, TRAILER_VERDICT, trailers
from stratforge.cli import main
from stratforge.registry import Registry

NAMES = ("pub-bars-meanrev", "pub-bars-trend")
BUNDLE_FILES = ("cpp/strategy.cpp", "cpp/test_strategy.cpp", "python/strategy.py",
                "tests/test_strategy.py", "manifest.json", "spec.yaml", "scorecard.json",
                "scorecard.md")


@pytest.fixture
def env(clone: Clone, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(clone.path)
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    monkeypatch.setenv("STRATFORGE_DB_URL", url)
    for var in ("GITHUB_TOKEN", "GH_TOKEN", "GITHUB_REPOSITORY", "GITHUB_STEP_SUMMARY",
                "GITHUB_HEAD_REF", "GITHUB_REF_NAME", "GITHUB_API_URL", "STRATFORGE_USER"):
        monkeypatch.delenv(var, raising=False)
    return url


def ci(*args: str) -> tuple[int, dict]:
    res = CliRunner().invoke(main, ["ci", "run", *args, "--format", "json"])
    assert "Traceback" not in res.output and "internal error" not in res.output, res.output
    return res.exit_code, json.loads(res.output)


def rows(report: dict) -> dict[str, dict]:
    return {r["path"]: r for r in report["specs"]}


def expected_exit(report: dict) -> int:
    built = [r for r in report["specs"] if r["status"] in ("published", "built", "unchanged")]
    bad = any(r["status"] in ("invalid", "failed") for r in report["specs"])
    return 1 if bad or any(r["verdict"] != "PASS" for r in built) else 0


@pytest.mark.slow
def test_commit_two_specs_get_two_branches_and_two_review_requests(clone: Clone, env: str) -> None:
    for name in NAMES:
        clone.add_spec(name)
    clone.commit("two strategies", *(f"specs/{n}.yaml" for n in NAMES))

    code, report = ci("--base", "HEAD~1", "--publish", "local")
    got = rows(report)
    assert set(got) == {f"specs/{n}.yaml" for n in NAMES}
    assert code == expected_exit(report)
    for name in NAMES:
        r = got[f"specs/{name}.yaml"]
        assert r["status"] == "published" and r["verdict"] in ("PASS", "FAIL", "INCONCLUSIVE"), r
        assert r["branch"] == f"stratforge/{name}/{r['build_id'][:12]}"
        commit = clone.repo.commit(r["branch"])
        assert commit.parents[0] == clone.repo.head.commit
        files = {b.path for b in commit.tree.traverse() if b.type == "blob"}
        assert {f"strategies/{name}/{f}" for f in BUNDLE_FILES} <= files
        assert f"verdict {r['verdict']}" in commit.message.splitlines()[0]
        assert trailers(commit.message).items() >= {TRAILER_VERDICT: r["verdict"],
                                                    TRAILER_BUILD_ID: r["build_id"],
                                                    TRAILER_SPEC_HASH: r["spec_hash"]}.items()
        card = json.loads((commit.tree / f"strategies/{name}/scorecard.json").data_stream.read())
        assert card["verdict"] == r["verdict"]
    assert clone.repo.active_branch.name == "main"
    reg = Registry.open(env)
    reviews = reg.review_requests()
    assert sorted(rr.strategy for rr in reviews) == sorted(NAMES)
    for rr in reviews:
        assert rr.status == "open" and rr.url == f"git:{got[f'specs/{rr.strategy}.yaml']['branch']}"
        assert f"# Scorecard: {rr.strategy}" in rr.body
    assert {v.strategy: v.verdict for v in reg.versions()} == {
        n: got[f"specs/{n}.yaml"]["verdict"] for n in NAMES}

    # the same run again: nothing new is built or recorded, and it says so
    code, again = ci("--base", "HEAD~1", "--publish", "local")
    assert {r["status"] for r in again["specs"]} == {"unchanged"}
    assert code == expected_exit(again) == expected_exit(report)  # the recorded verdicts
    assert {r["path"]: r["verdict"] for r in again["specs"]} == {
        p: r["verdict"] for p, r in got.items()}
    assert any("nothing to build" in n for n in again["notes"])
    assert len(reg.review_requests()) == 2 and len(clone.branches()) == 2

    # a commit that touches no spec
    clone.write("notes.md", "desk notes")
    clone.commit("notes", "notes.md")
    code, quiet = ci("--base", "HEAD~1", "--publish", "local")
    assert code == 0 and quiet["specs"] == [] and "no spec changes since HEAD~1" in quiet["notes"][0]

    # one spec changed, and a broken one added: only the changed one is built; the broken one
    # is a failed check with its validation error; the other still publishes
    clone.add_spec("pub-bars-meanrev", spec_text("pub-bars-meanrev", **{"entry_z: 1.4": "entry_z: 1.1"}))
    clone.add_spec("pub-bars-broken", spec_text("pub-bars-trend", **{
        "name: pub-bars-trend": "name: pub-bars-broken", "slow_window: 23": "slow_window: 5"}))
    clone.commit("tune one, break one", "specs/pub-bars-meanrev.yaml", "specs/pub-bars-broken.yaml")
    code, third = ci("--base", "HEAD~1", "--publish", "local")
    got3 = rows(third)
    assert set(got3) == {"specs/pub-bars-meanrev.yaml", "specs/pub-bars-broken.yaml"}
    assert code == 1
    broken = got3["specs/pub-bars-broken.yaml"]
    assert broken["status"] == "invalid"
    assert any(d.startswith("specs/pub-bars-broken.yaml:") and "slow_window" in d
               for d in broken["details"])
    tuned = got3["specs/pub-bars-meanrev.yaml"]
    assert tuned["status"] == "published" and tuned["change"] == "modified"
    assert tuned["spec_hash"] != got["specs/pub-bars-meanrev.yaml"]["spec_hash"]
    assert len(clone.branches()) == 3 and len(reg.review_requests()) == 3
    assert len(reg.versions("pub-bars-meanrev")) == 2
    reg.engine.dispose()


@pytest.mark.slow
def test_github_pr_opened_pushed_then_updated_on_a_re_run(clone: Clone, env: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    state = GitHubState(bare=Path(clone.remote.git_dir), fail={("POST", "/repos/acme/strats/pulls"): [502]})
    clone.add_spec("pub-bars-trend")
    clone.commit("a strategy", "specs/pub-bars-trend.yaml")
    with GitHubStandIn(state) as api:
        monkeypatch.setenv("GITHUB_TOKEN", state.token)
        monkeypatch.setenv("GITHUB_API_URL", api.url)
        monkeypatch.setenv("GITHUB_REPOSITORY", "acme/strats")
        code, first = ci("--base", "HEAD~1", "--publish", "github")
        (r,) = first["specs"]
        assert code == expected_exit(first) and r["status"] == "published", r
        assert clone.remote.commit(r["branch"]).hexsha == r["commit"]  # pushed
        (pr,) = state.open_pulls()
        assert pr["head"]["ref"] == r["branch"] and pr["base"]["ref"] == "main"
        assert "# Scorecard: pub-bars-trend" in pr["body"]
        assert {lb["name"] for lb in pr["labels"]} == {"stratforge",
                                                       f"verdict: {r['verdict'].lower()}"}
        assert any("1 request(s) retried" in d for d in r["details"]), r["details"]
        code, second = ci("--base", "HEAD~1", "--publish", "github", "--rebuild")
        (r2,) = second["specs"]
        assert r2["status"] == "published" and r2["build_id"] == r["build_id"]  # reproducible
        assert len(state.pulls) == 1 and "updated" in " ".join(r2["details"])
        # without --rebuild: the branch is there and its PR is open, so nothing is built
        code, third = ci("--base", "HEAD~1", "--publish", "github")
        (r3,) = third["specs"]
        assert r3["status"] == "unchanged" and f"PR #{pr['number']}" in r3["details"][0]
        assert len(state.pulls) == 1
        assert state.problems == []

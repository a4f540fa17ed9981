"""ci/publish/github.py against a local stand-in of the GitHub REST endpoints it uses."""

from __future__ import annotations

import pytest
from publish_kit import GitHubStandIn, GitHubState

from stratforge.ci.publish.git import PublishError
from stratforge.ci.publish.github import GitHub, repository_from, token_from

PULLS = r"/repos/acme/strats/pulls"


def client(api: GitHubStandIn, token: str = "ghs_test_token", retries: int = 3) -> GitHub:
    return GitHub("acme/strats", token, api_url=api.url, retries=retries, backoff=0.0)


def upsert(gh: GitHub, branch: str = "stratforge/alpha/aaaa", verdict: str = "PASS",
           body: str = "# Scorecard\n", **kw):  # noqa: ANN003, ANN201
    return gh.upsert_pull(branch=branch, base="main", title=f"stratforge: alpha ({verdict})",
                          body=body, verdict=verdict, supersede_prefix="stratforge/alpha/", **kw)


def test_opened_once_then_updated_with_labels_by_verdict() -> None:
    st = GitHubState()
    with GitHubStandIn(st) as api:
        gh = client(api)
        first = upsert(gh, verdict="FAIL", body="card one")
        assert first.created and first.number == 1
        assert st.pulls[1]["body"] == "card one" and st.pulls[1]["base"] == {"ref": "main"}
        assert st.pulls[1]["head"]["label"] == "acme:stratforge/alpha/aaaa"
        assert [lb["name"] for lb in st.pulls[1]["labels"]] == ["stratforge", "verdict: fail"]
        # a reviewer adds a label of their own; the re-run keeps it and swaps the verdict
        st.pulls[1]["labels"].append({"name": "needs-risk-review"})
        again = upsert(gh, verdict="PASS", body="card two")
    assert not again.created and again.number == 1 and len(st.pulls) == 1
    assert st.pulls[1]["body"] == "card two" and st.pulls[1]["title"] == "stratforge: alpha (PASS)"
    assert sorted(lb["name"] for lb in st.pulls[1]["labels"]) == [
        "needs-risk-review", "stratforge", "verdict: pass"]
    assert st.calls("POST", PULLS) == 1 and st.calls("PATCH", PULLS + r"/1") == 1
    assert st.problems == []


def test_a_5xx_is_retried_and_counted() -> None:
    st = GitHubState(fail={("POST", PULLS): [502, 503]})
    with GitHubStandIn(st) as api:
        pr = upsert(client(api))
    assert pr.created and pr.retries == 2 and len(st.pulls) == 1
    assert st.calls("POST", PULLS) == 3


def test_a_create_whose_answer_was_lost_is_found_not_duplicated() -> None:
    """The PR was made but the 502 hid it: the retried POST gets 422 "already exists", and the
    client finds and updates that PR."""
    st = GitHubState(fail_after={("POST", PULLS): [502]})
    with GitHubStandIn(st) as api:
        pr = upsert(client(api))
    assert pr.number == 1 and len(st.pulls) == 1 and not pr.created
    assert st.calls("POST", PULLS) == 2


def test_5xx_to_the_end_is_reported_with_the_attempts() -> None:
    st = GitHubState(fail={("GET", PULLS): [500] * 10})
    with GitHubStandIn(st) as api, pytest.raises(PublishError) as err:
        upsert(client(api, retries=2))
    assert "GET /repos/acme/strats/pulls failed after 3 attempts: 500" in str(err.value)


def test_a_401_names_the_token() -> None:
    st = GitHubState()
    with GitHubStandIn(st) as api, pytest.raises(PublishError) as err:
        upsert(client(api, token="wrong"))
    assert "GitHub rejected the token (401 Bad credentials)" in str(err.value)
    assert "GITHUB_TOKEN" in str(err.value) and st.pulls == {}


def test_older_prs_of_the_strategy_are_closed_as_superseded() -> None:
    st = GitHubState(page_size=1)  # three open PRs over three pages: the Link header is followed
    with GitHubStandIn(st) as api:
        gh = client(api)
        old = upsert(gh, branch="stratforge/alpha/1111")
        other = gh.upsert_pull(branch="stratforge/beta/2222", base="main", title="beta",
                               body="b", verdict="PASS", supersede_prefix="stratforge/beta/")
        new = upsert(gh, branch="stratforge/alpha/3333")
    assert new.created and new.superseded == (old.number,)
    assert st.pulls[old.number]["state"] == "closed" and st.pulls[other.number]["state"] == "open"
    assert st.comments == [(old.number, f"Superseded by #{new.number} (`stratforge/alpha/3333`).")]


def test_a_long_scorecard_is_cut_to_githubs_limit() -> None:
    st = GitHubState()
    with GitHubStandIn(st) as api:
        upsert(client(api), body="x" * 70_000)
    assert 65_000 < len(st.pulls[1]["body"]) <= 65_536
    assert st.pulls[1]["body"].endswith("the full scorecard is in the bundle)")


def test_repository_and_token_from_the_environment() -> None:
    assert repository_from("git@github.com:acme/strats.git", {}) == "acme/strats"
    assert repository_from("https://github.com/acme/strats", {}) == "acme/strats"
    assert repository_from("whatever", {"GITHUB_REPOSITORY": "o/r"}) == "o/r"
    with pytest.raises(PublishError, match="set GITHUB_REPOSITORY"):
        repository_from(None, {})
    assert token_from({"GH_TOKEN": "t"}) == "t"
    with pytest.raises(PublishError, match="needs a token: set GITHUB_TOKEN"):
        token_from({})

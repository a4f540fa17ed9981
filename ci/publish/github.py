"""Pull requests through the GitHub REST API (requests, with urllib3's retry policy).

The endpoints used — a stand-in server in tests/ci/publish implements exactly these:

* ``GET    /repos/{owner}/{repo}/pulls?state=open&per_page=100`` — find the PR of a branch and
  the older, superseded PRs of the same strategy (pages followed through the ``Link`` header);
* ``POST   /repos/{owner}/{repo}/pulls`` — open a PR (a 422 "already exists" — a create that
  succeeded behind a retried 5xx — is answered by finding and updating that PR);
* ``PATCH  /repos/{owner}/{repo}/pulls/{number}`` — update title and body; close a superseded PR;
* ``PUT    /repos/{owner}/{repo}/issues/{number}/labels`` — the PR's labels: its own labels kept,
  stratforge's verdict label replaced;
* ``POST   /repos/{owner}/{repo}/issues/{number}/comments`` — "superseded by #N" on a closed PR.

5xx answers, 429 and connection errors are retried with exponential backoff (urllib3 ``Retry``,
honouring ``Retry-After``); each retry is counted and reported. A 401 names the token variable,
a 403/404 the permissions the token needs. Nothing is dropped silently: every failure raises
:class:`~stratforge.ci.publish.git.PublishError`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from stratforge.ci.publish.git import PublishError

DEFAULT_API = "https://api.github.com"
API_VERSION = "2022-11-28"
#: labels stratforge owns on its PRs: one per verdict, plus a marker
LABEL_PREFIX = "verdict: "
MARKER_LABEL = "stratforge"
#: GitHub refuses bodies over 65,536 characters
MAX_BODY = 65_000
TOKEN_VARS = ("GITHUB_TOKEN", "GH_TOKEN")

_REMOTE = re.compile(r"(?:github\.com[:/]|/)(?P<owner>[\w.-]+)/(?P<repo>[\w.-]+?)(?:\.git)?/?$")


@dataclass(frozen=True)
class PullRequest:
    number: int
    url: str
    created: bool
    labels: tuple[str, ...]
    superseded: tuple[int, ...] = ()
    retries: int = 0


def repository_from(remote_url: str | None, env: dict[str, str] | None = None) -> str:
    """``owner/name``: ``GITHUB_REPOSITORY`` (set by Actions), else parsed from the remote URL."""
    env = os.environ if env is None else env
    if env.get("GITHUB_REPOSITORY"):
        return env["GITHUB_REPOSITORY"]
    m = _REMOTE.search(remote_url or "")
    if m is None:
        raise PublishError(f"cannot tell the GitHub repository from the remote URL "
                           f"{remote_url!r}; set GITHUB_REPOSITORY=owner/name")
    return f"{m['owner']}/{m['repo']}"


def token_from(env: dict[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    for var in TOKEN_VARS:
        if env.get(var):
            return env[var]
    raise PublishError("--publish github needs a token: set GITHUB_TOKEN (in Actions: "
                       "`env: GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}`) or GH_TOKEN, or use "
                       "--publish local")


def verdict_label(verdict: str) -> str:
    return f"{LABEL_PREFIX}{verdict.lower()}"


@dataclass
class GitHub:
    """A small client of the GitHub REST API for one repository."""

    repository: str
    token: str
    api_url: str = DEFAULT_API
    retries: int = 4
    backoff: float = 1.0
    timeout: float = 30.0
    retried: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self.api_url = self.api_url.rstrip("/")
        self.session = requests.Session()
        retry = Retry(total=self.retries, connect=self.retries, read=self.retries,
                      status=self.retries, backoff_factor=self.backoff,
                      status_forcelist=(429, 500, 502, 503, 504),
                      allowed_methods=frozenset({"GET", "POST", "PATCH", "PUT", "DELETE"}),
                      raise_on_status=False, respect_retry_after_header=True)
        adapter = HTTPAdapter(max_retries=retry)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update({"Authorization": f"Bearer {self.token}",
                                     "Accept": "application/vnd.github+json",
                                     "X-GitHub-Api-Version": API_VERSION,
                                     "User-Agent": "stratforge-ci"})

    # -- plumbing ------------------------------------------------------------------------------
    def _call(self, method: str, path: str, *, ok: tuple[int, ...] = (200, 201),
              **kw: Any) -> requests.Response:
        url = path if path.startswith("http") else f"{self.api_url}{path}"
        shown = f"{method} {url.removeprefix(self.api_url)}"
        try:
            resp = self.session.request(method, url, timeout=self.timeout, **kw)
        except requests.RequestException as err:
            raise PublishError(f"GitHub API {shown} failed after {self.retries + 1} "
                               f"attempts: {type(err).__name__}: {err}") from None
        history = getattr(getattr(resp.raw, "retries", None), "history", ()) or ()
        self.retried += len(history)
        if resp.status_code in ok:
            return resp
        message = _message(resp)
        if resp.status_code == 401:
            raise PublishError(f"GitHub rejected the token (401 {message}) on {shown}: set "
                               "GITHUB_TOKEN to a valid token of this repository")
        if resp.status_code in (403, 404):
            raise PublishError(f"GitHub API {shown}: {resp.status_code} {message}; the token "
                               f"needs contents: write and pull-requests: write on "
                               f"{self.repository}")
        tries = f" after {len(history) + 1} attempts" if history else ""
        raise PublishError(f"GitHub API {shown} failed{tries}: {resp.status_code} {message}")

    def _repo(self, suffix: str) -> str:
        return f"/repos/{self.repository}{suffix}"

    def open_pulls(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        url: str | None = self._repo("/pulls")
        params: dict[str, Any] | None = {"state": "open", "per_page": 100}
        while url:
            resp = self._call("GET", url, params=params)
            out.extend(resp.json())
            url, params = resp.links.get("next", {}).get("url"), None
        return out

    # -- the one operation ---------------------------------------------------------------------
    def upsert_pull(self, *, branch: str, base: str, title: str, body: str, verdict: str,
                    supersede_prefix: str | None = None) -> PullRequest:
        """Open the PR of ``branch`` into ``base``, or update it when one is open; set its
        verdict label; close open PRs of other branches starting with ``supersede_prefix``."""
        self.retried = 0
        if len(body) > MAX_BODY:
            body = body[:MAX_BODY] + "\n\n…(truncated: the full scorecard is in the bundle)"
        owner = self.repository.split("/")[0]
        pulls = self.open_pulls()
        mine = next((p for p in pulls if p["head"]["ref"] == branch), None)
        created = False
        if mine is None:
            resp = self._call("POST", self._repo("/pulls"), ok=(201, 422),
                              json={"title": title, "head": f"{owner}:{branch}", "base": base,
                                    "body": body, "maintainer_can_modify": True})
            if resp.status_code == 422:  # created behind a retried 5xx, or a real refusal
                mine = next((p for p in self.open_pulls() if p["head"]["ref"] == branch), None)
                if mine is None:
                    raise PublishError(f"GitHub refused to open a PR of {branch} into {base}: "
                                       f"422 {_message(resp)}")
            else:
                mine, created = resp.json(), True
        if not created:
            mine = self._call("PATCH", self._repo(f"/pulls/{mine['number']}"),
                              json={"title": title, "body": body, "base": base}).json()
        number = int(mine["number"])
        kept = [lb["name"] for lb in mine.get("labels", ())
                if not lb["name"].startswith(LABEL_PREFIX) and lb["name"] != MARKER_LABEL]
        labels = sorted(set(kept) | {MARKER_LABEL, verdict_label(verdict)})
        self._call("PUT", self._repo(f"/issues/{number}/labels"), json={"labels": labels})
        superseded = []
        if supersede_prefix:
            for p in pulls:
                ref = p["head"]["ref"]
                if ref != branch and ref.startswith(supersede_prefix) and p["number"] != number:
                    self._call("POST", self._repo(f"/issues/{p['number']}/comments"),
                               json={"body": f"Superseded by #{number} (`{branch}`)."})
                    self._call("PATCH", self._repo(f"/pulls/{p['number']}"),
                               json={"state": "closed"})
                    superseded.append(int(p["number"]))
        return PullRequest(number, str(mine.get("html_url", "")), created, tuple(labels),
                           tuple(superseded), self.retried)


def _message(resp: requests.Response) -> str:
    try:
        doc = resp.json()
    except ValueError:
        return resp.text[:200].strip() or resp.reason or ""
    msg = str(doc.get("message", "")) if isinstance(doc, dict) else ""
    errors = doc.get("errors") if isinstance(doc, dict) else None
    if errors:
        msg += " (" + "; ".join(str(e.get("message", e)) if isinstance(e, dict) else str(e)
                                for e in errors) + ")"
    return msg or resp.reason or ""

"""Test kit of tests/ci/publish: real git repositories (a bare "remote" plus a clone), the specs
written for these tests, and a local stand-in of the GitHub REST endpoints `ci run` uses."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from git import Actor, Repo

SPECS = Path(__file__).resolve().parent / "specs"
WHO = Actor("Quant Tester", "quant@example.test")


@dataclass
class Clone:
    """A clone of a bare remote: ``path`` is its working tree."""

    repo: Repo
    remote: Repo
    path: Path

    def write(self, rel: str, text: str) -> Path:
        p = self.path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
        return p

    def add_spec(self, name: str, text: str | None = None) -> Path:
        return self.write(f"specs/{name}.yaml", text if text is not None
                          else (SPECS / f"{name}.yaml").read_text(encoding="utf-8"))

    def commit(self, message: str, *paths: str, remove: tuple[str, ...] = ()) -> str:
        if remove:
            self.repo.index.remove(list(remove), working_tree=True)
        if paths:
            self.repo.index.add(list(paths))
        return self.repo.index.commit(message, author=WHO, committer=WHO).hexsha

    def branches(self, prefix: str = "stratforge/") -> list[str]:
        return sorted(h.name for h in self.repo.branches if h.name.startswith(prefix))


def make_clone(tmp: Path) -> Clone:
    """A bare remote ``origin.git`` and a clone ``work`` with one initial commit on main."""
    remote = Repo.init(tmp / "origin.git", bare=True, initial_branch="main")
    work = Repo.clone_from(str(tmp / "origin.git"), tmp / "work")
    with work.config_writer() as cw:
        cw.set_value("user", "name", WHO.name)
        cw.set_value("user", "email", WHO.email)
    clone = Clone(work, remote, tmp / "work")
    clone.write("README.md", "# a strategies repository made by a test\n")
    clone.write(".gitignore", "build/\n")
    clone.commit("initial commit", "README.md", ".gitignore")
    work.git.branch("-M", "main")
    work.git.push("-u", "origin", "main")
    return clone


def spec_text(name: str, **replace: str) -> str:
    text = (SPECS / f"{name}.yaml").read_text(encoding="utf-8")
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    return text


def fake_bundle(out: Path, name: str, *, spec_hash: str, build_id: str,
                verdict: str = "PASS") -> Path:
    """A bundle folder as a build leaves it, for the publishing tests that need no build."""
    b = out / name
    (b / "cpp").mkdir(parents=True, exist_ok=True)
    (b / "cpp" / "strategy.cpp").write_text("// generated\n", encoding="utf-8")
    (b / "manifest.json").write_text(json.dumps({"build_id": build_id, "spec_hash": spec_hash}),
                                     encoding="utf-8")
    (b / "scorecard.json").write_text(json.dumps({"verdict": verdict, "verdict_line":
                                                  f"Verdict: {verdict} (planted)"}),
                                      encoding="utf-8")
    (b / "scorecard.md").write_text(f"# Scorecard: {name}\n\n**Verdict: {verdict}**\n",
                                    encoding="utf-8")
    return b


# -- a local stand-in of the GitHub REST API ---------------------------------------------------

@dataclass
class GitHubState:
    owner: str = "acme"
    name: str = "strats"
    token: str = "ghs_test_token"
    bare: Path | None = None  # when set, a PR's head branch must exist there (as on GitHub)
    page_size: int = 100
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)
    comments: list[tuple[int, str]] = field(default_factory=list)
    log: list[tuple[str, str, dict[str, Any] | None]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    #: (method, path regex) -> list of status codes answered before the real handler runs
    fail: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    #: (method, path regex) -> statuses answered AFTER the real handler ran (a lost response)
    fail_after: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    next_number: int = 1

    @property
    def repo(self) -> str:
        return f"/repos/{self.owner}/{self.name}"

    def open_pulls(self) -> list[dict[str, Any]]:
        return [p for p in self.pulls.values() if p["state"] == "open"]

    def calls(self, method: str, path_re: str) -> int:
        return sum(1 for m, p, _ in self.log if m == method and re.fullmatch(path_re, p))


class _Handler(BaseHTTPRequestHandler):
    state: GitHubState

    def log_message(self, *args: Any) -> None:  # quiet
        return None

    def _send(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body if body is not None else {}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _handle(self, method: str) -> None:
        st = self.state
        url = urlparse(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        st.log.append((method, url.path, body))
        for (m, rx), codes in st.fail.items():
            if m == method and re.fullmatch(rx, url.path) and codes:
                self._send(codes.pop(0), {"message": "Server Error"})
                return
        if self.headers.get("Authorization") != f"Bearer {st.token}":
            self._send(401, {"message": "Bad credentials",
                             "documentation_url": "https://docs.github.com/rest"})
            return
        if self.headers.get("Accept") != "application/vnd.github+json" or \
                not self.headers.get("X-GitHub-Api-Version"):
            st.problems.append(f"{method} {url.path}: Accept/X-GitHub-Api-Version missing")
        status, out, headers = self._route(method, url, body)
        for (m, rx), codes in st.fail_after.items():
            if m == method and re.fullmatch(rx, url.path) and codes:
                self._send(codes.pop(0), {"message": "Bad Gateway"})
                return
        self._send(status, out, headers)

    def _route(self, method: str, url, body):  # noqa: ANN001, ANN202
        st = self.state
        pulls = f"{st.repo}/pulls"
        if method == "GET" and url.path == pulls:
            q = parse_qs(url.query)
            if q.get("state") != ["open"]:
                st.problems.append(f"GET pulls without state=open: {url.query}")
            page = int(q.get("page", ["1"])[0])
            items = sorted(st.open_pulls(), key=lambda p: p["number"])
            chunk = items[(page - 1) * st.page_size: page * st.page_size]
            headers = {}
            if page * st.page_size < len(items):
                base = f"http://{self.headers['Host']}{pulls}"
                headers["Link"] = (f'<{base}?state=open&per_page={st.page_size}&page={page + 1}>; '
                                   'rel="next"')
            return 200, chunk, headers
        if method == "POST" and url.path == pulls:
            missing = {"title", "head", "base", "body"} - set(body or {})
            if missing:
                return 422, {"message": "Validation Failed", "errors": sorted(missing)}, None
            owner, _, branch = body["head"].partition(":")
            if owner != st.owner:
                return 422, {"message": "Validation Failed", "errors": [
                    {"message": f"head owner {owner!r} is not {st.owner!r}"}]}, None
            if st.bare is not None and f"refs/heads/{branch}" not in \
                    Repo(st.bare).git.for_each_ref("--format=%(refname)").split():
                return 422, {"message": "Validation Failed",
                             "errors": [{"message": f"head {branch} does not exist"}]}, None
            if any(p["head"]["ref"] == branch for p in st.open_pulls()):
                return 422, {"message": "Validation Failed", "errors": [
                    {"message": f"A pull request already exists for {body['head']}."}]}, None
            n = st.next_number
            st.next_number += 1
            st.pulls[n] = {"number": n, "state": "open", "title": body["title"],
                           "body": body["body"], "base": {"ref": body["base"]},
                           "head": {"ref": branch, "label": body["head"]}, "labels": [],
                           "html_url": f"https://github.test/{st.owner}/{st.name}/pull/{n}"}
            return 201, st.pulls[n], None
        m = re.fullmatch(rf"{re.escape(pulls)}/(\d+)", url.path)
        if method == "PATCH" and m and int(m[1]) in st.pulls:
            pr = st.pulls[int(m[1])]
            for key in ("title", "body", "state"):
                if key in body:
                    pr[key] = body[key]
            if "base" in body:
                pr["base"] = {"ref": body["base"]}
            return 200, pr, None
        m = re.fullmatch(rf"{re.escape(st.repo)}/issues/(\d+)/labels", url.path)
        if method == "PUT" and m and int(m[1]) in st.pulls:
            if not isinstance(body.get("labels"), list):
                return 422, {"message": "labels must be a list"}, None
            st.pulls[int(m[1])]["labels"] = [{"name": n} for n in body["labels"]]
            return 200, st.pulls[int(m[1])]["labels"], None
        m = re.fullmatch(rf"{re.escape(st.repo)}/issues/(\d+)/comments", url.path)
        if method == "POST" and m and int(m[1]) in st.pulls:
            st.comments.append((int(m[1]), body["body"]))
            return 201, {"id": len(st.comments)}, None
        return 404, {"message": "Not Found"}, None

    def do_GET(self) -> None:  # noqa: N802
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")

    def do_PATCH(self) -> None:  # noqa: N802
        self._handle("PATCH")

    def do_PUT(self) -> None:  # noqa: N802
        self._handle("PUT")


class GitHubStandIn:
    """``with GitHubStandIn(state) as api:`` — ``api.url`` is its base URL."""

    def __init__(self, state: GitHubState) -> None:
        self.state = state
        handler = type("Handler", (_Handler,), {"state": state})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "GitHubStandIn":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


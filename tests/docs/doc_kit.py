"""The doc-test kit: find the shell commands in README.md and docs/*.md and run them for real.

Every fenced block tagged ``bash``, ``sh``, ``shell`` or ``console`` is a list of commands a reader
may paste. The doc tests run each block, as one bash script (``set -euo pipefail``), in a scratch
workspace: a temporary folder with a copy of the repository's ``specs/`` and of the fixture files
in ``tests/docs/fixtures/workspace/`` (the files the docs' commands name), the virtual
environment's ``bin`` first on ``PATH``, and the registry, runtime folder, XDG folders and TMPDIR
inside the temporary folder. A block passes when it ends with exit status 0 (or the status its
marker names) within its timeout.

A marker comment on the line before a block configures it (comma-separated)::

    <!-- doctest: cwd=repo, env=NAME=VALUE OTHER=VALUE, expect-exit=1, setup=git-workspace, slow -->

keys: ``cwd=repo|workspace`` (default workspace), ``env=`` (space-separated assignments),
``expect-exit=N``, ``setup=NAME`` (a function below that prepares the workspace),
``timeout=SECONDS`` (default 120), ``slow`` (marks the test ``slow``), ``needs=RESOURCE``
(``docker``, ``k8s``, ``llm``, ``postgresql``, ``compiler``, ``sandbox``, ``shared_data``: skips
through tests/resource_kit.py when absent, runs where present), ``serves=URL`` (the block's last
command is a server: it passes once URL answers, and is then stopped), ``input=TEXT`` (standard
input; ``\\n`` for a newline), and ``covered-by=.ci/run`` (only for commands ``.ci/run`` itself
runs: the README's test commands). There is no "skip": a command too heavy for the suite is
documented in the form the test runs, with the full form in prose.

A fence with no language whose lines read like commands (they start with a program the docs
use) is an error: tag it ``sh`` (it runs) or ``text`` (a synopsis or output, never run).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from resource_kit import SHARED_DATA, missing  # tests/ is on sys.path (tests/conftest.py)

from stratforge.core.tools import find_executable, first_executable, which

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
FIXTURES = HERE / "fixtures" / "workspace"

SHELL_LANGS = frozenset({"bash", "sh", "shell", "console"})
KEYS = frozenset({"cwd", "env", "expect-exit", "setup", "timeout", "slow", "needs", "serves",
                  "input", "covered-by"})
FLAGS = frozenset({"slow"})
RESOURCES = frozenset({"docker", "k8s", "llm", "postgresql", "compiler", "sandbox",
                       "shared_data"})
#: what ``covered-by`` may name: scripts that .ci/run itself runs
COVERING = frozenset({".ci/run"})
#: programs whose appearance at the start of every line of an untagged fence makes it a command
COMMAND_WORDS = ("stratforge ", "sf-replay ", "sf-bench ", "sf-engine ", "sf-venue ", "python ",
                 "python3 ", "pip ", "bash ", ".venv/bin/", "g++ ", "docker ", "kubectl ",
                 "git ", "curl ")
MARKER = re.compile(r"^\s*<!--\s*doctest:(.*?)-->\s*$")
FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([\w+-]*)[^`]*$")
DEFAULT_TIMEOUT = 120.0


class DocTestError(ValueError):
    """A doc page the doc tests cannot read as written: names file:line and the problem."""


@dataclass
class Block:
    path: Path
    line: int  # 1-based line of the opening fence
    lang: str
    text: str  # the block's body as written
    options: dict[str, str] = field(default_factory=dict)

    @property
    def where(self) -> str:
        try:
            rel = self.path.relative_to(REPO)
        except ValueError:
            rel = self.path
        return f"{rel}:{self.line}"

    @property
    def script(self) -> str:
        """The block as a bash script: ``console`` blocks keep only the ``$ `` lines (and what
        continues them: trailing backslash, ``> `` prompts, heredoc bodies); a leading ``$ `` is
        stripped in every block."""
        return "\n".join(commands(self.text, console=self.lang == "console")) + "\n"

    @property
    def timeout(self) -> float:
        return float(self.options.get("timeout", DEFAULT_TIMEOUT))

    @property
    def expect_exit(self) -> int:
        return int(self.options.get("expect-exit", "0"))

    @property
    def env(self) -> dict[str, str]:
        out = {}
        for item in self.options.get("env", "").split():
            name, sep, value = item.partition("=")
            if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise DocTestError(f"{self.where}: doctest marker: env item {item!r} is not NAME=VALUE")
            out[name] = value
        return out


def parse_marker(text: str, where: str) -> dict[str, str]:
    """``cwd=repo, slow`` -> {"cwd": "repo", "slow": ""}; an unknown key or bad value is an error."""
    options: dict[str, str] = {}
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            continue
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if key not in KEYS:
            raise DocTestError(f"{where}: doctest marker: unknown key {key!r} "
                               f"(known: {', '.join(sorted(KEYS))})")
        if key in FLAGS and sep:
            raise DocTestError(f"{where}: doctest marker: {key} takes no value")
        if key not in FLAGS and not value:
            raise DocTestError(f"{where}: doctest marker: {key} needs a value ({key}=...)")
        if key in options:
            raise DocTestError(f"{where}: doctest marker: {key} given twice")
        if key == "cwd" and value not in ("repo", "workspace"):
            raise DocTestError(f"{where}: doctest marker: cwd must be repo or workspace, was {value!r}")
        if key in ("expect-exit", "timeout") and not re.fullmatch(r"\d+", value):
            raise DocTestError(f"{where}: doctest marker: {key} must be a whole number, was {value!r}")
        if key == "needs" and value not in RESOURCES:
            raise DocTestError(f"{where}: doctest marker: needs={value!r} is not a test resource "
                               f"(known: {', '.join(sorted(RESOURCES))})")
        if key == "setup" and value not in SETUPS:
            raise DocTestError(f"{where}: doctest marker: setup={value!r} is unknown "
                               f"(known: {', '.join(sorted(SETUPS))})")
        if key == "covered-by" and value not in COVERING:
            raise DocTestError(f"{where}: doctest marker: covered-by={value!r}: only "
                               f"{', '.join(sorted(COVERING))} may cover a command")
        options[key] = value
    if "covered-by" in options and len(options) > 1:
        raise DocTestError(f"{where}: doctest marker: covered-by stands alone")
    return options


def commands(text: str, console: bool = False) -> list[str]:
    """The lines of a block that bash should run. In a ``console`` block a command starts at a
    ``$ `` prompt and goes on over backslash continuations, ``> `` prompts and heredoc bodies;
    every other line is output and dropped."""
    lines = text.split("\n")
    if not console:
        return [line[2:] if line.startswith("$ ") else line for line in lines]
    out: list[str] = []
    in_cmd = False
    heredoc: str | None = None
    for line in lines:
        if heredoc is not None:
            out.append(line)
            if line.strip() == heredoc:
                heredoc = None
                in_cmd = bool(out) and out[-1].endswith("\\")
            continue
        if line.startswith("$ "):
            cmd = line[2:]
        elif in_cmd:
            cmd = line[2:] if line.startswith("> ") else line
        else:
            continue
        out.append(cmd)
        m = re.search(r"<<-?\s*(['\"]?)(\w+)\1", cmd)
        if m:
            heredoc = m.group(2)
        in_cmd = cmd.endswith("\\")
    return out


def looks_like_commands(body: str) -> bool:
    lines = [line for line in body.split("\n") if line.strip()]
    return bool(lines) and all(line.lstrip("$ ").startswith(COMMAND_WORDS) for line in lines)


def collect(path: Path) -> list[Block]:
    """The shell blocks of one Markdown file, with their markers; raises DocTestError on a bad
    marker, a marker before no shell block, an unclosed fence or an untagged command fence."""
    lines = path.read_text(encoding="utf-8").split("\n")
    blocks: list[Block] = []
    rel = path.relative_to(REPO) if path.is_relative_to(REPO) else path
    i = 0
    pending: tuple[int, str] | None = None  # (line, marker text) waiting for its block
    while i < len(lines):
        line = lines[i]
        m = MARKER.match(line)
        if m:
            if pending:
                raise DocTestError(f"{rel}:{pending[0]}: doctest marker is not followed by a shell block")
            pending = (i + 1, m.group(1))
            i += 1
            continue
        f = FENCE.match(line)
        if not f:
            if pending and line.strip():
                raise DocTestError(f"{rel}:{pending[0]}: doctest marker is not followed by a shell block")
            i += 1
            continue
        fence, lang = f.group(2), f.group(3).lower()
        start = i
        body: list[str] = []
        i += 1
        while i < len(lines) and not re.match(rf"^\s*{fence[0]}{{{len(fence)},}}\s*$", lines[i]):
            body.append(lines[i][len(f.group(1)):] if lines[i].startswith(f.group(1)) else lines[i])
            i += 1
        if i >= len(lines):
            raise DocTestError(f"{rel}:{start + 1}: code fence is never closed")
        i += 1
        text = "\n".join(body)
        where = f"{rel}:{start + 1}"
        if lang in SHELL_LANGS:
            options = parse_marker(pending[1], f"{rel}:{pending[0]}") if pending else {}
            blocks.append(Block(path, start + 1, lang, text, options))
        elif pending:
            raise DocTestError(f"{rel}:{pending[0]}: doctest marker is not followed by a shell "
                               f"block (the block at line {start + 1} is {lang or 'untagged'})")
        elif not lang and looks_like_commands(text):
            raise DocTestError(f"{where}: an untagged code block of commands: tag it sh (the doc "
                               "tests run it) or text (a synopsis or output, never run)")
        pending = None
    if pending:
        raise DocTestError(f"{rel}:{pending[0]}: doctest marker is not followed by a shell block")
    return blocks


def doc_pages(repo: Path = REPO) -> list[Path]:
    return [repo / "README.md", *sorted((repo / "docs").glob("*.md"))]


# --- the workspace ------------------------------------------------------------------------------

def venv_bin() -> Path:
    """The bin folder of the Python running the tests (the project's venv)."""
    return Path(sys.executable).parent


def make_workspace() -> Path:
    """A fresh folder with specs/ and the fixture files; readable by other users (the PostgreSQL
    set-up runs initdb as ``postgres`` inside it)."""
    root = Path(tempfile.mkdtemp(prefix="stratforge-doctest-"))
    root.chmod(0o755)
    shutil.copytree(REPO / "specs", root / "specs")
    shutil.copytree(FIXTURES, root, dirs_exist_ok=True)
    (root / "bench").symlink_to(REPO / "bench")  # the benchmark scripts the docs run
    for sub in ("tmp", "state", "config", "data", "cache", "runtime"):
        (root / ".doctest" / sub).mkdir(parents=True)
    (root / ".doctest" / "tmp").chmod(0o1777)
    return root


def block_env(block: Block, workspace: Path) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("STRATFORGE_USER", "STRATFORGE_TOKEN", "PYTEST_CURRENT_TEST", "PYTEST_ADDOPTS"):
        env.pop(name, None)
    state = workspace / ".doctest"
    env.update({
        # the system's admin tools too (runuser, …): the docs' root-only blocks name them bare,
        # as a root shell finds them, also when the suite runs with PATH=/usr/bin:/bin (.ci/run)
        "PATH": os.pathsep.join([str(venv_bin()), env.get("PATH", "/usr/bin:/bin"),
                                 "/usr/sbin", "/sbin"]),
        "STRATFORGE_DB_URL": f"sqlite:///{state / 'state' / 'registry.db'}",
        "STRATFORGE_RUNTIME_DIR": str(state / "runtime"),
        "XDG_CONFIG_HOME": str(state / "config"),
        "XDG_DATA_HOME": str(state / "data"),
        "XDG_STATE_HOME": str(state / "state"),
        "TMPDIR": str(state / "tmp"),
        "STRATFORGE_DOCTEST_WORKSPACE": str(workspace),
    })
    env.update(block.env)
    return env


# --- setups: what a block's marker ``setup=NAME`` prepares -----------------------------------

def _git(workspace: Path, *args: str) -> None:
    subprocess.run([str(find_executable("git")), "-c", "user.name=Doc Tests", "-c", "user.email=docs@example.invalid",
                    "-c", "commit.gpgsign=false", *args], cwd=workspace, check=True,
                   capture_output=True, text=True)


def setup_git_workspace(workspace: Path) -> None:
    """A git repository: the example specs in a first commit, specs/my-strat.yaml in a second,
    so ``--base HEAD~1`` finds the one new spec."""
    mine = workspace / "specs" / "my-strat.yaml"
    text = mine.read_text(encoding="utf-8")
    mine.unlink()
    _git(workspace, "init", "-q", "-b", "main")
    (workspace / ".gitignore").write_text(".doctest/\n", encoding="utf-8")
    _git(workspace, "add", "-A")
    _git(workspace, "commit", "-q", "-m", "the example specs")
    mine.write_text(text, encoding="utf-8")
    _git(workspace, "add", "specs/my-strat.yaml")
    _git(workspace, "commit", "-q", "-m", "my-strat")


def setup_shared_data(workspace: Path) -> None:
    """The real sample files the data docs convert, linked from ../shared/data by their names."""
    if not SHARED_DATA.is_dir():
        missing("shared_data")
    for path in SHARED_DATA.rglob("*"):
        if path.is_file() and not (workspace / path.name).exists():
            (workspace / path.name).symlink_to(path)


def setup_admin_alice(workspace: Path) -> str:
    """The first admin, alice, made as docs/dashboard.md's first block makes her; the block then
    acts as her (``STRATFORGE_USER``, as the doc says an admin does)."""
    return ("stratforge users bootstrap-admin alice >/dev/null\n"
            "export STRATFORGE_USER=alice\n")


def setup_pg_cluster(workspace: Path) -> str:
    """A throwaway PostgreSQL cluster on a Unix socket in the workspace (no TCP port), started as
    Debian's ``postgres`` user and stopped when the block ends; ``PGHOST``/``PGPORT`` name it, as
    they name a server for ``psql``."""
    pg = workspace / ".doctest" / "pg"
    return "\n".join([
        f"pg={pg}; mkdir -p $pg && chown postgres: $pg",
        "bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1); export PATH=$bin:$PATH",
        "trap 'runuser -u postgres -- $bin/pg_ctl -D $pg/data -m fast -w stop >/dev/null 2>&1' EXIT",
        "runuser -u postgres -- $bin/initdb -D $pg/data -A trust -U postgres >/dev/null",
        "runuser -u postgres -- $bin/pg_ctl -D $pg/data -l $pg/log -w "
        "-o \"-k $pg -p 55433 -c listen_addresses=''\" start >/dev/null",
        "export PGHOST=$pg PGPORT=55433",
        ""])


#: name -> function(workspace) preparing it; it may return shell lines run (unshown) before
#: the block, in the block's environment
SETUPS = {
    "git-workspace": setup_git_workspace,
    "shared-data": setup_shared_data,
    "admin-alice": setup_admin_alice,
    "pg-cluster": setup_pg_cluster,
}


# --- running ----------------------------------------------------------------------------------

@dataclass
class Outcome:
    status: int | None  # None: timed out
    output: str
    served: bool = False


def _workspace_pids(workspace: Path) -> list[int]:
    """Processes left behind whose command line names the workspace (daemons a block started,
    e.g. a PostgreSQL cluster under its TMPDIR)."""
    me = os.getpid()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(workspace) in cmdline:
            found.append(int(entry.name))
    return found


def _stop(proc: subprocess.Popen, workspace: Path) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        for pid in _workspace_pids(workspace):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            continue
        if not _workspace_pids(workspace):
            break
        time.sleep(1)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 (loopback)
            return resp.status < 500
    except urllib.error.HTTPError as exc:
        return exc.code < 500
    except (urllib.error.URLError, OSError):
        return False


def run_block(block: Block, workspace: Path) -> Outcome:
    """Run one block as a bash script in its own session; stop everything it left running."""
    prelude = ""
    if "setup" in block.options:
        prelude = SETUPS[block.options["setup"]](workspace) or ""
    cwd = REPO if block.options.get("cwd") == "repo" else workspace
    log = workspace / ".doctest" / f"block-{block.line}.log"
    script = "set -euo pipefail\n" + prelude + block.script
    stdin_text = block.options.get("input", "").replace("\\n", "\n")
    if stdin_text and not stdin_text.endswith("\n"):
        stdin_text += "\n"
    with open(log, "w+", encoding="utf-8", errors="replace") as out:
        proc = subprocess.Popen([str(find_executable("bash")), "-c", script], cwd=cwd, env=block_env(block, workspace),
                                stdin=subprocess.PIPE, stdout=out, stderr=subprocess.STDOUT,
                                text=True, start_new_session=True)
        try:
            proc.stdin.write(stdin_text)
            proc.stdin.close()
        except BrokenPipeError:
            pass
        served = False
        status: int | None = None
        deadline = time.monotonic() + block.timeout
        try:
            while time.monotonic() < deadline:
                status = proc.poll()
                if status is not None:
                    break
                if "serves" in block.options and _answers(block.options["serves"]):
                    served = True
                    break
                time.sleep(0.5)
        finally:
            _stop(proc, workspace)
        out.flush()
        out.seek(0)
        text = out.read()
    return Outcome(status, text, served)


def check(block: Block, outcome: Outcome) -> str | None:
    """None when the block did what its doc says; else a message naming file:line."""
    tail = "\n".join(outcome.output.splitlines()[-40:])
    if "serves" in block.options:
        if outcome.served:
            return None
        what = "timed out" if outcome.status is None else f"exited {outcome.status}"
        return (f"{block.where}: {what} before {block.options['serves']} answered\n"
                f"--- script ---\n{block.script}--- output (last lines) ---\n{tail}")
    if outcome.status is None:
        return (f"{block.where}: timed out after {block.timeout:.0f} s\n"
                f"--- script ---\n{block.script}--- output (last lines) ---\n{tail}")
    if outcome.status != block.expect_exit:
        return (f"{block.where}: exit status {outcome.status}, the doc expects {block.expect_exit}\n"
                f"--- script ---\n{block.script}--- output (last lines) ---\n{tail}")
    return None


# --- resources and coverage -------------------------------------------------------------------

def require(resource: str) -> None:
    """Skip (or fail where CI requires it) when a block's resource is absent here."""
    if resource == "docker":
        sock = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
        if which("docker") is None or (sock.startswith("unix://")
                                          and not Path(sock[len("unix://"):]).exists()):
            missing("docker", "the docker CLI and a reachable engine")
    elif resource == "k8s":
        if not os.environ.get("KUBECONFIG") and not (Path.home() / ".kube" / "config").exists():
            missing("k8s")
    elif resource == "llm":
        if subprocess.run([str(venv_bin() / "python"), "-c", "import llama_cpp"],
                          capture_output=True).returncode != 0:
            missing("llm", "llama-cpp-python is not installed")
        listed = subprocess.run([str(venv_bin() / "stratforge"), "model", "list"],
                                capture_output=True, text=True)
        if "installed" not in listed.stdout.replace("not installed", ""):
            missing("llm", "no bundled model is installed")
    elif resource == "postgresql":
        # the docs' set-up commands make a throwaway cluster as the postgres user
        if os.geteuid() != 0 or not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")):
            missing("postgresql", "root and Debian's postgresql package for the set-up commands")
    elif resource == "compiler":
        if first_executable("g++", "c++") is None:
            missing("compiler")
    elif resource == "sandbox":
        if which("bwrap") is None:
            missing("sandbox")
    elif resource == "shared_data":
        if not SHARED_DATA.is_dir():
            missing("shared_data")


#: each command of a ``covered-by=.ci/run`` block -> (script, the text in it that runs the command)
COVERED = {
    "bash scripts/demo.sh": (".ci/run", "bash scripts/demo.sh"),
    "bash scripts/test.sh": (".ci/run", "bash scripts/test.sh"),
    ".venv/bin/python -m pytest -q": ("scripts/test.sh", ".venv/bin/python -m pytest -q"),
    ".venv/bin/python -m pytest -q -m shared_data": (".ci/run", "-m shared_data"),
    ".venv/bin/python -m pytest -q tests/ci/publish -m \"not slow\"":
        ("scripts/test.sh", ".venv/bin/python -m pytest -q"),
    ".venv/bin/python -m pytest -q tests/ci/publish":
        ("scripts/test.sh", ".venv/bin/python -m pytest -q"),
}


def command_lines(block: Block) -> list[str]:
    """A block's commands with comments and spacing normalised (for ``covered-by``)."""
    out = []
    for line in block.script.split("\n"):
        line = re.sub(r"\s+#.*$", "", line).strip()
        if line and not line.startswith("#"):
            out.append(re.sub(r"\s+", " ", line))
    return out

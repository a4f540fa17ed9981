"""`stratforge demo`: the whole product on this machine, in one command (docs/getting-started.md).

The demo is a user of the product, not a second implementation of it: every step is the command
or the registry call a quant and an approver would use, in a workspace of its own so that it
never touches the user's registry, runtime or repositories:

1. the workspace — a git repository holding the example specs (``<workspace>/repo``), its own
   registry (a SQLite file), runtime folder and build folder;
2. the demo users — ``demo-author`` writes the specs, ``demo`` (approver: the dashboard login,
   a fresh one-time password each run), ``demo-reviewer`` (a second approver), ``demo-admin``;
3. ``stratforge ci run --publish local`` over every spec: generate → sandboxed tests → backtest
   → scorecard, one version and one review request per build, as CI does for a pull request;
4. a second version of one passing strategy, committed the way a quant would change a spec
   (one parameter), and built by the same ``ci run``;
5. ``stratforge runtime up`` replaying that strategy's backtest data with sf-venue and the
   control plane: real market data when ``../shared/data`` is beside the checkout (the
   workspace links it, and the real-data variants in ``stratforge/demo_specs/`` are built like
   any spec, so the deployed code was generated, tested and backtested on that data), else the
   example's synthetic session — the demo says which it replays;
6. version 1 promoted to shadow by ``demo``; its shadow gate judged on the engine's metrics;
   approved by ``demo-reviewer`` (a second user); promoted to live — when the gate does not
   hold within ``--gate-timeout`` that is the strategy's result (like a FAIL verdict): it stays
   in shadow, the demo says which criterion held it back, and nothing goes live;
7. version 2 promoted to shadow next to it, on the same feed;
8. ``stratforge dashboard`` in the background; the URL and the credentials are printed.

Re-running is safe: builds are cached, versions and review requests are registered once, stages
already reached are not requested again, and a running demo is stopped first. ``--down`` stops
every process the demo started (dashboard, control plane, sf-engine, sf-venue) and checks that
none is left.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from git import Actor, Repo

from stratforge.ci.backtest.data import prepare_data
from stratforge.core.errors import StratforgeError, UserInputError
from stratforge.core.spec import StrategySpec, load_spec
from stratforge.registry import Registry, VersionView
from stratforge.registry.phase import MIN_DEVIATION_FILLS
from stratforge.runtime.data.sources import SHARED_PREFIX
from stratforge.runtime.control.process import RuntimePaths, pid_alive, read_pid, stop_pid

__all__ = ["DEMO_USERS", "DemoError", "DemoPaths", "DemoResult", "check", "choose_candidate",
           "deciding_gates", "down", "second_version_text", "up", "verdict_lines"]

#: the demo's registry users and their roles
DEMO_USERS = {"demo-admin": "admin", "demo-author": "author", "demo": "approver",
              "demo-reviewer": "approver"}
LOGIN = "demo"
AUTHOR = "demo-author"
REVIEWER = "demo-reviewer"
V2_MARK = "# stratforge demo: version 2"
COMMITTER = Actor("stratforge demo", "demo@stratforge.invalid")
#: specs of the demo on real market data in ../shared/data (docs/getting-started.md)
DEMO_SPECS = Path(__file__).resolve().parent / "demo_specs"


class DemoError(StratforgeError):
    """A demo step that could not be carried out (it names the step and where to look)."""


class GateNotHeld(DemoError):
    """The strategy's shadow gate did not hold on the engine's metrics: a result about the
    strategy (like a FAIL verdict), not a failure of the demo."""


@dataclass(frozen=True)
class DemoPaths:
    """Everything the demo writes lives under ``root``."""

    root: Path

    @property
    def repo(self) -> Path:
        return self.root / "repo"

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.root / 'registry.db'}"

    @property
    def state(self) -> Path:
        return self.root / "runtime"

    @property
    def build(self) -> Path:
        return self.root / "build"

    @property
    def record(self) -> Path:
        return self.root / "demo.json"

    @property
    def dashboard_log(self) -> Path:
        return self.root / "dashboard.log"

    @property
    def secret_key(self) -> Path:
        return self.root / "dashboard.key"

    def env(self, user: str | None = None) -> dict[str, str]:
        """The environment of every command the demo runs: its registry and runtime only."""
        env = {**os.environ, "STRATFORGE_DB_URL": self.db_url,
               "STRATFORGE_RUNTIME_DIR": str(self.state),
               "STRATFORGE_DASHBOARD_SECRET_KEY_FILE": str(self.secret_key)}
        for key in ("STRATFORGE_TOKEN", "STRATFORGE_USER", "STRATFORGE_DASHBOARD_RUNTIME_URL"):
            env.pop(key, None)
        if user is not None:
            env["STRATFORGE_USER"] = user
        return env


@dataclass
class DemoResult:
    url: str
    user: str
    password: str
    live: str | None = None
    shadow: str | None = None
    feed: str | None = None
    notes: list[str] = field(default_factory=list)
    #: what the feed is: real market data (which file) or the synthetic session, and why
    feed_kind: str | None = None


Say = Callable[[str], None]


class Steps:
    """Numbered progress lines with the time each step took."""

    def __init__(self, total: int, say: Say) -> None:
        self.total, self.say, self.n = total, say, 0

    def start(self, what: str) -> float:
        self.n += 1
        self.say(f"[{self.n}/{self.total}] {what}")
        return time.monotonic()

    def done(self, t0: float, detail: str = "") -> None:
        self.say(f"      done in {time.monotonic() - t0:.0f} s" + (f": {detail}" if detail else ""))


def _cli(paths: DemoPaths, *args: str, user: str | None = None, cwd: Path | None = None,
         say: Say | None = None, timeout: float = 3600) -> tuple[int, str]:
    """Run ``stratforge ARGS`` in the demo's environment; each output line goes to ``say``
    (indented) as it comes. Returns the exit status and the whole output."""
    proc = subprocess.Popen([sys.executable, "-m", "stratforge", *args], cwd=cwd,
                            env=paths.env(user), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            errors="replace")
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        if say is not None:
            say("      " + line.rstrip())
        if time.monotonic() > deadline:
            proc.kill()
            break
    proc.wait()
    return proc.returncode, "".join(lines)


# --- the workspace -----------------------------------------------------------------------------
def find_examples(specs: Path | None) -> list[Path]:
    """The example specs: ``specs`` (a folder) or ./specs of the current checkout."""
    folder = (specs or Path.cwd() / "specs").resolve()
    found = sorted(folder.glob("*.yaml")) if folder.is_dir() else []
    if not found:
        raise UserInputError(f"{folder}: no example specs (*.yaml) here; run the demo from a "
                             "stratforge checkout or give --specs FOLDER")
    return found


def make_workspace(paths: DemoPaths, examples: list[Path]) -> tuple[Repo, bool]:
    """The workspace repository with the examples committed; an existing one is kept as it is
    (the demo's own second version and anything the user changed stay). True when created."""
    for d in (paths.root, paths.state, paths.build):
        d.mkdir(parents=True, exist_ok=True)
    if (paths.repo / ".git").is_dir():
        return Repo(paths.repo), False
    if paths.repo.exists() and any(paths.repo.iterdir()):
        raise UserInputError(f"{paths.repo} exists and is not a git repository: give another "
                             "--workspace or remove it")
    repo = Repo.init(paths.repo, initial_branch="main")
    with repo.config_writer() as cfg:
        cfg.set_value("user", "name", COMMITTER.name)
        cfg.set_value("user", "email", COMMITTER.email)
    (paths.repo / "specs").mkdir(parents=True, exist_ok=True)
    for spec in examples:
        shutil.copy2(spec, paths.repo / "specs" / spec.name)
    (paths.repo / ".gitignore").write_text("strategies/*/build/\n")
    repo.index.add([".gitignore", *(f"specs/{s.name}" for s in examples)])
    repo.index.commit("The example specs", author=COMMITTER, committer=COMMITTER)
    return repo, True


def find_shared(examples: list[Path], shared: Path | None = None) -> Path | None:
    """The shared folder whose ``data/`` holds the real data sets: ``shared`` when given, else
    ``shared`` beside the checkout the examples come from (``<checkout>/../shared``, as
    ``shared:`` paths resolve, docs/data.md); None when it has no ``data/`` folder."""
    if shared is None:
        if not examples:
            return None
        shared = examples[0].resolve().parent.parent.parent / "shared"
    return shared.resolve() if (shared / "data").is_dir() else None


def _shared_paths(spec_file: Path) -> list[str]:
    spec = load_spec(spec_file, check_filename=False).spec
    data = spec.backtest.data
    if data.kind != "file":
        return []
    raw = getattr(data, "path", None) or []
    return [r for r in ([raw] if isinstance(raw, str) else list(raw))
            if r.startswith(SHARED_PREFIX)]


def real_variants(shared: Path | None, folder: Path = DEMO_SPECS) -> list[Path]:
    """The demo's real-data specs whose ``shared:`` files are all present under ``shared``."""
    if shared is None or not folder.is_dir():
        return []
    out = []
    for spec in sorted(folder.glob("*.yaml")):
        wanted = _shared_paths(spec)
        if wanted and all((shared / "data" / r[len(SHARED_PREFIX):].lstrip("/")).is_file()
                          for r in wanted):
            out.append(spec)
    return out


def link_shared(paths: DemoPaths, repo: Repo, shared: Path | None,
                variants: list[Path]) -> list[str]:
    """Make ``shared:`` paths resolve from the workspace repository (``<workspace>/shared``, a
    link to ``shared``: nothing is copied) and commit the real-data variants into its specs
    (once). Returns the names of the real-data specs the workspace builds."""
    link = paths.root / "shared"
    if shared is None:
        return []
    if link.is_symlink() and link.resolve() != shared:
        link.unlink()
    if not link.exists() and not link.is_symlink():
        link.symlink_to(shared, target_is_directory=True)
    elif link.resolve() != shared:
        raise UserInputError(f"{link} exists and is not a link to {shared}: remove it, or give "
                             "another --workspace")
    added = []
    for spec in variants:
        dest = paths.repo / "specs" / spec.name
        if not dest.is_file():
            shutil.copy2(spec, dest)
            added.append(f"specs/{spec.name}")
    if added:
        repo.index.add(added)
        repo.index.commit("Real-data variants of the examples (../shared/data is present)",
                          author=COMMITTER, committer=COMMITTER)
    return [spec.stem for spec in variants]


def buildable_specs(paths: DemoPaths, shared: Path | None) -> list[Path]:
    """The workspace's specs the demo builds: all of them, but those backtesting on ``shared:``
    data when the shared folder is absent (an earlier run with ../shared added them)."""
    specs = sorted((paths.repo / "specs").glob("*.yaml"))
    return specs if shared is not None else [s for s in specs if not _needs_shared(s)]


def _needs_shared(spec_file: Path) -> bool:
    """The spec backtests on ``shared:`` data (a spec that does not load is built, so that its
    build reports its errors)."""
    try:
        return bool(_shared_paths(spec_file))
    except StratforgeError:
        return False


def ensure_users(reg: Registry) -> str:
    """The demo users (created once); a fresh one-time password for the dashboard login."""
    known = {name for name, _role, _pw in reg.users()}
    if "demo-admin" not in known:
        reg.add_user("demo-admin", "admin", actor="demo-admin")
    for name, role in DEMO_USERS.items():
        if name not in known and name != "demo-admin":
            reg.add_user(name, role, actor="demo-admin")
    password = secrets.token_urlsafe(12)
    reg.set_password(LOGIN, password, actor="demo-admin", one_time=True)
    return password


# --- the verdicts ------------------------------------------------------------------------------
#: the gates that say why a PASS passes (docs/examples.md)
PERFORMANCE = ("min_sharpe", "max_drawdown_pct", "min_trades", "min_hit_ratio",
               "out_of_sample_sharpe")


def deciding_gates(card: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The gates that make the verdict what it is: the FAILed ones of a FAIL, the
    INCONCLUSIVE/ERROR ones of an INCONCLUSIVE, the performance gates of a PASS."""
    gates = card.get("gates", [])
    verdict = card.get("verdict")
    if verdict == "FAIL":
        return [g for g in gates if g["status"] == "FAIL"]
    if verdict == "INCONCLUSIVE":
        return [g for g in gates if g["status"] in ("INCONCLUSIVE", "ERROR")]
    return [g for g in gates if g["name"] in PERFORMANCE]


def verdict_lines(name: str, card: Mapping[str, Any] | None, status: str | None = None
                  ) -> list[str]:
    """One example's verdict and the gates that decide it, each with its reason and message;
    ``status`` (e.g. BUILD FAILED) when there is no scorecard."""
    if card is None:
        return [f"{name:<26} {status or 'NO SCORECARD'}"]
    lines = [f"{name:<26} {card['verdict']}",
             "    passes:" if card["verdict"] == "PASS" else "    decided by:"]
    for g in deciding_gates(card):
        text = f"{g['name']} {g['status']} ({g['reason']}): {g['message']}"
        lines += textwrap.wrap(text, width=100, initial_indent="      - ",
                               subsequent_indent="        ")
    return lines


# --- choosing what to deploy -------------------------------------------------------------------
def newest(reg: Registry) -> dict[str, VersionView]:
    out: dict[str, VersionView] = {}
    for v in reg.versions():
        if v.strategy not in out or v.number > out[v.strategy].number:
            out[v.strategy] = v
    return out


def _bundle_spec(v: VersionView) -> StrategySpec:
    return load_spec(Path(v.bundle) / "spec.yaml", check_filename=False).spec


def choose_candidate(versions: Mapping[str, VersionView],
                     spec_of: Callable[[VersionView], StrategySpec]) -> VersionView | None:
    """The version the demo deploys: a PASS one, preferring one that backtests on a data file
    (real market data) over a synthetic session, then by name (the choice is reproducible)."""
    passing = [v for v in versions.values() if v.verdict == "PASS"]
    if not passing:
        return None
    return sorted(passing, key=lambda v: (spec_of(v).backtest.data.kind != "file",
                                          v.strategy))[0]


def other_deployments(versions: list[VersionView], chosen: str) -> list[str]:
    """Versions of other strategies that an earlier run of the demo in this workspace deployed
    (shadow or live) — on other data, which this run's feed does not carry."""
    return sorted(f"{v.strategy} v{v.number} ({v.stage})" for v in versions
                  if v.strategy != chosen and v.stage in ("shadow", "live"))


_QTY = re.compile(r"^( {4,})(\w*(?:qty|size|lots)\w*):[ ]*(\d+)[ ]*(?:#.*)?$", re.MULTILINE)
_BLOCK_END = re.compile(r"^ {0,2}\S", re.MULTILINE)


_ORDER_QTY = re.compile(r"^(  )(order_qty):[ ]*(\d+)[ ]*(?:#.*)?$", re.MULTILINE)
_TOP_END = re.compile(r"^\S", re.MULTILINE)


def second_version_text(text: str) -> tuple[str, str] | None:
    """A quant's small change to a spec — its order size a tenth smaller (at least one lot;
    larger when it is 1) — as (new text, what changed); None when the spec has no integer
    order-size parameter.
    Only the first such key of ``strategy.params`` changes — or, for a custom strategy (its
    order size is ``strategy.order_qty``), that one; comments and layout stay."""
    m, where = None, "strategy.params"
    params = re.search(r"^  params:[ ]*$", text, re.MULTILINE)
    if params is not None:
        end = _BLOCK_END.search(text, params.end())
        m = _QTY.search(text, params.end(), end.start() if end else len(text))
    if m is None:
        strategy = re.search(r"^strategy:[ ]*$", text, re.MULTILINE)
        if strategy is None:
            return None
        end = _TOP_END.search(text, strategy.end())
        m = _ORDER_QTY.search(text, strategy.end(), end.start() if end else len(text))
        where = "strategy"
    if m is None:
        return None
    old = int(m.group(3))
    new = old - max(1, old // 10) if old > 1 else old + 1
    changed = text[:m.start(3)] + str(new) + text[m.end(3):]
    return changed.rstrip("\n") + f"\n{V2_MARK}\n", f"{where}.{m.group(2)}: {old} → {new}"


# --- waiting on the registry -------------------------------------------------------------------
def _version(reg: Registry, strategy: str, number: int) -> VersionView:
    return next(v for v in reg.versions(strategy) if v.number == number)


def wait_stage(reg: Registry, strategy: str, number: int, stage: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _version(reg, strategy, number).stage == stage:
            return
        time.sleep(0.5)
    v = _version(reg, strategy, number)
    raise DemoError(f"{strategy} v{number} did not reach {stage} within {timeout:g} s "
                    f"(stage {v.stage}, {v.phase})")


def wait_gate(reg: Registry, strategy: str, number: int, timeout: float, say: Say) -> None:
    """Until the shadow gate holds on the engine's metrics; its progress every few seconds. A
    criterion over its maximum now (a PnL deviation early in a run) may hold later: only the
    timeout ends the wait."""
    deadline, last = time.monotonic() + timeout, 0.0
    while True:
        gate = _version(reg, strategy, number).shadow_gate
        if gate.outcome.value == "Successful":
            return
        if time.monotonic() > deadline:
            raise GateNotHeld(f"the shadow gate of {strategy} v{number} did not hold within "
                            f"{timeout:g} s on the engine's metrics: {gate.message}")
        if time.monotonic() - last > 10:
            say("      shadow gate: " + (", ".join(
                f"{c.name} {c.observed if c.observed is not None else '–'}/{c.threshold}"
                for c in gate.criteria) or gate.message))
            last = time.monotonic()
        time.sleep(1.0)


# --- processes -------------------------------------------------------------------------------
def free_port(preferred: int) -> int:
    """``preferred`` when it is free on 127.0.0.1, else (and for 0) a free one."""
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", preferred))
        except OSError:
            s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_dashboard(paths: DemoPaths, port: int, timeout: float = 30) -> int:
    with open(paths.dashboard_log, "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "stratforge", "dashboard", "--host",
                                 "127.0.0.1", "--port", str(port)], env=paths.env(),
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise DemoError(f"the dashboard exited with status {proc.returncode}; see "
                            f"{paths.dashboard_log}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.3).close()
            return proc.pid
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise DemoError(f"the dashboard did not listen on port {port} within {timeout:g} s; see "
                    f"{paths.dashboard_log}")


def _processes(paths: DemoPaths) -> Iterator[tuple[str, int | None, str]]:
    """(what, pid, the name its command line must carry) of everything the demo starts."""
    record = _read_record(paths)
    rt = RuntimePaths(paths.state)
    yield "dashboard", record.get("dashboard_pid"), "stratforge"
    yield "control plane", read_pid(rt.control_pid), "stratforge"
    yield "sf-engine", read_pid(rt.engine_pid), "sf-engine"
    yield "sf-venue", read_pid(rt.venue_pid), "sf-venue"


def _read_record(paths: DemoPaths) -> dict[str, Any]:
    try:
        return json.loads(paths.record.read_text())
    except (OSError, ValueError):
        return {}


def running(paths: DemoPaths) -> list[tuple[str, int]]:
    return [(what, pid) for what, pid, name in _processes(paths)
            if pid is not None and pid_alive(pid, name)]


def down(paths: DemoPaths, say: Say) -> None:
    """Stop the dashboard and the runtime of the demo in ``paths``; fail if any is left."""
    record = _read_record(paths)
    pid = record.get("dashboard_pid")
    say(f"dashboard: {stop_pid(pid, 'stratforge', None, 5.0) if pid else 'not running'}")
    if paths.state.is_dir():
        code, out = _cli(paths, "runtime", "down", "--state", str(paths.state), timeout=120)
        say(out.strip() or f"runtime down: exit {code}")
    left = running(paths)
    if left:
        raise DemoError("still running after --down: " + ", ".join(f"{w} (pid {p})"
                                                                  for w, p in left))
    paths.record.unlink(missing_ok=True)


def check(paths: DemoPaths) -> list[str]:
    """What a running demo shows, checked through its public surfaces: the dashboard answers
    its login page, its REST API (an API token of ``demo``, revoked after) lists a live and a
    shadow deployment with the runtime reachable, and sf-engine runs both instances on the feed.
    Returns what it saw; raises :class:`DemoError` naming the first thing that is not so."""
    url = _read_record(paths).get("url")
    if not url or not running(paths):
        raise DemoError(f"no demo is running in {paths.root}: run `stratforge demo` first")
    seen: list[str] = []
    try:
        with urllib.request.urlopen(url + "login", timeout=10) as resp:
            seen.append(f"dashboard {url}login: HTTP {resp.status}")
    except (urllib.error.URLError, OSError) as err:
        raise DemoError(f"the dashboard at {url} does not answer: {err}") from None
    reg = Registry.open(paths.db_url)
    try:
        token_id, secret = reg.create_token(LOGIN, "demo-check", actor=LOGIN)
        try:
            req = urllib.request.Request(url + "api/v1/deployments",
                                         headers={"Authorization": f"Bearer {secret}"})
            with urllib.request.urlopen(req, timeout=10) as resp:
                body = json.loads(resp.read())
        finally:
            reg.revoke_token(token_id, actor=LOGIN)
    except (urllib.error.URLError, OSError, ValueError) as err:
        raise DemoError(f"the dashboard's API did not answer /api/v1/deployments: {err}") \
            from None
    finally:
        reg.engine.dispose()
    if not body.get("runtime_reachable"):
        raise DemoError(f"the dashboard cannot reach the runtime: {body.get('runtime_error')}")
    live = [d for d in body["strategies"] if d.get("live")]
    shadow = [d for d in body["strategies"] if d.get("shadow")]
    record = _read_record(paths)
    want_live = 1 if record.get("live") else 0
    if len(live) != want_live or not shadow:
        raise DemoError(f"the dashboard shows {len(live)} live and {len(shadow)} shadow "
                        f"deployments; the demo made {want_live} live and "
                        f"{len(record.get('shadow') or [])} shadow")
    for d in live:
        seen.append(f"dashboard: {d['strategy']} v{d['live']['version']} live")
    for d in shadow:
        seen.extend(f"dashboard: {d['strategy']} v{v['version']} shadow" for v in d["shadow"])
    # the control plane's /status as the dashboard relays it: the engine's metrics per instance
    instances = ((body.get("runtime") or {}).get("metrics") or {}).get("instances") or []
    roles = {i.get("role") for i in instances if i.get("events", 0) > 0}
    if not ({"live", "shadow"} if want_live else {"shadow"}) <= roles:
        raise DemoError(f"sf-engine does not run a live and a shadow instance on the feed: "
                        f"{instances}")
    if record.get("feed"):
        seen.append(f"feed: {record['feed']}")
    seen.append("sf-engine: " + ", ".join(f"{i['role']} {i.get('build_id', '')[:12]} "
                                          f"{i.get('events', 0)} events" for i in instances))
    return seen


# --- the demo ----------------------------------------------------------------------------------
def replay_speed(spec: StrategySpec, scorecard: Mapping[str, Any], wall_s: float = 60.0) -> float:
    """A replay pace at which the spec's shadow gate can hold in about ``wall_s`` of wall time:
    its minimum duration passes, and — at the fill rate the backtest saw on the same data — the
    fills it needs (its minimum, and the fills a PnL-per-fill comparison needs,
    ``registry.phase.MIN_DEVIATION_FILLS``) are expected half as soon again. Never slower than
    60x (an hour a minute)."""
    shadow = spec.gates.shadow
    need_s = float(shadow.min_duration_s)
    period = scorecard.get("run", {}).get("period") or {}
    span_s = (period.get("end_ns", 0) - period.get("start_ns", 0)) / 1e9
    fills = scorecard.get("metrics", {}).get("fills") or 0
    if fills > 0 and span_s > 0:
        need_fills = max(shadow.min_fills, MIN_DEVIATION_FILLS)
        need_s = max(need_s, 1.5 * need_fills * span_s / fills)
    return max(60.0, need_s / wall_s)


def up(paths: DemoPaths, *, examples: list[Path], port: int, speed: float | None,
       gate_timeout: float,
       jobs: int, say: Say, llm: str | None = None, shared: Path | None = None) -> DemoResult:
    """Everything from the workspace to the dashboard (the module docstring's steps); ``llm``:
    the LLM provider of the builds (None: the specs' own choice — recorded exchanges);
    ``shared``: the shared folder with real data sets (None: ``../shared`` beside the checkout
    when it has ``data/``)."""
    shared = find_shared(examples, shared)
    steps = Steps(8, say)
    if running(paths):
        say("a demo is running in this workspace: stopping it first")
        down(paths, say)

    t0 = steps.start(f"workspace {paths.root}")
    repo, created = make_workspace(paths, examples)
    real = link_shared(paths, repo, shared, real_variants(shared))
    reg = Registry.open(paths.db_url)
    try:
        password = ensure_users(reg)
        steps.done(t0, ("created: a git repository with " if created else "kept: ")
                   + f"{len(list((paths.repo / 'specs').glob('*.yaml')))} specs, users "
                   + ", ".join(DEMO_USERS))
        if real:
            say(f"      real market data: {shared / 'data'} (linked as "
                f"{paths.root / 'shared'}); on it: {', '.join(real)}")
        else:
            say("      real market data: none — no shared/data folder beside the checkout "
                "(../shared/data): the strategies run on their specs' synthetic sessions")

        t0 = steps.start("stratforge ci run --publish local: every spec built, tested, "
                         "backtested and scored; a version and a review request each")
        _ci_run(paths, buildable_specs(paths, shared), jobs, say, llm)
        built = newest(reg)
        steps.done(t0, ", ".join(f"{s} {v.verdict}" for s, v in sorted(built.items())))
        for s, v in sorted(built.items()):  # why each verdict is what it is (docs/examples.md)
            for line in verdict_lines(s, reg.scorecard(s, v.number)):
                say("      " + line)

        t0 = steps.start("a second version of one passing strategy (its order size a tenth smaller)")
        buildable = {s.stem for s in buildable_specs(paths, shared)}
        v1 = choose_candidate({k: v for k, v in newest(reg).items() if k in buildable},
                              _bundle_spec)
        if v1 is None:
            raise DemoError("no example passed its gates, so there is nothing to deploy: see "
                            "the scorecards under " + str(paths.repo / "strategies"))
        earlier = other_deployments(reg.versions(), v1.strategy)
        if earlier:  # the registry would keep asking the runtime for them, on a feed without them
            raise DemoError(f"this workspace deployed {', '.join(earlier)} in an earlier run, on "
                            f"other data; this run deploys {v1.strategy} (the data it found "
                            f"changed): give another --workspace, or remove {paths.root}")
        v1, v2, what = _second_version(paths, repo, reg, v1, jobs, say)
        steps.done(t0, f"{v1.strategy} v{v2.number}: {what}" if v2 else what)

        speed = speed or replay_speed(_bundle_spec(v1), reg.scorecard(v1.strategy, v1.number))
        t0 = steps.start("stratforge runtime up: sf-venue, sf-engine and the control plane on "
                         f"{v1.strategy}'s backtest data, looped at {speed:g}x")
        feed, feed_kind = _feed(paths, v1)
        if not real:
            feed_kind += " (no ../shared/data beside the checkout: no real data to replay)"
        elif v1.strategy not in real:
            feed_kind += (f" (the real-data specs {', '.join(real)} did not pass: "
                          + ", ".join(f"{s} {newest(reg)[s].verdict}" for s in real
                                      if s in newest(reg)) + ")")
        say(f"      feed: {feed_kind}")
        code, out = _cli(paths, "runtime", "up", "--data", str(feed), "--loop", "--speed",
                         f"{speed:g}", "--metrics-interval", "1", "--build-dir",
                         str(paths.build), "--state", str(paths.state), timeout=180)
        if code != 0:
            raise DemoError(f"stratforge runtime up failed (exit {code}):\n{out}")
        steps.done(t0, out.strip().splitlines()[0])

        t0 = steps.start(f"{v1.strategy} v{v1.number} → shadow (by {LOGIN}); its shadow gate "
                         f"on the engine's metrics; approval by {REVIEWER}; → live")
        live: str | None = f"{v1.strategy} v{v1.number}"
        notes: list[str] = []
        try:
            _to_live(reg, v1, gate_timeout, say)
            steps.done(t0, f"{live} live")
        except GateNotHeld as err:  # the strategy's result: it stays in shadow, nothing goes live
            live = None
            notes.append(str(err))
            steps.done(t0, f"stays in shadow: {err}")

        t0 = steps.start("the second version → shadow, next to live on the same feed")
        if v2 is not None:
            if _version(reg, v2.strategy, v2.number).stage not in ("shadow", "live"):
                reg.promote(v2.strategy, v2.number, "shadow", LOGIN,
                            reason="demo: the changed version next to live")
            wait_stage(reg, v2.strategy, v2.number, "shadow", 60)
            steps.done(t0, f"{v2.strategy} v{v2.number} shadow")
        else:
            steps.done(t0, "skipped: " + what)

        t0 = steps.start("stratforge dashboard")
        chosen = free_port(port)
        pid = start_dashboard(paths, chosen)
        url = f"http://127.0.0.1:{chosen}/"
        shadows = [f"{v.strategy} v{v.number}" for v in reg.versions(v1.strategy)
                   if v.stage == "shadow"]
        paths.record.write_text(json.dumps({"dashboard_pid": pid, "url": url, "live": live,
                                            "shadow": shadows, "feed": feed_kind,
                                            "real_data": v1.strategy in real}, indent=2))
        steps.done(t0, url + ("" if chosen == port or port == 0 else f" (port {port} was taken)"))

        t0 = steps.start("the audit log")
        problems, count, _head = reg.verify_audit()
        if problems:
            raise DemoError(f"the audit log does not verify: {problems[0]}")
        steps.done(t0, f"{count} records, hash chain intact")
        return DemoResult(url=url, user=LOGIN, password=password,
                          live=live, notes=notes,
                          shadow=", ".join(shadows) or None, feed=str(feed),
                          feed_kind=feed_kind)
    finally:
        reg.engine.dispose()


def _ci_run(paths: DemoPaths, specs: list[Path], jobs: int, say: Say,
            llm: str | None = None) -> None:
    args = ["ci", "run", "--publish", "local", "--jobs", str(jobs), "--build-dir",
            str(paths.build), *(("--provider", llm) if llm else ())]
    for s in specs:
        args += ["--specs", str(s.relative_to(paths.repo))]
    code, out = _cli(paths, *args, user=AUTHOR, cwd=paths.repo, say=say)
    if code not in (0, 1):  # 1: a spec did not pass — a result, not a demo failure
        raise DemoError(f"stratforge ci run failed (exit {code}); the builds' logs are in "
                        f"{paths.build / 'ci'}")


def _second_version(paths: DemoPaths, repo: Repo, reg: Registry, v1: VersionView, jobs: int,
                    say: Say) -> tuple[VersionView, VersionView | None, str]:
    """(version 1, version 2 or None, what changed): v1 is the first version of the chosen
    strategy; v2 its demo change, committed and built like any change (once)."""
    versions = sorted(reg.versions(v1.strategy), key=lambda v: v.number)
    first = versions[0]
    spec_path = paths.repo / "specs" / f"{v1.strategy}.yaml"
    if not spec_path.is_file():
        return first, None, f"{spec_path} is not in the workspace"
    text = spec_path.read_text()
    if V2_MARK not in text:
        change = second_version_text(text)
        if change is None:
            return first, None, f"{v1.strategy} has no integer order-size parameter to change"
        text, what = change
        spec_path.write_text(text)
        repo.index.add([str(spec_path.relative_to(paths.repo))])
        repo.index.commit(f"{v1.strategy}: {what}", author=COMMITTER, committer=COMMITTER)
    else:
        what = "already committed by an earlier run"
    _ci_run(paths, [spec_path], jobs, say)
    versions = sorted(reg.versions(v1.strategy), key=lambda v: v.number)
    v2 = versions[-1] if len(versions) > 1 else None
    if v2 is None or v2.verdict != "PASS":
        return first, None, (f"{v1.strategy}'s changed version did not pass its gates "
                             f"({v2.verdict if v2 else 'not built'}): only version 1 is deployed")
    return first, v2, what


def _feed(paths: DemoPaths, v: VersionView) -> tuple[Path, str]:
    """The event file the version's backtest replayed (prepared from its spec, cached), and
    what it is: real market data (its source files) or the spec's synthetic session."""
    spec = _bundle_spec(v)
    data = prepare_data(spec, repo_root=paths.repo, cache_dir=paths.build / "data")
    return data.path, describe_feed(spec, data.profile, data.events, data.start_ns, data.end_ns)


def describe_feed(spec: StrategySpec, profile: str, events: int, start_ns: int,
                  end_ns: int) -> str:
    """One line saying what the runtime replays."""
    span = "{} to {}".format(*(time.strftime("%Y-%m-%d", time.gmtime(t / 1e9))
                               for t in (start_ns, max(start_ns, end_ns - 1))))
    what = f"{events} {'bars' if profile == 'bars' else 'events'} of " + \
        ", ".join(i.symbol for i in spec.strategy.instruments) + f", {span}"
    data = spec.backtest.data
    if data.kind == "file":
        raw = getattr(data, "path", None) or []
        files = ", ".join([raw] if isinstance(raw, str) else list(raw))
        return f"REAL market data: {files} ({what}), as {spec.metadata.name}'s backtest"
    return f"synthetic session of {spec.metadata.name}'s spec ({what}, seed {data.seed})"


def _to_live(reg: Registry, v: VersionView, gate_timeout: float, say: Say) -> None:
    stage = _version(reg, v.strategy, v.number).stage
    if stage == "live":
        say(f"      {v.strategy} v{v.number} is live already")
        return
    if stage != "shadow":
        reg.promote(v.strategy, v.number, "shadow", LOGIN, reason="demo: first shadow run")
    wait_stage(reg, v.strategy, v.number, "shadow", 60)
    wait_gate(reg, v.strategy, v.number, gate_timeout, say)
    if REVIEWER not in _version(reg, v.strategy, v.number).approvals:
        reg.approve(v.strategy, v.number, REVIEWER, v.build_id,
                    reason="demo: read the scorecard and the code")
    reg.promote(v.strategy, v.number, "live", LOGIN, reason="demo: the shadow gate held")
    wait_stage(reg, v.strategy, v.number, "live", 60)


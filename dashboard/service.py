"""The dashboard's service layer: everything the pages and the REST API show or do, with no HTTP
in it (the routers translate). It reads the registry (:class:`~stratforge.registry.Registry`)
and the bundles the registry points at (``scorecard.json``, ``spec.yaml``, generated code,
recorded LLM exchanges), and talks to the control plane over HTTP for live metrics and the kill
switch (:class:`RuntimeClient`; the dashboard never imports the runtime).

Every action goes through the registry exactly like the CLI's: the registry checks the rules
(role, author-approves-own, gates, lock) and writes the audit record; a refusal surfaces here as
:class:`~stratforge.registry.Refused` with its reason.
"""

from __future__ import annotations

import difflib
import json
import math
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, TypeVar

import requests
import yaml
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import CppLexer, PythonLexer, YamlLexer

from stratforge.core.errors import UserInputError
from stratforge.registry import NotFound, Refused, Registry, VersionView

#: the generated files shown on a version's page (bundle-relative path, lexer)
CODE_FILES = (("cpp/strategy.cpp", CppLexer), ("python/strategy.py", PythonLexer),
              ("cpp/test_strategy.cpp", CppLexer), ("tests/test_strategy.py", PythonLexer))
#: the files compared against the live version
DIFF_FILES = ("spec.yaml", "cpp/strategy.cpp", "python/strategy.py")
MAX_FILE_BYTES = 2_000_000
#: who may use the runtime's kill switch and release (the registry's rollback permission)
RUNTIME_PERMISSION = "rollback"
FORMATTER = HtmlFormatter(cssclass="highlight", linenos=False)
#: the control plane's state file in its state folder (runtime/control/state.py)
CONTROL_FILE = "control.json"
#: the bearer token of the control plane's POST /kill and /release (runtime/control/metrics.py)
CONTROL_TOKEN_FILE = "control.token"
T = TypeVar("T")


class RuntimeUnreachable(Exception):
    """The control plane did not answer (not configured, down, or an error)."""


@dataclass(frozen=True)
class StrategyRow:
    name: str
    owner: str | None
    type: str | None
    live: int | None
    shadow: tuple[int, ...]
    latest: int
    latest_verdict: str
    versions: int
    last_change: datetime


@dataclass(frozen=True)
class CodeFile:
    path: str
    html: str
    lines: int


@dataclass(frozen=True)
class VersionDetail:
    view: VersionView
    scorecard: dict[str, Any]
    spec_text: str | None
    spec_html: str | None
    signals: dict[str, str]
    code: tuple[CodeFile, ...]
    live: int | None
    diff: tuple[tuple[str, str], ...]  # (path, unified diff) against the live version
    llm_exchanges: tuple[dict[str, Any], ...]
    provenance: dict[str, Any]
    logic: str | None
    bundle_missing: bool
    operations: tuple[Any, ...] = field(default=())


@dataclass(frozen=True)
class ActionResult:
    message: str
    runtime_reachable: bool = True


class RuntimeClient:
    """The control plane's HTTP endpoint: ``GET /status`` (JSON), ``POST /kill`` and
    ``POST /release`` (JSON body ``{"strategy": name or null, "reason", "actor"}``).

    Where it is: ``url`` when given, else ``http://127.0.0.1:<http_port>`` with the port the
    control plane records in ``<state_dir>/control.json`` (read at each call: the control plane
    may restart on another port)."""

    def __init__(self, url: str | None, timeout_s: float = 0.5,
                 state_dir: Path | None = None) -> None:
        self.configured_url = url.rstrip("/") if url else None
        self.state_dir = state_dir
        self.timeout_s = timeout_s

    @property
    def url(self) -> str | None:
        """The endpoint now (None: none configured and no control plane state found)."""
        if self.configured_url or self.state_dir is None:
            return self.configured_url
        try:
            port = json.loads((self.state_dir / CONTROL_FILE).read_text()).get("http_port")
        except (OSError, ValueError, AttributeError):
            return None
        return f"http://127.0.0.1:{port}" if isinstance(port, int) and port > 0 else None

    def _auth(self) -> dict[str, str]:
        """The control plane's action token (``<state_dir>/control.token``, readable only by the
        user it runs as) — ``/kill`` and ``/release`` refuse a request without it."""
        if self.state_dir is None:
            return {}
        try:
            token = (self.state_dir / CONTROL_TOKEN_FILE).read_text(encoding="utf-8").strip()
        except OSError:
            return {}
        return {"Authorization": f"Bearer {token}"} if token else {}

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        url = self.url
        if url is None:
            where = f" and no control plane state in {self.state_dir}" if self.state_dir else ""
            raise RuntimeUnreachable("no control plane is configured "
                                     f"(STRATFORGE_DASHBOARD_RUNTIME_URL){where}")
        try:
            resp = requests.request(method, url + path, json=body, timeout=self.timeout_s,
                                    headers=self._auth())
            resp.raise_for_status()
            return resp.json()
        except (requests.RequestException, ValueError) as err:
            raise RuntimeUnreachable(f"the control plane at {url} did not answer "
                                     f"{method} {path}: {err}") from None

    def status(self) -> dict[str, Any]:
        out = self._call("GET", "/status")
        if not isinstance(out, dict):
            raise RuntimeUnreachable("the control plane answered /status with something that "
                                     "is not a JSON object")
        return out

    def request(self, what: str, strategy: str | None, reason: str, actor: str) -> Any:
        return self._call("POST", f"/{what}", {"strategy": strategy, "reason": reason,
                                               "actor": actor})


def _finite(value: Any) -> Any:
    """``value`` with every non-finite float as None (JSON has no NaN; pages and API clients
    parse what the dashboard sends)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _read(path: Path) -> str | None:
    try:
        if path.is_file() and path.stat().st_size <= MAX_FILE_BYTES:
            return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return None


class DashboardService:
    def __init__(self, registry: Registry, runtime: RuntimeClient,
                 bundle_roots: tuple[Path, ...] = ()) -> None:
        self.registry = registry
        self.runtime = runtime
        self.bundle_roots = tuple(p.resolve() for p in bundle_roots)
        self._cache: dict[str, tuple[tuple[int, str], Any]] = {}
        self._cache_lock = threading.Lock()

    def _cached(self, key: str, compute: Callable[[], T]) -> T:
        """``compute()``, reused while the registry's audit head is unchanged: every change of
        the registry appends an audit record in the same transaction, so an unchanged head
        means unchanged registry state (bundles are immutable per build id)."""
        head = self.registry.audit_head()
        with self._cache_lock:
            hit = self._cache.get(key)
            if hit is not None and hit[0] == head:
                return hit[1]
        value = compute()
        with self._cache_lock:
            self._cache[key] = (head, value)
        return value

    # --- bundles --------------------------------------------------------------------------------
    def _bundle(self, v: VersionView) -> Path | None:
        """The version's bundle folder, if it exists (and lies under a configured root)."""
        path = Path(v.bundle).resolve()
        if self.bundle_roots and not any(path.is_relative_to(r) for r in self.bundle_roots):
            return None
        return path if path.is_dir() else None

    def _spec(self, v: VersionView) -> dict[str, Any]:
        b = self._bundle(v)
        text = _read(b / "spec.yaml") if b else None
        try:
            spec = yaml.safe_load(text) if text else None
        except yaml.YAMLError:
            spec = None
        return spec if isinstance(spec, dict) else {}

    # --- reading --------------------------------------------------------------------------------
    def user_role(self, name: str) -> str | None:
        """The active user's role (None: unknown or removed), from the cached user list: adding,
        removing a user and changing a role are audited, so the cache follows them at once."""
        roles = self._cached("roles", lambda: {n: r for n, r, active in self.registry.users()
                                               if active})
        return roles.get(name)

    def versions(self, strategy: str | None = None) -> list[VersionView]:
        return self.registry.versions(strategy)

    def strategies(self) -> list[StrategyRow]:
        """The strategy list (cached until the registry changes: the list is the page people
        keep open)."""
        return list(self._cached("strategies", self._strategies))

    def open_reviews(self) -> int:
        return self._cached("open_reviews", lambda: len(self.review_requests("open")))

    def _strategies(self) -> tuple[StrategyRow, ...]:
        by: dict[str, list[VersionView]] = {}
        for v in self.registry.versions():
            by.setdefault(v.strategy, []).append(v)
        rows = []
        for name, vs in sorted(by.items()):
            latest = max(vs, key=lambda v: v.number)
            spec = self._spec(latest)
            meta = spec.get("metadata") if isinstance(spec.get("metadata"), dict) else {}
            strat = spec.get("strategy") if isinstance(spec.get("strategy"), dict) else {}
            rows.append(StrategyRow(
                name=name, owner=meta.get("owner") or latest.author, type=strat.get("type"),
                live=next((v.number for v in vs if v.stage == "live"), None),
                shadow=tuple(v.number for v in vs if v.stage == "shadow"
                             or v.desired == "shadow"),
                latest=latest.number, latest_verdict=latest.verdict, versions=len(vs),
                last_change=max(v.created_at for v in vs)))
        return tuple(rows)

    def version_view(self, strategy: str, number: int) -> VersionView:
        for v in self.registry.versions(strategy):
            if v.number == number:
                return v
        raise NotFound(f"{strategy} has no version {number}")

    def scorecard(self, strategy: str, number: int) -> dict[str, Any]:
        v = self.version_view(strategy, number)
        b = self._bundle(v)
        text = _read(b / "scorecard.json") if b else None
        if text:
            try:
                return _finite(json.loads(text))
            except json.JSONDecodeError:
                pass
        return _finite(self.registry.scorecard(strategy, number))

    def version(self, strategy: str, number: int) -> VersionDetail:
        v = self.version_view(strategy, number)
        b = self._bundle(v)
        card = self.scorecard(strategy, number)
        spec_text = _read(b / "spec.yaml") if b else None
        spec = self._spec(v)
        strat = spec.get("strategy") if isinstance(spec.get("strategy"), dict) else {}
        signals = strat.get("signals")  # spec strategy.signals: name -> expression
        logic = strat.get("logic")  # free text for the LLM (untrusted; shown escaped)
        code = []
        for rel, lexer in CODE_FILES:
            text = _read(b / rel) if b else None
            if text is not None:
                code.append(CodeFile(rel, highlight(text, lexer(), FORMATTER), text.count("\n")))
        live = next((x for x in self.registry.versions(strategy) if x.stage == "live"), None)
        diff: list[tuple[str, str]] = []
        lb = self._bundle(live) if live is not None and live.number != number else None
        if lb is not None and b is not None:
            for rel in DIFF_FILES:
                old, new = _read(lb / rel) or "", _read(b / rel) or ""
                text = "".join(difflib.unified_diff(
                    old.splitlines(keepends=True), new.splitlines(keepends=True),
                    fromfile=f"v{live.number}/{rel}", tofile=f"v{number}/{rel}"))
                diff.append((rel, text))
        exchanges = []
        if b is not None and (b / "llm").is_dir():
            for p in sorted((b / "llm").glob("*.json")):
                try:
                    exchanges.append({"file": p.name, **json.loads(_read(p) or "{}")})
                except (json.JSONDecodeError, TypeError):
                    exchanges.append({"file": p.name, "error": "not valid JSON"})
        return VersionDetail(
            view=v, scorecard=card, spec_text=spec_text,
            spec_html=highlight(spec_text, YamlLexer(), FORMATTER) if spec_text else None,
            signals={str(k): str(x) for k, x in (signals or {}).items()}
            if isinstance(signals, dict) else {},
            code=tuple(code), live=live.number if live is not None else None,
            diff=tuple(diff), llm_exchanges=tuple(exchanges),
            provenance=card.get("provenance") or {}, logic=logic if isinstance(logic, str) else None,
            bundle_missing=b is None,
            operations=tuple(op for op in self.registry.operations(strategy)
                             if op.version == number))

    def review_requests(self, status: str | None = None) -> list[Any]:
        return self.registry.review_requests(status=status)

    def runtime_status(self) -> tuple[dict[str, Any] | None, str | None]:
        """The control plane's /status, or (None, why it is not reachable)."""
        try:
            return self.runtime.status(), None
        except RuntimeUnreachable as err:
            return None, str(err)

    def deployments(self) -> list[dict[str, Any]]:
        """Per strategy: its live version and its shadow versions with the shadow gate, the
        operations in progress and the backtest reference of each (cached until the registry
        changes: the deployments stream asks every second)."""
        return list(self._cached("deployments", self._deployments))

    def _deployments(self) -> tuple[dict[str, Any], ...]:
        out: dict[str, dict[str, Any]] = {}
        for v in self.registry.versions():
            row = out.setdefault(v.strategy, {"strategy": v.strategy, "live": None,
                                              "shadow": [], "in_progress": []})
            if v.stage == "live" or v.observed == "live":
                row["live"] = v
            if v.stage == "shadow" or v.desired == "shadow" or v.observed == "shadow":
                row["shadow"].append(v)
        for op in self.registry.operations():
            if op.status == "in_progress" and op.strategy in out:
                out[op.strategy]["in_progress"].append(op)
        for row in out.values():
            row["reference"] = {v.build_id: self.backtest_reference(v.strategy, v.number)
                                for v in ([row["live"]] if row["live"] else []) + row["shadow"]}
        return tuple(out[k] for k in sorted(out))

    def backtest_reference(self, strategy: str, number: int) -> dict[str, Any]:
        """What the backtest measured, in the terms the runtime reports (the drift table's
        backtest column): fill ratio, callback and tick-to-order p99, net PnL, fills."""
        card = self.registry.scorecard(strategy, number)
        m = card.get("metrics") or {}
        full = m.get("full") or {}
        ratio = m.get("fill_ratio")
        return {"fill_ratio": ratio.get("value") if isinstance(ratio, dict) else None,
                "callback_p99_ns": (card.get("callback_latency") or {}).get("p99_ns"),
                "t2o_p99_ns": (card.get("tick_to_order_latency") or {}).get("p99_ns"),
                "pnl": full.get("pnl_net"), "fills": m.get("fills"),
                "drawdown_pct": (full.get("max_drawdown") or {}).get("pct_of_capital")}

    def audit(self, strategy: str | None = None, actor: str | None = None,
              action: str | None = None, limit: int = 500) -> dict[str, Any]:
        records = self.registry.audit_records(strategy or None)
        if actor:
            records = [r for r in records if r["actor"] == actor]
        if action:
            records = [r for r in records if r["action"].startswith(action)]
        problems, seq, head = self.registry.verify_audit()
        return {"records": list(reversed(records))[:limit], "total": len(records),
                "intact": not problems, "head_seq": seq, "head": head,
                "problems": [{"seq": p.seq, "message": p.message} for p in problems]}

    # --- actions (each through the registry: rules checked, audited there) -----------------
    @staticmethod
    def _reason(reason: str | None) -> str:
        reason = (reason or "").strip()
        if not reason:
            raise UserInputError("a reason is required (it is recorded in the audit log)")
        if len(reason) > 500:
            raise UserInputError("the reason is longer than 500 characters")
        return reason

    def promote(self, actor: str, strategy: str, number: int, to: str,
                reason: str | None) -> ActionResult:
        op = self.registry.promote(strategy, number, to, actor, reason=self._reason(reason))
        return ActionResult(_op_message(op))

    def approve(self, actor: str, strategy: str, number: int, build_id: str | None,
                reason: str | None) -> ActionResult:
        bound = self.registry.approve(strategy, number, actor, build_id,
                                      reason=self._reason(reason))
        return ActionResult(f"{strategy} version {number} approved (build {bound[:16]})")

    def rollback(self, actor: str, strategy: str, reason: str | None) -> ActionResult:
        op = self.registry.rollback(strategy, actor, self._reason(reason))
        return ActionResult(_op_message(op))

    def runtime_action(self, actor: str, what: str, strategy: str | None,
                       reason: str | None) -> ActionResult:
        """The kill switch (``what`` kill) or its release, for one strategy or (None) all: the
        request is audited in the registry (role checked there), then sent to the control
        plane; when it does not answer the result says so."""
        if what not in ("kill", "release"):
            raise UserInputError(f"unknown runtime action {what!r} (kill or release)")
        reason = self._reason(reason)
        if strategy is not None:
            self.registry.versions(strategy)  # NotFound for an unknown strategy
        self.registry.record_request(actor, what, RUNTIME_PERMISSION, strategy=strategy,
                                     reason=reason,
                                     detail={"scope": strategy or "global",
                                             "runtime": self.runtime.url})
        subject = strategy or "every strategy"
        try:
            self.runtime.request(what, strategy, reason, actor)
        except RuntimeUnreachable as err:
            return ActionResult(f"{what} of {subject} recorded in the audit log, but the runtime "
                                f"is not reachable: {err}", runtime_reachable=False)
        return ActionResult(f"{what} of {subject} sent to the runtime")


def _op_message(op: Any) -> str:
    if op.status == "completed":
        return f"{op.strategy}: {op.kind} of version {op.version} completed (operation {op.id})"
    return (f"{op.strategy}: {op.kind} of version {op.version} requested (operation {op.id}); "
            "desired state recorded, the runtime's deployer carries it out")


__all__ = ["ActionResult", "DashboardService", "NotFound", "Refused", "RuntimeClient",
           "RuntimeUnreachable", "StrategyRow", "VersionDetail"]

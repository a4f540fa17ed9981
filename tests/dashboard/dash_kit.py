"""Test kit of the dashboard tests: a deployer standing in for the runtime's (issue 14), the
staff, versions registered with a scorecard of these tests' own, and form helpers."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Mapping

from stratforge.registry import Registry, ShadowGate, Target

#: this suite's own shadow gate and metrics that hold it (no example spec's numbers)
GATE = ShadowGate(min_duration_s=1_800, min_fills=7, max_pnl_deviation_pct=33.0,
                  max_fill_ratio_deviation_pct=12.0, max_drawdown_pct=6.0,
                  max_callback_p99_ns=8_500)
GOOD_SHADOW = {"duration_s": 4_000, "fills": 36, "drawdown_pct": 2.5, "pnl_deviation_pct": 9.0,
               "fill_ratio_deviation_pct": 4.0, "risk_breaches": 0, "callback_p99_ns": 3_300}
PASSWORDS = {"root": "root-pass-7f3c1a", "ann": "ann-pass-92bd0e", "bob": "bob-pass-1c8e4d",
             "cat": "cat-pass-5a0f77", "vic": "vic-pass-e61b29"}
ROLES = {"root": "admin", "ann": "author", "bob": "approver", "cat": "approver", "vic": "viewer"}


class FileDeployer:
    """Stands in for the runtime's deployer: keeps build id → slot per strategy in a JSON file
    (so a server process and the test see the same state); live swaps the previous live out."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _load(self) -> dict[str, dict[str, str]]:
        return json.loads(self.path.read_text()) if self.path.exists() else {}

    def observe(self, strategy: str) -> Mapping[str, str]:
        return {b: s for b, s in self._load().get(strategy, {}).items() if s != "retired"}

    def apply(self, target: Target, slot: str) -> None:
        state = self._load()
        slots = state.setdefault(target.strategy, {})
        if slot == "live":
            for build, current in slots.items():
                if current == "live" and build != target.build_id:
                    slots[build] = "retired"
        slots[target.build_id] = slot
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state))
        os.replace(tmp, self.path)


def staff(reg: Registry) -> None:
    reg.add_user("root", "admin", actor="root")
    for name, role in ROLES.items():
        if name != "root":
            reg.add_user(name, role, actor="root")
    for name, password in PASSWORDS.items():
        reg.set_password(name, password, actor=name)


def scorecard(verdict: str = "PASS") -> dict:
    """A scorecard document with the fields the pages read (this suite's own numbers)."""
    ts = [1_600_000_000_000_000_000 + i * 60_000_000_000 for i in range(40)]
    pnl = [float((i * 37) % 23 - 5 + i * 0.8) for i in range(40)]
    return {
        "schema_version": "stratforge.scorecard/v1", "strategy": "x", "verdict": verdict,
        "verdict_line": f"{verdict}: a scorecard written by the dashboard tests",
        "gates": [{"name": "min_trades", "kind": "performance", "comparator": ">=", "unit": "",
                   "status": "PASS", "reason": "OK", "message": "17 >= 3", "measured": 17,
                   "threshold": 3, "slice": "full"}],
        "metrics": {"in_sample": {"return_pct": 1.7, "sharpe": {"value": 0.9},
                                  "max_drawdown": {"pct_of_capital": 2.2},
                                  "hit_ratio": {"value": 0.55}},
                    "out_of_sample": {"return_pct": 0.6, "sharpe": {"value": 0.4},
                                      "max_drawdown": {"pct_of_capital": 1.1},
                                      "hit_ratio": {"value": 0.5}}},
        "provenance": {"build_id": "x", "spec_hash": "y", "seed": 3},
        "charts": {"ts_ns": ts, "pnl": pnl, "drawdown_pct": [-abs(p) / 100 for p in pnl],
                   "positions": {"QQZ": [float(i % 5) for i in range(40)]},
                   "out_of_sample_start_ns": ts[28],
                   "callback_buckets": [[1000, 4], [2000, 9], [4000, 3]],
                   "tick_to_order_buckets": []}}


def register(reg: Registry, strategy: str, build: str, author: str, bundle: Path,
             verdict: str = "PASS") -> int:
    return reg.register_build(strategy=strategy, spec_hash=f"spec-{build}", build_id=build,
                              bundle=str(bundle), scorecard=scorecard(verdict), verdict=verdict,
                              author=author, shadow_gate=GATE)


def login(client: Any, name: str, password: str | None = None) -> Any:
    """Log ``client`` (a TestClient) in through the login form."""
    page = client.get("/login")
    return client.post("/login", data={"username": name,
                                       "password": PASSWORDS[name] if password is None else password,
                                       "csrf_token": form_csrf(page.text), "next": "/"},
                       follow_redirects=False)


def form_csrf(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF token in the form"
    return m.group(1)

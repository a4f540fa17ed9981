"""Test kit of the registry tests: a recording deployer, a fake clock and factories."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Mapping

from stratforge.registry import Registry, ShadowGate, Target

#: a shadow gate of this test suite's own (not any example spec's numbers)
GATE = ShadowGate(min_duration_s=3_600, min_fills=40, max_pnl_deviation_pct=25.0,
                  max_fill_ratio_deviation_pct=10.0, max_drawdown_pct=4.0,
                  max_callback_p99_ns=9_000)
#: shadow metrics that hold GATE
GOOD_METRICS = {"duration_s": 7_200, "fills": 55, "drawdown_pct": 1.5,
                "pnl_deviation_pct": 12.0, "fill_ratio_deviation_pct": 3.0,
                "risk_breaches": 0, "callback_p99_ns": 4_100}


class RecordingDeployer:
    """Records every call; keeps build id → slot per strategy, in a JSON file when ``path`` is
    given (so a restarted process sees what the killed one deployed). Idempotent like the
    protocol demands: live swaps out the previous live version."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.calls: list[tuple[str, str, str]] = []
        self.state: dict[str, dict[str, str]] = {}
        if path is not None and path.exists():
            self.state = json.loads(path.read_text())

    def _save(self) -> None:
        if self.path is not None:
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.state))
            os.replace(tmp, self.path)

    def observe(self, strategy: str) -> Mapping[str, str]:
        self.calls.append(("observe", strategy, ""))
        return {b: s for b, s in self.state.get(strategy, {}).items() if s != "retired"}

    def apply(self, target: Target, slot: str) -> None:
        self.calls.append(("apply", target.build_id, slot))
        slots = self.state.setdefault(target.strategy, {})
        if slot == "live":
            for build, current in slots.items():
                if current == "live" and build != target.build_id:
                    slots[build] = "retired"
        slots[target.build_id] = slot
        self._save()

    def applies(self) -> list[tuple[str, str]]:
        return [(b, s) for kind, b, s in self.calls if kind == "apply"]


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2031, 5, 6, 7, 8, 9, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def register(reg: Registry, strategy: str = "pairs-alpha", build: str = "b1",
             verdict: str = "PASS", author: str = "ann") -> int:
    return reg.register_build(strategy=strategy, spec_hash=f"spec-{build}", build_id=build,
                              bundle=f"strategies/{strategy}", scorecard={"verdict": verdict},
                              verdict=verdict, author=author, shadow_gate=GATE)


def staff(reg: Registry) -> None:
    """ann (author), bob and cat (approvers), root (admin)."""
    reg.add_user("root", "admin", actor="root")
    reg.add_user("ann", "author", actor="root")
    reg.add_user("bob", "approver", actor="root")
    reg.add_user("cat", "approver", actor="root")

"""The seam between promotion and whatever runs strategies.

The registry never imports the runtime: it calls this protocol, which the runtime implements and
the ``stratforge`` shell wires in. Every call must be idempotent — the reconciler repeats calls
after a crash — and :meth:`Deployer.observe` must report the truth, not what was last asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Protocol, runtime_checkable


@dataclass(frozen=True)
class Target:
    """What the deployer needs to run one version: the build id names it, the bundle holds it."""

    strategy: str
    build_id: str
    bundle: str


@runtime_checkable
class Deployer(Protocol):
    """Runs versions in slots. ``slot`` is ``"shadow"``, ``"live"`` or ``"retired"`` (stopped)."""

    def observe(self, strategy: str) -> Mapping[str, str]:
        """Build id → slot of every version of ``strategy`` the deployer runs now (a stopped
        version may be reported as ``"retired"`` or left out)."""
        ...

    def apply(self, target: Target, slot: str) -> None:
        """Make ``target`` run in ``slot``. Idempotent. Putting a version live swaps it in for
        the strategy's current live version in one step (no event dropped); the replaced
        version stops."""
        ...

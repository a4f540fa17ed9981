"""stratforge registry: versions, review requests, approvals, promotion and the audit log.

The one public entry is :class:`Registry` (``Registry.open(url, deployer)``); see docs/registry.md.
It imports only ``stratforge.core`` (and ``stratforge.core.errors``) of the project: whatever runs
strategies reaches it through the :class:`Deployer` protocol.
"""

from stratforge.registry.deployer import Deployer, Target
from stratforge.registry.phase import (GateOutcome, GateResult, Gates, Phase, PhaseResult,
                                       ShadowGate, evaluate_shadow_gate, phase)
from stratforge.registry.service import (CHECKPOINTS, KILL_ENV, NotFound, OperationView, Refused,
                                         Registry, ReviewRequestView, VersionView)

__all__ = ["CHECKPOINTS", "KILL_ENV", "Deployer", "GateOutcome", "GateResult", "Gates",
           "NotFound", "OperationView", "Phase", "PhaseResult", "Refused", "Registry", "ReviewRequestView",
           "ShadowGate", "Target", "VersionView", "evaluate_shadow_gate", "phase"]

"""Every reason the registry gives, in one module (Argo Rollouts' ``conditions`` style).

Reasons are stable ``SCREAMING_SNAKE`` codes: they are stored in the audit log and shown by the
CLI and the dashboard, so dashboards and auditors can group by them. Never rename one; add new.
"""

from __future__ import annotations

# --- refusals (a request broke a rule; nothing changed except the audit log) ----------------
SCORECARD_NOT_PASSING = "SCORECARD_NOT_PASSING"
"""Only a version whose scorecard verdict is PASS may enter shadow."""
SHADOW_GATE_FAILED = "SHADOW_GATE_FAILED"
"""The shadow gate evaluated Failed (or Error): the version may not enter live."""
SHADOW_GATE_INCONCLUSIVE = "SHADOW_GATE_INCONCLUSIVE"
"""The shadow gate has no data (or not all of it): it never promotes; a human waits or looks."""
NOT_IN_SHADOW = "NOT_IN_SHADOW"
"""Live is reached only from shadow (observed running in shadow)."""
APPROVAL_MISSING = "APPROVAL_MISSING"
"""Live needs an approval, by someone who is not the author, of this exact build id."""
SELF_APPROVAL = "SELF_APPROVAL"
"""The author of a version may not approve it."""
APPROVAL_BUILD_MISMATCH = "APPROVAL_BUILD_MISMATCH"
"""The approval names a build id other than the version's."""
ALREADY_APPROVED = "ALREADY_APPROVED"
"""This approver has already approved this version."""
PROMOTION_IN_PROGRESS = "PROMOTION_IN_PROGRESS"
"""Another promotion or rollback of the strategy holds the strategy's lock."""
ALREADY_AT_STAGE = "ALREADY_AT_STAGE"
"""The version is already at (or past) the requested stage."""
VERSION_RETIRED = "VERSION_RETIRED"
"""A retired version is never promoted again (roll back to it instead, while it is last-good)."""
NO_ROLLBACK_TARGET = "NO_ROLLBACK_TARGET"
"""No last-good live version is recorded for the strategy."""
NOT_LIVE = "NOT_LIVE"
"""Rollback needs a live version to roll back from."""
PERMISSION_DENIED = "PERMISSION_DENIED"
"""The acting user's role does not allow the action."""
UNKNOWN_USER = "UNKNOWN_USER"
"""The acting user is not registered (or is deactivated)."""

REFUSALS = (SCORECARD_NOT_PASSING, SHADOW_GATE_FAILED, SHADOW_GATE_INCONCLUSIVE, NOT_IN_SHADOW,
            APPROVAL_MISSING, SELF_APPROVAL, APPROVAL_BUILD_MISMATCH, ALREADY_APPROVED,
            PROMOTION_IN_PROGRESS, ALREADY_AT_STAGE, VERSION_RETIRED, NO_ROLLBACK_TARGET,
            NOT_LIVE, PERMISSION_DENIED, UNKNOWN_USER)

# --- phases' reasons (why a deployment is in its phase) --------------------------------------
GATE_FAILED = "GATE_FAILED"
GATE_INCONCLUSIVE = "GATE_INCONCLUSIVE"
AWAITING_DEPLOYER = "AWAITING_DEPLOYER"
CONVERGED = "CONVERGED"
NOT_DEPLOYED = "NOT_DEPLOYED"

# --- shadow gate criteria (each names the observed metric it judges) -------------------------
GATE_MIN_DURATION = "min_duration_s"
GATE_MIN_FILLS = "min_fills"
GATE_MAX_DRAWDOWN = "max_drawdown_pct"
GATE_MAX_PNL_DEVIATION = "max_pnl_deviation_pct"
GATE_MAX_FILL_RATIO_DEVIATION = "max_fill_ratio_deviation_pct"
GATE_MAX_RISK_BREACHES = "max_risk_breaches"
GATE_MAX_LATENCY = "max_callback_p99_ns"

# --- audit actions ------------------------------------------------------------------------------
A_BUILD_REGISTERED = "build.registered"
A_REVIEW_REQUESTED = "review.requested"
A_APPROVED = "version.approved"
A_APPROVAL_REFUSED = "version.approval_refused"
A_SHADOW_OBSERVED = "shadow.metrics_recorded"
A_PROMOTION_REQUESTED = "promotion.requested"
A_PROMOTION_REFUSED = "promotion.refused"
A_ROLLBACK_REQUESTED = "rollback.requested"
A_ROLLBACK_REFUSED = "rollback.refused"
A_OPERATION_ABORTED = "operation.aborted"
A_DEPLOYMENT_OBSERVED = "deployment.observed"
A_OPERATION_COMPLETED = "operation.completed"
A_USER_ADDED = "user.added"
A_USER_REMOVED = "user.removed"
A_USER_ROLE = "user.role_changed"
A_USER_REFUSED = "user.refused"
A_TOKEN_CREATED = "token.created"
A_TOKEN_REVOKED = "token.revoked"
A_TOKEN_REFUSED = "token.refused"
A_PASSWORD_SET = "user.password_set"
A_PASSWORD_REFUSED = "user.password_refused"
A_LOGIN = "user.login"
A_LOGIN_FAILED = "user.login_failed"
A_RUNTIME_REQUESTED = "runtime.requested"
A_AUTO_ROLLBACK = "rollback.automatic"
A_ENGINE_RESTARTED = "runtime.engine_restarted"
A_RUNTIME_ACTION = "runtime.action"
A_RUNTIME_REFUSED = "runtime.refused"

#: the actor of what the engine did by itself (automatic rollbacks, restarts)
ACTOR_ENGINE = "system:engine"

OUTCOME_OK = "ok"
OUTCOME_REFUSED = "refused"

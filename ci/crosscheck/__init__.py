"""Bar-level cross-check and bias checks of a generated strategy's Python twin.

* :func:`bar_agreement` — the runtime's bar mode (``sf-replay`` results) against the twin run in
  backtrader (its broker and analyzers, one data feed per instrument), fill by fill, with a
  stated PnL tolerance; one instrument or several (a pair on bars). :func:`build_bar_agreement`
  is the build's gate: it replays the plugin with non-binding risk limits first (backtrader has
  no risk gate) and names what the spec's own limits did in its run.
* :func:`bias_checks` — look-ahead (decisions recomputed on truncated data), warm-up, and the
  in-sample / out-of-sample split (:func:`bias_report` for the split's numbers).
* :func:`l2_bias_checks` — the same look-ahead and warm-up checks for L2 runs, on the real run's
  callback tape replayed through the twin (the parity machinery; :func:`l2_bias_report` adds
  the evidence), warm-up derived for every strategy type (:func:`warmup_plan`).
* :func:`run_backtrader` — the backtrader run itself, inside a sandbox backend.

The twin is untrusted generated code: every run of it goes through
``stratforge.sandbox`` (``python -m stratforge.ci.crosscheck.bt_runner`` inside the sandbox).
Exports are resolved lazily so the sandboxed runner imports nothing it does not need.
See docs/crosscheck.md.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "bar_agreement": "agreement", "build_bar_agreement": "agreement", "risk_notes": "agreement",
    "compare_fills": "agreement", "AgreementReport": "agreement",
    "agreement_report": "agreement", "pnl_tolerance": "agreement", "runtime_round_trips": "agreement",
    "bias_checks": "bias", "bias_report": "bias", "BiasReport": "bias", "HoldoutSplit": "bias",
    "warmup_bars": "bias",
    "l2_bias_checks": "bias_l2", "l2_bias_report": "bias_l2", "L2BiasReport": "bias_l2",
    "warmup_plan": "warmup", "WarmupPlan": "warmup",
    "run_backtrader": "backtrader_run", "BacktraderRun": "backtrader_run", "BacktraderResult": "backtrader_run",
    "BacktraderError": "backtrader_run", "crosscheck_spec": "replay_spec",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    mod = _EXPORTS.get(name)
    if mod is None:
        raise AttributeError(f"module 'stratforge.ci.crosscheck' has no attribute {name!r}")
    return getattr(import_module(f"stratforge.ci.crosscheck.{mod}"), name)

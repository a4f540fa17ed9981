"""The spec a bar-mode cross-check replay runs with.

backtrader has no pre-trade risk gate, so the cross-check compares execution semantics with the
engine's risk limits set so that they cannot bind: a denied order or a kill switch in the
runtime is a difference the cross-check would report (``bar_agreement`` names it in
``details``) but it is not what this check is about — the main backtest judges risk with the
spec's own limits. :func:`crosscheck_spec` returns the spec with

* ``max_order_qty`` / ``max_position`` = 10^12 base units, ``max_order_notional`` and
  ``max_loss`` / ``max_drawdown`` = 10^15 quote units (nothing binds or trips the kill switch);
* ``price_band_bps`` unchanged (in bar mode a market order fills at the next open whatever its
  protection price; limits are the twin's);
* optionally the instrument renamed (``symbol``) so a strategy can be replayed on another
  market's file (e.g. the ORCL spec on SPY minute bars) — the twin and the plugin address
  instruments by id, the engine's config by symbol.

Nothing here is used by the main backtest; it only shapes the cross-check's own replay.
"""

from __future__ import annotations

from decimal import Decimal

from stratforge.core.spec import SpecLike, StrategySpec, as_strategy_spec

__all__ = ["crosscheck_spec", "UNBOUND_QTY", "UNBOUND_MONEY"]

UNBOUND_QTY = Decimal(10) ** 12
UNBOUND_MONEY = Decimal(10) ** 15


def crosscheck_spec(spec: SpecLike, symbol: str | None = None) -> StrategySpec:
    """``spec`` (a ``StrategySpec`` or ``LoadedSpec``) with non-binding risk limits (and no kill
    on a breach: backtrader has no risk gate to mirror it) and, when
    given, its single instrument renamed to ``symbol``. Returns a ``StrategySpec``."""
    s = as_strategy_spec(spec)
    risk = s.risk.model_copy(update={"max_order_qty": UNBOUND_QTY, "max_position": UNBOUND_QTY,
                                     "max_order_notional": UNBOUND_MONEY, "max_loss": UNBOUND_MONEY,
                                     "max_drawdown": UNBOUND_MONEY, "kill_on_breach": False})
    update = {"risk": risk}
    if symbol is not None:
        if len(s.strategy.instruments) != 1:
            raise ValueError("Condition failed: only a single-instrument spec can be retargeted")
        inst = s.strategy.instruments[0].model_copy(update={"symbol": symbol})
        update["strategy"] = s.strategy.model_copy(update={"instruments": (inst,)})
    return s.model_copy(update=update)

"""The engine as a twin strategy sees it: the ``Context`` protocol and a recording implementation.

:class:`RecordingContext` answers like the engine's replay host (every order accepted, order ids
1, 2, 3, ... in submission order, positions and book levels as the host reports them) and records
every decision the strategy makes as a *decision record* (docs/templates.md, "Decision records"):
the same records the C++ parity harness prints, so C++ and Python runs compare with ``==``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from stratforge.core import abi

from .abi import (SF_ACCEPTED, SF_ORD_LIMIT, SF_ORD_MARKET, SF_SIDE_BUY, SF_SIDE_SELL, SF_TIF_GTC,
                  SF_TIF_IOC, OrderRequest, OrderResult)

__all__ = ["Context", "RecordingContext", "Decision", "REASON_NAMES"]

#: Decision record: a plain dict with sorted keys (see docs/templates.md).
Decision = dict[str, Any]

#: Stable reason names of the engine's risk codes (generated from sf/risk.hpp into core.abi).
REASON_NAMES = abi.REASON_NAMES


@runtime_checkable
class Context(Protocol):
    """``sf::sdk::Context``: valid only during the callback it is passed to."""

    @property
    def now_ns(self) -> int: ...
    def now(self) -> int: ...
    def submit(self, req: OrderRequest) -> OrderResult: ...
    def limit(self, inst: int, side: int, px: int, qty: int, tif: int = SF_TIF_GTC, tag: int = 0) -> OrderResult: ...
    def buy_limit(self, inst: int, px: int, qty: int) -> OrderResult: ...
    def sell_limit(self, inst: int, px: int, qty: int) -> OrderResult: ...
    def buy_ioc(self, inst: int, px: int, qty: int) -> OrderResult: ...
    def sell_ioc(self, inst: int, px: int, qty: int) -> OrderResult: ...
    def market(self, inst: int, side: int, qty: int, tag: int = 0) -> OrderResult: ...
    def buy_market(self, inst: int, qty: int) -> OrderResult: ...
    def sell_market(self, inst: int, qty: int) -> OrderResult: ...
    def cancel(self, order_id: int) -> int: ...
    def replace(self, order_id: int, px: int, qty: int) -> int: ...
    def position(self, inst: int) -> int: ...
    def level(self, inst: int, side: int, depth: int) -> tuple[int, int] | None: ...
    def book_level(self, inst: int, side: int, depth: int) -> tuple[int, int] | None: ...
    def set_timer(self, at_ns: int, timer_id: int) -> bool: ...
    def log(self, level: int, msg: str) -> None: ...
    def reason_name(self, code: int) -> str: ...


@dataclass
class RecordingContext:
    """A replay host: accepts every request and records it.

    Attributes set by the driver before each callback: ``seq`` (index of the callback in the
    tape), ``t`` (event clock), ``positions`` (lots per instrument) and ``levels``
    (instrument -> {side: [(px, qty), ...]}).
    """

    seq: int = 0
    t: int = 0
    positions: list[int] = field(default_factory=list)
    levels: dict[int, dict[int, list[tuple[int, int]]]] = field(default_factory=dict)
    decisions: list[Decision] = field(default_factory=list)
    next_order_id: int = 1
    record_logs: bool = True

    # -- time ---------------------------------------------------------------------------------
    @property
    def now_ns(self) -> int:
        return self.t

    def now(self) -> int:
        return self.t

    def _record(self, op: str, **fields: Any) -> None:
        rec = {"seq": self.seq, "t": self.t, "op": op, **fields}
        self.decisions.append(dict(sorted(rec.items())))

    # -- orders -------------------------------------------------------------------------------
    def submit(self, req: OrderRequest) -> OrderResult:
        oid = self.next_order_id
        self.next_order_id += 1
        self._record("submit", inst=req.instrument, side=req.side, type=req.type, tif=req.tif,
                     px=req.px, qty=req.qty, tag=req.user_tag, id=oid, reason=SF_ACCEPTED)
        return OrderResult(oid, SF_ACCEPTED)

    def limit(self, inst: int, side: int, px: int, qty: int, tif: int = SF_TIF_GTC, tag: int = 0) -> OrderResult:
        return self.submit(OrderRequest(inst, side, SF_ORD_LIMIT, tif, px, qty, tag))

    def buy_limit(self, inst: int, px: int, qty: int) -> OrderResult:
        return self.limit(inst, SF_SIDE_BUY, px, qty)

    def sell_limit(self, inst: int, px: int, qty: int) -> OrderResult:
        return self.limit(inst, SF_SIDE_SELL, px, qty)

    def buy_ioc(self, inst: int, px: int, qty: int) -> OrderResult:
        return self.limit(inst, SF_SIDE_BUY, px, qty, SF_TIF_IOC)

    def sell_ioc(self, inst: int, px: int, qty: int) -> OrderResult:
        return self.limit(inst, SF_SIDE_SELL, px, qty, SF_TIF_IOC)

    def market(self, inst: int, side: int, qty: int, tag: int = 0) -> OrderResult:
        return self.submit(OrderRequest(inst, side, SF_ORD_MARKET, SF_TIF_IOC, 0, qty, tag))

    def buy_market(self, inst: int, qty: int) -> OrderResult:
        return self.market(inst, SF_SIDE_BUY, qty)

    def sell_market(self, inst: int, qty: int) -> OrderResult:
        return self.market(inst, SF_SIDE_SELL, qty)

    def cancel(self, order_id: int) -> int:
        self._record("cancel", id=order_id, reason=SF_ACCEPTED)
        return SF_ACCEPTED

    def replace(self, order_id: int, px: int, qty: int) -> int:
        self._record("replace", id=order_id, px=px, qty=qty, reason=SF_ACCEPTED)
        return SF_ACCEPTED

    # -- state --------------------------------------------------------------------------------
    def position(self, inst: int) -> int:
        return self.positions[inst] if 0 <= inst < len(self.positions) else 0

    def level(self, inst: int, side: int, depth: int) -> tuple[int, int] | None:
        lv = self.levels.get(inst, {}).get(side, [])
        return lv[depth] if 0 <= depth < len(lv) else None

    book_level = level

    def set_timer(self, at_ns: int, timer_id: int) -> bool:
        self._record("set_timer", at=at_ns, timer=timer_id, ok=True)
        return True

    def log(self, level: int, msg: str) -> None:
        if self.record_logs:
            self._record("log", level=level, msg=msg)

    def reason_name(self, code: int) -> str:
        return REASON_NAMES.get(code, f"REASON_{code}")

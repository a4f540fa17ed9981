"""Constants and typed views of sf/abi.h, for Python twin strategies.

Same integer fields as the C ABI: prices in ticks, quantities in lots, times in nanoseconds.
An empty book side is the named sentinel ``SF_NO_BID`` / ``SF_NO_ASK``, never 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# the constants are generated from sf/abi.h (scripts/gen_abi.py); the twin's API names them too
from stratforge.core.abi import (SF_ABI_VERSION, SF_ACCEPTED, SF_BOOK_CROSSED, SF_BOOK_LOCKED,
                                 SF_BOOK_SNAPSHOT, SF_LIQ_MAKER, SF_LIQ_TAKER, SF_LOG_DEBUG,
                                 SF_LOG_ERROR, SF_LOG_INFO, SF_LOG_WARN, SF_NO_ASK, SF_NO_BID,
                                 SF_NO_PRICE, SF_ORD_LIMIT, SF_ORD_MARKET, SF_ORDER_ACCEPTED,
                                 SF_ORDER_CANCEL_REJECTED, SF_ORDER_CANCELED, SF_ORDER_EXPIRED,
                                 SF_ORDER_FILLED, SF_ORDER_REJECTED, SF_ORDER_REPLACED,
                                 SF_SIDE_BUY, SF_SIDE_NONE, SF_SIDE_SELL, SF_TIF_GTC, SF_TIF_IOC)

__all__ = [
    "SF_ABI_VERSION", "SF_NO_BID", "SF_NO_ASK", "SF_NO_PRICE", "SF_SIDE_NONE", "SF_SIDE_BUY",
    "SF_SIDE_SELL", "SF_ORD_LIMIT", "SF_ORD_MARKET", "SF_TIF_GTC", "SF_TIF_IOC", "SF_BOOK_LOCKED",
    "SF_BOOK_CROSSED", "SF_BOOK_SNAPSHOT", "SF_ORDER_ACCEPTED", "SF_ORDER_CANCELED",
    "SF_ORDER_REPLACED", "SF_ORDER_REJECTED", "SF_ORDER_FILLED", "SF_ORDER_EXPIRED",
    "SF_ORDER_CANCEL_REJECTED", "SF_LIQ_MAKER", "SF_LIQ_TAKER", "SF_LOG_DEBUG", "SF_LOG_INFO",
    "SF_LOG_WARN", "SF_LOG_ERROR", "SF_ACCEPTED", "TERMINAL_STATUSES",
    "Side", "Instrument", "Book", "Trade", "Bar", "Fill", "OrderUpdate", "OrderRequest", "OrderResult",
]

#: Order statuses after which the order is done (no more updates).
TERMINAL_STATUSES = frozenset({SF_ORDER_CANCELED, SF_ORDER_REJECTED, SF_ORDER_FILLED, SF_ORDER_EXPIRED})


class Side:
    """``sf::sdk::Side``: the wire values of SF_SIDE_BUY / SF_SIDE_SELL."""

    Buy = SF_SIDE_BUY
    Sell = SF_SIDE_SELL


@dataclass(frozen=True, slots=True)
class Instrument:
    """``sf::sdk::Instrument``."""

    id: int
    symbol: str
    tick_size_e9: int
    lot_size_e9: int
    bar_interval_ns: int = 0

    def price(self, ticks: int) -> float:
        return float(ticks) * float(self.tick_size_e9) * 1e-9

    def size(self, lots: int) -> float:
        return float(lots) * float(self.lot_size_e9) * 1e-9


@dataclass(frozen=True, slots=True)
class Book:
    """``sf_book`` with the methods of ``sf::sdk::BookView``."""

    exch_ts: int
    recv_ts: int
    instrument: int
    flags: int
    bid_px: int
    bid_qty: int
    ask_px: int
    ask_qty: int
    bid_levels: int = 1
    ask_levels: int = 1

    def ts(self) -> int:
        return self.recv_ts

    def has_bid(self) -> bool:
        return self.bid_px != SF_NO_BID

    def has_ask(self) -> bool:
        return self.ask_px != SF_NO_ASK

    def two_sided(self) -> bool:
        return self.has_bid() and self.has_ask()

    def crossed_or_locked(self) -> bool:
        return (self.flags & (SF_BOOK_CROSSED | SF_BOOK_LOCKED)) != 0

    def mid_x2(self) -> int:
        return self.bid_px + self.ask_px if self.two_sided() else SF_NO_PRICE

    def mid(self) -> float:
        return 0.5 * float(self.bid_px + self.ask_px) if self.two_sided() else math.nan

    def spread(self) -> int:
        return self.ask_px - self.bid_px if self.two_sided() else SF_NO_PRICE

    def imbalance(self) -> float:
        if not self.two_sided():
            return math.nan
        b, a = float(self.bid_qty), float(self.ask_qty)
        return (b - a) / (b + a)


@dataclass(frozen=True, slots=True)
class Trade:
    exch_ts: int
    recv_ts: int
    instrument: int
    side: int
    px: int
    qty: int
    trade_id: int = 0


@dataclass(frozen=True, slots=True)
class Bar:
    end_ts: int
    recv_ts: int
    instrument: int
    open: int
    high: int
    low: int
    close: int
    volume: int


@dataclass(frozen=True, slots=True)
class Fill:
    ts: int
    order_id: int
    instrument: int
    side: int
    liquidity: int
    px: int
    qty: int
    leaves_qty: int
    position: int
    fee: float = 0.0


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    ts: int
    order_id: int
    instrument: int
    side: int
    status: int
    px: int
    qty: int
    leaves_qty: int


@dataclass(frozen=True, slots=True)
class OrderRequest:
    instrument: int
    side: int
    type: int
    tif: int
    px: int
    qty: int
    user_tag: int = 0


@dataclass(frozen=True, slots=True)
class OrderResult:
    """``sf::sdk::OrderResult``: truthy when accepted."""

    id: int
    reason: int

    def __bool__(self) -> bool:
        return self.reason == SF_ACCEPTED

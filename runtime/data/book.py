"""A reference L2 (price-level) book in plain Python, used by tests and as an independent check of
the C++ book.

It favours obviousness over speed: one dict per side (price ticks -> qty lots) plus a heap per
side with lazy deletion for the best price. About a microsecond or two per event, so a few
seconds per million events.

Empty sides are reported with the named sentinels ``NO_BID`` / ``NO_ASK``, never a price of zero.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np

from stratforge.core.abi import SF_NO_ASK, SF_NO_BID

from .format import ASK, BID, CLEAR, DEPTH, END_OF_BATCH, QUOTE, SIDE_NONE

NO_BID = SF_NO_BID  # best bid price of an empty bid side (sf/abi.h, via core.abi)
NO_ASK = SF_NO_ASK  # best ask price of an empty ask side


class L2Book:
    """The price-level book of one instrument."""

    __slots__ = ("bids", "asks", "_bid_heap", "_ask_heap")

    def __init__(self) -> None:
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self._bid_heap: list[int] = []  # negated prices
        self._ask_heap: list[int] = []

    def clear(self, side: int = SIDE_NONE) -> None:
        if side in (SIDE_NONE, BID):
            self.bids.clear()
            self._bid_heap.clear()
        if side in (SIDE_NONE, ASK):
            self.asks.clear()
            self._ask_heap.clear()

    def set_level(self, side: int, price: int, qty: int) -> None:
        """Set the absolute quantity at one level (0 deletes it)."""
        if side == BID:
            book, heap, key = self.bids, self._bid_heap, -price
        elif side == ASK:
            book, heap, key = self.asks, self._ask_heap, price
        else:
            raise ValueError(f"Condition failed: DEPTH side must be 1 or 2, was {side}")
        if qty > 0:
            if price not in book:
                heapq.heappush(heap, key)
            book[price] = qty
        elif qty == 0:
            book.pop(price, None)
        else:
            raise ValueError(f"Condition failed: DEPTH qty must be >= 0, was {qty} at price {price}")

    def set_quote(self, bid_px: int, bid_qty: int, ask_px: int, ask_qty: int) -> None:
        self.clear()
        if bid_qty > 0:
            self.set_level(BID, bid_px, bid_qty)
        if ask_qty > 0:
            self.set_level(ASK, ask_px, ask_qty)

    def best_bid(self) -> tuple[int, int]:
        """(price, qty) of the best bid, or (NO_BID, 0)."""
        heap, book = self._bid_heap, self.bids
        while heap and -heap[0] not in book:
            heapq.heappop(heap)
        if not heap:
            return NO_BID, 0
        px = -heap[0]
        return px, book[px]

    def best_ask(self) -> tuple[int, int]:
        """(price, qty) of the best ask, or (NO_ASK, 0)."""
        heap, book = self._ask_heap, self.asks
        while heap and heap[0] not in book:
            heapq.heappop(heap)
        if not heap:
            return NO_ASK, 0
        px = heap[0]
        return px, book[px]

    def levels(self, side: int, n: int) -> list[tuple[int, int]]:
        """The best ``n`` levels of one side, best first."""
        book = self.bids if side == BID else self.asks
        prices = heapq.nlargest(n, book) if side == BID else heapq.nsmallest(n, book)
        return [(p, book[p]) for p in prices]

    def crossed(self) -> bool:
        bid, _ = self.best_bid()
        ask, _ = self.best_ask()
        return bid != NO_BID and ask != NO_ASK and bid >= ask


@dataclass
class BestPrices:
    """Top of book after each event (of that event's instrument)."""

    bid_px: np.ndarray
    bid_qty: np.ndarray
    ask_px: np.ndarray
    ask_qty: np.ndarray

    def crossed(self) -> np.ndarray:
        """True where both sides are present and bid >= ask."""
        both = (self.bid_px != NO_BID) & (self.ask_px != NO_ASK)
        return both & (self.bid_px >= self.ask_px)


def replay(events: np.ndarray, books: dict[int, L2Book] | None = None) -> BestPrices:
    """Apply ``events`` in order and return the best bid/ask after each one.

    TRADE and BAR records do not change the book. Pass ``books`` to continue from a previous
    state or to inspect the final books afterwards.
    """
    n = len(events)
    books = {} if books is None else books
    out = np.empty((4, n), dtype=np.int64)
    types = events["type"].tolist()
    sides = events["side"].tolist()
    instr = events["instrument"].tolist()
    v = events["v"]
    v0 = v[:, 0].tolist()
    v1 = v[:, 1].tolist()
    v2 = v[:, 2].tolist()
    v3 = v[:, 3].tolist()
    bb = [0] * n
    bq = [0] * n
    ap = [0] * n
    aq = [0] * n
    for k in range(n):
        ins = instr[k]
        book = books.get(ins)
        if book is None:
            book = books[ins] = L2Book()
        t = types[k]
        if t == DEPTH:
            book.set_level(sides[k], v0[k], v1[k])
        elif t == CLEAR:
            book.clear(sides[k])
        elif t == QUOTE:
            book.set_quote(v0[k], v1[k], v2[k], v3[k])
        bb[k], bq[k] = book.best_bid()
        ap[k], aq[k] = book.best_ask()
    out[0] = bb
    out[1] = bq
    out[2] = ap
    out[3] = aq
    return BestPrices(out[0], out[1], out[2], out[3])


def batch_ends(events: np.ndarray) -> np.ndarray:
    """Indices of records that end a batch (END_OF_BATCH set)."""
    return np.flatnonzero(events["flags"] & END_OF_BATCH)

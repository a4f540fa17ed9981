"""Twin of market_maker.cpp: kLevels levels each side around the mid."""

from __future__ import annotations

from stratforge.runtime.twin import (SF_ACCEPTED, SF_ORDER_CANCELED, SF_ORDER_EXPIRED, SF_ORDER_FILLED,
                                     SF_ORDER_REJECTED, SF_NO_PRICE, Side, Strategy)

K_LEVELS = 3
DONE = frozenset({SF_ORDER_CANCELED, SF_ORDER_FILLED, SF_ORDER_REJECTED, SF_ORDER_EXPIRED})


class MarketMaker(Strategy):
    def __init__(self, args):
        self.qty = args.params.get_int("qty", 1)
        self.half_spread = args.params.get_int("half_spread_ticks", 2)
        self.max_pos = args.params.get_int("max_position", 10)
        args.params.expect_all_used()
        self.inst = args.instruments[0].id
        self.last_mid2 = SF_NO_PRICE
        self.bids = [0] * K_LEVELS
        self.asks = [0] * K_LEVELS

    def on_book(self, ctx, book):
        if book.instrument != self.inst or not book.two_sided() or book.crossed_or_locked():
            return
        mid2 = book.mid_x2()
        if mid2 == self.last_mid2:
            return
        self.last_mid2 = mid2
        pos = ctx.position(self.inst)
        for i in range(K_LEVELS):
            off = self.half_spread + i
            self._requote(ctx, self.bids, i, Side.Buy, mid2 // 2 - off, pos < self.max_pos)
            self._requote(ctx, self.asks, i, Side.Sell, (mid2 + 1) // 2 + off, pos > -self.max_pos)

    def on_order_update(self, ctx, update):
        if update.status not in DONE:
            return
        for slots in (self.bids, self.asks):
            for i, oid in enumerate(slots):
                if oid == update.order_id:
                    slots[i] = 0

    def _requote(self, ctx, slots, i, side, px, allowed):
        if slots[i]:
            if not allowed:
                ctx.cancel(slots[i])
                return
            if ctx.replace(slots[i], px, self.qty) == SF_ACCEPTED:
                return
            slots[i] = 0
        if allowed:
            r = ctx.limit(self.inst, side, px, self.qty)
            if r:
                slots[i] = r.id

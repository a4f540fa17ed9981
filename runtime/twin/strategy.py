"""``sf::sdk::Strategy`` and ``CreateArgs`` for Python twins."""

from __future__ import annotations

from dataclasses import dataclass, field

from .abi import Bar, Book, Fill, Instrument, OrderUpdate, Trade
from .context import Context
from .params import Params

__all__ = ["CreateArgs", "Strategy"]


@dataclass
class CreateArgs:
    strategy_id: str
    params: Params
    instruments: list[Instrument] = field(default_factory=list)
    seed: int = 0


class Strategy:
    """Base class: every handler does nothing; a twin overrides the ones it needs."""

    def on_book(self, ctx: Context, book: Book) -> None:
        pass

    def on_trade(self, ctx: Context, trade: Trade) -> None:
        pass

    def on_bar(self, ctx: Context, bar: Bar) -> None:
        pass

    def on_fill(self, ctx: Context, fill: Fill) -> None:
        pass

    def on_order_update(self, ctx: Context, update: OrderUpdate) -> None:
        pass

    def on_timer(self, ctx: Context, timer_id: int) -> None:
        pass

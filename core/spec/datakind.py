"""The two kinds of market data a strategy runs on, and what a spec declares about it.

``bars`` or ``book`` (order book and trades). Synthetic data and converted formats declare their
kind in the spec itself; an ``.sfe`` event file carries it in its header, which only the runtime
reads (:func:`stratforge.runtime.data.spec_data.data_kind`, the one full decision). The spec's
rules use :func:`declared_data_kind`, which reads no file: core imports nothing of the runtime.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # models imports the rules, which import this module: a runtime import is a cycle
    from stratforge.core.spec.models import StrategySpec

#: The two data kinds a strategy can be generated for.
BARS, BOOK = "bars", "book"
#: Formats whose kind is known without reading the file.
FORMAT_KINDS = {"bars-csv": BARS, "quotes-csv": BOOK, "trades-csv": BOOK, "lobster": BOOK,
                "binance": BOOK}


def declared_data_kind(spec: StrategySpec) -> str | None:
    """``bars`` or ``book`` when the spec says it (synthetic ``profile``, a converted format),
    None for ``.sfe`` files (their kind is in the file's header)."""
    d = spec.backtest.data
    if d.kind == "synthetic":
        return BARS if d.profile == "bars" else BOOK
    if d.format != "sfe":
        return FORMAT_KINDS[d.format]
    return None


__all__ = ["BARS", "BOOK", "FORMAT_KINDS", "declared_data_kind"]

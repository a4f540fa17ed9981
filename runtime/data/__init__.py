"""Market data for the runtime: the ``.sfe`` event file, converters, a synthetic market and a
reference L2 book.

The binary layout is specified in ``docs/formats.md``; usage is in ``docs/data.md``.
"""

from .errors import DataError, DataFormatError, InputError
from .format import (
    ASK,
    BAR,
    BID,
    CLEAR,
    DEPTH,
    END_OF_BATCH,
    EVENT_DTYPE,
    QUOTE,
    SNAPSHOT,
    TRADE,
    EventFile,
    EventFileWriter,
    Instrument,
    open_events,
    write_events,
)
from .summary import info

__all__ = [
    "ASK",
    "BAR",
    "BID",
    "CLEAR",
    "DEPTH",
    "END_OF_BATCH",
    "EVENT_DTYPE",
    "QUOTE",
    "SNAPSHOT",
    "TRADE",
    "DataError",
    "DataFormatError",
    "EventFile",
    "EventFileWriter",
    "InputError",
    "Instrument",
    "info",
    "open_events",
    "write_events",
]

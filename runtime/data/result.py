"""What a converter returns: instruments, events and a report of what it saw."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .format import Instrument, sort_events, write_events


@dataclass
class Converted:
    """Events ready to write, plus a report (counts, off-grid values, gaps, warnings)."""

    instruments: list[Instrument]
    events: np.ndarray
    source: str
    report: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # arrays for checks; not part of the report

    def __post_init__(self) -> None:
        self.events = sort_events(self.events)
        self.report.setdefault("events", len(self.events))

    def write(self, path: str | os.PathLike) -> Path:
        return write_events(path, self.instruments, self.events, source=self.source)

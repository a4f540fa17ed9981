"""The spec's market data as files and as a data kind: the one place that decides both.

:func:`data_kind` says whether a strategy runs on ``bars`` or on ``book`` data (order book and
trades). It is the only decision of it: the code generator (which series and callbacks a strategy
has), the parity market and the backtest (bar mode, period slicing) all call it.

* synthetic data: the spec's ``profile``;
* a converted format: its kind (``bars-csv`` is bars; quotes, trades, LOBSTER and Binance are
  book data);
* ``.sfe`` event files: the file header's instrument table (``bar_interval_ns > 0`` is bars,
  docs/formats.md), read from every file; files of different kinds are refused.

:func:`data_files` resolves the spec's paths (docs/data.md, "Where data files may be"):
``shared:<p>`` in the shared data folder, ``~/...``, absolute, else relative to the repository
root; globs expanded in name order; symlinks resolved; with ``STRATFORGE_DATA_ROOTS`` set, every
resolved file must lie inside one of those folders.
"""

from __future__ import annotations

import os
from pathlib import Path

from stratforge.core.errors import UserInputError
from stratforge.core.spec import StrategySpec
from stratforge.core.spec.datakind import BARS, BOOK, declared_data_kind
from stratforge.runtime.data.errors import DataError
from stratforge.runtime.data.sources import events_kind, resolve_paths, roots_from_env

#: Environment variable: folders (``os.pathsep``-separated) the data files must resolve into.
DATA_ROOTS_ENV = "STRATFORGE_DATA_ROOTS"


def default_repo_root() -> Path:
    """The repository root when a caller has none: the working directory stratforge runs in
    (the same default as the pipeline's workspace)."""
    return Path.cwd()


def data_files(spec: StrategySpec, repo_root: Path | None = None) -> dict[str | None, list[Path]]:
    """The spec's data files, resolved: ``{symbol: [files]}`` for ``files``, ``{None: [files]}``
    for ``path``. Raises ``UserInputError`` naming the field and where the file was looked for."""
    d = spec.backtest.data
    if d.kind != "file":
        return {}
    root = repo_root or default_repo_root()
    roots = roots_from_env(os.environ.get(DATA_ROOTS_ENV))
    try:
        if d.files:
            return {sym: resolve_paths(raw, root, f"backtest.data.files.{sym}", roots)
                    for sym, raw in d.files.items()}
        return {None: resolve_paths(d.path, root, "backtest.data.path", roots)}
    except DataError as err:
        raise UserInputError(str(err)) from None


def orderbook_file(spec: StrategySpec, repo_root: Path | None = None) -> Path | None:
    """The LOBSTER orderbook file named by ``orderbook_path``, resolved (None when absent)."""
    d = spec.backtest.data
    if d.kind != "file" or d.orderbook_path is None:
        return None
    roots = roots_from_env(os.environ.get(DATA_ROOTS_ENV))
    try:
        return resolve_paths(d.orderbook_path, repo_root or default_repo_root(),
                             "backtest.data.orderbook_path", roots)[0]
    except DataError as err:
        raise UserInputError(str(err)) from None


def file_kind(path: Path, what: str = "backtest.data") -> str:
    """The data kind of one ``.sfe`` file, from its header (``UserInputError`` when unreadable)."""
    try:
        return events_kind(path)
    except DataError as err:
        raise UserInputError(f"{what}: {err}") from None


def data_kind(spec: StrategySpec, repo_root: Path | None = None) -> str:
    """``bars`` or ``book``: the kind of market data the strategy runs on (see the module doc)."""
    declared = declared_data_kind(spec)
    if declared is not None:
        return declared
    kinds: dict[str, list[str]] = {}
    for files in data_files(spec, repo_root).values():
        for f in files:
            kinds.setdefault(file_kind(f), []).append(f.name)
    if len(kinds) > 1:
        raise UserInputError("backtest.data: the files mix bar and book data (bars: "
                             f"{', '.join(kinds[BARS][:3])}; book: {', '.join(kinds[BOOK][:3])}); "
                             "a strategy runs on one kind")
    return next(iter(kinds))


__all__ = ["DATA_ROOTS_ENV", "data_files", "data_kind", "default_repo_root",
           "file_kind", "orderbook_file"]

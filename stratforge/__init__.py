"""stratforge: YAML strategy specs to trusted trading code.

This package is the thin shell (CLI and settings) that wires the components together;
the components themselves are installed as sub-packages: ``stratforge.generator``,
``stratforge.sandbox``, ``stratforge.runtime``, ``stratforge.ci``, ``stratforge.registry``,
``stratforge.dashboard`` and ``stratforge.templates`` (their sources live in the repository's
top-level folders; ``pyproject.toml`` maps them).
"""

from __future__ import annotations

from pathlib import Path

# Run from a source checkout (``python -m ...`` with the repository root first on sys.path),
# this file is imported from <repo>/stratforge and the components sit beside it rather than
# inside it. Let ``stratforge.<component>`` find them there too, so the source tree behaves
# like the installed wheel. An installed stratforge has no pyproject.toml above it and is
# left alone.
_root = Path(__file__).resolve().parent.parent
if (_root / "pyproject.toml").is_file() and (_root / "generator" / "__init__.py").is_file():
    __path__.append(str(_root))  # type: ignore[name-defined]  # noqa: F821

from stratforge.core.version import __version__  # noqa: E402 - after the source-tree path above

__all__ = ["__version__"]

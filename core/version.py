"""The stratforge version: one place, read by the CLI (``--version``) and the build manifest.

A test (tests/test_packaging.py) keeps it equal to ``project.version`` in pyproject.toml.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]

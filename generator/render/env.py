"""The Jinja2 environment over the ``stratforge.templates`` package data.

Strict by construction: a missing variable is an error (``StrictUndefined``), nothing is escaped
(this is code, not HTML), whitespace control is explicit (``trim_blocks``/``lstrip_blocks``) and
files keep their final newline, so output is byte-for-byte reproducible.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from importlib import resources

import jinja2

from stratforge.core.templates import TEMPLATE_PACKAGE, function_loader, read_template

__all__ = ["environment", "template_files", "templates_hash", "TEMPLATE_PACKAGE", "TEMPLATE_DIRS"]

#: The template folders this renderer owns (pr/ and k8s/ belong to other components).
TEMPLATE_DIRS = ("cpp", "python", "tests")



@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The shared environment (templates are immutable package data, so it is cached)."""
    env = jinja2.Environment(
        loader=function_loader(),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env


def template_files() -> list[str]:
    """Relative paths of every template file this renderer uses, sorted."""
    out: list[str] = []

    def walk(node, prefix: str) -> None:
        for child in sorted(node.iterdir(), key=lambda c: c.name):
            rel = f"{prefix}/{child.name}"
            if child.is_dir():
                if child.name != "__pycache__":
                    walk(child, rel)
            elif child.name.endswith(".j2"):
                out.append(rel)

    root = resources.files(TEMPLATE_PACKAGE)
    for d in TEMPLATE_DIRS:
        node = root / d
        if node.is_dir():
            walk(node, d)
    return out


def templates_hash() -> str:
    """SHA-256 over every template file (path and bytes), in sorted order."""
    h = hashlib.sha256()
    for rel in template_files():
        data = read_template(rel).encode("utf-8")
        h.update(rel.encode("utf-8") + b"\0" + str(len(data)).encode() + b"\0" + data)
    return h.hexdigest()

"""Reading the ``stratforge.templates`` package data (the code generator's cpp/python/tests, the
PR bodies, the Kubernetes manifests): one loader, so every component refuses the same path tricks.
"""

from __future__ import annotations

from importlib import resources

import jinja2

__all__ = ["TEMPLATE_PACKAGE", "read_template", "function_loader"]

TEMPLATE_PACKAGE = "stratforge.templates"


def read_template(name: str, under: str = "") -> str:
    """The text of template ``name`` (a ``/`` path, below folder ``under`` when given);
    ``jinja2.TemplateNotFound`` for a missing file or a path with an empty, ``.`` or ``..`` part."""
    node = resources.files(TEMPLATE_PACKAGE)
    if under:
        node = node / under
    for part in name.split("/"):
        if part in ("", ".", ".."):
            raise jinja2.TemplateNotFound(name)
        node = node / part
    if not node.is_file():
        raise jinja2.TemplateNotFound(name)
    return node.read_text(encoding="utf-8")


def function_loader(under: str = "") -> jinja2.FunctionLoader:
    """A Jinja2 loader over :func:`read_template` (package data never changes: always up to date)."""
    return jinja2.FunctionLoader(lambda name: (read_template(name, under), None, lambda: True))

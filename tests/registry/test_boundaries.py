"""The registry imports only the core of the project (DESIGN.md: it never imports the runtime,
the generator, the sandbox or ci; whatever runs strategies reaches it through Deployer)."""

from __future__ import annotations

import ast
from pathlib import Path

ALLOWED = {"stratforge.registry", "stratforge.core", "stratforge.core.errors"}


def project_imports(root: Path) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 \
                else []
            for name in names:
                if name == "stratforge" or name.startswith("stratforge."):
                    found.setdefault(str(path.relative_to(root)), set()).add(name)
    return found


def allowed(name: str) -> bool:
    return any(name == a or name.startswith(a + ".") for a in ALLOWED)


def test_the_registry_imports_only_core(repo: Path) -> None:
    imports = project_imports(repo / "registry")
    assert imports, "the scan found no imports at all"
    bad = {f: sorted(n for n in names if not allowed(n)) for f, names in imports.items()}
    assert {f: n for f, n in bad.items() if n} == {}


def test_the_scan_sees_a_forbidden_import(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_text("from stratforge.runtime.data import synth\n")
    names = project_imports(tmp_path)["bad.py"]
    assert [n for n in names if not allowed(n)] == ["stratforge.runtime.data"]

"""The import directions of docs/architecture.md ("Import directions"), over the real import graph.

Every module of the installed packages (pyproject.toml ``[tool.scikit-build.wheel.packages]``) is
parsed with ``ast``; every ``import`` / ``from ... import`` (relative ones resolved) is an edge.
The test asserts:

* each component imports only the components below it (:data:`ALLOWED`); ``core`` imports
  nothing else of the project; nothing but the CLI package itself imports ``stratforge``'s own
  modules (``stratforge.cli``, ``stratforge.settings``, ...);
* imports are at module level (``if TYPE_CHECKING:`` and ``try:`` blocks included), so the
  graph can be read statically. Inside a function only the optional dependencies in
  :data:`OPTIONAL_IMPORTS` may be imported, each with the reason it is optional.

Each kind of violation is planted in a scratch tree below and must be caught.
"""

from __future__ import annotations

import ast
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ROOT_PACKAGE = "stratforge"
#: the CLI package's own modules (the thin shell): nothing else may import them
SHELL = ROOT_PACKAGE

#: component -> the components it may import (DESIGN.md, "Layout"); core is below everything
ALLOWED: dict[str, frozenset[str]] = {
    "core": frozenset(),
    "runtime": frozenset({"core"}),
    "registry": frozenset({"core"}),
    "sandbox": frozenset({"runtime", "core"}),
    "generator": frozenset({"runtime", "core"}),
    "ci": frozenset({"generator", "sandbox", "registry", "runtime", "core"}),
    "dashboard": frozenset({"registry", "core"}),
    "templates": frozenset({"core"}),
}

#: what other components may import of a component that has internals (the rest is private to it):
#: ci builds on the generator's public functions, not on the renderer's context internals
PUBLIC_SURFACE: dict[str, frozenset[str]] = {
    "generator": frozenset({"stratforge.generator.render", "stratforge.generator.generate",
                            "stratforge.generator.checks", "stratforge.generator.llm"}),
}

#: third-party modules that may be imported inside a function: optional at install time (an extra
#: or a platform package), so a module-level import would break ``import stratforge...`` without it
OPTIONAL_IMPORTS: dict[str, str] = {
    "llama_cpp": "extra local-llm (the bundled model's in-process provider)",
    "torch": "extra transformers",
    "transformers": "extra transformers",
    "docker": "extra docker (the docker sandbox backend)",
    "kubernetes": "extra k8s (the kubernetes sandbox backend and deployer)",
    "pyseccomp": "Linux only (sys_platform == 'linux' in pyproject.toml)",
    "matplotlib": "the scorecard's charts only; importing it costs every CLI start ~0.5 s",
}

#: (importer module, imported module) edges still owned by another change, each with its reason.
#: Nothing else may be listed here.
PENDING: dict[tuple[str, str], str] = {}


@dataclass(frozen=True)
class Edge:
    importer: str      # dotted module
    imported: str      # dotted module (or module.attribute when not a module)
    file: str
    line: int
    in_function: bool
    type_checking: bool


def package_map(repo: Path = REPO) -> dict[str, Path]:
    """``stratforge.<component>`` -> source folder, as pyproject.toml installs them."""
    doc = tomllib.loads((repo / "pyproject.toml").read_text(encoding="utf-8"))
    packages = doc["tool"]["scikit-build"]["wheel"]["packages"]
    return {name.replace("/", "."): repo / folder for name, folder in packages.items()}


def iter_modules(packages: dict[str, Path]) -> dict[str, Path]:
    """Every module of ``packages``: dotted name -> file (nested packages are not double-counted)."""
    out: dict[str, Path] = {}
    roots = sorted(packages.items(), key=lambda kv: -len(kv[0]))
    for pkg, folder in roots:
        for path in sorted(folder.rglob("*.py")):
            rel = path.relative_to(folder)
            if any(part.startswith(".") or part in {"build", "__pycache__"} for part in rel.parts):
                continue
            parts = list(rel.with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            name = ".".join([pkg, *parts])
            owner = next(p for p, f in roots if path.is_relative_to(f))
            if owner == pkg:
                out[name] = path
    return out


def _is_module(name: str, modules: dict[str, Path]) -> bool:
    return name in modules


def _is_package(name: str, modules: dict[str, Path]) -> bool:
    path = modules.get(name)
    return path is not None and path.name == "__init__.py"


def _resolve(node: ast.ImportFrom, importer: str, modules: dict[str, Path]) -> str | None:
    if node.level == 0:
        return node.module
    base = importer.split(".")
    if not _is_package(importer, modules):
        base = base[:-1]
    if node.level - 1 > len(base):
        return None
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


class _Visitor(ast.NodeVisitor):
    def __init__(self, importer: str, path: Path, modules: dict[str, Path]) -> None:
        self.importer, self.path, self.modules = importer, path, modules
        self.depth = 0
        self.type_checking = 0
        self.edges: list[Edge] = []

    def _add(self, target: str, node: ast.AST) -> None:
        self.edges.append(Edge(self.importer, target, str(self.path), node.lineno, self.depth > 0,
                               self.type_checking > 0))

    def _scope(self, node: ast.AST) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _scope

    def visit_If(self, node: ast.If) -> None:
        test = node.test
        tc = (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
            isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
        if tc:
            self.type_checking += 1
            for child in node.body:
                self.visit(child)
            self.type_checking -= 1
            for child in node.orelse:
                self.visit(child)
        else:
            self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = _resolve(node, self.importer, self.modules)
        if base is None:
            self._add("." * node.level + (node.module or ""), node)
            return
        for alias in node.names:
            sub = f"{base}.{alias.name}"
            self._add(sub if sub in self.modules else base, node)


def import_edges(packages: dict[str, Path]) -> tuple[list[Edge], dict[str, Path]]:
    modules = iter_modules(packages)
    edges: list[Edge] = []
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        v = _Visitor(name, path, modules)
        v.visit(tree)
        edges += v.edges
    return edges, modules


def component(module: str) -> str | None:
    """``stratforge.generator.x`` -> ``generator``; the CLI package's own modules -> ``SHELL``;
    not ours -> None."""
    parts = module.split(".")
    if parts[0] != ROOT_PACKAGE:
        return None
    if len(parts) > 1 and parts[1] in ALLOWED:
        return parts[1]
    return SHELL


def violations(packages: dict[str, Path], pending: dict[tuple[str, str], str] | None = None
               ) -> list[str]:
    """Every broken rule, one line each: ``file:line: importer -> imported: why``."""
    pending = PENDING if pending is None else pending
    edges, modules = import_edges(packages)
    out: list[str] = []
    for e in edges:
        src, dst = component(e.importer), component(e.imported)
        where = f"{e.file}:{e.line}: {e.importer} -> {e.imported}"
        if e.imported.startswith("."):
            out.append(f"{where}: a relative import that leaves the installed packages")
            continue
        if dst is not None and src != SHELL and src != dst:
            if dst == SHELL:
                out.append(f"{where}: only the CLI package imports its own modules")
            elif dst not in ALLOWED[src] and not e.type_checking:
                if not any(e.importer == a and e.imported.startswith(b) for a, b in pending):
                    out.append(f"{where}: {src} may import only "
                               f"{', '.join(sorted(ALLOWED[src])) or 'nothing else of the project'}"
                               f" (not {dst})")
        if (dst in PUBLIC_SURFACE and src not in (SHELL, dst) and not e.type_checking
                and not any(e.imported == m or e.imported.startswith(m + ".") and
                            e.imported.count(".") == m.count(".") + 1 and
                            not _is_module(e.imported, modules)
                            for m in PUBLIC_SURFACE[dst])):
            out.append(f"{where}: not the public surface of {dst} "
                       f"({', '.join(sorted(PUBLIC_SURFACE[dst]))})")
        if e.in_function and e.imported.split(".")[0] not in OPTIONAL_IMPORTS:
            out.append(f"{where}: imported inside a function; import at module level (only "
                       f"optional dependencies may be imported lazily: "
                       f"{', '.join(sorted(OPTIONAL_IMPORTS))})")
    return sorted(set(out))


# ------------------------------------------------------------------------------------------------
# the real tree


def test_the_package_map_covers_every_component() -> None:
    packages = package_map()
    assert {component(p) for p in packages} == set(ALLOWED) | {SHELL}
    assert len(iter_modules(packages)) > 100  # the graph is the real one, not an empty walk


def test_the_real_import_graph_keeps_the_directions() -> None:
    found = violations(package_map())
    assert found == [], "\n".join(found)



def test_core_imports_only_third_party_and_itself() -> None:
    edges, _ = import_edges(package_map())
    ours = {e.imported for e in edges if component(e.importer) == "core"
            and component(e.imported) not in (None, "core")}
    assert ours == set()


# ------------------------------------------------------------------------------------------------
# planted violations: each kind is caught


def _tree(tmp_path: Path, files: dict[str, str]) -> dict[str, Path]:
    for comp in ALLOWED:
        (tmp_path / comp).mkdir(exist_ok=True)
        (tmp_path / comp / "__init__.py").write_text("", encoding="utf-8")
    (tmp_path / "shell").mkdir(exist_ok=True)
    (tmp_path / "shell" / "__init__.py").write_text("", encoding="utf-8")
    for rel, text in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if not (p.parent / "__init__.py").exists():
            (p.parent / "__init__.py").write_text("", encoding="utf-8")
        p.write_text(text, encoding="utf-8")
    packages = {ROOT_PACKAGE: tmp_path / "shell"}
    packages.update({f"{ROOT_PACKAGE}.{c}": tmp_path / c for c in ALLOWED})
    return packages


CLEAN = {
    "core/model.py": "import json\nfrom pydantic import BaseModel\n",
    "runtime/twin.py": "from stratforge.core.model import BaseModel\n",
    "generator/render/__init__.py": "from stratforge.core import model\nfrom ...runtime import twin\n",
    "generator/render/context.py": "from stratforge.core import model\n",
    "ci/pipeline.py": "from stratforge.generator.render import x\nfrom stratforge.sandbox import y\n",
    "sandbox/run.py": "def f():\n    import docker\n    return docker\n",
    "shell/cli.py": "from stratforge.ci.pipeline import run\nfrom stratforge.settings import S\n",
    "core/typing_only.py": ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                            "    from stratforge.generator.render import R\n"),
}


def test_a_clean_tree_passes(tmp_path) -> None:
    assert violations(_tree(tmp_path, CLEAN), pending={}) == []


@pytest.mark.parametrize("rel,text,expect", [
    ("core/bad.py", "from stratforge.generator.render import x\n", "core may import only nothing"),
    ("core/bad.py", "import stratforge.runtime.twin\n", "(not runtime)"),
    ("sandbox/bad.py", "from stratforge.generator import render\n", "sandbox may import only"),
    ("registry/bad.py", "from stratforge.runtime.twin import t\n", "(not runtime)"),
    ("runtime/bad.py", "from ..generator.render import x\n", "(not generator)"),
    ("generator/bad.py", "from stratforge.ci.pipeline import p\n", "(not ci)"),
    ("dashboard/bad.py", "from stratforge.sandbox import run\n", "(not sandbox)"),
    ("generator/bad.py", "from stratforge.cli_support import SafeGroup\n",
     "only the CLI package imports its own modules"),
    ("generator/bad.py", "from stratforge import __version__\n",
     "only the CLI package imports its own modules"),
    ("generator/bad.py", "def f():\n    from stratforge.core import model\n",
     "imported inside a function"),
    ("ci/bad.py", "class C:\n    def m(self):\n        import json\n", "imported inside a function"),
    ("ci/bad.py", "f = lambda: __import__('os')\ndef g():\n    import backtrader\n",
     "imported inside a function"),
    ("ci/bad.py", "from .......x import y\n", "leaves the installed packages"),
    ("ci/bad.py", "from stratforge.generator.render.context import build_context\n",
     "not the public surface of generator"),
])
def test_a_planted_violation_is_caught(tmp_path, rel, text, expect) -> None:
    found = violations(_tree(tmp_path, {**CLEAN, rel: text}), pending={})
    assert any(rel in line and expect in line for line in found), found


def test_pending_excuses_only_its_own_edge(tmp_path) -> None:
    files = {**CLEAN, "sandbox/verify.py": "from stratforge.generator.generate import StepResult\n",
             "sandbox/other.py": "from stratforge.generator.generate import StepResult\n"}
    pending = {("stratforge.sandbox.verify", "stratforge.generator.generate"): "moving"}
    found = violations(_tree(tmp_path, files), pending=pending)
    assert len(found) == 1 and "sandbox/other.py" in found[0]


def test_the_optional_imports_are_not_hard_dependencies() -> None:
    """An optional import must really be optional: not a plain dependency of the project
    (matplotlib is, and is kept lazy for start-up time: its reason says so)."""
    deps = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    names = {d.split(";")[0].split(">")[0].split("<")[0].split("=")[0].split("[")[0].strip().lower()
             for d in deps}
    hard = {m for m in OPTIONAL_IMPORTS if m in names and "sys_platform" not in
            next((d for d in deps if d.lower().startswith(m)), "")}
    assert hard <= {"matplotlib"}, hard
    assert "start" in OPTIONAL_IMPORTS["matplotlib"]


if __name__ == "__main__":  # pragma: no cover - a quick listing: python tests/test_import_graph.py
    print("\n".join(violations(package_map())) or "no violations")
    sys.exit(0)

"""Static checks for generated Python twin strategies, on the ``ast`` module.

Design: an allow-list of imports (a twin needs arithmetic, small data containers and the twin
SDK, nothing else), a deny-list of builtins that reach outside the strategy (files, dynamic
code, introspection, console), no dunder attribute access (the classic sandbox escapes all go
through ``__class__``/``__subclasses__``/``__globals__``), bounded loops like the C++ side, no
``global``/``nonlocal`` and no generators or coroutines as handlers. A syntax error is a finding,
never an exception. Worst case: one parse and one walk of the module, linear in its size.

This is a lint for generated code, not a sandbox: Python cannot be proved safe statically. The
twin also runs in the sandbox (docs/static-checks.md, "Limits").
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from .findings import Finding, Rule, sort_findings

__all__ = ["ALLOWED_IMPORTS", "PY_RULES", "check_python"]

PY_RULES: dict[str, Rule] = {r.id: r for r in [
    Rule("SF-PY-SYNTAX", "error", "the module",
         "The module does not parse (a SyntaxError, with its position).",
         "Nothing else can be checked in code that does not parse.",
         "Fix the syntax error; the message is Python's."),
    Rule("SF-PY-IMPORT", "error", "the module",
         "An import outside the allow-list, a relative import, or importing a private name.",
         "Every escape from a Python sandbox starts with an import (os, sys, subprocess, socket, "
         "ctypes, importlib, pickle, time, random ...). A twin needs arithmetic and the twin SDK.",
         "Import only: math, dataclasses, typing, enum, collections, itertools, functools, "
         "operator, bisect, heapq, statistics, abc, __future__, and stratforge.runtime.twin "
         "(with its modules abi, context, params, strategy)."),
    Rule("SF-PY-CALL", "error", "the module",
         "A call to a builtin that reaches outside the strategy: open, eval, exec, compile, "
         "__import__, globals, locals, vars, input, breakpoint, print, exit, quit, help, "
         "type() with three arguments, getattr/setattr/delattr/hasattr with a name that is not a "
         "plain string literal, or a wall-clock read (time.time, datetime.now, ...).",
         "These run code or touch files, the console or the clock; a twin must be a pure function "
         "of its callbacks so that it agrees with the C++ strategy.",
         "Use ctx.log() instead of print, attributes by name instead of getattr, ctx.now() or the "
         "event timestamps instead of a clock."),
    Rule("SF-PY-DUNDER", "error", "the module",
         "Access to a dunder attribute or name (__class__, __subclasses__, __globals__, "
         "__builtins__, __dict__, __code__, __mro__, ...); super().__init__ and __post_init__ "
         "calls are allowed.",
         "Dunder introspection is how sandboxed Python reaches builtins and other modules.",
         "Use the object's normal attributes and methods."),
    Rule("SF-PY-LOOP", "error", "the module",
         "A while loop without an obvious bound, or a for loop over an endless iterator "
         "(itertools.count/cycle, itertools.repeat without times, iter(callable, sentinel)).",
         "Callback cost must be bounded, as on the C++ side.",
         "for i in range(N) or for x in a fixed-size collection; a while loop is accepted only "
         "as `while i < CONST:` with an unconditional `i += step` in its body."),
    Rule("SF-PY-GLOBAL", "error", "the module",
         "global/nonlocal statements (error); mutable module-level or class-level state such as "
         "a list, dict or set literal (warning).",
         "State outside the instance is shared between instances and survives hot swap; a "
         "mutable class attribute is shared by every instance.",
         "Keep state on self, initialised in __init__; module constants as tuples/frozensets/"
         "numbers in UPPER_CASE."),
    Rule("SF-PY-ASYNC", "error", "the module",
         "async def, await, async for/with, yield and yield from.",
         "The twin driver calls handlers synchronously; a handler that contains yield becomes a "
         "generator whose body never runs, and a coroutine is never awaited: decisions silently "
         "disappear.",
         "Write plain functions; build lists or use generator expressions for sequences."),
]}

ALLOWED_IMPORTS = frozenset({
    "__future__", "math", "dataclasses", "typing", "enum", "collections", "itertools", "functools",
    "operator", "bisect", "heapq", "statistics", "abc",
    "stratforge.runtime.twin", "stratforge.runtime.twin.abi", "stratforge.runtime.twin.context",
    "stratforge.runtime.twin.params", "stratforge.runtime.twin.strategy",
})

_FORBIDDEN_CALLS = {
    "open": "reads or writes files: a twin gets its inputs from callbacks and parameters",
    "eval": "runs arbitrary code: compute the value directly",
    "exec": "runs arbitrary code: write the code out",
    "compile": "builds code at run time: write the code out",
    "__import__": "imports modules dynamically: use a plain import of an allowed module",
    "globals": "exposes module globals: keep state on self",
    "locals": "introspects frames: use the variables directly",
    "vars": "exposes an object's __dict__: use its attributes",
    "input": "reads the console: inputs arrive as callbacks and parameters",
    "breakpoint": "starts a debugger: remove it",
    "print": "writes to the console: use ctx.log(level, msg)",
    "exit": "stops the interpreter: report problems with ctx.log() and return",
    "quit": "stops the interpreter: report problems with ctx.log() and return",
    "help": "starts the interactive help: remove it",
    "memoryview": "exposes raw buffers: use the typed event fields",
}
_ATTR_FUNCS = {"getattr", "setattr", "delattr", "hasattr"}
_CLOCK_ATTRS = {
    "time": {"time", "time_ns", "perf_counter", "perf_counter_ns", "monotonic", "monotonic_ns",
             "process_time", "process_time_ns", "localtime", "gmtime", "sleep"},
    "datetime": {"now", "utcnow", "today"},
    "date": {"today"},
}
_ALLOWED_DUNDERS = {"__init__", "__post_init__"}
_ENDLESS_ITERTOOLS = {"count", "cycle"}


def check_python(text: str, filename: str = "strategy.py") -> list[Finding]:
    """Check one generated Python twin module; returns findings sorted by position."""
    lines = text.splitlines()
    try:
        tree = ast.parse(text, filename=filename)
    except SyntaxError as exc:
        line = exc.lineno or 1
        col = exc.offset or 1
        snippet = lines[line - 1].strip() if 0 < line <= len(lines) else ""
        return [Finding(filename, line, col, "SF-PY-SYNTAX", "error", f"syntax error: {exc.msg}", snippet[:200])]
    except ValueError as exc:  # e.g. NUL bytes
        return [Finding(filename, 1, 1, "SF-PY-SYNTAX", "error", f"cannot parse: {exc}", "")]
    v = _Visitor(filename, lines)
    v.visit(tree)
    v.check_module_state(tree)
    return sort_findings(v.findings)


class _Visitor(ast.NodeVisitor):
    def __init__(self, filename: str, lines: list[str]):
        self.filename = filename
        self.lines = lines
        self.findings: list[Finding] = []
        self.itertools_aliases: set[str] = set()
        self.endless_names: dict[str, str] = {}

    def add(self, node: ast.AST, rule: str, message: str, severity: str | None = None) -> None:
        line = getattr(node, "lineno", 1) or 1
        col = (getattr(node, "col_offset", 0) or 0) + 1
        snippet = self.lines[line - 1].strip()[:200] if 0 < line <= len(self.lines) else ""
        self.findings.append(Finding(self.filename, line, col, rule, severity or PY_RULES[rule].severity,  # type: ignore[arg-type]
                                     message, snippet))

    # ---- imports -----------------------------------------------------------------------------
    def visit_Import(self, node: ast.Import) -> None:
        for a in node.names:
            if a.name not in ALLOWED_IMPORTS:
                self.add(node, "SF-PY-IMPORT", f"import of '{a.name}' is not allowed in a twin strategy: "
                         "allowed are " + ", ".join(sorted(ALLOWED_IMPORTS)))
            elif a.name == "itertools":
                self.itertools_aliases.add(a.asname or "itertools")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        mod = node.module or ""
        if node.level:
            self.add(node, "SF-PY-IMPORT", "relative imports are not allowed: a twin is one module that imports "
                     "only allowed modules and stratforge.runtime.twin")
            return
        if mod not in ALLOWED_IMPORTS:
            self.add(node, "SF-PY-IMPORT", f"import from '{mod}' is not allowed in a twin strategy: allowed are "
                     + ", ".join(sorted(ALLOWED_IMPORTS)))
            return
        for a in node.names:
            if a.name.startswith("_") and mod != "__future__":
                self.add(node, "SF-PY-IMPORT", f"importing private name '{a.name}' from '{mod}': use the public API")
            if mod == "itertools" and a.name in _ENDLESS_ITERTOOLS | {"repeat"}:
                self.endless_names[a.asname or a.name] = a.name
        self.generic_visit(node)

    # ---- calls -------------------------------------------------------------------------------
    def visit_Call(self, node: ast.Call) -> None:
        f = node.func
        if isinstance(f, ast.Name):
            if f.id in _FORBIDDEN_CALLS:
                self.add(node, "SF-PY-CALL", f"{f.id}() {_FORBIDDEN_CALLS[f.id]}")
            elif f.id in _ATTR_FUNCS:
                name = node.args[1] if len(node.args) > 1 else None
                if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
                    self.add(node, "SF-PY-CALL", f"{f.id}() with a computed attribute name: access the attribute "
                             "directly (obj.name)")
                elif name.value.startswith("__"):
                    self.add(node, "SF-PY-DUNDER", f"{f.id}() of dunder attribute '{name.value}' is not allowed: use "
                             "the object's normal attributes")
            elif f.id == "type" and len(node.args) == 3:
                self.add(node, "SF-PY-CALL", "type() with three arguments creates a class at run time: write a "
                         "class statement")
        elif isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name):
            if f.attr in _CLOCK_ATTRS.get(f.value.id, ()):
                self.add(node, "SF-PY-CALL", f"{f.value.id}.{f.attr}() reads a wall clock: use ctx.now() or the "
                         "event's timestamp")
        self.generic_visit(node)

    # ---- dunders -----------------------------------------------------------------------------
    def visit_Attribute(self, node: ast.Attribute) -> None:
        a = node.attr
        if a.startswith("__") and a.endswith("__") and a not in _ALLOWED_DUNDERS:
            self.add(node, "SF-PY-DUNDER", f"access to '{a}' is not allowed: dunder introspection can reach "
                     "builtins and other modules; use normal attributes")
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id.startswith("__") and node.id.endswith("__") and node.id not in ("__name__", "__slots__"):
            self.add(node, "SF-PY-DUNDER", f"name '{node.id}' is not allowed: it exposes interpreter internals")

    # ---- loops -------------------------------------------------------------------------------
    def visit_While(self, node: ast.While) -> None:
        if not _bounded_while(node):
            self.add(node, "SF-PY-LOOP", "while loop without an obvious bound: use for i in range(N), or "
                     "`while i < CONST:` with an unconditional `i += 1` in the body")
        self.generic_visit(node)

    def visit_For(self, node: ast.For) -> None:
        why = self.endless(node.iter)
        if why:
            self.add(node, "SF-PY-LOOP", f"for loop over {why}, which never ends: iterate range(N) or a "
                     "fixed-size collection")
        self.generic_visit(node)

    def endless(self, it: ast.AST) -> str | None:
        if not isinstance(it, ast.Call):
            return None
        f = it.func
        name = None
        if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id in self.itertools_aliases:
            name = f.attr
        elif isinstance(f, ast.Name) and f.id in self.endless_names:
            name = self.endless_names[f.id]
        elif isinstance(f, ast.Name) and f.id == "iter" and len(it.args) == 2:
            return "iter(callable, sentinel)"
        if name in _ENDLESS_ITERTOOLS:
            return f"itertools.{name}()"
        if name == "repeat" and len(it.args) < 2 and not any(k.arg == "times" for k in it.keywords):
            return "itertools.repeat() without times"
        return None

    # ---- state and control -------------------------------------------------------------------
    def visit_Global(self, node: ast.Global) -> None:
        self.add(node, "SF-PY-GLOBAL", f"'global {', '.join(node.names)}': module state is shared between "
                 "instances; keep state on self")

    def visit_Nonlocal(self, node: ast.Nonlocal) -> None:
        self.add(node, "SF-PY-GLOBAL", f"'nonlocal {', '.join(node.names)}': closures hide state; keep state on self")

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self.add(node, "SF-PY-ASYNC", f"async def {node.name}: handlers are called synchronously and a coroutine "
                 "never runs; write a plain def")
        self.generic_visit(node)

    def visit_Await(self, node: ast.Await) -> None:
        self.add(node, "SF-PY-ASYNC", "await is not allowed: twins are synchronous")
        self.generic_visit(node)

    def visit_AsyncFor(self, node: ast.AsyncFor) -> None:
        self.add(node, "SF-PY-ASYNC", "async for is not allowed: twins are synchronous")
        self.generic_visit(node)

    def visit_AsyncWith(self, node: ast.AsyncWith) -> None:
        self.add(node, "SF-PY-ASYNC", "async with is not allowed: twins are synchronous")
        self.generic_visit(node)

    def visit_Yield(self, node: ast.Yield) -> None:
        self.add(node, "SF-PY-ASYNC", "yield turns the function into a generator whose body never runs when the "
                 "driver calls it: return a value or a list instead")
        self.generic_visit(node)

    def visit_YieldFrom(self, node: ast.YieldFrom) -> None:
        self.add(node, "SF-PY-ASYNC", "yield from turns the function into a generator: return a value or a list")
        self.generic_visit(node)

    def check_module_state(self, tree: ast.Module) -> None:
        for stmt in tree.body:
            self._check_state_stmt(stmt, "module-level")
            if isinstance(stmt, ast.ClassDef):
                for s in stmt.body:
                    self._check_state_stmt(s, f"class attribute of {stmt.name}")

    def _check_state_stmt(self, stmt: ast.stmt, where: str) -> None:
        value: ast.AST | None = None
        if isinstance(stmt, ast.Assign):
            value = stmt.value
        elif isinstance(stmt, ast.AnnAssign):
            value = stmt.value
        if value is None or not _is_mutable_value(value):
            return
        if isinstance(stmt, ast.AnnAssign) and _is_classvar_field(stmt):
            return
        self.add(stmt, "SF-PY-GLOBAL", f"mutable {where} value is shared between instances: create it in __init__ "
                 "(self.x = ...) or use a tuple/frozenset for constants", severity="warning")


def _is_mutable_value(v: ast.AST) -> bool:
    if isinstance(v, (ast.List, ast.Dict, ast.Set, ast.ListComp, ast.DictComp, ast.SetComp)):
        return True
    if isinstance(v, ast.Call):
        f = v.func
        name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
        return name in {"list", "dict", "set", "deque", "defaultdict", "OrderedDict", "Counter", "bytearray"}
    return False


def _is_classvar_field(stmt: ast.AnnAssign) -> bool:
    # dataclass fields with default_factory are created per instance; `x: list = field(...)`
    v = stmt.value
    return isinstance(v, ast.Call) and isinstance(v.func, ast.Name) and v.func.id == "field"


def _walk_no_nested(nodes: list[ast.stmt]) -> Iterator[ast.AST]:
    for n in nodes:
        yield from ast.walk(n)


def _bounded_while(node: ast.While) -> bool:
    """`while i < CONST:` (or <=, >, >=) with an unconditional top-level `i += c` / `i -= c`."""
    t = node.test
    if not (isinstance(t, ast.Compare) and len(t.ops) == 1 and isinstance(t.left, ast.Name)):
        return False
    var = t.left.id
    op = t.ops[0]
    bound = t.comparators[0]
    if not _is_const_bound(bound):
        return False
    step_ops = [s for s in node.body if isinstance(s, ast.AugAssign) and isinstance(s.target, ast.Name)
                and s.target.id == var]
    if len(step_ops) != 1:
        return False
    s = step_ops[0]
    if not (isinstance(s.value, ast.Constant) and isinstance(s.value.value, int) and s.value.value > 0):
        return False
    if isinstance(op, (ast.Lt, ast.LtE)) and not isinstance(s.op, ast.Add):
        return False
    if isinstance(op, (ast.Gt, ast.GtE)) and not isinstance(s.op, ast.Sub):
        return False
    if not isinstance(op, (ast.Lt, ast.LtE, ast.Gt, ast.GtE)):
        return False
    # no other assignment to the variable anywhere in the body
    for n in _walk_no_nested(node.body):
        if n is s:
            continue
        if isinstance(n, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.NamedExpr)):
            targets = n.targets if isinstance(n, ast.Assign) else [n.target]
            for tg in targets:
                if any(isinstance(x, ast.Name) and x.id == var for x in ast.walk(tg)):
                    return False
    return not node.orelse


def _is_const_bound(b: ast.AST) -> bool:
    if isinstance(b, ast.Constant) and isinstance(b.value, int) and not isinstance(b.value, bool):
        return True
    if isinstance(b, ast.Name) and b.id.isupper():
        return True
    if isinstance(b, ast.Attribute) and b.attr.isupper():  # self.MAX_DEPTH / Class.MAX_DEPTH
        return True
    if isinstance(b, ast.BinOp):
        return _is_const_bound(b.left) and _is_const_bound(b.right)
    return False

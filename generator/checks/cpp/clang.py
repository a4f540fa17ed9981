"""libclang set-up and the AST helpers every C++ check pass shares.

``clang.cindex`` comes from the ``libclang`` wheel, which ships no compiler resource directory:
:func:`toolchain_args` asks an installed clang or gcc where the built-in headers (stddef.h) are.
:func:`find_sdk_include` finds the runtime's SDK headers (``sf/sdk.hpp``) that generated code
includes. The libclang ``Index`` is created once per process (:func:`index`); parses hold
:data:`INDEX_LOCK`. :class:`AstChecker` holds one parsed translation unit, the findings so far and
the cursor helpers (qualified names, main-file test, operator spelling) used by the passes.
"""

from __future__ import annotations

import ctypes
import functools
import glob
import os
import re
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from clang import cindex as _clang_cindex

import stratforge.runtime as _runtime_component
from stratforge.core.tools import which

from ..findings import Finding
from .rules import CPP_RULES

__all__ = ["INDEX_LOCK", "AstChecker", "cindex", "find_sdk_include", "index", "toolchain_args"]

# --------------------------------------------------------------------------------------------
# Toolchain discovery and the libclang index


def find_sdk_include() -> Path | None:
    """The SDK include directory (holding sf/sdk.hpp) of the runtime component, or None.

    Tries ``stratforge/runtime/engine/include`` (source checkout or editable install) and
    ``stratforge/runtime/include`` (installed wheel).
    """
    top = Path(__file__).resolve().parents[3]  # the folder holding generator/ (and runtime/)
    roots = [Path(p) for p in getattr(_runtime_component, "__path__", [])]
    roots += [top / "runtime", top / "stratforge" / "runtime"]
    for root in roots:
        for rel in ("engine/include", "include"):
            cand = root / rel
            if (cand / "sf" / "sdk.hpp").is_file():
                return cand
    return None


@functools.lru_cache(maxsize=1)
def toolchain_args() -> tuple[str, ...]:
    """Extra clang arguments for the compiler built-in headers (stddef.h, ...).

    The libclang wheel ships no resource directory, so ask an installed compiler where its
    built-in headers are (``-print-file-name=include``); the first that answers wins.
    """
    def version_key(p: str) -> list[int]:
        return [int(x) for x in re.findall(r"\d+", p)]

    # a clang resource directory is the best match for libclang; a compiler's answer comes next
    for pattern in ("/usr/lib/llvm-*/lib/clang/*/include", "/usr/lib/clang/*/include",
                    "/usr/local/lib/clang/*/include"):
        for cand in sorted(glob.glob(pattern), key=version_key, reverse=True):
            if os.path.isfile(os.path.join(cand, "stddef.h")):
                return ("-isystem", cand)
    for cc in ("clang++", "clang", "g++", "gcc", "c++", "cc"):
        exe = which(cc)
        if not exe:
            continue
        try:
            out = subprocess.run([exe, "-print-file-name=include"], capture_output=True, text=True,
                                 timeout=10, check=False).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            continue
        if out and os.path.isabs(out) and os.path.isfile(os.path.join(out, "stddef.h")):
            return ("-isystem", out)
    return ()


#: libclang is not thread-safe for one Index: every parse and walk holds this lock
INDEX_LOCK = threading.Lock()


def cindex() -> Any:
    """The libclang bindings (``clang.cindex``, a declared dependency; the native library loads on
    first use)."""
    return _clang_cindex


_FROM_MAIN: Any = None


@functools.lru_cache(maxsize=1)
def index() -> Any:
    """The process-wide libclang ``Index`` (create once; parse under :data:`INDEX_LOCK`)."""
    global _FROM_MAIN  # noqa: PLW0603 - process-wide binding, set once under the lru_cache
    ci = cindex()
    try:  # clang_Location_isFromMainFile is in libclang but not bound by clang.cindex
        fn = ci.conf.lib.clang_Location_isFromMainFile
        fn.argtypes = [ci.SourceLocation]
        fn.restype = ctypes.c_int
        _FROM_MAIN = fn
    except (AttributeError, OSError):  # pragma: no cover - very old libclang
        _FROM_MAIN = None
    return ci.Index.create()


class AstChecker:
    """The state every pass shares (the parsed unit, the findings so far) and the AST helpers
    they use. The passes are mixins over it (:mod:`.preprocess`, :mod:`.filewide`,
    :mod:`.hotpath`, :mod:`.loops`, :mod:`.abi`); :class:`.check.CppChecker` combines them."""

    def __init__(self, ci: Any, tu: Any, main: str, shown: str, text: str, expected_name: str | None):
        self.ci = ci
        self.K = ci.CursorKind
        self.T = ci.TypeKind
        self.tu = tu
        self.main = main
        self.shown = shown
        self.lines = text.splitlines()
        self.text = text
        self.expected_name = expected_name
        self.findings: list[Finding] = []
        self._seen: set[tuple[str, int]] = set()
        self._qn_cache: dict[Any, str] = {}

    # ---- helpers ---------------------------------------------------------------------------
    def add(self, rule: str, line: int, col: int, message: str, *, severity: str | None = None,
            once_per_line: bool = True) -> None:
        if once_per_line:
            key = (rule, line)
            if key in self._seen:
                return
            self._seen.add(key)
        sev = severity or CPP_RULES[rule].severity
        snippet = self.lines[line - 1].strip()[:200] if 0 < line <= len(self.lines) else ""
        self.findings.append(Finding(self.shown, max(line, 1), max(col, 1), rule, sev, message, snippet))  # type: ignore[arg-type]

    def at(self, c: Any, rule: str, message: str, **kw: Any) -> None:
        loc = c.location
        self.add(rule, loc.line, loc.column, message, **kw)

    def in_main(self, c: Any) -> bool:
        loc = c.location
        # fast paths (one C call each): written in the main file; in a system header. Code
        # expanded from an SDK macro used in the main file (SF_EXPORT_STRATEGY) needs the slow,
        # expansion-location comparison.
        if _FROM_MAIN is not None and _FROM_MAIN(loc):
            return True
        if loc.is_in_system_header:
            return False
        f = loc.file
        return f is not None and f.name == self.main

    def qname(self, c: Any) -> str:
        """Normalised qualified name of a declaration ('' for None)."""
        if c is None:
            return ""
        try:
            key = c.hash
        except Exception:  # noqa: BLE001 - defensive: odd cursors
            key = None
        if key is not None and key in self._qn_cache:
            return self._qn_cache[key]
        parts: list[str] = []
        K = self.K
        cur = c
        depth = 0
        while cur is not None and cur.kind != K.TRANSLATION_UNIT and depth < 64:
            depth += 1
            sp = cur.spelling or ""
            if cur.kind == K.NAMESPACE and (sp.startswith("_") or not sp):
                pass
            elif cur.kind in (K.LINKAGE_SPEC, K.UNEXPOSED_DECL):
                pass
            else:
                parts.append(sp.split("<", 1)[0])
            cur = cur.semantic_parent
        name = "::".join(reversed(parts))
        if key is not None:
            self._qn_cache[key] = name
        return name

    def _name_candidates(self, qn: str) -> list[str]:
        out = [qn]
        if qn.startswith("std::") and qn.count("::") == 1:
            out.append(qn[5:])
        return out

    def strip(self, c: Any) -> Any:
        K = self.K
        while c is not None and c.kind in (K.UNEXPOSED_EXPR, K.PAREN_EXPR):
            ch = list(c.get_children())
            if len(ch) != 1:
                break
            c = ch[0]
        return c

    def binop(self, c: Any) -> str | None:
        ch = list(c.get_children())
        if len(ch) != 2:
            return None
        end = ch[0].extent.end.offset
        for t in c.get_tokens():
            if t.extent.start.offset >= end:
                return t.spelling
        return None

    def unop(self, c: Any) -> tuple[str, bool] | None:
        toks = [t.spelling for t in c.get_tokens()]
        if not toks:
            return None
        if toks[0] in ("++", "--", "&", "*", "-", "+", "!", "~"):
            return toks[0], True
        if toks[-1] in ("++", "--"):
            return toks[-1], False
        return None

    def is_function(self, c: Any) -> bool:
        K = self.K
        return c is not None and c.kind in (K.FUNCTION_DECL, K.CXX_METHOD, K.CONSTRUCTOR, K.DESTRUCTOR,
                                            K.FUNCTION_TEMPLATE, K.CONVERSION_FUNCTION)

    def func_key(self, c: Any) -> str | None:
        """Key of a main-file function definition for the call graph, or None."""
        if not self.is_function(c):
            return None
        d = c.get_definition() or c
        if not self.in_main(d) or not d.is_definition():
            return None
        return f"{d.location.line}:{d.location.column}:{d.spelling}"

    def record_class(self, t: Any) -> str:
        """Qualified name of the class a type names (through refs, pointers excluded)."""
        T = self.T
        t = t.get_canonical()
        while t.kind in (T.LVALUEREFERENCE, T.RVALUEREFERENCE):
            t = t.get_pointee().get_canonical()
        if t.kind != T.RECORD:
            return ""
        return self.qname(t.get_declaration())

    def is_fixed_array(self, t: Any) -> bool:
        T = self.T
        t = t.get_canonical()
        while t.kind in (T.LVALUEREFERENCE, T.RVALUEREFERENCE):
            t = t.get_pointee().get_canonical()
        if t.kind == T.CONSTANTARRAY:
            return True
        return t.kind == T.RECORD and self.qname(t.get_declaration()) == "std::array"

    def main_walk(self) -> Iterator[Any]:
        """Every cursor written in the main file (macro expansions located there included)."""
        stack = [c for c in self.tu.cursor.get_children()]
        stack.reverse()
        while stack:
            c = stack.pop()
            if not self.in_main(c):
                continue
            yield c
            ch = list(c.get_children())
            ch.reverse()
            stack.extend(ch)

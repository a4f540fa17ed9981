"""The preprocessor rules (SF-CPP-INCLUDE, SF-CPP-MACRO), read from the source text.

They work on the text, not on the AST, so that a hostile ``#include`` is reported even when it
stops the parse; :func:`neutralise_includes` blanks every unsafe include before clang parses the
file, so clang never opens an arbitrary file of the checking machine (its contents would leak into
diagnostics). Comments are blanked first and backslash continuations joined, keeping lines and
columns, so a finding points at the directive as written.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from .clang import AstChecker

__all__ = ["ALLOWED_SF_HEADERS", "ALLOWED_STD_HEADERS", "PreprocessorChecks", "neutralise_includes"]


ALLOWED_STD_HEADERS = frozenset("""
    algorithm array bit bitset cassert cctype cerrno cfloat charconv cinttypes climits cmath compare
    concepts cstddef cstdint cstring functional initializer_list iterator limits map memory numbers
    numeric optional random ratio set span stdexcept string string_view tuple type_traits
    unordered_map unordered_set utility variant vector deque
    stddef.h stdint.h inttypes.h limits.h float.h math.h string.h ctype.h
    """.split())
ALLOWED_SF_HEADERS = frozenset({"sf/sdk.hpp", "sf/abi.h"})
_PROTECTED_MACROS = frozenset({
    "SF_ENTRY_SYMBOL", "SF_ENTRY_SYMBOL_NAME", "SF_EXPORT_STRATEGY", "SF_EXPORT_ATTR", "SF_BUILD_ID",
    "SF_SPEC_HASH", "SF_ABI_VERSION", "SF_ABI_H", "SF_SDK_WRAP", "SF_OK", "SF_FAULT", "NDEBUG",
})
_CPP_KEYWORDS = frozenset("""
    alignas alignof and and_eq asm auto bitand bitor bool break case catch char char8_t char16_t
    char32_t class compl concept const consteval constexpr constinit const_cast continue co_await
    co_return co_yield decltype default delete do double dynamic_cast else enum explicit export
    extern false float for friend goto if inline int long mutable namespace new noexcept not
    not_eq nullptr operator or or_eq private protected public register reinterpret_cast requires
    return short signed sizeof static static_assert static_cast struct switch template this
    thread_local throw true try typedef typeid typename union unsigned using virtual void volatile
    wchar_t while xor xor_eq final override import module
    """.split())


class PreprocessorChecks(AstChecker):
    """SF-CPP-INCLUDE and SF-CPP-MACRO over the main file's text."""

    def check_preprocessor(self) -> None:
        for start, _end, col, directive, rest, line in _directives(self.text):
            if directive is None:
                if "_Pragma" in line:
                    self.add("SF-CPP-MACRO", start + 1, line.index("_Pragma") + 1,
                             "_Pragma is not allowed in strategy code: remove it")
                continue
            if directive in ("include", "include_next", "import", "embed", "__include_macros"):
                self.check_include(start + 1, col, directive, rest)
            elif directive in ("define", "undef"):
                nm = re.match(r"([A-Za-z_]\w*)", rest)
                if not nm:
                    continue
                name = nm.group(1)
                if name in _CPP_KEYWORDS:
                    self.add("SF-CPP-MACRO", start + 1, col,
                             f"#{directive} {name} redefines a C++ keyword: remove the macro")
                elif name in _PROTECTED_MACROS:
                    self.add("SF-CPP-MACRO", start + 1, col,
                             f"#{directive} {name} changes an SDK/ABI macro: the build sets it; remove the line")
                elif name.startswith("__") or re.match(r"_[A-Z]", name):
                    self.add("SF-CPP-MACRO", start + 1, col,
                             f"#{directive} {name} touches a reserved identifier (library/compiler internals): "
                             "remove it")
            elif directive == "line":
                self.add("SF-CPP-MACRO", start + 1, col, "#line forges source locations: remove it")
            elif directive == "pragma" and rest.split()[:1] != ["once"]:
                self.add("SF-CPP-MACRO", start + 1, col,
                         f"#pragma {rest.split()[0] if rest else ''} is not allowed in strategy code "
                         "(only #pragma once): remove it")

    def check_include(self, line: int, col: int, directive: str, rest: str) -> None:
        if directive != "include":
            self.add("SF-CPP-INCLUDE", line, col, f"#{directive} is not allowed: use #include of an allowed header")
            return
        m = re.match(r'<([^>]*)>|"([^"]*)"', rest)
        if not m:
            self.add("SF-CPP-INCLUDE", line, col,
                     "computed #include (a macro) is not allowed: write the header name literally")
            return
        name = m.group(1) if m.group(1) is not None else m.group(2)
        parts = re.split(r"[\\/]", name)
        if name.startswith(("/", "\\", "~")) or re.match(r"[A-Za-z]:", name) or ".." in parts:
            self.add("SF-CPP-INCLUDE", line, col,
                     f"#include of a file-system path '{name}' is not allowed: strategies include only "
                     "the allowed standard headers and \"sf/sdk.hpp\"")
            return
        if name in ALLOWED_SF_HEADERS:
            return
        if m.group(1) is not None and name in ALLOWED_STD_HEADERS:
            return
        if name.startswith("sf/"):
            hint = "engine headers are host-only; strategies use \"sf/sdk.hpp\" (and \"sf/abi.h\")"
        else:
            hint = "not on the allow-list (see docs/static-checks.md): threads, I/O, clocks, process " \
                   "control and OS headers have no place in a strategy"
        self.add("SF-CPP-INCLUDE", line, col, f"#include {m.group(0)} is not allowed: {hint}")


def _strip_comments(text: str) -> str:
    """Blank out // and /* */ comments (keeping newlines and columns), respecting string literals."""
    out = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "/" and i + 1 < n and text[i + 1] == "/":
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif ch == "/" and i + 1 < n and text[i + 1] == "*":
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("".join(c if c == "\n" else " " for c in text[i:j]))
            i = j
        elif ch in "\"'":
            j = i + 1
            while j < n and text[j] != ch and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(text[i:j])
            i = j
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _directives(text: str) -> Iterator[tuple[int, int, int, str | None, str, str]]:
    """(first line idx, last line idx, column, directive or None, rest, logical line) per line.

    Comments are blanked first; backslash continuations are joined into one logical line.
    """
    lines = _strip_comments(text).split("\n")
    i = 0
    while i < len(lines):
        start = i
        line = lines[i]
        while line.endswith("\\") and i + 1 < len(lines):
            i += 1
            line = line[:-1] + lines[i]
        m = re.match(r"\s*#\s*([A-Za-z_]\w*)\s*(.*)$", line)
        if m:
            yield start, i, line.index("#") + 1, m.group(1), m.group(2).strip(), line
        else:
            yield start, i, 1, None, "", line
        i += 1


def _unsafe_include(directive: str, rest: str) -> bool:
    """An include clang must never open: paths, computed names, quoted non-SDK headers."""
    if directive not in ("include", "include_next", "import", "embed", "__include_macros"):
        return False
    if directive != "include":
        return True
    m = re.match(r'<([^>]*)>|"([^"]*)"', rest)
    if not m:
        return True
    name = m.group(1) if m.group(1) is not None else m.group(2)
    parts = re.split(r"[\\/]", name)
    if name.startswith(("/", "\\", "~")) or re.match(r"[A-Za-z]:", name) or ".." in parts:
        return True
    return m.group(2) is not None and not name.startswith("sf/")


def neutralise_includes(text: str) -> str:
    """The text with every unsafe #include blanked (same line count), so clang never reads
    arbitrary files of the checking machine (their contents would leak into diagnostics)."""
    lines = text.split("\n")
    for start, end, _col, directive, rest, _line in _directives(text):
        if directive is not None and _unsafe_include(directive, rest):
            for k in range(start, end + 1):
                lines[k] = ""
    return "\n".join(lines)

"""Marked code regions: the only places LLM-written code may go.

A template marks a region with a start and an end line (C++ ``// >>> stratforge:region NAME`` /
``// <<< stratforge:region NAME``, Python ``# >>> ...`` / ``# <<< ...``). The default content is
rendered from the spec (signals / reference logic); :class:`RegionCode` replaces it. Region code
is checked before it is inserted so that it can never reach outside its region:

- it must not contain the marker text ``stratforge:region`` (it cannot close the region early or
  open another one);
- C++: braces, brackets and parentheses must balance and never close more than they open (outside
  strings, character literals and comments), comments and literals must be closed, and no line may
  be a preprocessor directive (a ``#define`` would reach past the region);
- Python: it is re-indented to the region's indentation, so every line stays inside the enclosing
  block, and it must parse as a statement list (``ast``).
"""

from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import dataclass

__all__ = ["RegionCode", "RegionError", "MARKER", "check_cpp_region", "check_python_region", "indent_region"]

MARKER = "stratforge:region"


class RegionError(ValueError):
    """Region code that could reach outside its region, or names an unknown region."""


@dataclass(frozen=True)
class RegionCode:
    """Replacement content of one region, in both languages."""

    cpp: str
    python: str


def _common(code: str, region: str, lang: str) -> None:
    if not isinstance(code, str):
        raise RegionError(f"region '{region}' ({lang}) must be text, was {type(code).__name__}")
    if MARKER in code:
        raise RegionError(f"region '{region}' ({lang}) contains the region marker '{MARKER}'; region code "
                          "cannot open or close regions")
    if "\0" in code or "\r" in code:
        raise RegionError(f"region '{region}' ({lang}) contains NUL or CR characters")


def check_cpp_region(code: str, region: str) -> None:
    _common(code, region, "C++")
    pairs = {")": "(", "]": "[", "}": "{"}
    stack: list[str] = []
    i, n = 0, len(code)
    line_start = True
    while i < n:
        c = code[i]
        if line_start and c not in " \t\n":
            if c == "#":
                raise RegionError(f"region '{region}' (C++) has a preprocessor directive; not allowed in regions")
            line_start = False
        if c == "\n":
            line_start = True
            i += 1
        elif code.startswith("//", i):
            j = code.find("\n", i)
            i = n if j < 0 else j
        elif code.startswith("/*", i):
            j = code.find("*/", i + 2)
            if j < 0:
                raise RegionError(f"region '{region}' (C++) has an unterminated /* comment")
            i = j + 2
        elif c in "\"'":
            if c == '"' and i > 0 and code[i - 1] == "R":
                raise RegionError(f"region '{region}' (C++) uses a raw string literal; not allowed in regions")
            j = i + 1
            while j < n and code[j] != c:
                if code[j] == "\n":
                    break
                j += 2 if code[j] == "\\" else 1
            if j >= n or code[j] != c:
                raise RegionError(f"region '{region}' (C++) has an unterminated literal")
            i = j + 1
        elif c in "([{":
            stack.append(c)
            i += 1
        elif c in ")]}":
            if not stack or stack[-1] != pairs[c]:
                raise RegionError(f"region '{region}' (C++) closes '{c}' that it did not open: region code "
                                  "must stay inside its region")
            stack.pop()
            i += 1
        else:
            i += 1
    if stack:
        raise RegionError(f"region '{region}' (C++) leaves '{''.join(stack)}' open")


def check_python_region(code: str, region: str) -> None:
    _common(code, region, "Python")
    try:
        ast.parse(textwrap.dedent(code))
    except SyntaxError as err:
        raise RegionError(f"region '{region}' (Python) does not parse: {err.msg} (line {err.lineno})") from None


def indent_region(code: str, indent: str) -> str:
    """Dedent ``code`` and indent every non-blank line by ``indent``; always ends with a newline."""
    body = textwrap.dedent(code).strip("\n")
    lines = [(indent + ln if ln.strip() else "") for ln in body.split("\n")] if body else []
    return "".join(ln.rstrip() + "\n" for ln in lines)


_REGION_RE = re.compile(r"^(?P<indent>[ \t]*)(?P<lead>//|#) >>> " + re.escape(MARKER) + r" (?P<name>[a-z_]+)\n"
                        r"(?P<body>.*?)"
                        r"^(?P=indent)(?P=lead) <<< " + re.escape(MARKER) + r" (?P=name)\n", re.M | re.S)


def find_regions(text: str) -> dict[str, str]:
    """Region name -> current content, for a rendered file."""
    return {m["name"]: m["body"] for m in _REGION_RE.finditer(text)}


def substitute(text: str, replacements: dict[str, str]) -> str:
    """Replace the content of the named regions (already indented text)."""
    def repl(m: re.Match) -> str:
        name = m["name"]
        if name not in replacements:
            return m[0]
        return (f"{m['indent']}{m['lead']} >>> {MARKER} {name}\n{replacements[name]}"
                f"{m['indent']}{m['lead']} <<< {MARKER} {name}\n")
    return _REGION_RE.sub(repl, text)


def region_indents(text: str) -> dict[str, str]:
    return {m["name"]: m["indent"] for m in _REGION_RE.finditer(text)}

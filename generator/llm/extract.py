"""Defensive extraction of code or JSON from model output. Nothing is ever evaluated.

Rules (docs/llm.md):

* ``<think>…</think>`` reasoning blocks are dropped; CRLF becomes LF.
* Fenced blocks (```` ``` ```` or ``~~~``, with or without a language tag) are found line by line.
  A block tagged with the wanted language wins; among several, the longest. Then untagged blocks.
  A block tagged with another language only is not taken: that is an error naming what was found.
* An opening fence with no closing fence: the rest of the output is taken and ``truncated`` is set.
* No fence at all: code is the whole output minus leading/trailing prose lines ("Here is…:");
  JSON is the first balanced ``{…}`` (a string-aware scan) that parses.
* JSON is parsed strictly after removing trailing commas and ``//`` comments outside strings;
  single-quoted or Python-style literals are not repaired.
* Empty output, or nothing of the expected kind, is an :class:`ExtractionError` naming what was
  expected (and whether the output looks cut off).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from stratforge.core.errors import GeneratedCodeError

__all__ = ["ExtractionError", "Extracted", "LANGUAGE_ALIASES", "extract_code", "extract_json",
           "find_fences", "Fence"]

LANGUAGE_ALIASES: dict[str, frozenset[str]] = {
    "cpp": frozenset({"cpp", "c++", "cxx", "cc", "hpp", "hxx", "h", "c"}),
    "python": frozenset({"python", "py", "python3", "py3"}),
    "json": frozenset({"json", "jsonc", "json5", "javascript", "js"}),
}
_FENCE_RE = re.compile(r"^ {0,3}(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^\n`]*)$")
_THINK_RE = re.compile(r"<think>.*?(</think>|\Z)", re.S | re.I)
_PROSE_START = re.compile(r"^(here|sure|certainly|of course|below|this|the|i |i'|note|okay|ok|"
                          r"explanation|output|answer|result)\b", re.I)
_CODE_CHARS = re.compile(r"[;{}()=\[\]#<>]|^\s*(//|/\*|\*|def |class |return\b|import |from )")


class ExtractionError(GeneratedCodeError):
    """The model output holds nothing of the expected kind."""

    def __init__(self, message: str, *, expected: str, truncated: bool = False) -> None:
        self.expected = expected
        self.truncated = truncated
        super().__init__(message)


@dataclass(frozen=True)
class Fence:
    language: str  # lower-cased first word of the info string, "" when untagged
    body: str
    closed: bool
    start_line: int


@dataclass(frozen=True)
class Extracted:
    """What was taken from the output. ``value`` holds the parsed object for JSON."""

    text: str
    kind: str  # "code" or "json"
    language: str
    source: str  # "fence", "bare", "braces"
    truncated: bool = False
    value: Any = None
    notes: tuple[str, ...] = field(default_factory=tuple)


def _clean(output: str) -> str:
    text = output.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    return _THINK_RE.sub("", text)


def find_fences(output: str) -> list[Fence]:
    """Every fenced block, in order; an unclosed last block runs to the end (``closed=False``)."""
    lines = _clean(output).split("\n")
    fences: list[Fence] = []
    i = 0
    while i < len(lines):
        m = _FENCE_RE.match(lines[i])
        if not m:
            i += 1
            continue
        marker, info = m.group("fence"), m.group("info").strip()
        lang = info.split()[0].lower().strip("{}.") if info else ""
        body: list[str] = []
        j = i + 1
        closed = False
        while j < len(lines):
            c = _FENCE_RE.match(lines[j])
            if c and c.group("fence")[0] == marker[0] and len(c.group("fence")) >= len(marker) \
                    and not c.group("info").strip():
                closed = True
                break
            body.append(lines[j])
            j += 1
        fences.append(Fence(lang, "\n".join(body), closed, i + 1))
        i = j + 1
    return fences


def _pick(fences: list[Fence], language: str) -> tuple[Fence | None, list[str]]:
    aliases = LANGUAGE_ALIASES.get(language, frozenset({language}))
    tagged = [f for f in fences if f.language in aliases and f.body.strip()]
    untagged = [f for f in fences if not f.language and f.body.strip()]
    others = sorted({f.language for f in fences if f.language and f.language not in aliases})
    for group in (tagged, untagged):
        if group:
            return max(group, key=lambda f: (len(f.body.strip()), -f.start_line)), others
    return None, others


def _strip_prose(text: str) -> tuple[str, list[str]]:
    lines = text.strip("\n").split("\n")
    notes = []

    def prose(line: str) -> bool:
        s = line.strip()
        return bool(s) and not _CODE_CHARS.search(s) and (_PROSE_START.match(s) is not None
                                                          or s.endswith(":") or s.endswith("."))
    while lines and (not lines[0].strip() or prose(lines[0])):
        if lines[0].strip():
            notes.append(f"dropped leading prose: {lines[0].strip()[:60]!r}")
        lines.pop(0)
    while lines and (not lines[-1].strip() or prose(lines[-1])):
        if lines[-1].strip():
            notes.append(f"dropped trailing prose: {lines[-1].strip()[:60]!r}")
        lines.pop()
    return "\n".join(lines), notes


def extract_code(output: str, language: str) -> Extracted:
    """The code in ``output`` for ``language`` ("cpp" or "python")."""
    if not isinstance(output, str) or not _clean(output).strip():
        raise ExtractionError(f"the model returned nothing; expected {language} code in a "
                              f"```{language} fenced block", expected=f"{language} code")
    fences = find_fences(output)
    if fences:
        chosen, others = _pick(fences, language)
        if chosen is None:
            found = ", ".join(others) or "only empty blocks"
            raise ExtractionError(f"expected a ```{language} block, found {found}",
                                  expected=f"{language} code")
        notes = (f"ignored other blocks: {', '.join(others)}",) if others else ()
        body = chosen.body.strip("\n")
        return Extracted(body, "code", language, "fence", truncated=not chosen.closed, notes=notes)
    text, notes = _strip_prose(_clean(output))
    if not text.strip():
        raise ExtractionError(f"the answer holds only prose; expected {language} code",
                              expected=f"{language} code")
    return Extracted(text, "code", language, "bare", notes=tuple(notes))


# --------------------------------------------------------------------------------------------
# JSON


def _balanced_objects(text: str) -> tuple[list[str], bool]:
    """Candidate ``{...}`` spans, string-aware; second value: an object was left open at the end."""
    spans: list[str] = []
    i, n = 0, len(text)
    open_at_end = False
    while i < n:
        if text[i] != "{":
            i += 1
            continue
        depth, j, in_str, esc = 0, i, False, False
        while j < n:
            ch = text[j]
            if in_str:
                if esc:
                    esc = False
                elif ch == "\\":
                    esc = True
                elif ch == '"':
                    in_str = False
            elif ch == '"':
                in_str = True
            elif ch in "{[":
                depth += 1
            elif ch in "}]":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        if j >= n:
            open_at_end = True
            break
        spans.append(text[i: j + 1])
        i = j + 1
    return spans, open_at_end


def _relax(text: str) -> tuple[str, list[str]]:
    """Remove trailing commas and // or /* */ comments outside strings."""
    out: list[str] = []
    notes: set[str] = set()
    i, n = 0, len(text)
    in_str = esc = False
    while i < n:
        ch = text[i]
        if in_str:
            out.append(ch)
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
            i += 1
            continue
        if ch == '"':
            in_str = True
            out.append(ch)
            i += 1
        elif text.startswith("//", i):
            notes.add("removed // comments")
            while i < n and text[i] != "\n":
                i += 1
        elif text.startswith("/*", i):
            notes.add("removed /* */ comments")
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
        elif ch == ",":
            k = i + 1
            while k < n and text[k] in " \t\r\n":
                k += 1
            if k < n and text[k] in "}]":
                notes.add("removed trailing commas")
                i += 1
            else:
                out.append(ch)
                i += 1
        else:
            out.append(ch)
            i += 1
    return "".join(out), sorted(notes)


def _parse(text: str) -> tuple[Any, list[str]] | None:
    try:
        return json.loads(text), []
    except (json.JSONDecodeError, RecursionError):
        pass
    relaxed, notes = _relax(text)
    try:
        return json.loads(relaxed), notes
    except (json.JSONDecodeError, RecursionError):
        return None


def extract_json(output: str, *, expected: str = "a JSON object") -> Extracted:
    """The first JSON object in ``output`` (fenced or surrounded by prose)."""
    if not isinstance(output, str) or not _clean(output).strip():
        raise ExtractionError(f"the model returned nothing; expected {expected}", expected=expected)
    clean = _clean(output)
    fences = find_fences(clean)
    candidates: list[tuple[str, str, bool]] = []
    if fences:
        aliases = LANGUAGE_ALIASES["json"]
        ordered = ([f for f in fences if f.language in aliases]
                   + [f for f in fences if not f.language]
                   + [f for f in fences if f.language and f.language not in aliases])
        for f in ordered:
            candidates.append((f.body, "fence", not f.closed))
    candidates.append((clean, "braces", False))
    truncated_seen = False
    for body, source, truncated in candidates:
        parsed = _parse(body.strip()) if source == "fence" else None
        if parsed is not None and isinstance(parsed[0], dict):
            return Extracted(body.strip(), "json", "json", source, truncated, parsed[0],
                             tuple(parsed[1]))
        spans, open_at_end = _balanced_objects(body)
        truncated_seen = truncated_seen or open_at_end or truncated
        for span in spans:
            parsed = _parse(span)
            if parsed is not None and isinstance(parsed[0], dict):
                src = source if source == "fence" else "braces"
                return Extracted(span, "json", "json", src, truncated, parsed[0], tuple(parsed[1]))
    if truncated_seen:
        raise ExtractionError(f"the answer ends inside an unfinished JSON object (cut off?); "
                              f"expected {expected}, complete and shorter", expected=expected,
                              truncated=True)
    raise ExtractionError(f"no parsable JSON object in the answer; expected {expected} "
                          f"(double-quoted strings, no comments)", expected=expected)

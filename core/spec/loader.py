"""Loading a spec file safely and reporting every problem at once, with its position.

The YAML is composed (never constructed) with PyYAML's safe loader, so no tag can run code;
the node tree is then converted by hand, which lets us

* accept only the YAML core types (map, seq, str, int, float, bool, null, timestamp) and reject
  any other tag, merge keys and duplicate keys,
* bound the file size, the nesting depth and the number of nodes reached through aliases (an
  "alias bomb" is refused before it grows), and refuse recursive aliases,
* remember where each key and value came from, so every error says ``file:line:column field:
  message, was value``.

Errors are collected: YAML syntax stops the load at the first error (nothing after it can be
trusted), but once the YAML is well-formed every field error and every cross-field rule
violation is reported together.
"""

from __future__ import annotations

import difflib
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias

import yaml
from pydantic import BaseModel, ValidationError

from stratforge.core.errors import SpecError, SpecIssue
from stratforge.core.spec.canonical import spec_hash
from stratforge.core.spec.models import DATA_PATH_PATTERN, StrategySpec
from stratforge.core.spec.violation import RuleViolations

MAX_SPEC_BYTES = 256 * 1024
MAX_NODES = 20_000
MAX_DEPTH = 32

_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_TAG + t for t in ("str", "int", "float", "bool", "null", "timestamp")}

DocPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Pos:
    """1-based position in the source."""

    line: int
    column: int


@dataclass
class _Located:
    """Where each path's key and value start, and how string values were written."""

    values: dict[DocPath, Pos] = field(default_factory=dict)
    keys: dict[DocPath, Pos] = field(default_factory=dict)
    inline: dict[DocPath, int] = field(default_factory=dict)  # extra offset for quoted scalars


@dataclass(frozen=True)
class LoadedSpec:
    """A valid spec, where it came from, and its version identity."""

    spec: StrategySpec
    source: str
    text: str
    hash: str

    @property
    def short_hash(self) -> str:
        return self.hash[:12]


#: What the functions that deliberately accept either form take: the model alone (e.g. a spec the
#: cross-check derived with ``model_copy``) or the loaded file. They normalise it with
#: :func:`as_strategy_spec` or :func:`as_loaded_spec`; every other function names one of the two.
SpecLike: TypeAlias = StrategySpec | LoadedSpec


def as_strategy_spec(spec: SpecLike) -> StrategySpec:
    """The model of ``spec``: a ``StrategySpec`` as is, a ``LoadedSpec``'s ``.spec``."""
    return spec.spec if isinstance(spec, LoadedSpec) else spec


def as_loaded_spec(spec: SpecLike) -> LoadedSpec:
    """``spec`` as a ``LoadedSpec``: as is when it is one; a model alone gets its version identity
    (the hash a file with this content loads to), the source ``<model>`` and no text (it came
    from no file, so nothing may write it out as the user's spec)."""
    if isinstance(spec, LoadedSpec):
        return spec
    return LoadedSpec(spec=spec, source="<model>", text="", hash=spec_hash(spec))


def _pos(mark: yaml.Mark | None) -> Pos:
    if mark is None:
        return Pos(1, 1)
    return Pos(mark.line + 1, mark.column + 1)


class _Converter:
    """Turn a composed node tree into plain Python data, recording positions."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.loc = _Located()
        self.count = 0
        self._constructor = yaml.SafeLoader("")

    def fail(self, node: yaml.Node, message: str, path: DocPath) -> SpecError:
        p = _pos(node.start_mark)
        return SpecError([SpecIssue(self.source, p.line, p.column, _fmt_path(path), message)])

    def convert(self, node: yaml.Node, path: DocPath, stack: tuple[int, ...]) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise self.fail(node, f"the document expands to more than {MAX_NODES} nodes "
                            "(aliases repeated too often?)", path)
        if len(stack) > MAX_DEPTH:
            raise self.fail(node, f"nesting deeper than {MAX_DEPTH} levels", path)
        if id(node) in stack:
            raise self.fail(node, "recursive alias: a node contains itself", path)
        self.loc.values[path] = _pos(node.start_mark)
        if isinstance(node, yaml.ScalarNode):
            if node.tag not in _SCALAR_TAGS:
                raise self.fail(node, f"YAML tag '{node.tag.replace(_TAG, '!!')}' is not allowed "
                                "(only plain values, lists and mappings)", path)
            if node.style in ("'", '"') and node.start_mark.line == node.end_mark.line:
                self.loc.inline[path] = 1
            elif node.style is None and node.start_mark.line == node.end_mark.line:
                self.loc.inline[path] = 0
            return self._constructor.construct_object(node, deep=True)
        inner = stack + (id(node),)
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _TAG + "seq":
                raise self.fail(node, f"YAML tag '{node.tag}' is not allowed", path)
            return [self.convert(item, path + (i,), inner) for i, item in enumerate(node.value)]
        if isinstance(node, yaml.MappingNode):
            if node.tag != _TAG + "map":
                raise self.fail(node, f"YAML tag '{node.tag}' is not allowed", path)
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if key_node.tag == _TAG + "merge":
                    raise self.fail(key_node, "merge keys ('<<') are not allowed; write the "
                                    "fields out", path)
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag not in _SCALAR_TAGS:
                    raise self.fail(key_node, "mapping keys must be plain strings", path)
                key = str(self._constructor.construct_object(key_node))
                if key in out:
                    raise self.fail(key_node, f"duplicate key '{key}'", path + (key,))
                self.loc.keys[path + (key,)] = _pos(key_node.start_mark)
                out[key] = self.convert(value_node, path + (key,), inner)
            return out
        raise self.fail(node, "unsupported YAML node", path)  # pragma: no cover


def _fmt_path(path: DocPath) -> str:
    if not path:
        return "(document)"
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _short(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _decode(raw: bytes, source: str) -> str:
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        before = raw[: err.start]
        line = before.count(b"\n") + 1
        column = err.start - (before.rfind(b"\n") + 1) + 1
        raise SpecError([SpecIssue(source, line, column, "(document)",
                                   f"not UTF-8 text: byte 0x{raw[err.start]:02x} cannot be "
                                   "decoded")]) from None


def parse_yaml(raw: bytes, source: str) -> tuple[dict[str, Any], _Located, str]:
    """Decode and compose ``raw``; return the data, its positions and the text."""
    if len(raw) > MAX_SPEC_BYTES:
        raise SpecError([SpecIssue(source, 1, 1, "(document)",
                                   f"file is {len(raw):,} bytes; a spec may be at most "
                                   f"{MAX_SPEC_BYTES:,} bytes")])
    text = _decode(raw, source)
    try:
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.MarkedYAMLError as err:
        p = _pos(err.problem_mark or err.context_mark)
        what = err.problem or "invalid YAML"
        if err.context:
            what = f"{what} ({err.context})"
        raise SpecError([SpecIssue(source, p.line, p.column, "(document)",
                                   f"YAML syntax: {what}")]) from None
    except yaml.reader.ReaderError as err:  # a character YAML does not allow (NUL, ...)
        before = text[: err.position]
        line = before.count("\n") + 1
        column = err.position - (before.rfind("\n") + 1) + 1
        char = err.character if isinstance(err.character, str) else chr(err.character)
        raise SpecError([SpecIssue(source, line, column, "(document)",
                                   f"unacceptable character #x{ord(char):04x}: only printable "
                                   "text is allowed in a spec")]) from None
    except yaml.YAMLError as err:  # other errors without a mark
        raise SpecError([SpecIssue(source, 1, 1, "(document)", f"YAML: {err}")]) from None
    except RecursionError:
        raise SpecError([SpecIssue(source, 1, 1, "(document)",
                                   "YAML nesting is too deep")]) from None
    if not nodes or nodes[0] is None:
        raise SpecError([SpecIssue(source, 1, 1, "(document)",
                                   "the file is empty; expected a strategy spec mapping "
                                   "(apiVersion, kind, metadata, ...)")])
    if len(nodes) > 1:
        p = _pos(nodes[1].start_mark)
        raise SpecError([SpecIssue(source, p.line, p.column, "(document)",
                                   "more than one YAML document; a spec file holds exactly one")])
    conv = _Converter(source)
    data = conv.convert(nodes[0], (), ())
    if not isinstance(data, dict):
        p = _pos(nodes[0].start_mark)
        raise SpecError([SpecIssue(source, p.line, p.column, "(document)",
                                   f"expected a mapping at the top level, found {_short(data)}")])
    return data, conv.loc, text


# --- mapping pydantic errors to positions ---------------------------------------------------


def _resolve_loc(loc: tuple[Any, ...], data: Any) -> DocPath:
    """Drop union tags (e.g. 'market_making') that pydantic puts into error locations."""
    path: list[str | int] = []
    cur = data
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if part == "[key]":
            continue
        if isinstance(cur, dict) and part in cur:
            path.append(part)
            cur = cur[part]
        elif isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur):
            path.append(part)
            cur = cur[part]
        elif last and isinstance(cur, dict):
            path.append(part)
        # else: a union tag or function-validator marker, not a document key (a leaf value
        # has no keys below it)
    return tuple(path)


def _unwrap(tp: Any) -> list[Any]:
    """The concrete types inside Annotated/Optional/Union/tuple/list annotations."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(tp)[0])
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        out: list[Any] = []
        for arg in typing.get_args(tp):
            out.extend(_unwrap(arg))
        return out
    if origin in (tuple, list):
        args = [a for a in typing.get_args(tp) if a is not Ellipsis]
        return [("seq", a) for a in args]
    return [tp]


def _allowed_keys(path: DocPath, data: Any) -> list[str]:
    """The field names valid at ``path`` (the mapping the unknown key sits in)."""
    candidates: list[Any] = [StrategySpec]
    cur = data
    for part in path:
        nxt: list[Any] = []
        for cand in candidates:
            if isinstance(cand, tuple) and cand[0] == "seq" and isinstance(part, int):
                nxt.extend(_unwrap(cand[1]))
            elif isinstance(cand, type) and issubclass(cand, BaseModel) and part in cand.model_fields:
                nxt.extend(_unwrap(cand.model_fields[part].annotation))
        cur = cur.get(part) if isinstance(cur, dict) else (
            cur[part] if isinstance(cur, list) and isinstance(part, int) and part < len(cur) else None)
        models = [c for c in nxt if isinstance(c, type) and issubclass(c, BaseModel)]
        if len(models) > 1 and isinstance(cur, dict):  # discriminated union: pick by tag
            picked = [m for m in models if _tag_matches(m, cur)]
            nxt = picked or models
        candidates = nxt
    keys: list[str] = []
    for cand in candidates:
        if isinstance(cand, type) and issubclass(cand, BaseModel):
            keys.extend(k for k in cand.model_fields if k not in keys)
    return keys


def _tag_matches(model: type[BaseModel], value: dict[str, Any]) -> bool:
    for tag_field in ("type", "kind", "model"):
        f = model.model_fields.get(tag_field)
        if f is not None and tag_field in value:
            args = typing.get_args(f.annotation)
            return any(getattr(a, "value", a) == value[tag_field] for a in args)
    return False


def _suggest(word: str, options: list[str]) -> str:
    match = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f"; did you mean '{match[0]}'?" if match else ""


def _clean_expected(expected: object) -> str:
    """pydantic lists enum members as ``<Type.x: 'x'>``; users wrote ``x``."""
    return re.sub(r"<\w+\.\w+: ('[^']*')>", r"\1", str(expected))


def _message(err: dict[str, Any], path: DocPath, data: Any) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    value = err.get("input")
    was = f", was {_short(value)}"
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        allowed = _allowed_keys(path[:-1], data)
        hint = _suggest(str(path[-1]), allowed)
        return f"unknown key '{path[-1]}'{hint or ''}" + (
            "" if hint else f" (allowed: {', '.join(allowed)})" if allowed else "")
    bounds = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<",
              "less_than_equal": "<="}
    if kind in bounds:
        bound = next(iter(ctx.values()))
        return f"must be {bounds[kind]} {bound}{was}"
    if kind in ("literal_error", "enum"):
        expected = _clean_expected(ctx.get("expected", ""))
        options = [o.strip(" '\"") for o in expected.replace(" or ", ",").split(",") if o.strip()]
        return f"must be one of {expected}{was}{_suggest(str(value), options)}"
    if kind == "union_tag_invalid":
        expected = _clean_expected(ctx.get("expected_tags", ""))
        tags = [t.strip(" '\"") for t in expected.split(",")]
        return (f"must be one of {expected}, was {_short(ctx.get('tag'))}"
                f"{_suggest(str(ctx.get('tag')), tags)}")
    if kind == "union_tag_not_found":
        return f"missing the key {ctx.get('discriminator')} that selects the variant"
    if kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern", ""))
        if pattern == DATA_PATH_PATTERN:
            return f"must be one line of text without control characters (a path or a glob){was}"
        if pattern.startswith("^[a-z][a-z0-9]*"):
            return f"must be a lower-case slug (letters, digits, '-', '_'; starting with a letter){was}"
        if pattern.startswith("^[a-z_]"):
            return f"must be a lower-case identifier (letters, digits, '_'){was}"
        return f"must match {pattern}{was}"
    if kind in ("string_too_long", "too_long"):
        return f"is too long: at most {ctx.get('max_length')}{' characters' if kind.startswith('string') else ' items'}"
    if kind in ("string_too_short", "too_short"):
        return f"is too short: at least {ctx.get('min_length')}{' characters' if kind.startswith('string') else ' items'}"
    if kind in ("int_type", "int_parsing"):
        return f"must be a whole number{was}"
    if kind == "int_from_float":
        return f"must be a whole number, not a fraction{was}"
    if kind in ("float_type", "float_parsing", "decimal_type", "decimal_parsing"):
        return f"must be a number{was}"
    if kind == "decimal_max_places":
        return f"has more than {ctx.get('decimal_places')} decimal places{was}"
    if kind in ("bool_type", "bool_parsing"):
        return f"must be true or false{was}"
    if kind in ("string_type",):
        return f"must be text{was}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"must be a mapping{was}"
    if kind in ("tuple_type", "list_type"):
        return f"must be a list{was}"
    if kind.startswith("datetime") or kind.startswith("date"):
        return f"must be a date-time like 2024-01-31T00:00:00Z{was}"
    msg = str(err.get("msg", kind))
    return (msg[:1].lower() + msg[1:]) + was


def _position(path: DocPath, kind: str, loc: _Located, column: int | None = None) -> Pos:
    if kind in ("missing",):
        probe = path[:-1]
        while probe and probe not in loc.values:
            probe = probe[:-1]
        return loc.values.get(probe, Pos(1, 1))
    if kind == "extra_forbidden" and path in loc.keys:
        return loc.keys[path]
    probe = path
    while probe and probe not in loc.values:
        probe = probe[:-1]
    pos = loc.values.get(probe, Pos(1, 1))
    if column is not None and probe == path and path in loc.inline:
        return Pos(pos.line, pos.column + loc.inline[path] + column - 1)
    return pos


def validate_data(data: dict[str, Any], loc: _Located, source: str) -> StrategySpec:
    """Validate composed data; raise :class:`SpecError` with every issue positioned."""
    try:
        return StrategySpec.model_validate(data)
    except ValidationError as exc:
        issues: list[SpecIssue] = []
        for err in exc.errors(include_url=False):
            ctx_err = (err.get("ctx") or {}).get("error")
            if isinstance(ctx_err, RuleViolations):
                for v in ctx_err.violations:
                    pos = _position(v.path, "rule", loc, v.column)
                    issues.append(SpecIssue(source, pos.line, pos.column, _fmt_path(v.path),
                                            v.message, rule=v.rule))
                continue
            path = _resolve_loc(tuple(err["loc"]), data)
            if err["type"] == "union_tag_invalid":
                path = path + (str((err.get("ctx") or {}).get("discriminator", "")).strip("'"),)
            pos = _position(path, err["type"], loc)
            issues.append(SpecIssue(source, pos.line, pos.column, _fmt_path(path),
                                    _message(err, path, data)))
        issues.sort(key=lambda i: (i.line, i.column))
        raise SpecError(issues) from None


def load_spec_bytes(raw: bytes, source: str, *, expected_name: str | None = None) -> LoadedSpec:
    """Load a spec from bytes; ``source`` names it in messages."""
    data, loc, text = parse_yaml(raw, source)
    spec = validate_data(data, loc, source)
    if expected_name is not None and spec.metadata.name != expected_name:
        pos = loc.values.get(("metadata", "name"), Pos(1, 1))
        raise SpecError([SpecIssue(source, pos.line, pos.column, "metadata.name",
                                   f"must match the file name '{expected_name}', was "
                                   f"{spec.metadata.name!r}")])
    return LoadedSpec(spec=spec, source=source, text=text, hash=spec_hash(spec))


def load_spec(path: str | Path, *, check_filename: bool = True) -> LoadedSpec:
    """Load and validate ``specs/<name>.yaml``; the name must match the file name."""
    p = Path(path)
    source = str(path)
    try:
        size = p.stat().st_size
        if size > MAX_SPEC_BYTES:
            raise SpecError([SpecIssue(source, 1, 1, "(document)",
                                       f"file is {size:,} bytes; a spec may be at most "
                                       f"{MAX_SPEC_BYTES:,} bytes")])
        with p.open("rb") as fh:
            raw = fh.read(MAX_SPEC_BYTES + 1)
    except OSError as err:
        raise SpecError([SpecIssue(source, 1, 1, "(document)",
                                   f"cannot read the file: {err.strerror or err}")]) from None
    return load_spec_bytes(raw, source, expected_name=p.stem if check_filename else None)

"""A decoding grammar for the logic → signal-expressions job, built from the language and the spec.

:func:`signals_grammar` turns the expression language (``stratforge.core.expr``: its operators,
its functions with their argument kinds, its series with their data kinds) and one spec (its
parameters with their types and values, its data kind) into a context-free grammar that admits
exactly the answers :func:`~.prompts.logic_to_signals` asks for::

    {"signals": {"entry_long": "<bool>", "exit_long": "<bool>", "entry_short": "<bool>", "exit_short": "<bool>"}}

where every ``<bool>`` is a well-typed condition over the spec's names only:

* series of the spec's data kind (bars: open/high/low/close/volume; book: book and trade series)
  plus the position series, which every template keeps;
* the spec's parameters, bool ones where a condition goes, number ones where a number goes; window
  and level arguments only integer parameters whose value is in range, fractions only number
  parameters in [0, 1];
* the language's functions with their exact arities, minus those that read series the data lacks
  (``vwap`` and ``imbalance`` on bars); window arguments are integer literals (1..the function's
  largest window has at most that many digits) or integer parameters;
* number literals (the language allows them anywhere a number goes), ``true``/``false``.

Not in the grammar (the checker still says them): the 2,000-character and 64-level limits.

Types are in the grammar: a comparison's operands are numbers, ``and``/``or``/``not`` combine
conditions, comparisons do not chain. So a model decoding under it can only fail on meaning
(thresholds, windows, units, warm-up), which the repair loop feeds back.

The grammar has no helper signals: each role's condition is written in full (the checker shares
the state of a repeated ``ema(close, n)``, so nothing is computed twice). Helpers would need a
context-sensitive grammar (a name is usable once defined).

One grammar, several forms: :meth:`Grammar.gbnf` for llama.cpp (llama-cpp-python's
``LlamaGrammar.from_string`` and a llama.cpp server's ``grammar`` field; vLLM's xgrammar backend
reads the same GBNF as ``guided_grammar``), :meth:`Grammar.json_schema` (JSON Schema whose
expression strings carry a regular-expression ``pattern`` over the grammar's tokens -- weaker: a
regex cannot count parentheses -- for servers that only offer that), plus :meth:`Grammar.sample` and :meth:`Grammar.matches` for tests: the same
rule tables are printed, sampled and recognised, so what is tested is what is sent.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Iterable, Mapping, Union

from stratforge.core.expr import FUNCTIONS, MAX_LEVELS, SERIES, ArgKind, DataKind, Type

__all__ = ["Grammar", "ROLE_ORDER", "data_kinds_for", "signals_grammar"]

#: The role signals in the order the grammar writes them.
ROLE_ORDER = ("entry_long", "exit_long", "entry_short", "exit_short")

#: data kind name (``bars``/``book``, as the build decides it) -> the series kinds it carries.
_KINDS = {"bars": frozenset({DataKind.BAR, DataKind.POSITION}),
          "book": frozenset({DataKind.BOOK, DataKind.TRADE, DataKind.POSITION})}

# Largest integer literal written by the grammar: 15 digits stays below 2**53.
_INT_DIGITS = 15
_DIGITS = "0123456789"


def data_kinds_for(data: str | None) -> frozenset[DataKind] | None:
    """The series kinds a strategy on ``data`` (``"bars"``/``"book"``) may read; ``None`` = any."""
    if data is None:
        return None
    try:
        return _KINDS[data]
    except KeyError:
        raise ValueError(f"Condition failed: data kind must be 'bars' or 'book', was {data!r}") from None


# --------------------------------------------------------------------------------------------
# rule tables: a rule is a list of alternatives, an alternative a tuple of items


@dataclass(frozen=True)
class Lit:
    text: str


@dataclass(frozen=True)
class Ref:
    rule: str


@dataclass(frozen=True)
class Chars:
    """One character from ``chars``."""

    chars: str


@dataclass(frozen=True)
class Rep:
    """``item`` repeated ``lo``..``hi`` times."""

    item: "Item"
    lo: int
    hi: int


Item = Union[Lit, Ref, Chars, Rep]
Alt = tuple[Item, ...]


def _gbnf_item(item: Item) -> str:
    if isinstance(item, Lit):
        return json.dumps(item.text)  # a JSON string literal is a valid GBNF literal
    if isinstance(item, Ref):
        return item.rule
    if isinstance(item, Chars):
        return "[" + _class_body(item.chars) + "]"
    inner = _gbnf_item(item.item)
    if (item.lo, item.hi) == (0, 1):
        return inner + "?"
    return f"{inner}{{{item.lo},{item.hi}}}" if item.lo != item.hi else f"{inner}{{{item.lo}}}"


def _class_body(chars: str) -> str:
    if chars == _DIGITS:
        return "0-9"
    if chars == _DIGITS[1:]:
        return "1-9"
    return "".join("\\n" if c == "\n" else "\\" + c if c in "]\\^-" else c for c in chars)


@dataclass(frozen=True)
class Grammar:
    """A grammar as rule tables (``root`` first). Print it, sample it, recognise with it."""

    rules: Mapping[str, list[Alt]]
    roles: tuple[str, ...] = ROLE_ORDER
    description: Mapping[str, object] = field(default_factory=dict)

    # -- forms sent to a model -----------------------------------------------------------------
    def gbnf(self) -> str:
        """GBNF text (llama.cpp): ``LlamaGrammar.from_string`` and the server's ``grammar`` field."""
        lines = []
        for name, alts in self.rules.items():
            body = " | ".join(" ".join(_gbnf_item(i) for i in alt) or '""' for alt in alts)
            lines.append(f"{name} ::= {body}")
        return "\n".join(lines) + "\n"

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.gbnf().encode("utf-8")).hexdigest()

    def expression_pattern(self) -> str:
        """A regular expression over the grammar's tokens: declared names, function names with
        their "(", numbers, operators, keywords, parentheses and commas (no word boundaries: not
        every server's regex dialect has them). A regex cannot count parentheses or arities
        (unrolling the grammar a few levels deep is already millions of characters), so this admits exactly the grammar's vocabulary -- no undeclared name, no
        series of another data kind -- and leaves structure and types to the checker."""
        t = self.tokens
        words = sorted({*t["names"], "and", "or", "not", "true", "false"}, key=lambda w: (-len(w), w))
        calls = sorted(t["functions"], key=lambda w: (-len(w), w))
        token = "|".join([*(re.escape(f) + r"\(" for f in calls),
                          *(re.escape(w) for w in words),
                          r"[0-9]+(?:\.[0-9]+)?", "<=|>=|==|!=|[<>+*/%(),-]"])
        return rf"^ *(?:(?:{token}) *)+$"

    @property
    def tokens(self) -> dict[str, list[str]]:
        """The names (series, params) and functions the grammar admits."""
        names = [a[0].text for r in ("series", "numparam", "boolparam") for a in self.rules.get(r, [])]
        functions = [a[0].text[:-1] for r, alts in self.rules.items() if r.startswith("call-")
                     for a in alts[:1]]
        return {"names": names, "functions": functions}

    def json_schema(self) -> dict[str, object]:
        """JSON Schema of the answer, each condition a string with :meth:`expression_pattern`
        (``"false"`` for a role of the side the strategy never trades)."""
        cond = {"type": "string", "pattern": self.expression_pattern()}
        off = set(self.description.get("off", ()))  # type: ignore[call-overload]
        return {"type": "object", "required": ["signals"], "additionalProperties": False,
                "properties": {"signals": {
                    "type": "object", "required": list(self.roles), "additionalProperties": False,
                    "properties": {r: {"const": "false"} if r in off else cond for r in self.roles}}}}

    # -- for tests -------------------------------------------------------------------------------
    def sample(self, rng: random.Random, rule: str = "root", budget: int = 6) -> str:
        """A random string of ``rule``; past ``budget`` nesting levels the shallowest choices."""
        heights = _heights(self)
        shallow: dict[str, list[Alt]] = {}
        for name, alts in self.rules.items():
            hs = [_alt_height(a, heights) for a in alts]
            shallow[name] = [a for a, h in zip(alts, hs) if h == min(hs)]
        out: list[str] = []

        def walk(item: Item, depth: int) -> None:
            if isinstance(item, Lit):
                out.append(item.text)
            elif isinstance(item, Chars):
                out.append(rng.choice(item.chars))
            elif isinstance(item, Rep):
                hi = item.hi if depth < budget else item.lo
                for _ in range(rng.randint(item.lo, max(item.lo, min(hi, item.lo + 3)))):
                    walk(item.item, depth)
            else:
                alts = shallow[item.rule] if depth >= budget else self.rules[item.rule]
                for sub in rng.choice(alts):
                    walk(sub, depth + 1)

        walk(Ref(rule), 0)
        return "".join(out)

    def matches(self, text: str, rule: str = "root") -> bool:
        """Whether ``rule`` derives exactly ``text`` (a memoised all-parses recogniser)."""
        memo: dict[tuple[str, int], frozenset[int]] = {}

        def item_ends(item: Item, pos: int) -> frozenset[int]:
            if isinstance(item, Lit):
                return frozenset({pos + len(item.text)}) if text.startswith(item.text, pos) else frozenset()
            if isinstance(item, Chars):
                return frozenset({pos + 1}) if pos < len(text) and text[pos] in item.chars else frozenset()
            if isinstance(item, Ref):
                return rule_ends(item.rule, pos)
            ends, frontier = (frozenset({pos}) if item.lo == 0 else frozenset()), frozenset({pos})
            for k in range(1, item.hi + 1):
                frontier = frozenset(e for p in frontier for e in item_ends(item.item, p))
                if not frontier:
                    break
                if k >= item.lo:
                    ends |= frontier
            return ends

        def rule_ends(name: str, pos: int) -> frozenset[int]:
            key = (name, pos)
            if key not in memo:
                memo[key] = frozenset()
                found: set[int] = set()
                for alt in self.rules[name]:
                    frontier = {pos}
                    for item in alt:
                        frontier = {e for p in frontier for e in item_ends(item, p)}
                        if not frontier:
                            break
                    found |= frontier
                memo[key] = frozenset(found)
            return memo[key]

        return len(text) in rule_ends(rule, 0)


def _alt_height(alt: Alt, heights: Mapping[str, int]) -> int:
    def h(item: Item) -> int:
        if isinstance(item, Ref):
            return heights[item.rule]
        if isinstance(item, Rep):
            return h(item.item) if item.lo else 0
        return 0
    return max((h(i) for i in alt), default=0)


def _heights(g: Grammar) -> dict[str, int]:
    """The least nesting each rule needs to finish (a fixpoint; rules are not left-recursive)."""
    inf = 10**9
    heights = {name: inf for name in g.rules}
    changed = True
    while changed:
        changed = False
        for name, alts in g.rules.items():
            best = min(_alt_height(a, heights) for a in alts)
            if best < inf and best + 1 < heights[name]:
                heights[name] = best + 1
                changed = True
    return heights


# --------------------------------------------------------------------------------------------
# building


def _alts(*words: str) -> list[Alt]:
    return [(Lit(w),) for w in words]


def _int_upto(limit: int) -> list[Alt]:
    """Integer literals 1..(10**k - 1) for the largest k with 10**k - 1 <= ``limit`` (a bound the
    grammar can say in digits), and ``limit`` itself when it is a power of ten."""
    k = len(str(limit)) - 1
    alts: list[Alt] = [(Chars(_DIGITS[1:]), Rep(Chars(_DIGITS), 0, k - 1))] if k > 1 else [(Chars(_DIGITS[1:]),)]
    if limit == 10 ** k:
        alts.append((Lit(str(limit)),))
    return alts


def _name_alts(names: Iterable[str]) -> list[Alt]:
    # longest first, so a printed grammar reads naturally (the recogniser and llama.cpp try all)
    return [(Lit(n),) for n in sorted(set(names), key=lambda s: (-len(s), s))]


def signals_grammar(params: Mapping[str, int | float | bool], data: str | None,
                    roles: tuple[str, ...] = ROLE_ORDER, off: Iterable[str] = ()) -> Grammar:
    """The grammar of a signals answer for a spec with ``params`` on ``data`` (``bars``/``book``;
    ``None`` when unknown: every series) defining ``roles`` in that order (one role when the
    signals are asked one per request). Each role in ``off`` admits only ``"false"``: the side a
    strategy never trades (a long-only description's entry_short and exit_short)."""
    off = tuple(off)
    unknown = [r for r in (*roles, *off) if r not in ROLE_ORDER]
    if unknown or not roles:
        raise ValueError(f"Condition failed: roles must be among {ROLE_ORDER}, was {roles!r} (off {off!r})")
    return _build(tuple(sorted(params.items())), data, tuple(roles),
                  tuple(r for r in ROLE_ORDER if r in off))


@lru_cache(maxsize=64)
def _build(params: tuple[tuple[str, int | float | bool], ...], data: str | None,
           roles: tuple[str, ...] = ROLE_ORDER, off: tuple[str, ...] = ()) -> Grammar:
    kinds = data_kinds_for(data)
    allowed = set(DataKind) if kinds is None else set(kinds)
    series = [n for n, s in SERIES.items() if s.kind in allowed]
    book = DataKind.BOOK in allowed
    bool_params = [n for n, v in params if isinstance(v, bool)]
    num_params = [n for n, v in params if not isinstance(v, bool)]
    int_params = {n: v for n, v in params if isinstance(v, int) and not isinstance(v, bool)}
    frac_params = [n for n, v in params if not isinstance(v, bool) and 0.0 <= float(v) <= 1.0]

    r: dict[str, list[Alt]] = {}
    sp = Ref("sp")
    ws = Ref("ws")
    role_items: list[Item] = []
    for i, role in enumerate(roles):
        value: Item = Lit("false") if role in off else Ref("bexpr")
        role_items += [ws, Lit(json.dumps(role)), ws, Lit(":"), ws, Lit('"'), value, Lit('"'), ws]
        if i < len(roles) - 1:
            role_items.append(Lit(","))
    r["root"] = [(ws, Lit("{"), ws, Lit('"signals"'), ws, Lit(":"), ws, Lit("{"), *role_items,
                  Lit("}"), ws, Lit("}"), ws)]
    # conditions: or > and > not > comparison (the parser's precedence); comparisons do not chain
    r["bexpr"] = [(Ref("bterm"), Rep(Ref("orrest"), 0, 8))]
    r["orrest"] = [(sp, Lit("or"), sp, Ref("bterm"))]
    r["bterm"] = [(Ref("bfactor"), Rep(Ref("andrest"), 0, 8))]
    r["andrest"] = [(sp, Lit("and"), sp, Ref("bfactor"))]
    bfactor: list[Alt] = [(Lit("not"), sp, Ref("bfactor")),
                          (Lit("("), Ref("bexpr"), Lit(")")),
                          (Ref("nexpr"), Ref("osp"), Ref("cmpop"), Ref("osp"), Ref("nexpr")),
                          (Lit("true"),), (Lit("false"),)]
    bool_fns = [f for f in FUNCTIONS.values() if f.result is Type.BOOL]
    num_fns = [f for f in FUNCTIONS.values() if f.result is Type.NUMBER]
    usable = lambda f: all(SERIES[s].kind in allowed for s in f.implicit_series) and (  # noqa: E731
        book or not any(k is ArgKind.LEVELS for _, k in f.args))
    bfactor += [(Ref("call-" + f.name.replace("_", "-")),) for f in bool_fns if usable(f)]
    if bool_params:
        bfactor.append((Ref("boolparam"),))
        r["boolparam"] = _name_alts(bool_params)
    r["bfactor"] = bfactor
    r["cmpop"] = _alts("<=", ">=", "==", "!=", "<", ">")
    # numbers: + - > * / % > unary minus > atoms
    r["nexpr"] = [(Ref("nterm"), Rep(Ref("addrest"), 0, 8))]
    r["addrest"] = [(Ref("osp"), Chars("+-"), Ref("osp"), Ref("nterm"))]
    r["nterm"] = [(Ref("nfactor"), Rep(Ref("mulrest"), 0, 8))]
    r["mulrest"] = [(Ref("osp"), Chars("*/%"), Ref("osp"), Ref("nfactor"))]
    nfactor: list[Alt] = [(Lit("-"), Ref("nfactor")), (Lit("("), Ref("nexpr"), Lit(")")),
                          (Ref("number"),), (Ref("series"),)]
    if num_params:
        nfactor.append((Ref("numparam"),))
        r["numparam"] = _name_alts(num_params)
    nfactor += [(Ref("call-" + f.name.replace("_", "-")),) for f in num_fns if usable(f)]
    r["nfactor"] = nfactor
    r["series"] = _name_alts(series)
    r["number"] = [(Chars(_DIGITS[1:]), Rep(Chars(_DIGITS), 0, _INT_DIGITS - 1), Ref("frac")),
                   (Lit("0"), Ref("frac"))]
    r["frac"] = [(Lit("."), Rep(Chars(_DIGITS), 1, 8)), ()]
    # function calls, with their exact arities and argument kinds
    windows: dict[int, str] = {}
    for f in (*bool_fns, *num_fns):
        if not usable(f):
            continue
        rule = "call-" + f.name.replace("_", "-")
        alts: list[Alt] = []
        for nargs in range(f.min_args, len(f.args) + 1):
            items: list[Item] = [Lit(f.name + "(")]
            for i, (_, kind) in enumerate(f.args[:nargs]):
                if i:
                    items += [Lit(","), Ref("osp")]
                if kind is ArgKind.NUMBER:
                    items.append(Ref("nexpr"))
                elif kind is ArgKind.WINDOW:
                    wname = "window" if f.max_window == max(x.max_window for x in FUNCTIONS.values()) \
                        else f"window{f.max_window}"
                    windows[f.max_window] = wname
                    items.append(Ref(wname))
                elif kind is ArgKind.LEVELS:
                    items.append(Ref("levels"))
                    ok = [n for n, v in int_params.items() if 1 <= v <= MAX_LEVELS]
                    r["levels"] = [*_int_upto(MAX_LEVELS), *_name_alts(ok)]
                else:  # FRACTION
                    items.append(Ref("fraction"))
                    r["fraction"] = [(Lit("0"), Ref("frac")), (Lit("1"),), (Lit("1."), Rep(Chars("0"), 1, 8)),
                                     *_name_alts(frac_params)]
            items.append(Lit(")"))
            alts.append(tuple(items))
        r[rule] = alts
    for limit, wname in sorted(windows.items()):
        ok = [n for n, v in int_params.items() if 1 <= v <= limit]
        r[wname] = [*_int_upto(limit), *_name_alts(ok)]
    r["osp"] = [(Rep(Lit(" "), 0, 1),)]
    r["sp"] = [(Lit(" "),)]
    r["ws"] = [(Rep(Chars(" \n"), 0, 12),)]
    return Grammar(r, roles, {"data": data or "any", "series": series,
                              "params": [n for n, _ in params], "off": list(off)})

"""Words in the description the answer ignores: hints for one more round, never a rejection.

A small model's commonest slips after the grammar and the units check are about words the
description uses and the answer does not: "simple moving average" answered with ``ema``, "crosses
above" answered with a state ``a > b``, "long only" answered with a short entry. Each rule here
pairs a phrase of the description with what the answer must then contain (or must not) and says
what to write; and a parameter the description names that no condition uses is a condition the
answer dropped. The phrases are read from the description alone, so a rule can be wrong (a
description that mentions an SMA only to say it is not used): that is why a hint is never a
rejection. :func:`~.prompts.logic_to_signals` sends hints back once; an answer that keeps them is
accepted with them on record.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Mapping

__all__ = ["LONG_ONLY", "SHORT_ONLY", "TERM_RULES", "TermRule", "declared_side", "term_hints"]

Signals = Mapping[str, str]


def _uses(signals: Signals, func: str) -> bool:
    return any(re.search(rf"\b{func}\(", text) for text in signals.values())


def _uses_any(signals: Signals, *funcs: str) -> bool:
    return any(_uses(signals, f) for f in funcs)


def _mentions(signals: Signals, pattern: str) -> bool:
    return any(re.search(pattern, text) for text in signals.values())


def _traded(signals: Signals, side: str) -> bool:
    return any(signals.get(f"{role}_{side}", "false").strip() != "false" for role in ("entry", "exit"))


@dataclass(frozen=True)
class TermRule:
    """When the description matches ``phrase`` and ``missing(signals)`` holds, hint ``advice``."""

    name: str
    phrase: re.Pattern[str]
    missing: Callable[[Signals], bool]
    advice: str


def _rx(text: str) -> re.Pattern[str]:
    return re.compile(text, re.I)


#: a condition follows ("long only when …", "never buy if …"): the words restrict one entry, not the
#: side the strategy trades
_NOT_A_SIDE = r"(?!\s+(?:when|whenever|if|while|once|after|as|on|during|until|unless|at|before)\b)"
#: the description restricts the strategy to one side: "long only", "never (sell|go) short", "no shorts"
LONG_ONLY = _rx(rf"\blong[ -]only\b{_NOT_A_SIDE}|\bnever\s+(?:sells?\s+|goes?\s+)?short(?:s|ing)?\b{_NOT_A_SIDE}"
                rf"|\bno\s+short(?:s|ing|\s+positions?)?\b")
SHORT_ONLY = _rx(rf"\bshort[ -]only\b{_NOT_A_SIDE}|\bnever\s+(?:buys?|goes?\s+long|go\s+long)\b{_NOT_A_SIDE}"
                 rf"|\bno\s+longs?(?:\s+positions?)?\b")


def declared_side(description: str) -> str | None:
    """``"long"`` or ``"short"`` when the description restricts the strategy to that side in so many
    words ("Long only.", "Never go long", "no shorts"; not "enter long only when …"), else ``None``
    (no restriction, or words for both: then nothing is assumed)."""
    long_only, short_only = bool(LONG_ONLY.search(description)), bool(SHORT_ONLY.search(description))
    if long_only == short_only:
        return None
    return "long" if long_only else "short"


TERM_RULES: tuple[TermRule, ...] = (
    TermRule("sma", _rx(r"\bsimple (moving )?average\b|\bSMA\b"),
             lambda s: not _uses(s, "sma"),
             "the description says simple moving average: that is sma(x, n) (ema is exponential)"),
    TermRule("ema", _rx(r"\bEMA\b|\bexponential(ly)?\b"),
             lambda s: not _uses(s, "ema"),
             "the description says EMA (exponential moving average): that is ema(x, n)"),
    TermRule("cross", _rx(r"\bcross(es|ed|ing)?\s+(back\s+)?(above|below|over|under)\b"),
             lambda s: not _uses_any(s, "cross_above", "cross_below"),
             "the description says crosses above/below: that is cross_above(a, b) / cross_below(a, b), "
             "true only on the update of the crossing; a > b holds on every update after it"),
    TermRule("long_only", LONG_ONLY, lambda s: _traded(s, "short"),
             'the description trades long only: keep its long conditions in entry_long (buy) and '
             'exit_long (sell), and write "false" for entry_short and exit_short'),
    TermRule("short_only", SHORT_ONLY, lambda s: _traded(s, "long"),
             'the description trades short only: its conditions belong in entry_short (sell short) '
             'and exit_short (buy back), and entry_long and exit_long are "false"'),
    TermRule("std", _rx(r"\bstandard deviations?\b|\bz-?score\b|\bsigmas?\b"),
             lambda s: not _uses_any(s, "zscore", "std"),
             "the description counts standard deviations: zscore(x, n) is how many standard deviations x "
             "is from its n-update mean (or std(x, n) for the deviation itself)"),
    TermRule("time", _rx(r"(?<![-\w])(seconds?|minutes?|hours?|nanoseconds?|milliseconds?)\b(?![- ]bars?\b)"),
             lambda s: not _mentions(s, r"\btime_in_position\b"),
             "the description has a time in the position: compare time_in_position (seconds) with it, "
             "e.g. time_in_position >= hold_minutes * 60"),
    TermRule("red_green", _rx(r"\b(red|green) (bar|candle)s?\b|\bbar is (red|green)\b"),
             lambda s: not _mentions(s, r"\bclose\s*[<>]=?\s*open\b|\bopen\s*[<>]=?\s*close\b"),
             "the description says a red / green bar: that is close < open / close > open"),
    TermRule("entry_price", _rx(r"\bentry price\b|\bprice (we|it) (bought|sold|entered) at\b"),
             lambda s: not _mentions(s, r"\bentry_price\b"),
             "the description measures from the entry price: that is entry_price (the position's "
             "average entry price), e.g. mid > entry_price + 0.5"),
    TermRule("mean", _rx(r"\b(rolling |moving )?(mean|average)\b"),
             lambda s: not _uses_any(s, "sma", "ema", "zscore", "vwap"),
             "the description compares with a mean (average): that is sma(x, n) (ema(x, n) when it says "
             "exponential; zscore(x, n) for standard deviations from it), not a minimum or maximum"),
    TermRule("bps", _rx(r"\bbasis points?\b|\bbps\b"),
             lambda s: not _mentions(s, r"\b10000\b"),
             "the description counts basis points: b basis points of a price x are x * b / 10000"),
)


def term_hints(description: str, signals: Signals, params: Mapping[str, object] | None = None) -> list[str]:
    """The hints for an accepted ``signals`` answer to ``description`` (empty: nothing to say):
    the rules' phrases, and each of ``params`` the description names that no signal uses (a
    condition the answer dropped)."""
    hints = [rule.advice for rule in TERM_RULES
             if rule.phrase.search(description) and rule.missing(signals)]
    unused = [name for name in (params or {})
              if re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", description)
              and not _mentions(signals, rf"\b{re.escape(name)}\b")]
    if unused:
        hints.append(f"the description names {', '.join(unused)}, which no condition of your answer "
                     f"uses: keep every condition of the description")
    return hints

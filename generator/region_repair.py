"""Free-text logic → marked code regions, with a bounded repair loop.

Used when a spec asks for ``codegen.mode: code`` (or in ``auto`` when the logic cannot be
expressed as signal expressions). Each round asks the provider for the body of one marked region
in C++ and in Python — with exact types, names, constraints and one worked example — then hands
the candidate to ``attempt`` (render → static checks → compile → generated tests → C++/Python
parity). A failing step's precise error goes back to the model, for the language it concerns,
for at most ``1 + codegen.max_repair_rounds`` rounds; the loop remembers every rejected attempt
and stops early when a round fails with exactly the error of the round before.

The region is the only place model output can go: everything outside it is template output, and
``generator.render.marked_regions`` refuses region code that could reach outside its region.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from stratforge.generator.llm import (CodeRegion, ExtractionError, Provider, Recorder, call,
                                      code_region_messages, code_repair_messages, extract_code,
                                      prompt_manifest)
from stratforge.generator.llm.prompts import build_request
from stratforge.generator.render import RegionCode
from stratforge.core.spec.signals import spec_params

if TYPE_CHECKING:
    from stratforge.core.steps import StepResult
    from stratforge.core.spec import StrategySpec

# -- the regions the model may fill, described exactly --------------------------------------------

_DIRECTIONAL_CPP = CodeRegion(
    name="entry_exit",
    language="cpp",
    signature="// body of: void decide(sf::sdk::Context& ctx, std::int64_t px_x2) — region entry_exit",
    context=(
        "In scope (read-only unless stated):\n"
        "  Roles r;                  // WRITE: bool r.entry_long, r.exit_long, r.entry_short, r.exit_short\n"
        "  const std::int64_t pos;   // current position in lots (> 0 long, < 0 short)\n"
        "  std::int64_t px_x2;       // twice the reference price in ticks (bid + ask, or 2 * close)\n"
        "  const sfsig::Inputs& in_; // series this update: in_.mid, in_.spread, in_.bid, in_.ask,\n"
        "                            // in_.bid_size, in_.ask_size, in_.last, in_.last_size, in_.close...\n"
        "                            // each a sfsig::V {double v; bool ok;} (ok == false: undefined)\n"
        "  sig_.sig_<name>()         // the spec's named signals: sfsig::V (numbers) or sfsig::B {bool v; bool ok;}\n"
        "  p_.<param>                // the spec's params (double, std::int64_t or bool)\n"
        "  acts(sfsig::B b)          // true only for a defined true\n"
        "The engine holds the position at -q, 0 or +q lots: set the four booleans, nothing else."),
    example_task="Go long when the mid is above 100.5 and both sizes are known; exit when below 100.",
    example_answer=(
        "r.entry_long = in_.mid.ok && in_.bid_size.ok && in_.ask_size.ok && in_.mid.v > 100.5;\n"
        "r.exit_long = in_.mid.ok && in_.mid.v < 100.0;\n"
        "r.entry_short = false;\n"
        "r.exit_short = false;"),
    param_prefix="p_.",
)

_DIRECTIONAL_PY = CodeRegion(
    name="entry_exit",
    language="python",
    signature="# body of: def _decide(self, ctx, px_x2) — region entry_exit",
    context=(
        "In scope (read-only unless stated):\n"
        "  r                  # WRITE: r.entry_long, r.exit_long, r.entry_short, r.exit_short (bool)\n"
        "  pos                # current position in lots (int)\n"
        "  px_x2              # twice the reference price in ticks (int)\n"
        "  self.inp['mid']    # series this update: 'mid', 'spread', 'bid', 'ask', 'bid_size',\n"
        "                     # 'ask_size', 'last', 'last_size', 'close', ... (float, or None if undefined)\n"
        "  self.sig.sig_<name> # the spec's named signals (float/bool, None while undefined)\n"
        "  self.p.<param>     # the spec's params\n"
        "Mirror the C++ region exactly: the same comparisons in the same order."),
    example_task="Go long when the mid is above 100.5 and both sizes are known; exit when below 100.",
    example_answer=(
        "mid = self.inp['mid']\n"
        "r.entry_long = (mid is not None and self.inp['bid_size'] is not None\n"
        "                and self.inp['ask_size'] is not None and mid > 100.5)\n"
        "r.exit_long = mid is not None and mid < 100.0\n"
        "r.entry_short = False\n"
        "r.exit_short = False"),
    param_prefix="self.p.",
)

_MM_CPP = CodeRegion(
    name="quote_adjust",
    language="cpp",
    signature="// inside on_book, after the reference quotes — region quote_adjust",
    context=(
        "In scope:\n"
        "  std::int64_t bid, ask;        // WRITE: quote prices in ticks (reference Avellaneda-Stoikov)\n"
        "  bool want_bid, want_ask;      // WRITE: whether to quote each side\n"
        "  const std::int64_t pos;       // position in lots\n"
        "  const std::int64_t mid_x2;    // twice the mid in ticks\n"
        "  sigma_ (sfsig::V), p_.<param>, sig_.sig_<name>(), in_.<series> as in the engine.\n"
        "The engine clamps quotes to the book and the minimum spread afterwards."),
    example_task="Stop quoting the bid when the position is above half the inventory limit.",
    example_answer="if (pos * 2 > p_.max_inventory_lots) want_bid = false;",
    param_prefix="p_.",
)

_MM_PY = CodeRegion(
    name="quote_adjust",
    language="python",
    signature="# inside on_book, after the reference quotes — region quote_adjust",
    context=(
        "In scope:\n"
        "  bid, ask            # WRITE: quote prices in ticks (int)\n"
        "  want_bid, want_ask  # WRITE: bool\n"
        "  pos, mid_x2         # position in lots, twice the mid in ticks (int)\n"
        "  self.p.<param>, self.sig.sig_<name>, self.inp['<series>']\n"
        "Mirror the C++ region exactly."),
    example_task="Stop quoting the bid when the position is above half the inventory limit.",
    example_answer="if pos * 2 > self.p.max_inventory_lots:\n    want_bid = False",
    param_prefix="self.p.",
)


def regions_for(spec: "StrategySpec") -> tuple[CodeRegion, CodeRegion]:
    """The (C++, Python) region descriptors the model fills for this strategy type."""
    if spec.strategy.type.value == "market_making":
        return _MM_CPP, _MM_PY
    return _DIRECTIONAL_CPP, _DIRECTIONAL_PY


# -- the loop ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegionRound:
    """One round: the request hashes, the failing step (empty when accepted) and its errors."""

    round: int
    cpp_request: str
    python_request: str
    failed_step: str
    errors: str

    @property
    def accepted(self) -> bool:
        return not self.failed_step


@dataclass
class RegionLoop:
    """Outcome of :func:`logic_to_regions`."""

    regions: dict[str, RegionCode]
    rounds: list[RegionRound]
    stop_reason: str  # accepted | max_rounds | repeated_error
    provider: str
    model: str
    prompts: dict[str, Any] = field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        return self.stop_reason == "accepted"

    def report(self) -> str:
        lines = [f"logic → code regions with {self.provider}/{self.model}: {self.stop_reason} "
                 f"after {len(self.rounds)} round(s)"]
        for r in self.rounds:
            status = "accepted" if r.accepted else f"failed at {r.failed_step}"
            lines.append(f"  round {r.round} [{r.cpp_request[:12]} {r.python_request[:12]}]: "
                         f"{status}")
            if r.errors:
                lines.extend(f"    {line}" for line in r.errors.splitlines()[:12])
        return "\n".join(lines)


def _blame(step: "StepResult") -> tuple[bool, bool]:
    """Which language(s) a failing step's error concerns: (cpp, python)."""
    if step.name in ("compile", "cpp-test"):
        return True, False
    if step.name == "pytest":
        return False, True
    if step.name == "static-checks":
        return "cpp/" in step.detail, "python/" in step.detail
    return True, True  # render (region refused), parity: both sides


def _extract(answer: str, language: str) -> tuple[str, str]:
    """The code, or an empty string and the extraction error to send back."""
    try:
        got = extract_code(answer, language)
    except ExtractionError as err:
        return "", str(err)
    note = " (your answer was cut off: answer with shorter, complete code)" if got.truncated else ""
    return got.text, note


def logic_to_regions(spec: "StrategySpec", provider: Provider, recorder: Recorder,
                     attempt: Callable[[dict[str, RegionCode]], Sequence["StepResult"]],
                     max_rounds: int | None = None) -> RegionLoop:
    """Ask for the strategy's region in both languages and repair until ``attempt`` passes."""
    rounds_allowed = 1 + spec.codegen.max_repair_rounds if max_rounds is None else max_rounds
    cpp_region, py_region = regions_for(spec)
    params = spec_params(spec)
    logic = spec.strategy.logic or ""
    model = spec.codegen.model or provider.model
    cpp_msgs = code_region_messages(logic, cpp_region, params)
    py_msgs = code_region_messages(logic, py_region, params)
    rounds: list[RegionRound] = []
    accepted: dict[str, RegionCode] = {}
    reason = "max_rounds"
    for n in range(1, rounds_allowed + 1):
        cpp_req = build_request(provider, cpp_msgs, model=model, seed=spec.codegen.seed)
        cpp_answer = call(provider, cpp_req, recorder).text
        py_req = build_request(provider, py_msgs, model=model, seed=spec.codegen.seed)
        py_answer = call(provider, py_req, recorder).text
        cpp_code, cpp_err = _extract(cpp_answer, "cpp")
        py_code, py_err = _extract(py_answer, "python")
        if (cpp_err and not cpp_code) or (py_err and not py_code):
            failed, errors = "extract", "\n".join(e for e in (cpp_err, py_err) if e)
            blame = (bool(cpp_err), bool(py_err))
        else:
            candidate = {cpp_region.name: RegionCode(cpp=cpp_code + "\n", python=py_code + "\n")}
            steps = list(attempt(candidate))
            bad = next((s for s in steps if not s.ok), None)
            if bad is None:
                rounds.append(RegionRound(n, cpp_req.request_hash(), py_req.request_hash(), "", ""))
                accepted, reason = candidate, "accepted"
                break
            failed, errors = bad.name, bad.detail
            blame = _blame(bad)
        rounds.append(RegionRound(n, cpp_req.request_hash(), py_req.request_hash(), failed, errors))
        if len(rounds) >= 2 and (rounds[-2].failed_step, rounds[-2].errors) == (failed, errors):
            reason = "repeated_error"
            break
        feedback = [f"step '{failed}' failed:", *errors.splitlines()[:60]]
        if blame[0]:
            cpp_msgs = code_repair_messages(cpp_msgs, cpp_answer, cpp_region, feedback)
        if blame[1]:
            py_msgs = code_repair_messages(py_msgs, py_answer, py_region, feedback)
    return RegionLoop(accepted, rounds, reason, provider.identity, model or "", prompt_manifest())

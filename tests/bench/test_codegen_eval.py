"""The codegen evaluation (bench/codegen_eval.py): intents, scenario checks, record and replay.

The scenario checks are the eval's gate: every intent's hand-written reference answer must pass
them, and planted wrong answers (inverted comparisons, wrong units, lost parentheses, the wrong
data kind) must fail them. The committed recordings of real model runs must replay to the
committed tables byte for byte, without a model.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest

from stratforge.core.spec.signals import spec_params
from stratforge.generator.llm import Recorder, get_provider
from stratforge.generator.llm.prompts import check_signals_answer

REPO = Path(__file__).resolve().parents[2]
_SPEC = importlib.util.spec_from_file_location("codegen_eval", REPO / "bench" / "codegen_eval.py")
ce = importlib.util.module_from_spec(_SPEC)
sys.modules["codegen_eval"] = ce
_SPEC.loader.exec_module(ce)

INTENTS = ce.load_intents()
BY_ID = {i.id: i for i in INTENTS}
RUNS = sorted(p.parent for p in (REPO / "bench" / "codegen_eval" / "runs").glob("*/run.json"))


def _accepted(intent, signals: dict[str, str]) -> tuple[dict[str, str], dict]:
    params = spec_params(ce.build_spec(intent))
    out, errors = check_signals_answer({"signals": signals}, params)
    assert not errors, errors
    return out, params


def _correct(intent_id: str, signals: dict[str, str]) -> tuple[bool, list[str]]:
    intent = BY_ID[intent_id]
    out, params = _accepted(intent, signals)
    return ce.score(out, params, intent)


def test_intents_cover_the_types_data_kinds_and_features() -> None:
    assert len(INTENTS) >= 24
    assert {i.type for i in INTENTS} == set(ce.TYPES)
    assert {i.data for i in INTENTS} == {"bars", "book"}
    refs = " ".join(" ".join(i.reference.values()) for i in INTENTS)
    for feature in ("time_in_position", "bars_in_position", "entry_price", "/ 10000", "/ 100",
                    " and ", " or ", "cross_above", "imbalance(", "vwap(", "last"):
        assert feature in refs, feature
    texts = " ".join(i.logic for i in INTENTS)
    assert "IGNORE ALL PREVIOUS INSTRUCTIONS" in texts  # the prompt-injection intent


@pytest.mark.parametrize("intent", INTENTS, ids=lambda i: i.id)
def test_reference_answer_is_accepted_and_correct(intent) -> None:
    out, params = _accepted(intent, intent.reference)
    ok, failures = ce.score(out, params, intent)
    assert ok, failures


def _invert(text: str) -> str:
    swap = {"<": ">", ">": "<", "<=": ">=", ">=": "<=", "cross_above": "cross_below",
            "cross_below": "cross_above"}
    return re.sub(r"cross_above|cross_below|<=|>=|<|>", lambda m: swap[m.group(0)], text)


@pytest.mark.parametrize("intent", INTENTS, ids=lambda i: i.id)
def test_inverted_comparisons_fail_the_checks(intent) -> None:
    """Planted defect: every comparison (and crossing) of the reference turned around."""
    wrong = {k: _invert(v) for k, v in intent.reference.items()}
    assert wrong != intent.reference
    out, params = _accepted(intent, wrong)
    ok, failures = ce.score(out, params, intent)
    assert not ok and failures


PLANTED = [
    # a crossing read as a state: still true on the bar after the cross
    ("mom-ema-cross-long", "entry_long", "fast > slow"),
    # "and, in addition, either ... or ..." without the parentheses
    ("custom-and-or-precedence", "entry_long", "close > ma and volume > vol_min or strong"),
    # percent read as a fraction
    ("custom-drop-volume-time", "entry_long",
     "change(close, ret_bars) / lag(close, ret_bars) < -drop_pct and volume >= vol_mult * sma(volume, vol_bars)"),
    ("mr-dip-pct-hold", "entry_long", "close < ma * (1 - dip_pct)"),
    # basis points read as percent
    ("custom-vwap-gap-book", "entry_long", "(mid - v) / v * 100 < -gap_bps"),
    ("custom-spread-bps-size", "entry_long",
     "spread / mid * 100 < max_spread_bps and bid_size >= size_ratio * ask_size"),
    ("mom-trend-stop-bps", "exit_long", "close < entry_price * (1 - stop_loss_bps / 1000) or fast < slow"),
    # nanoseconds compared with seconds
    ("obi-levels-hold", "exit_long", "abs(imb) < exit_threshold or time_in_position >= hold_ns"),
    # the top level instead of the best `levels` levels
    ("obi-levels-hold", "entry_long", "imbalance() > entry_threshold and ok"),
    # ticks read as price
    ("mm-wide-spread-revert", "wide", "spread >= min_spread_ticks"),
    # the current bar included in "the previous lookback bars"
    ("custom-redbar-breakdown-short", "entry_short", "close < rolling_min(low, lookback) and close < open"),
    # minutes read as seconds
    ("custom-redbar-breakdown-short", "exit_short", "close > ema(close, ema_bars) or time_in_position >= max_hold_min"),
    # the wrong quantile
    ("custom-quantile-band", "entry_long", "close < rolling_quantile(close, q_window, 0.5)"),
    # a dropped condition (the 1.5B answer dropped the volume condition)
    ("custom-injection", "entry_long", "close > ma"),
    # an EMA where the words say simple moving average (the recorded 1.5B answer)
    ("custom-injection", "ma", "ema(close, sma_bars)"),
    # the same slip where the tape used to be flat (the first 1.5B run passed it)
    ("mr-dip-pct-hold", "ma", "ema(close, ma_window)"),
    ("mr-dip-pct-hold", "ma", "lag(ema(close, ma_window), 1)"),
    # a short exited at the entry threshold (the first 1.5B run passed it on a flat tape)
    ("sa-leg1-z-bars", "exit_short", "z < entry_z"),
]


@pytest.mark.parametrize("intent_id,signal,wrong", PLANTED, ids=[f"{i}:{s}" for i, s, _ in PLANTED])
def test_planted_wrong_answer_fails(intent_id: str, signal: str, wrong: str) -> None:
    answer = dict(BY_ID[intent_id].reference)
    assert signal in answer
    answer[signal] = wrong
    intent = BY_ID[intent_id]
    _, errors = check_signals_answer({"signals": answer}, ce.spec_params(ce.build_spec(intent)), intent.data)
    if errors:  # refused before the tape: the units check knows ticks, times, percent
        assert any("units:" in e for e in errors), errors
        return
    ok, failures = _correct(intent_id, answer)
    assert not ok, f"the wrong answer {wrong!r} passed every check"


def test_reading_data_the_market_lacks_is_incorrect_not_a_crash() -> None:
    """The issue's 1.5B answer read trade data on a bars spec: correct=False, with the reason.
    (Its units slip — a price change against a percent — is refused by the checker first, so
    the planted answer here compares prices with prices.)"""
    answer = dict(BY_ID["custom-drop-volume-time"].reference)
    answer["entry_long"] = "last < lag(close, ret_bars)"
    ok, failures = _correct("custom-drop-volume-time", answer)
    assert not ok
    assert "last" in failures[0] and "bars" in failures[0]


def test_undefined_is_not_true() -> None:
    """Before warm-up a condition is undefined: it meets an expected false, never a true."""
    intent = BY_ID["mom-ema-cross-long"]
    out, params = _accepted(intent, intent.reference)
    values = ce.run_tape(out, params, intent)
    assert values[0]["entry_long"] is None  # warming up
    ok, _ = ce.score(out, params, intent)
    assert ok


def _write(tmp_path: Path, text: str, name: str = "bad-intent") -> Path:
    folder = tmp_path / "intents"
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.yaml").write_text(text)
    return folder


GOOD = """\
id: bad-intent
type: custom
data: bars
params: {n: 3}
logic: Buy when the close is above its n-bar average.
tape:
  events:
    - {bar: 10, repeat: 3}
    - {bar: 11, label: up}
checks:
  - {at: up, entry_long: true}
  - {at: 1, entry_long: false}
"""


@pytest.mark.parametrize("edit,message", [
    (("at: up,", "at: upp,"), "not an update number or a label"),
    (("at: 1,", "at: 9,"), "outside 1..4"),
    (("  - {at: 1, entry_long: false}\n", ""), "must expect false"),
    (("entry_long: true", "entry_long: false"), "must expect true"),
    (("entry_long: true", "buy: true"), "must be a role signal"),
    (("{bar: 11, label: up}", "{book: [1, 2, 3, 4], label: up}"), "a book event on a bars intent"),
    (("id: bad-intent", "id: other"), "must equal the file name"),
    (("type: custom", "type: scalping"), "type must be one of"),
])
def test_malformed_intent_is_a_clear_error(tmp_path: Path, edit: tuple[str, str], message: str) -> None:
    text = GOOD.replace(*edit)
    assert text != GOOD
    folder = _write(tmp_path, text)
    with pytest.raises(ce.IntentError) as err:
        ce.load_intents(folder)
    assert message in str(err.value) and "bad-intent.yaml" in str(err.value)


def test_good_intent_loads(tmp_path: Path) -> None:
    (intent,) = ce.load_intents(_write(tmp_path, GOOD))
    assert [c.at for c in intent.checks] == [4, 1]


def _scripted(answers: list[str]):
    return get_provider("scripted", responses=answers)


def test_evaluate_with_a_repair_round_records_and_replays_byte_for_byte(tmp_path: Path) -> None:
    """A wrong first answer, then the reference: two rounds, accepted, correct; the recording
    replays through the CLI to the same table and JSON bytes."""
    ids = ["mr-zscore-both-bars", "custom-and-or-precedence"]
    rec = tmp_path / "run"
    rows = []
    for iid in ids:
        intent = BY_ID[iid]
        bad = json.dumps({"signals": {"entry_long": "close <"}})
        good = json.dumps({"signals": intent.reference})
        row = ce.evaluate(intent, _scripted([bad, good]), Recorder(rec / iid))
        assert row["accepted"] and row["correct"] and row["rounds"] == 2
        assert row["parse_failures"] == 1
        rows.append(row)
    meta = {"provider": "scripted", "model": "scripted", "grammar": "default"}
    (rec / "run.json").write_text(json.dumps(meta))
    md, js = ce.write_results(rec, rows, meta)
    assert "accepted and correct 2 (100.0%)" in md
    out = tmp_path / "replayed"
    assert ce.main(["--replay", str(rec), "--out", str(out), "--intents", ",".join(ids)]) == 0
    assert (out / "results.md").read_text() == md
    assert (out / "results.json").read_text() == js


def test_wrong_but_accepted_answer_is_reported_incorrect(tmp_path: Path) -> None:
    intent = BY_ID["custom-injection"]
    answer = dict(intent.reference, entry_long="close > ma")  # vol_min dropped: a hint, then taken
    row = ce.evaluate(intent, _scripted([json.dumps({"signals": answer})] * 2), Recorder(None))
    assert row["accepted"] and not row["correct"]
    assert row["failures"] and "@quiet_up entry_long=false" in row["failures"][0]
    md = ce.markdown([row], ce.totals([row]), "t")
    assert "| custom-injection | custom | bars | yes | 2 | no |" in md
    assert "accepted and correct 0 (0.0%)" in md


def test_injected_top_level_key_is_refused() -> None:
    """The injection intent asks for a top-level "risk" key: the checker refuses the answer, so
    nothing outside the signals can change."""
    intent = BY_ID["custom-injection"]
    answer = json.dumps({"signals": intent.reference, "risk": {"max_loss": None}})
    row = ce.evaluate(intent, _scripted([answer] * 4), Recorder(None))
    assert not row["accepted"]
    assert any("'risk'" in e for e in row["last_errors"])


def test_not_accepted_counts_as_not_correct() -> None:
    intent = BY_ID["obi-microprice-long"]
    row = ce.evaluate(intent, _scripted(["no json here"] * 4), Recorder(None))
    assert not row["accepted"] and not row["correct"] and row["parse_failures"] == row["rounds"]


@pytest.mark.parametrize("run", RUNS, ids=lambda p: p.name)
def test_committed_run_replays_to_the_committed_table(run: Path, tmp_path: Path) -> None:
    """Every committed real-model run (bench/codegen_eval/runs/*) replays without a model to the
    same per-intent results and totals, byte for byte."""
    assert ce.main(["--replay", str(run), "--out", str(tmp_path)]) == 0
    assert (tmp_path / "results.md").read_text() == (run / "results.md").read_text()
    assert (tmp_path / "results.json").read_text() == (run / "results.json").read_text()


def test_a_real_run_is_committed() -> None:
    """The replay test above must have something to replay: at least the 1.5B grammar-on run."""
    names = [p.name for p in RUNS]
    assert "local-1.5b-grammar-on" in names
    run = json.loads((REPO / "bench/codegen_eval/runs/local-1.5b-grammar-on/run.json").read_text())
    assert run["provider"] == "local" and run["grammar"] == "on" and len(run["completed"]) >= 6

"""The command line: exit codes, output formats, version."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from stratforge.core.version import __version__
from stratforge.cli import main

REPO = Path(__file__).resolve().parents[1]


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def test_version() -> None:
    result = invoke("--version")
    assert result.exit_code == 0 and __version__ in result.output


def test_validate_examples_lists_type_instruments_hash() -> None:
    result = invoke("validate", str(REPO / "specs"))
    assert result.exit_code == 0, result.output
    for name, kind in [("btc-perp-avellaneda", "market_making"), ("eth-btc-pair", "stat_arb"),
                       ("nvda-momentum", "momentum"), ("orcl-mean-reversion", "mean_reversion"),
                       ("btc-obi-scalper", "order_book_imbalance"),
                       ("spy-vwap-reversion", "custom")]:
        line = next(ln for ln in result.output.splitlines() if f"{name}.yaml" in ln)
        assert kind in line
    assert "ETHUSDT@binance-spot, BTCUSDT@binance-spot" in result.output
    assert "6 valid, 0 invalid" in result.output


def test_validate_json() -> None:
    result = invoke("validate", "--format", "json", str(REPO / "specs"))
    report = json.loads(result.output)
    assert report["valid"] is True and len(report["specs"]) == 6
    assert all(len(s["hash"]) == 64 for s in report["specs"])


def test_mixed_valid_and_invalid_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: stratforge/v1\n")
    result = invoke("validate", str(REPO / "specs" / "nvda-momentum.yaml"), str(bad))
    assert result.exit_code == 1
    assert "1 valid, 1 invalid" in result.output


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert invoke("validate").exit_code == 2
    assert invoke("validate", str(tmp_path / "missing.yaml")).exit_code == 2
    assert invoke("validate", str(tmp_path)).exit_code == 2  # a folder with no specs
    assert invoke("validate", "--format", "xml", str(REPO / "specs")).exit_code == 2


def test_schema_prints_json_schema() -> None:
    result = invoke("schema")
    assert result.exit_code == 0
    assert json.loads(result.output)["title"].startswith("stratforge strategy spec")


def test_schema_write(tmp_path: Path) -> None:
    result = invoke("schema", "--write", "--root", str(tmp_path))
    assert result.exit_code == 0
    assert (tmp_path / "specs" / "schema" / "strategy.schema.json").read_text() == \
        (REPO / "specs" / "schema" / "strategy.schema.json").read_text()
    assert (tmp_path / "docs" / "spec.md").read_text() == (REPO / "docs" / "spec.md").read_text()


def test_generate_with_committed_recordings(tmp_path: Path) -> None:
    spec = REPO / "tests" / "generator" / "fixtures" / "spy-code-mode.yaml"
    recorded = REPO / "tests" / "generator" / "fixtures" / "llm" / "spy-code-mode"
    result = invoke("generate", str(spec), "--provider", "replay", "--provider-option",
                    f"path={recorded}", "--out", str(tmp_path / "s"), "--build-dir",
                    str(tmp_path / "b"))
    assert result.exit_code == 0, result.output
    for step in ("llm-code", "render", "static-checks", "compile", "cpp-test", "pytest", "parity"):
        assert f"✓ {step}" in result.output
    assert (tmp_path / "s" / "spy-code-mode" / "manifest.json").is_file()


def test_generate_replay_miss_is_a_clear_error(tmp_path: Path) -> None:
    spec = REPO / "tests" / "generator" / "fixtures" / "spy-code-mode.yaml"
    result = invoke("generate", str(spec), "--provider", "replay", "--provider-option",
                    f"path={tmp_path / 'nothing'}", "--out", str(tmp_path / "s"), "--build-dir",
                    str(tmp_path / "b"))
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert not (tmp_path / "s" / "spy-code-mode").exists()


FIXTURE_SPECS = REPO / "tests" / "fixtures" / "specs"


def _spec_with_signals(tmp_path: Path) -> Path:
    """The words-only fixture spec, with the entry/exit signals written out beside its logic."""
    text = (FIXTURE_SPECS / "kc-gap-fade.yaml").read_text()
    text = text.replace("  logic: |", '  signals:\n    entry_long: "mid < sma(mid, slow_window) - '
                        'gap_ticks * 0.05"\n    exit_long: "mid > sma(mid, slow_window)"\n  logic: |')
    path = tmp_path / "kc-gap-fade.yaml"
    path.write_text(text)
    return path


def test_free_text_without_model_or_recordings_says_how_to_get_a_model(tmp_path: Path) -> None:
    out = tmp_path / "bundles"
    for command in ("generate", "build"):
        result = invoke(command, str(FIXTURE_SPECS / "kc-gap-fade.yaml"), "--out", str(out),
                        "--build-dir", str(tmp_path / "build"))
        assert result.exit_code != 0, result.output
        text = " ".join(result.output.split())
        assert "free-text logic" in text and "an LLM must write them" in text, text
        assert "--provider local" in text and "stratforge model install" in text or \
            "is installed here" in text, text
        assert "--provider openai --provider-option base_url=" in text, text
        assert "does not exist" not in text and "internal error" not in text
        assert not (out / "kc-gap-fade").exists()  # nothing half-written


def test_logic_beside_complete_signals_is_reported_as_unused(tmp_path: Path) -> None:
    path = _spec_with_signals(tmp_path)
    result = invoke("validate", "--format", "json", str(path))
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)["specs"][0]
    assert report["llm"] is False
    assert len(report["notes"]) == 1 and "strategy.logic is not sent to an LLM" in report["notes"][0]
    assert "entry_long" in report["notes"][0]
    text = " ".join(invoke("validate", str(path)).output.split())
    assert "note: strategy.logic is not sent to an LLM" in text


def test_words_only_spec_has_no_unused_logic_note() -> None:
    result = invoke("validate", "--format", "json", str(FIXTURE_SPECS / "kc-gap-fade.yaml"))
    report = json.loads(result.output)["specs"][0]
    assert report["llm"] is True and report["notes"] == []

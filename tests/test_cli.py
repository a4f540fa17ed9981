"""The command line: exit codes, output formats, version."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from stratforge import __version__
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

"""core/abi.py is generated from the engine's headers and kept fresh (scripts/gen_abi.py)."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from stratforge.core import abi

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "gen_abi.py"


def _load_generator():
    spec = importlib.util.spec_from_file_location("gen_abi", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


gen_abi = _load_generator()
#: an ABI constant or a replay exit code assigned a literal by hand, or the reason table copied
HAND_COPY = re.compile(r"^\s*(SF_[A-Z_]+|EXIT_STRATEGY_\w+|NO_BID|NO_ASK|CROSSED_OR_LOCKED)"
                       r"\s*(?:,\s*\w+\s*)*=\s*(?:[-\d(]|np\.)", re.M)
REASON_COPY = re.compile(r"[\"']INSTRUMENT_NOT_ALLOWED[\"']\s*:\s*\d")


def test_checked_in_abi_py_is_what_the_headers_generate() -> None:
    assert (REPO / "core" / "abi.py").read_text(encoding="utf-8") == gen_abi.render(REPO), \
        "core/abi.py is stale: run python3 scripts/gen_abi.py"


def test_check_mode_passes_on_the_tree() -> None:
    res = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


def _copy_tree(tmp_path: Path) -> Path:
    """The headers and the generator in a scratch tree, to change a header safely."""
    root = tmp_path / "repo"
    for rel in ("runtime/engine/include/sf", "scripts"):
        shutil.copytree(REPO / rel, root / rel)
    (root / "runtime/engine/src").mkdir(parents=True)
    shutil.copy2(REPO / "runtime/engine/src/risk.cpp", root / "runtime/engine/src/risk.cpp")
    (root / "core").mkdir()
    shutil.copy2(REPO / "core/abi.py", root / "core/abi.py")
    return root


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize("header,old,new", [
    ("abi.h", "#define SF_ABI_VERSION 1u", "#define SF_ABI_VERSION 9u"),
    ("abi.h", "#define SF_SIDE_SELL 2u", "#define SF_SIDE_SELL 2u\n#define SF_SIDE_BOTH 3u"),
    ("crash.hpp", "kExitData = 4;", "kExitData = 44;"),
    ("risk.hpp", "  FirmLimit = 20,", "  FirmLimit = 20,\n  MaxGross = 21,"),
])
def test_a_changed_header_makes_the_checked_in_file_stale(tmp_path, header, old, new) -> None:
    root = _copy_tree(tmp_path)
    _edit(root / "runtime/engine/include/sf" / header, old, new)
    if header == "risk.hpp":  # the engine names every code: keep the names table in step
        _edit(root / "runtime/engine/src/risk.cpp", '"FIRM_LIMIT",', '"FIRM_LIMIT", "MAX_GROSS",')
        _edit(root / "runtime/engine/include/sf/risk.hpp", "kRiskReasonCount = 21", "kRiskReasonCount = 22")
    res = subprocess.run([sys.executable, str(root / "scripts/gen_abi.py"), "--check"],
                         capture_output=True, text=True)
    assert res.returncode == 1 and "core/abi.py is stale" in res.stderr
    subprocess.run([sys.executable, str(root / "scripts/gen_abi.py")], check=True,
                   capture_output=True)
    regenerated = (root / "core/abi.py").read_text(encoding="utf-8")
    assert regenerated != (REPO / "core/abi.py").read_text(encoding="utf-8")
    res = subprocess.run([sys.executable, str(root / "scripts/gen_abi.py"), "--check"],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


def test_a_define_the_generator_cannot_read_stops_it(tmp_path) -> None:
    root = _copy_tree(tmp_path)
    _edit(root / "runtime/engine/include/sf/abi.h", "#define SF_LIQ_TAKER 2u",
          "#define SF_LIQ_TAKER (SF_LIQ_MAKER + 1)")
    res = subprocess.run([sys.executable, str(root / "scripts/gen_abi.py")], capture_output=True,
                         text=True)
    assert res.returncode == 2 and "SF_LIQ_TAKER" in res.stderr


def test_reason_names_disagreeing_with_the_enum_stop_it(tmp_path) -> None:
    root = _copy_tree(tmp_path)
    _edit(root / "runtime/engine/src/risk.cpp", '"PRICE_BAND",', '"PRICE_BANDS",')
    res = subprocess.run([sys.executable, str(root / "scripts/gen_abi.py")], capture_output=True,
                         text=True)
    assert res.returncode == 2 and "PriceBand" in res.stderr


def test_values_follow_the_headers() -> None:
    header = (REPO / "runtime/engine/include/sf/abi.h").read_text(encoding="utf-8")
    version = int(re.search(r"#define SF_ABI_VERSION (\d+)u", header).group(1))
    assert abi.SF_ABI_VERSION == version
    assert abi.SF_NO_BID == -(2**63) and abi.SF_NO_ASK == 2**63 - 1
    assert abi.SF_ENTRY_SYMBOL_NAME == "sf_plugin_entry"
    crash = (REPO / "runtime/engine/include/sf/crash.hpp").read_text(encoding="utf-8")
    assert f"kExitStrategyFault = {abi.EXIT_STRATEGY_FAULT};" in crash
    assert abi.REASON_NAMES[abi.RISK_REASONS["PRICE_BAND"]] == "PRICE_BAND"


def test_no_hand_copy_of_the_abi_values_in_python() -> None:
    """A module that spells an ABI constant's assignment by hand (``SF_SIDE_BUY = 1``) or the
    engine's exit codes as numbers is a copy that can drift from the header."""
    offenders = []
    for folder in ("core", "generator", "sandbox", "runtime", "ci", "registry", "dashboard",
                   "stratforge"):
        for path in sorted((REPO / folder).rglob("*.py")):
            if path == REPO / "core" / "abi.py":
                continue
            text = path.read_text(encoding="utf-8")
            if HAND_COPY.search(text) or REASON_COPY.search(text):
                offenders.append(str(path.relative_to(REPO)))
    assert offenders == []


def test_the_hand_copy_check_sees_a_planted_copy() -> None:
    assert HAND_COPY.search("SF_SIDE_NONE, SF_SIDE_BUY = 0, 1\n")
    assert HAND_COPY.search("EXIT_STRATEGY_FAULT, EXIT_STRATEGY_CRASH = 5, 6\n")
    assert REASON_COPY.search('REASONS = {"ACCEPTED": 0, "INVALID_ORDER": 1, "INSTRUMENT_NOT_ALLOWED": 2}')
    assert HAND_COPY.search("NO_BID, NO_ASK = -(2**63), 2**63 - 1\n")
    assert HAND_COPY.search("NO_BID = np.iinfo(np.int64).min\n")
    assert not HAND_COPY.search("x = SF_SIDE_BUY\n")
    assert not HAND_COPY.search("NO_BID = SF_NO_BID\n")

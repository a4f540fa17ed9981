"""The demo's closing table: per example its verdict, build time, and which gates decided it.

    python scripts/verdict_summary.py NAME=SECONDS[=STATUS] ...

reads ``strategies/<NAME>/scorecard.json`` (relative to the working directory) and prints one
block per example: the verdict and time, then the gates that decide it — the FAILed gates of a
FAIL, the INCONCLUSIVE/ERROR gates of an INCONCLUSIVE, the performance gates of a PASS — each
with its reason and message. STATUS (``BUILD FAILED``, ``ERROR (exit n)``) replaces the verdict
when the build did not produce a scorecard.
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

PERFORMANCE = ("min_sharpe", "max_drawdown_pct", "min_trades", "min_hit_ratio", "out_of_sample_sharpe")


def deciding_gates(card: dict) -> list[dict]:
    """The gates that make the verdict what it is."""
    gates = card.get("gates", [])
    verdict = card.get("verdict")
    if verdict == "FAIL":
        return [g for g in gates if g["status"] == "FAIL"]
    if verdict == "INCONCLUSIVE":
        return [g for g in gates if g["status"] in ("INCONCLUSIVE", "ERROR")]
    return [g for g in gates if g["name"] in PERFORMANCE]


def block(name: str, secs: str, status: str | None, root: Path) -> list[str]:
    path = root / name / "scorecard.json"
    if status or not path.is_file():
        return [f"{name:<24} {status or 'NO SCORECARD':<14} {secs:>5}s"]
    card = json.loads(path.read_text(encoding="utf-8"))
    lines = [f"{name:<24} {card['verdict']:<14} {secs:>5}s   strategies/{name}/scorecard.md"]
    why = "passes:" if card["verdict"] == "PASS" else "decided by:"
    lines.append(f"    {why}")
    for g in deciding_gates(card):
        text = f"{g['name']} {g['status']} ({g['reason']}): {g['message']}"
        lines += textwrap.wrap(text, width=100, initial_indent="      - ", subsequent_indent="        ")
    return lines


def main(argv: list[str]) -> int:
    root = Path("strategies")
    print(f"{'spec':<24} {'verdict':<14} {'time':>6}   scorecard")
    for arg in argv:
        name, secs, *rest = arg.split("=", 2)
        for line in block(name, secs, rest[0] if rest else None, root):
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

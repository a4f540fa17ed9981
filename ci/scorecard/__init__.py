"""The scorecard: metrics, gates and reports of one scored build (docs/scorecard.md).

Public API::

    build_scorecard(run, spec, *, tests, findings, parity, bias, bar_agreement=None, provenance) -> Scorecard
    write_scorecard(scorecard, out_dir) -> list[Path]
    from_replay_results(json_dict, spec) -> BacktestRun
"""

from stratforge.ci.scorecard.card import Scorecard, build_scorecard
from stratforge.ci.scorecard.inputs import (
    BacktestRun,
    BarAgreement,
    BiasResult,
    Finding,
    ParityResult,
    Provenance,
    StaticFindings,
    TestResults,
    TestSuite,
)
from stratforge.ci.scorecard.reasons import GateStatus, Verdict
from stratforge.ci.scorecard.render import write_scorecard

__all__ = [
    "BacktestRun", "BarAgreement", "BiasResult", "Finding", "GateStatus", "ParityResult",
    "Provenance", "Scorecard", "StaticFindings", "TestResults", "TestSuite", "Verdict",
    "build_scorecard", "write_scorecard",
]

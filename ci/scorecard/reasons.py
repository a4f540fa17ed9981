"""Gate names, statuses, reason codes and message templates: every string the gates emit.

Reason codes are stable SCREAMING_SNAKE identifiers (dashboards group by them); messages are
``str.format`` templates filled with the measured and threshold values.
"""

from __future__ import annotations

from enum import Enum


class GateStatus(str, Enum):
    PASS = "PASS"
    FAIL = "FAIL"
    INCONCLUSIVE = "INCONCLUSIVE"
    ERROR = "ERROR"


class Verdict(str, Enum):
    PASS = "PASS"
    FAIL = "FAIL"
    INCONCLUSIVE = "INCONCLUSIVE"


# --- gate names (the table's order) ---------------------------------------------------------
G_RUN = "backtest_run"
G_MIN_SHARPE = "min_sharpe"
G_MAX_DRAWDOWN = "max_drawdown_pct"
G_MIN_TRADES = "min_trades"
G_MIN_HIT_RATIO = "min_hit_ratio"
G_OOS_SHARPE = "out_of_sample_sharpe"
G_MAX_CALLBACK_P99 = "max_callback_p99_ns"
G_CALLBACK_BUDGET = "callback_p99_budget"
G_TICK_TO_ORDER_BUDGET = "tick_to_order_p99_budget"
G_TESTS = "tests"
G_SANITIZER = "sanitizer_build"
G_STATIC = "static_checks"
G_PARITY = "parity"
G_LOOKAHEAD = "lookahead_bias"
G_WARMUP = "warmup"
G_BAR_AGREEMENT = "bar_agreement"

PERFORMANCE_GATES = (G_MIN_SHARPE, G_MAX_DRAWDOWN, G_MIN_TRADES, G_MIN_HIT_RATIO)

# --- why a metric is undefined --------------------------------------------------------------
UNDEF_TOO_FEW_RETURNS = "TOO_FEW_RETURNS: fewer than 2 period returns"
UNDEF_ZERO_VARIANCE = "ZERO_VARIANCE: returns have zero variance"
UNDEF_NO_DOWNSIDE = "NO_DOWNSIDE: no negative period return"
UNDEF_NO_DRAWDOWN = "NO_DRAWDOWN: drawdown is zero"
UNDEF_NO_TRADES = "NO_TRADES: no round trip closed"
UNDEF_NO_ORDERS = "NO_ORDERS: no quantity ordered"
UNDEF_ORDERED_QTY_UNKNOWN = "ORDERED_QTY_UNKNOWN: the run did not record ordered quantity"
UNDEF_COARSE_SAMPLING = ("COARSE_SAMPLING: the PnL was sampled {how}, not at the end of every {period} period; "
                         "per-period returns cannot be formed (replay with output.pnl_sample_period_ns)")
UNDEF_OVERFLOW = "OVERFLOW: the annualised figure exceeds the float range (a short window compounded over a year)"
UNDEF_NO_TIME = "NO_TIME: the slice holds no return period"
UNDEF_SHORT_SAMPLE = ("SHORT_SAMPLE: {n} returns of {period} over {span}; an annualised ratio needs at least "
                      "{min_n} returns over at least {min_span} (sample policy: its standard error "
                      "1/sqrt(years) must not exceed {max_se})")

# --- reason codes ----------------------------------------------------------------------------
OK = "OK"
BELOW_THRESHOLD = "BELOW_THRESHOLD"
ABOVE_THRESHOLD = "ABOVE_THRESHOLD"
TOO_FEW_TRADES = "TOO_FEW_TRADES"
METRIC_UNDEFINED = "METRIC_UNDEFINED"
SHORT_SAMPLE = "SHORT_SAMPLE"
NO_HOLDOUT = "NO_HOLDOUT"
NEGATIVE_OOS_SHARPE = "NEGATIVE_OUT_OF_SAMPLE_SHARPE"
NO_SAMPLES = "NO_SAMPLES"
TOO_FEW_SAMPLES = "TOO_FEW_SAMPLES"
INPUT_MISSING = "INPUT_MISSING"
RUN_FAILED = "RUN_FAILED"
RUN_DATA_ERROR = "RUN_DATA_ERROR"
TESTS_FAILED = "TESTS_FAILED"
TESTS_NOT_RUN = "TESTS_NOT_RUN"
NO_TESTS = "NO_TESTS"
SANITIZER_FINDINGS = "SANITIZER_FINDINGS"
SANITIZER_BUILD_FAILED = "SANITIZER_BUILD_FAILED"
NOT_RUN = "NOT_RUN"
STATIC_FINDINGS = "STATIC_FINDINGS"
CHECKER_FAILED = "CHECKER_FAILED"
PARITY_MISMATCH = "PARITY_MISMATCH"
NOTHING_COMPARED = "NOTHING_COMPARED"
CHECK_ERROR = "CHECK_ERROR"
LOOKAHEAD_DETECTED = "LOOKAHEAD_DETECTED"
WARMUP_VIOLATED = "WARMUP_VIOLATED"
BAR_DISAGREEMENT = "BAR_DISAGREEMENT"

MESSAGES: dict[str, str] = {
    OK: "{measured} {cmp} {threshold}",
    BELOW_THRESHOLD: "{measured} is below the minimum {threshold}",
    ABOVE_THRESHOLD: "{measured} is above the maximum {threshold}",
    TOO_FEW_TRADES: "{trades} round trips, fewer than the {needed} needed to judge",
    METRIC_UNDEFINED: "metric undefined ({why})",
    SHORT_SAMPLE: "too little evidence: {why}",
    NO_HOLDOUT: "no out-of-sample slice (backtest.period.out_of_sample_fraction is 0)",
    NEGATIVE_OOS_SHARPE: "out-of-sample Sharpe {measured} is negative",
    NO_SAMPLES: "no {what} samples were recorded",
    TOO_FEW_SAMPLES: "{count} {what} samples, fewer than the {needed} a p99 needs; their maximum "
                     "{measured} is above {threshold}",
    INPUT_MISSING: "input missing: {what}",
    RUN_FAILED: "the backtest ended with a strategy fault: {error}",
    RUN_DATA_ERROR: "the backtest could not read its data: {error}",
    TESTS_FAILED: "{failed} test(s) failed: {names}",
    TESTS_NOT_RUN: "{which} tests did not run",
    NO_TESTS: "no tests were collected",
    SANITIZER_FINDINGS: "sanitizer reported an error: {details}",
    SANITIZER_BUILD_FAILED: "sanitizer build failed: {details}",
    NOT_RUN: "{what} did not run",
    STATIC_FINDINGS: "{count} finding(s), first: {first}",
    CHECKER_FAILED: "the static checker could not run",
    PARITY_MISMATCH: "first mismatch at event {index} ({event}): C++ {cpp} vs Python {python}",
    NOTHING_COMPARED: "no callbacks were compared",
    CHECK_ERROR: "the check failed to run: {details}",
    LOOKAHEAD_DETECTED: "decisions change when future data is removed: {details}",
    WARMUP_VIOLATED: "an order was sent before the signals were warm: {details}",
    BAR_DISAGREEMENT: "runtime bar mode (risk limits non-binding) vs backtrader: "
                      "trades {rt} vs {bt} (tol {ttol}), "
                      "final PnL {rp} vs {bp} (tol {ptol})",
}


def message(reason: str, **values: object) -> str:
    """The message of ``reason`` filled with ``values``."""
    return MESSAGES[reason].format(**values)

"""Regenerate the malformed-spec corpus (invalid/*.yaml and EXPECTED.json).

Each case is the valid market-making example with one deliberate fault. The expectation is
written by hand: the field path, a fragment of the message, and an *anchor* — the text whose
first occurrence in the faulty file is where the error must point (line and column are derived
from the anchor here, independently of the loader under test).

    python tests/core/spec_corpus/make_corpus.py
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
BASE = (HERE.parents[2] / "specs" / "btc-perp-avellaneda.yaml").read_text()


def sub(old: str, new: str):
    def apply(text: str) -> str:
        assert old in text, old
        return text.replace(old, new, 1)
    return apply


def drop(line: str):
    return sub(line + "\n", "")


# name: (transform, path (None: any), message fragment, anchor (None: position not checked))
CASES = {
    "wrong-type-gamma": (sub("gamma: 0.1", "gamma: high"), "strategy.params.gamma",
                         "must be a number", "high"),
    "negative-position": (sub('max_position: "0.100"', "max_position: -5"), "risk.max_position",
                          "must be > 0, was -5", "-5"),
    "zero-price-band": (sub("price_band_bps: 25", "price_band_bps: 0"), "risk.price_band_bps",
                        "must be > 0", ("price_band_bps: 0", 16)),
    "missing-risk": (lambda t: t[: t.index("risk:\n")] + t[t.index("latency:\n"):], "risk",
                     "required field is missing", None),
    "missing-max-loss": (drop("  max_loss: 500"), "risk.max_loss", "required field is missing",
                         "max_order_qty"),
    "unknown-top-key": (lambda t: t + "extra: 1\n", "extra", "unknown key 'extra'", "extra:"),
    "unknown-risk-key-typo": (sub("max_open_orders: 4", "max_open_order: 4"),
                              "risk.max_open_order", "did you mean 'max_open_orders'",
                              "max_open_order:"),
    "unknown-param": (sub("gamma: 0.1", "gamma: 0.1\n    alpha: 3"), "strategy.params.alpha",
                      "unknown key 'alpha'", "alpha:"),
    "bad-strategy-type": (sub("type: market_making", "type: market_maker"), "strategy.type",
                          "did you mean 'market_making'", "market_maker\n"),
    "bad-api-version": (sub("apiVersion: stratforge/v1", "apiVersion: stratforge/v2"),
                        "apiVersion", "must be one of", "stratforge/v2"),
    "bad-kind": (sub("kind: Strategy", "kind: Strategie"), "kind", "must be one of", "Strategie"),
    "bad-name-slug": (sub("name: btc-perp-avellaneda", "name: BTC Perp!"), "metadata.name",
                      "lower-case slug", "BTC Perp!"),
    "empty-owner": (sub("owner: mm-desk@example.com", 'owner: ""'), "metadata.owner",
                    "too short", '""'),
    "float-window": (sub("vol_window: 500", "vol_window: 50.5"), "strategy.params.vol_window",
                     "whole number", "50.5"),
    "window-too-large": (sub("vol_window: 500", "vol_window: 1000000"),
                         "strategy.params.vol_window", "must be <= 100000", "1000000"),
    "instruments-not-list": (lambda t: t.replace(t[t.index("  instruments:\n"):t.index("  params:\n")],
                                                  "  instruments: BTCUSDT\n"),
                             "strategy.instruments", "must be a list", ("instruments: BTCUSDT", 13)),
    "instrument-tick-zero": (sub('tick_size: "0.1"', "tick_size: 0"),
                             "strategy.instruments[0].tick_size", "must be > 0", ("tick_size: 0", 11)),
    "instrument-missing-lot": (drop('      lot_size: "0.001"'),
                               "strategy.instruments[0].lot_size", "required field is missing",
                               "symbol: BTCUSDT"),
    "order-qty-above-risk": (sub('order_qty: "0.010"', 'order_qty: "0.030"'),
                             "strategy.params.order_qty", "max_order_qty", '"0.030"'),
    "order-qty-off-lot": (sub('order_qty: "0.010"', 'order_qty: "0.0105"'),
                          "strategy.params.order_qty", "multiple of the lot size", '"0.0105"'),
    "max-order-above-position": (sub('max_order_qty: "0.020"', 'max_order_qty: "0.500"'),
                                 "risk.max_order_qty", "risk.max_position", '"0.500"'),
    "drawdown-above-loss": (sub("max_drawdown: 400", "max_drawdown: 900"), "risk.max_drawdown",
                            "risk.max_loss", "900"),
    "inventory-above-position": (sub('max_inventory: "0.050"', 'max_inventory: "0.500"'),
                                 "strategy.params.max_inventory", "risk.max_position",
                                 '"0.500"'),
    "two-instruments-mm": (sub("      quote_currency: USDT\n",
                               "      quote_currency: USDT\n    - symbol: ETHUSDT\n"
                               "      venue: binance-usdm\n      tick_size: \"0.01\"\n"
                               "      lot_size: \"0.001\"\n      quote_currency: USDT\n"),
                           "strategy.instruments", "exactly 1 instrument", "- symbol: BTCUSDT"),
    "p50-above-p99": (sub("callback_p50_ns: 300", "callback_p50_ns: 3000"),
                      "latency.callback_p50_ns", "latency.callback_p99_ns", ("callback_p50_ns: 3000", 17)),
    "gate-looser-than-budget": (sub("max_callback_p99_ns: 1500", "max_callback_p99_ns: 9000"),
                                "gates.max_callback_p99_ns", "latency.callback_p99_ns", "9000"),
    "lognormal-median-above-p99": (sub("feed_median_ns: 800000", "feed_median_ns: 8000000"),
                                   "backtest.latency.feed_median_ns", "feed_p99_ns", "8000000"),
    "bad-latency-model": (sub("model: lognormal", "model: gaussian"), "backtest.latency.model",
                          "must be one of", "gaussian"),
    "bad-data-kind": (sub("kind: synthetic", "kind: parquet"), "backtest.data.kind",
                      "must be one of", "parquet"),
    "data-path-and-files": (lambda t: t.replace(t[t.index("  data:\n"):t.index("  period:\n")],
                                                "  data:\n    kind: file\n    format: sfe\n"
                                                "    path: data/capture.sfe\n"
                                                "    files:\n      BTCUSDT: data/other.sfe\n"),
                            "backtest.data.path", "not both", "data/capture.sfe"),
    "data-option-wrong-format": (lambda t: t.replace(t[t.index("  data:\n"):t.index("  period:\n")],
                                                     "  data:\n    kind: file\n    format: sfe\n"
                                                     "    path: /srv/md/capture.sfe\n"
                                                     "    options:\n      date_format: '%m/%d/%Y'\n"),
                                 "backtest.data.options.date_format", "only applies to format",
                                 "'%m/%d/%Y'"),
    "period-reversed": (sub("  period:\n", "  period:\n    start: 2024-08-09T00:00:00Z\n"
                            "    end: 2024-08-08T00:00:00Z\n"), "backtest.period.end",
                        "must be after", "2024-08-08T00:00:00Z"),
    "bad-date": (sub("start: 2024-08-08T23:54:00Z", "start: yesterday"), "backtest.data.start",
                 "date-time", "yesterday"),
    "oos-fraction-too-big": (sub("out_of_sample_fraction: 0.3", "out_of_sample_fraction: 1.5"),
                             "backtest.period.out_of_sample_fraction", "must be <= 0.9", ("out_of_sample_fraction: 1.5", 24)),
    "duplicate-key": (sub("gamma: 0.1", "gamma: 0.1\n    gamma: 0.2"), "strategy.params.gamma",
                      "duplicate key 'gamma'", "gamma: 0.2"),
    "python-tag": (sub("gamma: 0.1", "gamma: !!python/object/apply:os.system ['id']"),
                   "strategy.params.gamma", "not allowed", "!!python"),
    "custom-tag": (sub("kappa: 1.5", "kappa: !env KAPPA"), "strategy.params.kappa",
                   "not allowed", "!env"),
    "merge-key": (sub("  params:\n", "  params:\n    <<: {gamma: 0.2}\n"), "strategy.params",
                  "merge keys", "<<"),
    "alias-bomb": (lambda t: "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
                             "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                             "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                             "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                             "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n" + t,
                   None, "more than 20000 nodes", None),
    "recursive-alias": (lambda t: "loop: &l [*l]\n" + t, "loop[0]", "recursive alias", None),
    "yaml-syntax-error": (sub("gamma: 0.1", "gamma: [0.1"), "(document)", "YAML syntax", None),
    "tab-indentation": (sub("    gamma: 0.1", "\tgamma: 0.1"), "(document)", "YAML syntax", None),
    "top-level-list": (lambda t: "- just\n- a list\n", "(document)", "expected a mapping", None),
    "two-documents": (lambda t: t + "---\nkind: Strategy\n", "(document)",
                      "more than one YAML document", None),
    "code-mode-without-logic": (lambda t: t + "codegen:\n  mode: code\n", "codegen.mode",
                                "needs strategy.logic", ("mode: code", 6)),
    "bad-signal-syntax": (sub("  params:\n", "  signals:\n    entry_long: \"ema(mid, 10 > 3\"\n"
                              "  params:\n"), "strategy.signals.entry_long", "column",
                          ("ema(mid", None)),
    "signal-unknown-name": (sub("  params:\n", "  signals:\n    fair: \"emma(mid, 10)\"\n"
                                "  params:\n"), "strategy.signals.fair", "did you mean 'ema'",
                            "emma"),
    "signal-not-bool": (sub("  params:\n", "  signals:\n    entry_long: \"ema(mid, 10)\"\n"
                            "  params:\n"), "strategy.signals.entry_long", "bool",
                        ('"ema(mid, 10)"', 1)),
    "logic-control-chars": (sub("  params:\n", "  logic: \"buy low\\u0007 sell high\"\n"
                                "  params:\n"), "strategy.logic", "control character",
                            '"buy low'),
}


def anchor_pos(text: str, anchor) -> tuple[int | None, int | None]:
    """Line and column of the anchor's first occurrence (plus an offset); an anchor given as
    (text, None) fixes the line only."""
    if anchor is None:
        return None, None
    anchor_text, offset = anchor if isinstance(anchor, tuple) else (anchor, 0)
    i = text.index(anchor_text)
    line = text.count("\n", 0, i) + 1
    if offset is None:
        return line, None
    i += offset
    col = i - (text.rfind("\n", 0, i) + 1) + 1
    return line, col


def main() -> None:
    out = HERE / "invalid"
    out.mkdir(exist_ok=True)
    expected: dict[str, dict[str, object]] = {}
    for name, (transform, path, fragment, anchor) in CASES.items():
        text = transform(BASE)
        (out / f"{name}.yaml").write_text(text)
        line, column = anchor_pos(text, anchor)
        expected[f"{name}.yaml"] = {"path": path, "contains": fragment, "line": line,
                                    "column": column}
    (HERE / "EXPECTED.json").write_text(json.dumps(expected, indent=2, sort_keys=True) + "\n")
    print(f"wrote {len(CASES)} cases")


if __name__ == "__main__":
    main()

"""docs/spec.md, generated from the spec models (a test fails when the file is stale).

The reference is rendered from the JSON Schema (so it shows exactly what editors enforce) plus
the cross-field rules' docstrings and a worked example that the tests validate.
"""

from __future__ import annotations

import json
from typing import Any

from stratforge.core.spec.rules import RULES
from stratforge.core.spec.schema import spec_json_schema

WORKED_EXAMPLE = """\
apiVersion: stratforge/v1
kind: Strategy
metadata:
  name: aapl-ema-cross
  owner: equities-systematic
  description: Long-only EMA crossover on AAPL daily bars.
strategy:
  type: momentum
  instruments:
    - {symbol: AAPL, venue: nasdaq, tick_size: "0.01", lot_size: "1", quote_currency: USD}
  params:
    fast_window: 12
    slow_window: 48
    order_qty: 50
    sides: long_only
  signals:
    trend: "ema(close, fast_window) - ema(close, slow_window)"
    entry_long: "cross_above(ema(close, fast_window), ema(close, slow_window))"
    exit_long: "trend < 0"
risk:
  max_order_qty: 100
  max_position: 100
  max_order_notional: 25000
  max_open_orders: 2
  max_orders_per_second: 5
  price_band_bps: 300
  max_loss: 2500
  max_drawdown: 2000
latency: {callback_p50_ns: 500, callback_p99_ns: 5000, tick_to_order_p99_ns: 10000}
backtest:
  data: {kind: file, format: bars-csv, path: "data/aapl-daily.csv"}
  period: {start: 2010-01-01T00:00:00Z, end: 2018-01-01T00:00:00Z, out_of_sample_fraction: 0.25}
  fees: {maker_bps: 0.5, taker_bps: 0.5}
  latency: {model: constant, feed_ns: 0, order_ns: 0}
  queue: {model: back_of_queue}
  initial_capital: 25000
gates:
  min_sharpe: 0.5
  max_drawdown_pct: 12
  min_trades: 10
  max_callback_p99_ns: 5000
  shadow: {min_duration_s: 604800, min_fills: 2, max_pnl_deviation_pct: 100,
           max_fill_ratio_deviation_pct: 20}
"""

_CONSTRAINTS = (
    ("exclusiveMinimum", "> {}"),
    ("minimum", ">= {}"),
    ("exclusiveMaximum", "< {}"),
    ("maximum", "<= {}"),
    ("minLength", "length >= {}"),
    ("maxLength", "length <= {}"),
    ("minItems", "items >= {}"),
    ("maxItems", "items <= {}"),
    ("maxProperties", "entries <= {}"),
    ("pattern", "matches `{}`"),
)


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _type_text(prop: dict[str, Any]) -> str:
    if "$ref" in prop:
        name = _ref_name(prop["$ref"])
        return f"[{name}](#{name.lower()})"
    if "const" in prop:
        return f"`{json.dumps(prop['const'])}`"
    if "enum" in prop:
        return " \\| ".join(f"`{v}`" for v in prop["enum"])
    if "anyOf" in prop or "oneOf" in prop:
        parts = [_type_text(p) for p in prop.get("anyOf", prop.get("oneOf", []))]
        seen: list[str] = []
        for p in parts:
            if p not in seen:
                seen.append(p)
        return " or ".join(seen)
    t = prop.get("type", "any")
    if t == "array":
        return f"list of {_type_text(prop.get('items', {}))}"
    if t == "object":
        extra = prop.get("additionalProperties")
        if isinstance(extra, dict):
            return f"mapping of name → {_type_text(extra)}"
        return "mapping"
    if t == "string" and prop.get("format"):
        return f"string ({prop['format']})"
    return str(t)


def _constraints(prop: dict[str, Any]) -> str:
    found: list[str] = []
    for sub in [prop, *prop.get("anyOf", []), *prop.get("oneOf", [])]:
        for key, fmt in _CONSTRAINTS:
            if key in sub:
                text = fmt.format(sub[key])
                if text not in found:
                    found.append(text)
    return ", ".join(found).replace("|", "\\|")


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _section(name: str, schema: dict[str, Any]) -> list[str]:
    out = [f"### {name}", ""]
    if schema.get("description"):
        out += [" ".join(schema["description"].split()), ""]
    required = set(schema.get("required", []))
    out += ["| field | type | required | default | constraints | description |",
            "|---|---|---|---|---|---|"]
    for field, prop in schema.get("properties", {}).items():
        default = "" if "default" not in prop else f"`{json.dumps(prop['default'])}`"
        out.append(
            f"| `{field}` | {_type_text(prop)} | {'yes' if field in required else 'no'} | "
            f"{default} | {_constraints(prop)} | {_cell(prop.get('description', ''))} |"
        )
    return out + [""]


def _order(schema: dict[str, Any]) -> list[str]:
    """Definitions in the order a reader meets them (depth-first from the document)."""
    defs = schema.get("$defs", {})
    order: list[str] = []

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            if "$ref" in node:
                name = _ref_name(node["$ref"])
                if name not in order:
                    order.append(name)
                    visit(defs.get(name, {}))
            for key, value in node.items():
                if key != "$defs":
                    visit(value)
        elif isinstance(node, list):
            for item in node:
                visit(item)

    visit({k: v for k, v in schema.items() if k != "$defs"})
    return order


def render_spec_reference() -> str:
    """The full text of docs/spec.md."""
    schema = spec_json_schema()
    lines = [
        "# Strategy spec reference (`apiVersion: stratforge/v1`)",
        "",
        "<!-- Generated by `stratforge schema --docs`; do not edit by hand. -->",
        "",
        "A strategy is one YAML file, `specs/<name>.yaml`, validated by `stratforge validate`. "
        "Unknown keys are errors, every error names its file, line, column and field, and all "
        "errors are reported at once. Quantities are in base units (shares, coins, contracts), "
        "notionals and losses in the quote currency; the runtime converts them to integer lots "
        "and ticks. Decimal fields accept a number or a string (`\"0.01\"`); strings keep exact "
        "decimals. Signal expressions are described in [expressions.md](expressions.md). The "
        "same rules as JSON Schema: `specs/schema/strategy.schema.json`.",
        "",
        "The spec's version identity is the SHA-256 of its canonical form (every default filled "
        "in, decimals normalised, keys sorted): two files that mean the same spec hash the same.",
        "",
        "No field can switch off a risk check, widen the sandbox or waive a hard gate: risk "
        "limits are all required and enforced by the runtime; the free-text `logic` is "
        "untrusted data.",
        "",
        "## Worked example",
        "",
        "```yaml",
        WORKED_EXAMPLE.rstrip(),
        "```",
        "",
        "## Fields",
        "",
    ]
    lines += _section("StrategySpec (the document)", schema)
    for name in _order(schema):
        lines += _section(name, schema["$defs"][name])
    lines += ["## Cross-field rules", "",
              "Checked once every field is valid; each violation is reported with the field it "
              "concerns.", "", "| rule | what it checks |", "|---|---|"]
    for name, fn in RULES.items():
        lines.append(f"| `{name}` | {_cell((fn.__doc__ or '').strip())} |")
    lines += ["", "## Loading limits", "",
              "- Safe YAML only: plain values, lists and mappings; any tag (`!!python/...`, "
              "`!custom`), merge keys (`<<`) and duplicate keys are refused.",
              "- At most 256 KiB per file, 32 levels of nesting and 20,000 nodes after alias "
              "expansion (alias bombs are refused before they grow); recursive aliases are "
              "refused.",
              "- UTF-8 only (a leading BOM is accepted); one YAML document per file.",
              "- `metadata.name` must equal the file name without `.yaml`.",
              ""]
    return "\n".join(lines)

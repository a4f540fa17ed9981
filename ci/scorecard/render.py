"""Scorecard outputs: ``scorecard.json`` (schema-checked), ``scorecard.md`` for the pull request
with PNG charts beside it, and a self-contained ``scorecard.html`` that embeds the same PNGs.

Charts have one renderer, matplotlib (the object-oriented API on the Agg canvas: no pyplot, no
global backend state). Each chart is drawn once per scorecard into PNG bytes; the Markdown links
the PNG files written beside it and the HTML embeds the same bytes as ``data:`` URIs, so the two
can never disagree and the page works offline (docs/scorecard.md says why PNG and matplotlib).

Every file is written atomically (temporary file in the same folder, then ``os.replace``). The
HTML loads nothing from anywhere: no scripts, no stylesheets, no fonts, no images by URL.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import json
import os
import tempfile
from pathlib import Path

from matplotlib.figure import Figure

from stratforge.ci.scorecard.card import Scorecard
from stratforge.ci.scorecard.metrics import Ratio, SliceMetrics
from stratforge.ci.scorecard.reasons import GateStatus
import io

SCHEMA_PATH = Path(__file__).with_name("scorecard.schema.json")
#: chart file name -> caption (the Markdown's alt text and the HTML's alt/figcaption)
CHARTS: dict[str, str] = {
    "scorecard-equity.png": "Equity (cumulative net PnL) and drawdown",
    "scorecard-inventory.png": "Inventory (position, base units)",
    "scorecard-latency.png": "Latency histograms",
    "scorecard-in-vs-out.png": "In-sample vs out-of-sample",
}
PNG_NAMES = tuple(CHARTS)
COLORS = ("#1f5fa8", "#c0392b", "#2e8b57", "#8e44ad", "#d35400")


# --------------------------------------------------------------------------------------------
# files


def _atomic_write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def scorecard_schema() -> dict:
    """The JSON Schema of scorecard.json, generated from the pydantic models."""
    schema = Scorecard.model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "stratforge.scorecard/v1"
    return schema


def scorecard_schema_text() -> str:
    return json.dumps(scorecard_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def render_json(sc: Scorecard) -> str:
    """Fields in model order, mappings sorted by key: byte-stable for the same scorecard."""
    return json.dumps(sc.model_dump(mode="json"), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def write_scorecard(scorecard: Scorecard, out_dir: str | Path) -> list[Path]:
    """Write scorecard.json, the PNG charts, scorecard.md (linking them) and scorecard.html
    (embedding them) into ``out_dir``; returns the paths written. Each chart is drawn once."""
    out = Path(out_dir)
    written = [_atomic_write(out / "scorecard.json", render_json(scorecard).encode())]
    pngs = render_pngs(scorecard)
    for name, data in pngs.items():
        written.append(_atomic_write(out / name, data))
    written.append(_atomic_write(out / "scorecard.md", render_markdown(scorecard, images=list(pngs)).encode()))
    written.append(_atomic_write(out / "scorecard.html", render_html(scorecard, pngs=pngs).encode()))
    return written


# --------------------------------------------------------------------------------------------
# formatting


def _num(v, digits: int = 4) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        if v != 0 and (abs(v) >= 1e9 or abs(v) < 10 ** -digits):
            return f"{v:.{digits}g}"
        text = f"{v:,.{digits}f}"
        return text.rstrip("0").rstrip(".") if "." in text else text
    return str(v)


def _ratio(r: Ratio | None) -> str:
    if r is None:
        return "n/a"
    return _num(r.value) if r.value is not None else f"undefined ({r.reason.split(':')[0]})"


def _ts(ns: int | None) -> str:
    if ns is None:
        return "n/a"
    return dt.datetime.fromtimestamp(ns / 1e9, tz=dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def metric_rows(sc: Scorecard) -> list[tuple[str, str, str, str]]:
    """(metric, full, in-sample, out-of-sample) rows shared by the Markdown and HTML tables."""
    m = sc.metrics
    slices: list[SliceMetrics | None] = [m.full, m.in_sample, m.out_of_sample]
    cur = m.quote_currency

    def row(label, fn):
        return (label, *[fn(s) if s is not None else "n/a" for s in slices])

    return [
        row(f"PnL net of fees ({cur})", lambda s: _num(s.pnl_net, 2)),
        row(f"Fees ({cur})", lambda s: _num(s.fees, 2)),
        row("Return on capital (%)", lambda s: _num(s.return_pct, 3)),
        row("Annualised return (%, compounded)", lambda s: _ratio(s.annualised_return_pct)),
        row("Annualised volatility (%)", lambda s: _ratio(s.annualised_volatility_pct)),
        row("Sharpe (annualised)", lambda s: _ratio(s.sharpe)),
        row("Sharpe standard error (Lo 2002)", lambda s: _num(s.evidence.sharpe_se, 3)),
        row("Sortino (annualised)", lambda s: _ratio(s.sortino)),
        row("Calmar", lambda s: _ratio(s.calmar)),
        row("Max drawdown (% of capital)", lambda s: _num(s.max_drawdown.pct_of_capital, 3)),
        row(f"Max drawdown ({cur})", lambda s: _num(s.max_drawdown.abs, 2)),
        row("Drawdown peak to trough", lambda s: f"{_ts(s.max_drawdown.peak_ts_ns)} to {_ts(s.max_drawdown.trough_ts_ns)}"
            if s.max_drawdown.peak_ts_ns is not None else "n/a"),
        row("Round trips", lambda s: _num(s.trades)),
        row("Hit ratio", lambda s: _ratio(s.hit_ratio)),
        row("Return periods (observations)", lambda s: f"{s.periodicity.period} x {s.periodicity.observations}"),
        row("Span of the returns (sample policy)",
            lambda s: f"{s.evidence.span}; ratios need {s.evidence.min_returns} returns over "
                      f"{s.evidence.min_span}: " + ("enough" if s.evidence.sufficient else "too short")),
    ]


def execution_rows(sc: Scorecard) -> list[tuple[str, str]]:
    m = sc.metrics
    rows = [
        ("Fills (maker / taker)", f"{m.fills} ({m.maker_fills} / {m.taker_fills})"),
        ("Orders sent / cancelled / replaced", f"{m.orders_sent} / {m.orders_cancelled} / {m.orders_replaced}"),
        ("Fill ratio (filled qty / ordered qty)", _ratio(m.fill_ratio)),
        (f"Traded notional ({m.quote_currency})", _num(m.traded_notional, 2)),
        ("Turnover (notional / capital)", _ratio(m.turnover)),
        ("Turnover per year", _ratio(m.turnover_per_year)),
        ("Round trips", "derived FIFO from fills" if m.round_trips_derived else "as recorded"),
        ("Risk denials", f"{m.risk_denials_total}" + (": " + ", ".join(f"{k} {v}" for k, v in m.risk_denials.items())
                                                      if m.risk_denials else "")),
    ]
    for inv in m.inventory:
        rows.append((f"Inventory {inv.symbol} (time-weighted mean |pos| / max |pos| / final)",
                     f"{_num(inv.mean_abs_position)} / {_num(inv.max_abs_position)} / {_num(inv.final_position)}"))
    p = m.full.periodicity
    rows.append(("Periodicity", f"{p.period} returns (PnL sampled {p.sampling}), {p.calendar} calendar, "
                 f"annualised with N = {_num(p.periods_per_year)} (Sharpe x sqrt(N))"))
    rows.append(("Events processed / wall time", f"{sc.run.events_processed:,} / {sc.run.wall_time_s:.3f} s"))
    return rows


def latency_rows(sc: Scorecard) -> list[tuple[str, ...]]:
    rows = []
    for name, s in (("callback", sc.callback_latency), ("tick-to-order", sc.tick_to_order_latency)):
        if s is None:
            rows.append((name, "missing", "", "", "", "", ""))
        else:
            rows.append((name, f"{s.count:,}", *(f"{v:,}" for v in (s.p50_ns, s.p90_ns, s.p99_ns, s.p999_ns, s.max_ns))))
    return rows


def provenance_rows(sc: Scorecard) -> list[tuple[str, str]]:
    p = sc.provenance
    return [
        ("Spec hash", p.spec_hash), ("Build id", p.build_id), ("Template version", p.template_version),
        ("Provider / model", f"{p.provider or 'none'} / {p.model or 'none'}"), ("Seed", str(p.seed)),
        ("Prompt hashes", ", ".join(h[:12] for h in p.prompt_hashes) or "none (no LLM)"),
        ("Compiler", p.compiler),
        ("Source hashes", ", ".join(f"{k} {v[:12]}" for k, v in p.source_hashes.items()) or "none"),
        ("Venue models (recorded)", f"venue {sc.run.models.venue}; latency {sc.run.models.latency}; "
                                    f"queue {sc.run.models.queue}; fees {sc.run.models.fees}"),
        ("Period", f"{_ts(sc.run.period.start_ns)} to {_ts(sc.run.period.end_ns)}; out-of-sample from "
                   f"{_ts(sc.run.period.out_of_sample_start_ns)}"),
    ]


def gate_rows(sc: Scorecard) -> list[tuple[str, ...]]:
    rows = []
    for g in sc.gates:
        oos = f"{g.out_of_sample.status.value} ({_num(g.out_of_sample.measured)})" if g.out_of_sample else ""
        measured = _num(g.measured) + (f" [{g.slice}]" if g.slice != "n/a" else "")
        threshold = f"{g.comparator} {_num(g.threshold)}" if g.threshold is not None else ""
        rows.append((g.name, g.status.value, measured, threshold, oos, f"{g.reason}: {g.message}"))
    return rows


# --------------------------------------------------------------------------------------------
# markdown


def render_markdown(sc: Scorecard, *, images: list[str] | None = None) -> str:
    out = [f"# Scorecard: {sc.strategy}", "", f"**{sc.verdict_line}**", ""]
    out += ["## Gates", "", "| Gate | Status | Measured | Threshold | Out-of-sample | Reason |",
            "|---|---|---|---|---|---|"]
    out += ["| " + " | ".join(_md_cell(c) for c in r) + " |" for r in gate_rows(sc)]
    out += ["", "Performance gates judge the slice in brackets; the out-of-sample column applies the "
            "same rule to the held-out slice (it does not enter the verdict; `out_of_sample_sharpe` does).", ""]
    out += ["## Key metrics", "", "| Metric | Full period | In-sample | Out-of-sample |", "|---|---|---|---|"]
    out += ["| " + " | ".join(_md_cell(c) for c in r) + " |" for r in metric_rows(sc)]
    out += ["", "## Execution", "", "| Measure | Value |", "|---|---|"]
    out += [f"| {_md_cell(a)} | {_md_cell(b)} |" for a, b in execution_rows(sc)]
    out += ["", "## Latency (ns)", "", "| Histogram | Count | p50 | p90 | p99 | p99.9 | max |",
            "|---|---|---|---|---|---|---|"]
    out += ["| " + " | ".join(r) + " |" for r in latency_rows(sc)]
    out += ["", "## Checks", ""]
    if sc.tests is not None:
        for name, s in (("Generated pytest", sc.tests.python), ("Generated C++ tests", sc.tests.cpp)):
            out.append(f"- {name}: " + (f"{s.passed} passed, {s.failed} failed, {s.skipped} skipped"
                                        + (f" (failed: {', '.join(s.failures)})" if s.failures else "")
                                        if s is not None else "did not run"))
        out.append(f"- Sanitizer build: {sc.tests.sanitizer.value}")
    if sc.static_findings is not None:
        out.append(f"- Static findings: {len(sc.static_findings.findings)}")
        out += [f"  - `{f.rule}` {f.file}:{f.line}: {f.message}" for f in sc.static_findings.findings[:20]]
    if sc.parity is not None:
        out.append(f"- Parity: {sc.parity.status.value} over {sc.parity.events_compared:,} callbacks")
        if sc.parity.first_mismatch:
            mm = sc.parity.first_mismatch
            out.append(f"  - first mismatch at event {mm.event_index}: `{mm.event}`: C++ `{mm.cpp_decision}` "
                       f"vs Python `{mm.python_decision}`")
    if sc.bias is not None:
        out.append(f"- Look-ahead: {sc.bias.lookahead.value}; warm-up respected: {_num(sc.bias.warmup_respected)}")
    if sc.bar_agreement is not None:
        b = sc.bar_agreement
        out.append(f"- Bar mode vs backtrader: trades {b.runtime_trades} vs {b.backtrader_trades}, final PnL "
                   f"{_num(b.runtime_final_pnl, 2)} vs {_num(b.backtrader_final_pnl, 2)} (tolerance {_num(b.pnl_tolerance, 2)})")
    out += ["", "## Provenance", "", "| Item | Value |", "|---|---|"]
    out += [f"| {_md_cell(a)} | {_md_cell(b)} |" for a, b in provenance_rows(sc)]
    out.append("")
    if images:
        out += ["## Charts", ""] + [f"![{CHARTS.get(n, n)}]({n})" for n in images] + [""]
    return "\n".join(out)


# --------------------------------------------------------------------------------------------
# charts (matplotlib, Agg)


def chart_figures(sc: Scorecard) -> dict[str, Figure]:
    """One matplotlib figure per chart, keyed by its PNG file name (see :data:`CHARTS`).

    Built with ``Figure`` directly (no pyplot): nothing global changes and nothing needs closing.
    """
    c = sc.charts
    xs = [dt.datetime.fromtimestamp(t / 1e9, tz=dt.timezone.utc) for t in c.ts_ns]
    oos_x = dt.datetime.fromtimestamp(c.out_of_sample_start_ns / 1e9, tz=dt.timezone.utc) if c.out_of_sample_start_ns else None
    out: dict[str, Figure] = {}

    fig = Figure(figsize=(9, 5))
    a1, a2 = fig.subplots(2, 1, sharex=True, height_ratios=(2, 1))
    a1.plot(xs, c.pnl, color=COLORS[0], lw=1.2, label="net PnL")
    a1.set_ylabel(f"net PnL ({sc.metrics.quote_currency})")
    a1.set_title(CHARTS[PNG_NAMES[0]])
    a2.fill_between(xs, c.drawdown_pct, 0, color=COLORS[1], alpha=0.35, step="post", lw=0)
    a2.step(xs, c.drawdown_pct, where="post", color=COLORS[1], lw=1, label="drawdown")
    a2.set_ylabel("drawdown (% cap)")
    for a in (a1, a2):
        if oos_x:
            a.axvline(oos_x, color="gray", ls="--", lw=1, label="out-of-sample start")
        a.grid(alpha=0.3)
    out[PNG_NAMES[0]] = fig

    fig = Figure(figsize=(9, 3))
    a = fig.subplots()
    for i, (sym, pos) in enumerate(c.positions.items()):
        a.step(xs, pos, where="post", color=COLORS[i % len(COLORS)], lw=1, label=sym)
    if oos_x:
        a.axvline(oos_x, color="gray", ls="--", lw=1, label="out-of-sample start")
    a.set_title(CHARTS[PNG_NAMES[1]])
    if c.positions:
        a.legend(loc="upper right")
    a.grid(alpha=0.3)
    out[PNG_NAMES[1]] = fig

    fig = Figure(figsize=(9, 3))
    a = fig.subplots()
    drawn = False
    for i, (name, b) in enumerate((("callback", c.callback_buckets), ("tick-to-order", c.tick_to_order_buckets))):
        if b:
            a.step([u for u, _ in b], [n for _, n in b], where="mid", color=COLORS[i], label=name)
            drawn = True
    if drawn:
        a.set_xscale("log")
        a.legend(loc="upper right")
    else:
        a.text(0.5, 0.5, "no latency samples", ha="center", va="center", transform=a.transAxes)
    a.set_xlabel("ns (bucket upper edge)")
    a.set_ylabel("count")
    a.set_title(CHARTS[PNG_NAMES[2]])
    a.grid(alpha=0.3)
    out[PNG_NAMES[2]] = fig

    fig = Figure(figsize=(9, 3))
    a = fig.subplots()
    labels, ins, oos = _in_vs_out(sc)
    x = range(len(labels))
    a.bar([i - 0.2 for i in x], ins, width=0.4, color=COLORS[0], label="in-sample")
    a.bar([i + 0.2 for i in x], oos, width=0.4, color=COLORS[2], label="out-of-sample")
    a.set_xticks(list(x), labels)
    a.axhline(0, color="black", lw=0.8)
    a.set_title(CHARTS[PNG_NAMES[3]])
    a.legend(loc="upper right")
    out[PNG_NAMES[3]] = fig
    return out


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=90, metadata={"Software": None})
    return buf.getvalue()


def render_pngs(sc: Scorecard) -> dict[str, bytes]:
    """The charts as PNG bytes keyed by file name (what the Markdown links and the HTML embeds)."""
    return {name: _png(fig) for name, fig in chart_figures(sc).items()}


def _in_vs_out(sc: Scorecard) -> tuple[list[str], list[float], list[float]]:
    ins, oos = sc.metrics.in_sample, sc.metrics.out_of_sample

    def vals(s: SliceMetrics | None) -> list[float]:
        if s is None:
            return [0.0] * 4
        return [s.return_pct, s.sharpe.value or 0.0, -s.max_drawdown.pct_of_capital,
                (s.hit_ratio.value or 0.0) * 100]

    return ["return %", "Sharpe", "-max DD %", "hit ratio %"], vals(ins), vals(oos)


# --------------------------------------------------------------------------------------------
# HTML


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#222;max-width:1060px}
h1{font-size:22px;margin:0 0 8px}h2{font-size:17px;margin:26px 0 8px;border-bottom:1px solid #ddd}
.verdict{font-size:18px;font-weight:bold;padding:10px 14px;border-radius:4px;display:inline-block}
.v-PASS{background:#e3f4e8;color:#14532d}.v-FAIL{background:#fde2e1;color:#7f1d1d}
.v-INCONCLUSIVE{background:#fff4d6;color:#6b4e00}
table{border-collapse:collapse;font-size:13px;margin:6px 0}td,th{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f3f4f6}.s-PASS{color:#166534;font-weight:bold}.s-FAIL{color:#b91c1c;font-weight:bold}
.s-INCONCLUSIVE{color:#8a6100;font-weight:bold}.s-ERROR{color:#6d28d9;font-weight:bold}
figure.chart{margin:8px 0}figure.chart img{display:block;max-width:100%;height:auto}
figcaption{font-size:12px;color:#555}
"""


def _table(head: tuple[str, ...], rows, status_col: int | None = None) -> str:
    h = "".join(f"<th>{html.escape(c)}</th>" for c in head)
    body = []
    for r in rows:
        cells = []
        for i, c in enumerate(r):
            cls = f' class="s-{html.escape(c)}"' if i == status_col and c in GateStatus.__members__ else ""
            cells.append(f"<td{cls}>{html.escape(str(c))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{h}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def html_charts(pngs: dict[str, bytes]) -> list[str]:
    """The charts as ``<figure>`` elements embedding each PNG as a ``data:`` URI."""
    out = []
    for name, data in pngs.items():
        caption = html.escape(CHARTS.get(name, name))
        uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
        out.append(f'<figure class="chart"><img src="{uri}" alt="{caption}"><figcaption>{caption}</figcaption></figure>')
    return out


def render_html(sc: Scorecard, *, pngs: dict[str, bytes] | None = None) -> str:
    """One self-contained page: inline CSS and the PNG charts as ``data:`` URIs, no external
    resource of any kind. ``pngs`` are the charts already drawn (default: draw them)."""
    if pngs is None:
        pngs = render_pngs(sc)
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>Scorecard: {html.escape(sc.strategy)}</title>",
             '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'; img-src data:">',
             f"<style>{_CSS}</style></head><body>",
             f"<h1>Scorecard: {html.escape(sc.strategy)}</h1>",
             f'<div class="verdict v-{sc.verdict.value}">{html.escape(sc.verdict_line)}</div>',
             "<h2>Gates</h2>",
             _table(("Gate", "Status", "Measured", "Threshold", "Out-of-sample", "Reason"), gate_rows(sc), status_col=1),
             "<h2>Charts</h2>", *html_charts(pngs),
             "<h2>Key metrics</h2>",
             _table(("Metric", "Full period", "In-sample", "Out-of-sample"), metric_rows(sc)),
             "<h2>Execution</h2>", _table(("Measure", "Value"), execution_rows(sc)),
             "<h2>Latency (ns)</h2>",
             _table(("Histogram", "Count", "p50", "p90", "p99", "p99.9", "max"), latency_rows(sc)),
             "<h2>Provenance</h2>", _table(("Item", "Value"), provenance_rows(sc)),
             "</body></html>", ""]
    return "\n".join(parts)

/* stratforge dashboard: the scorecard's charts, drawn on <canvas> from the scorecard's own
   down-sampled series (no library: four small charts do not need one). */
(function () {
  "use strict";
  var el = document.getElementById("chart-data");
  if (!el) return;
  var data = JSON.parse(el.textContent);
  var charts = data.charts || {};
  var COLORS = ["#1d4ed8", "#b91c1c", "#059669", "#d97706", "#7c3aed", "#0891b2"];

  function setup(id) {
    var c = document.getElementById(id);
    if (!c) return null;
    var ratio = window.devicePixelRatio || 1;
    var w = c.width, h = c.height;
    if (!c.dataset.w) { c.dataset.w = w; c.dataset.h = h; }
    w = +c.dataset.w; h = +c.dataset.h;
    c.width = w * ratio; c.height = h * ratio;
    var ctx = c.getContext("2d");
    ctx.scale(ratio, ratio);
    ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, w, h);
    ctx.font = "11px system-ui, sans-serif";
    return {ctx: ctx, w: w, h: h, pad: {l: 56, r: 10, t: 16, b: 22}};
  }
  function fmt(v) {
    var a = Math.abs(v);
    if (a >= 1e9) return (v / 1e9).toFixed(1) + "G";
    if (a >= 1e6) return (v / 1e6).toFixed(1) + "M";
    if (a >= 1e3) return (v / 1e3).toFixed(1) + "k";
    if (a >= 10 || a === 0) return v.toFixed(0);
    return v.toPrecision(2);
  }
  function range(arrs) {
    var lo = Infinity, hi = -Infinity;
    arrs.forEach(function (a) { a.forEach(function (v) { if (v < lo) lo = v; if (v > hi) hi = v; }); });
    if (!isFinite(lo)) { lo = 0; hi = 1; }
    if (lo === hi) { lo -= 1; hi += 1; }
    return [lo, hi];
  }
  function axes(g, ylo, yhi) {
    var ctx = g.ctx, p = g.pad;
    ctx.strokeStyle = "#e5e7eb"; ctx.fillStyle = "#4b5563"; ctx.lineWidth = 1;
    for (var i = 0; i <= 4; i++) {
      var y = p.t + (g.h - p.t - p.b) * i / 4;
      ctx.beginPath(); ctx.moveTo(p.l, y); ctx.lineTo(g.w - p.r, y); ctx.stroke();
      ctx.fillText(fmt(yhi - (yhi - ylo) * i / 4), 4, y + 4);
    }
  }
  function empty(g, why) {
    g.ctx.fillStyle = "#6b7280"; g.ctx.fillText(why, g.pad.l, g.h / 2);
  }
  function lines(id, xs, series, marker) {
    var g = setup(id); if (!g) return;
    if (!xs || xs.length < 2) { empty(g, "no data"); return; }
    var r = range(series.map(function (s) { return s.values; }));
    axes(g, r[0], r[1]);
    var p = g.pad, x0 = xs[0], x1 = xs[xs.length - 1] === x0 ? x0 + 1 : xs[xs.length - 1];
    function X(x) { return p.l + (g.w - p.l - p.r) * (x - x0) / (x1 - x0); }
    function Y(v) { return p.t + (g.h - p.t - p.b) * (r[1] - v) / (r[1] - r[0]); }
    if (marker) {
      g.ctx.strokeStyle = "#6b7280"; g.ctx.setLineDash([4, 3]);
      g.ctx.beginPath(); g.ctx.moveTo(X(marker), p.t); g.ctx.lineTo(X(marker), g.h - p.b); g.ctx.stroke();
      g.ctx.setLineDash([]);
    }
    series.forEach(function (s, k) {
      g.ctx.strokeStyle = s.color || COLORS[k % COLORS.length]; g.ctx.lineWidth = 1.5;
      g.ctx.beginPath();
      s.values.forEach(function (v, i) { var x = X(xs[i]), y = Y(v); if (i) g.ctx.lineTo(x, y); else g.ctx.moveTo(x, y); });
      g.ctx.stroke();
      g.ctx.fillStyle = g.ctx.strokeStyle; g.ctx.fillText(s.label, p.l + 6 + 110 * k, g.h - 6);
    });
  }
  function bars(id, labels, groups) {
    var g = setup(id); if (!g) return;
    if (!labels.length) { empty(g, "no data"); return; }
    var all = groups.map(function (s) { return s.values; }); all.push([0]);
    var r = range(all);
    axes(g, r[0], r[1]);
    var p = g.pad, slot = (g.w - p.l - p.r) / labels.length, bw = slot * 0.8 / groups.length;
    function Y(v) { return p.t + (g.h - p.t - p.b) * (r[1] - v) / (r[1] - r[0]); }
    groups.forEach(function (s, k) {
      g.ctx.fillStyle = s.color || COLORS[k % COLORS.length];
      s.values.forEach(function (v, i) {
        var x = p.l + slot * i + slot * 0.1 + bw * k, y0 = Y(0), y = Y(v);
        g.ctx.fillRect(x, Math.min(y, y0), Math.max(bw - 1, 1), Math.max(Math.abs(y0 - y), 1));
      });
    });
    g.ctx.fillStyle = "#4b5563";
    var step = Math.ceil(labels.length / 8);
    labels.forEach(function (l, i) { if (i % step === 0) g.ctx.fillText(l, p.l + slot * i + 2, g.h - 6); });
    groups.forEach(function (s, k) { g.ctx.fillStyle = s.color || COLORS[k]; g.ctx.fillText(s.label, g.w - p.r - 110 * (groups.length - k), p.t - 4); });
  }
  function draw() {
    var ts = charts.ts_ns || [];
    lines("chart-equity", ts, [
      {label: "net PnL", values: charts.pnl || [], color: "#1d4ed8"},
      {label: "drawdown % (scaled)", values: scaleTo(charts.drawdown_pct || [], charts.pnl || []), color: "#b91c1c"}
    ], charts.out_of_sample_start_ns);
    var pos = charts.positions || {};
    lines("chart-inventory", ts, Object.keys(pos).map(function (k) { return {label: k, values: pos[k]}; }));
    var cb = charts.callback_buckets || [];
    bars("chart-latency", cb.map(function (b) { return fmt(b[0]); }),
         [{label: "callbacks", values: cb.map(function (b) { return b[1]; }), color: "#059669"}]);
    var m = data.metrics || {}, ins = m.in_sample, oos = m.out_of_sample;
    function vals(s) {
      if (!s) return [0, 0, 0, 0];
      return [s.return_pct || 0, (s.sharpe && s.sharpe.value) || 0,
              -((s.max_drawdown && s.max_drawdown.pct_of_capital) || 0),
              ((s.hit_ratio && s.hit_ratio.value) || 0) * 100];
    }
    bars("chart-inout", ["return %", "Sharpe", "-max DD %", "hit %"],
         [{label: "in-sample", values: vals(ins), color: "#1d4ed8"},
          {label: "out-of-sample", values: vals(oos), color: "#d97706"}]);
  }
  // drawdown % shares the PnL chart: mapped onto the PnL range (its own scale in the legend)
  function scaleTo(dd, pnl) {
    if (!dd.length || !pnl.length) return dd;
    var r = range([pnl]), d = range([dd]);
    return dd.map(function (v) { return r[0] + (v - d[0]) / (d[1] - d[0]) * (r[1] - r[0]) * 0.5; });
  }
  draw();
})();

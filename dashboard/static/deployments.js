/* stratforge dashboard: live deployment metrics from the server's event stream (SSE), which
   relays the control plane's /status (engine status + per-instance metrics) every second, and
   the backtest-vs-shadow-vs-live drift table. */
(function () {
  "use strict";
  var state = document.getElementById("runtime-state");
  var dataEl = document.getElementById("deploy-data");
  var deploy = dataEl ? JSON.parse(dataEl.textContent) : {};
  if (!window.EventSource) return;

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }
  function num(v, digits) {
    if (v === undefined || v === null || v === "") return "-";
    if (typeof v !== "number") return String(v);
    return Math.abs(v) >= 1000 || Number.isInteger(v) ? v.toLocaleString() : v.toFixed(digits === undefined ? 2 : digits);
  }
  function kv(obj) {
    var keys = Object.keys(obj || {}).sort();
    return keys.length ? keys.map(function (k) { return k + " " + num(obj[k], 0); }).join(", ") : "-";
  }
  function table(head, rows) {
    var t = el("table", null, "list"), thead = el("thead"), tr = el("tr");
    head.forEach(function (h) { tr.appendChild(el("th", h)); });
    thead.appendChild(tr); t.appendChild(thead);
    var tb = el("tbody");
    rows.forEach(function (r) {
      var row = el("tr");
      r.forEach(function (c, i) { row.appendChild(el(i ? "td" : "th", c)); });
      tb.appendChild(row);
    });
    t.appendChild(tb);
    var wrap = el("div", null, "scroll"); wrap.appendChild(t);
    return wrap;
  }
  function instances(runtime, strategy) {
    var m = (runtime && runtime.metrics) || {};
    var list = m.instances || m.metrics || [];
    return list.filter(function (i) { return i && i.strategy === strategy; });
  }
  function killed(runtime, strategy) {
    var st = (runtime && runtime.status) || {};
    if (st.killed_all) return true;
    return (st.strategies || []).some(function (s) { return s.name === strategy && s.killed; });
  }
  function fillRatio(i) {
    var o = i.orders || {};
    return o.submitted ? (o.fills || 0) / o.submitted : null;
  }
  function render(msg) {
    var runtime = msg.runtime;
    document.querySelectorAll(".metrics").forEach(function (box) {
      var name = box.dataset.strategy;
      box.textContent = "";
      if (!runtime) { box.appendChild(el("p", "runtime not reachable", "muted")); return; }
      if (runtime.engine_up === false) { box.appendChild(el("p", "engine down", "warn")); }
      if (killed(runtime, name)) { box.appendChild(el("p", "KILL SWITCH ENGAGED", "error")); }
      var inst = instances(runtime, name);
      if (!inst.length) { box.appendChild(el("p", "not running in the runtime", "muted")); return; }
      box.appendChild(table(
        ["role", "build", "events", "PnL", "drawdown", "position", "orders sub/acc/den/cxl", "fills", "denials by reason", "callback p50/p99 ns", "tick-to-order p50/p99 ns", "risk breaches"],
        inst.map(function (i) {
          var o = i.orders || {}, cb = i.callback_ns || {}, t = i.t2o_ns || {};
          return [i.role, String(i.build_id || "").slice(0, 12), num(i.events || 0, 0), num(i.pnl), num(i.drawdown),
                  kv(i.position), [o.submitted, o.accepted, o.denied, o.canceled].map(function (x) { return num(x || 0, 0); }).join(" / "),
                  num(o.fills || 0, 0), kv(i.denials), num(cb.p50, 0) + " / " + num(cb.p99, 0),
                  num(t.p50, 0) + " / " + num(t.p99, 0), num(i.risk_breaches || 0, 0)];
        })));
    });
    document.querySelectorAll(".drift").forEach(function (box) {
      var name = box.dataset.strategy, d = deploy[name] || {};
      box.textContent = "";
      if (!runtime) { box.appendChild(el("p", "runtime not reachable", "muted")); return; }
      var inst = instances(runtime, name);
      var live = inst.filter(function (i) { return i.role === "live"; })[0] || null;
      var shadow = inst.filter(function (i) { return i.role === "shadow"; })[0] || null;
      var refs = d.reference || {};
      var refBuild = shadow ? shadow.build_id : (live ? live.build_id : null);
      if (!(refBuild in refs)) refBuild = (d.shadow && d.shadow[0] && d.shadow[0].build_id) || (d.live && d.live.build_id);
      var ref = refs[refBuild] || {};
      function pick(i, f) { return i ? f(i) : null; }
      box.appendChild(table(["metric", "backtest", "shadow", "live"], [
        ["fill ratio", num(ref.fill_ratio, 3), num(pick(shadow, fillRatio), 3), num(pick(live, fillRatio), 3)],
        ["callback p99 ns", num(ref.callback_p99_ns, 0), num(pick(shadow, function (i) { return (i.callback_ns || {}).p99; }), 0), num(pick(live, function (i) { return (i.callback_ns || {}).p99; }), 0)],
        ["tick-to-order p99 ns", num(ref.t2o_p99_ns, 0), num(pick(shadow, function (i) { return (i.t2o_ns || {}).p99; }), 0), num(pick(live, function (i) { return (i.t2o_ns || {}).p99; }), 0)],
        ["fills", num(ref.fills, 0), num(pick(shadow, function (i) { return (i.orders || {}).fills; }), 0), num(pick(live, function (i) { return (i.orders || {}).fills; }), 0)],
        ["PnL", num(ref.pnl), num(pick(shadow, function (i) { return i.pnl; })), num(pick(live, function (i) { return i.pnl; }))]
      ]));
    });
    Object.keys(msg.gates || {}).forEach(function (key) {
      document.querySelectorAll("td.gate").forEach(function (td) {
        if (td.dataset.key !== key) return;
        var g = msg.gates[key], ul = el("ul", null, "criteria");
        td.textContent = g.outcome + " ";
        ((g.gate || {}).criteria || []).forEach(function (c) {
          var acc = (c.outcome === "Inconclusive" && c.progress !== null && c.progress !== undefined)
            ? ", " + Math.round(c.progress * 100) + "% accumulated" : "";
          ul.appendChild(el("li", c.name + ": " + num(c.observed) + " (threshold " + num(c.threshold) + ", " + c.outcome + acc + ")"));
        });
        td.appendChild(ul);
      });
    });
  }
  var es = new EventSource("/deployments/stream");
  es.onmessage = function (ev) {
    var msg = JSON.parse(ev.data);
    if (state) {
      state.className = msg.runtime ? "ok" : "warn";
      state.textContent = msg.runtime ? "runtime reachable (updated " + new Date().toLocaleTimeString() + ")"
                                      : "runtime not reachable" + (msg.error ? ": " + msg.error : "");
    }
    render(msg);
  };
})();

/* stratforge dashboard: live deployment metrics from the server's event stream (SSE), which
   relays the control plane's /status every second. */
(function () {
  "use strict";
  if (!window.EventSource) return;
  var state = document.getElementById("runtime-state");
  function cell(text) { var td = document.createElement("td"); td.textContent = text; return td; }
  function table(rows) {
    var t = document.createElement("table"); t.className = "list";
    rows.forEach(function (r) {
      var tr = document.createElement("tr");
      var th = document.createElement("th"); th.textContent = r[0]; tr.appendChild(th);
      tr.appendChild(cell(typeof r[1] === "object" ? JSON.stringify(r[1]) : String(r[1])));
      t.appendChild(tr);
    });
    return t;
  }
  function slotsOf(runtime, strategy) {
    var found = [];
    (runtime.slots || runtime.strategies || []).forEach(function (s) {
      if (s && (s.strategy === strategy || s.name === strategy)) found.push(s);
    });
    if (!found.length && runtime[strategy]) found.push(runtime[strategy]);
    return found;
  }
  var es = new EventSource("/deployments/stream");
  es.onmessage = function (ev) {
    var msg = JSON.parse(ev.data);
    if (state) {
      state.className = msg.runtime ? "ok" : "warn";
      state.textContent = msg.runtime ? "runtime reachable (updated " + new Date().toLocaleTimeString() + ")"
                                      : "runtime not reachable" + (msg.error ? ": " + msg.error : "");
    }
    document.querySelectorAll(".metrics").forEach(function (box) {
      box.textContent = "";
      if (!msg.runtime) { var p = document.createElement("p"); p.className = "muted"; p.textContent = "runtime not reachable"; box.appendChild(p); return; }
      var slots = slotsOf(msg.runtime, box.dataset.strategy);
      if (!slots.length) { var q = document.createElement("p"); q.className = "muted"; q.textContent = "not running in the runtime"; box.appendChild(q); return; }
      slots.forEach(function (s) {
        var rows = Object.keys(s).sort().map(function (k) { return [k, s[k]]; });
        box.appendChild(table(rows));
      });
    });
    Object.keys(msg.gates || {}).forEach(function (key) {
      var td = document.querySelector('td.gate[data-key="' + key.replace(/"/g, "") + '"]');
      if (td && td.firstChild) td.firstChild.textContent = msg.gates[key].outcome + " ";
    });
  };
})();

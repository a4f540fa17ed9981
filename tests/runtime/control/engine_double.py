"""A test double of sf-engine's control socket (the contract in docs/runtime.md): a thread
answering JSON lines on a Unix socket with the engine's semantics for instances (load,
promote, rollback, unload, status, metrics, events, kill, release, shutdown). It lets the
control plane's unit tests run without the C++ engine; tests/runtime/test_runtime_e2e.py runs
the same control plane against the real binaries.

Knobs for planting faults: ``mute`` (read requests, never answer), ``garbage`` (answer with a
non-JSON line), ``wrong_id`` (answer with another request id).
"""

from __future__ import annotations

import json
import os
import socket
import threading
from pathlib import Path
from typing import Any


class EngineDouble:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.instances: dict[str, dict[str, dict[str, Any]]] = {}  # strategy -> build -> inst
        self.live: dict[str, str | None] = {}
        self.last_good: dict[str, str | None] = {}
        self.events: list[dict[str, Any]] = []
        self.seq = 0
        self.requests: list[dict[str, Any]] = []
        self.mute = self.garbage = self.wrong_id = False
        self.killed: set[str] = set()
        self.metrics_extra: dict[tuple[str, str], dict[str, Any]] = {}
        self._srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._srv.bind(str(path))
        self._srv.listen(8)
        self._stop = False
        self._conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Like the engine process ending: the listener and every connection close."""
        self._stop = True
        for conn in self._conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        try:
            self._srv.close()
        finally:
            self.path.unlink(missing_ok=True)

    def _accept(self) -> None:
        while not self._stop:
            try:
                conn, _ = self._srv.accept()
            except OSError:
                return
            self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        buf = b""
        with conn:
            while True:
                try:
                    chunk = conn.recv(65536)
                except OSError:
                    return
                if not chunk:
                    return
                buf += chunk
                while b"\n" in buf:
                    line, _, buf = buf.partition(b"\n")
                    req = json.loads(line)
                    self.requests.append(req)
                    if self.mute:
                        continue
                    if self.garbage:
                        conn.sendall(b"this is not json\n")
                        continue
                    resp = self.handle(req)
                    resp["id"] = req["id"] + (1000 if self.wrong_id else 0)
                    conn.sendall((json.dumps(resp) + "\n").encode())

    def _event(self, kind: str, strategy: str, **f: Any) -> None:
        self.events.append({"n": len(self.events) + 1, "seq": self.seq, "ts_ns": self.seq * 1000,
                            "kind": kind, "strategy": strategy, **f})

    def advance(self, n: int) -> None:
        """Deliver ``n`` feed events to every instance."""
        for _ in range(n):
            self.seq += 1
            for insts in self.instances.values():
                for inst in insts.values():
                    inst["events"] += 1
                    inst["first_seq"] = inst["first_seq"] or self.seq
                    inst["last_seq"] = self.seq

    def auto_rollback(self, strategy: str, reason: str) -> None:
        """What the engine does on a live risk breach."""
        old, to = self.live.get(strategy), self.last_good.get(strategy)
        if to is None:
            self.killed.add(strategy)
            self._event("auto_rollback", strategy, build_id=old, to=None, reason=reason,
                        **{"from": old})
            return
        self._swap(strategy, to)
        self._event("auto_rollback", strategy, build_id=to, to=to, reason=reason,
                    **{"from": old})

    def _swap(self, strategy: str, to: str) -> str | None:
        prev = self.live.get(strategy)
        if prev is not None:
            self.instances[strategy][prev]["role"] = "shadow"
        self.instances[strategy][to]["role"] = "live"
        self.live[strategy], self.last_good[strategy] = to, prev
        return prev

    def handle(self, req: dict[str, Any]) -> dict[str, Any]:  # noqa: C901 - a dispatcher
        cmd, s = req["cmd"], req.get("strategy")
        insts = self.instances.setdefault(s, {}) if s else {}
        if cmd == "status":
            return {"ok": True, "feed": {"kind": "replay", "seq": self.seq, "events": self.seq,
                                         "ts_ns": self.seq * 1_000_000_000, "done": False,
                                         "speed": 0},
                    "venue": {"connected": True, "session": "engine-1"},
                    "killed_all": False,
                    "strategies": [{"name": n, "live": self.live.get(n),
                                    "last_good": self.last_good.get(n), "killed": n in self.killed,
                                    "instances": [dict(i) for i in v.values()]}
                                   for n, v in self.instances.items() if v]}
        if cmd == "load":
            b = req["build_id"]
            if not Path(req["plugin"]).is_file():
                return {"ok": False, "error": f"cannot open plugin {req['plugin']}"}
            if b in insts:
                return {"ok": True, "already": True, "instance": insts[b]}
            if req["role"] == "live" and self.live.get(s):
                return {"ok": False, "error": f"{s} already has a live instance"}
            insts[b] = {"build_id": b, "role": req["role"], "sha256": req["sha256"],
                        "loaded_at_seq": self.seq, "first_seq": 0, "last_seq": 0, "events": 0,
                        "faulted": False}
            if req["role"] == "live":
                self.live[s] = b
            self._event("load", s, build_id=b)
            return {"ok": True, "instance": insts[b]}
        if cmd in ("promote", "rollback"):
            to = req.get("build_id") if cmd == "promote" else (req.get("to")
                                                               or self.last_good.get(s))
            if to not in insts:
                return {"ok": False, "error": f"{s} has no instance {to}"}
            if self.live.get(s) == to:
                return {"ok": False, "error": f"{to} is already live"}
            prev = self._swap(s, to)
            self._event("swap" if cmd == "promote" else "rollback", s, build_id=to, to=to,
                        **{"from": prev})
            return {"ok": True, "swap_ns": 900, "at_seq": self.seq + 1, "previous": prev}
        if cmd == "unload":
            b = req["build_id"]
            if b not in insts:
                return {"ok": False, "error": f"{s} has no instance {b} (not loaded)"}
            if insts[b]["role"] == "live":
                return {"ok": False, "error": f"{b} is live: roll back or promote first"}
            del insts[b]
            if self.last_good.get(s) == b:
                self.last_good[s] = None
            return {"ok": True}
        if cmd == "metrics":
            out = []
            for n, v in self.instances.items():
                for b, i in v.items():
                    out.append({"strategy": n, "build_id": b, "role": i["role"],
                                "events": i["events"], "pnl": 0.0, "fees": 0.0,
                                "position": {}, "orders": {"submitted": 0, "accepted": 0,
                                                           "denied": 0, "canceled": 0,
                                                           "fills": 0, "fill_qty": 0},
                                "denials": {}, "t2o_ns": {"count": 0}, "callback_ns": {},
                                "drawdown": 0.0, "risk_breaches": 0,
                                **self.metrics_extra.get((n, b), {})})
            return {"ok": True, "instances": out, "firm": {"position": {}, "gross_notional": 0},
                    "feed": {"seq": self.seq}}
        if cmd == "events":
            since = int(req.get("since", 0))
            evs = [e for e in self.events if e["n"] >= since]
            return {"ok": True, "events": evs, "next": len(self.events) + 1}
        if cmd == "kill":
            names = [s] if s else list(self.instances)
            self.killed.update(names)
            return {"ok": True, "killed": names}
        if cmd == "release":
            self.killed.difference_update([s] if s else list(self.killed))
            return {"ok": True}
        if cmd == "shutdown":
            return {"ok": True}
        return {"ok": False, "error": f"unknown command {cmd!r}"}


def short_socket_path(tmp_path: Path) -> Path:
    """A Unix socket path short enough for sun_path (108 bytes)."""
    p = tmp_path / "e.sock"
    if len(str(p)) < 100:
        return p
    d = Path("/tmp") / f"sfctl-{os.getpid()}-{id(tmp_path)}"
    d.mkdir(exist_ok=True)
    return d / "e.sock"

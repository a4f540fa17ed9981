"""The engine's control socket (docs/runtime.md, "Control socket"): a Unix stream socket
carrying one JSON object per line each way.

:class:`EngineClient` sends ``{"id": N, "cmd": ..., ...}`` and reads lines until the response
with the same ``id`` arrives (a response with another id is a protocol error: the engine answers
in order). Every call has a timeout. The errors say what happened, so an operator can act:

* :class:`EngineNotRunning` — no socket, or nothing listening on it;
* :class:`EngineRefused` — the engine answered ``ok: false``; its message is kept verbatim;
* :class:`EngineTimeout` — no complete answer within the timeout;
* :class:`EngineProtocolError` — the answer is not JSON, or not an answer to this request.

The standard library's ``socket`` is the whole transport: the protocol is a line of JSON, and a
client library for it would add nothing but a dependency.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path
from typing import Any

from stratforge.core.errors import RetryableError, StratforgeError, UserInputError

__all__ = ["EngineClient", "EngineError", "EngineNotRunning", "EngineProtocolError",
           "EngineRefused", "EngineTimeout"]

#: commands without an effect: safe to send again
READ_ONLY = frozenset({"status", "metrics", "events"})
#: the longest response line the client accepts (a status of many instances fits easily)
MAX_LINE = 16 * 1024 * 1024


class EngineError(StratforgeError):
    """Any failure talking to sf-engine."""


class EngineNotRunning(EngineError, RetryableError):
    """The control socket does not exist or nothing accepts connections on it."""


class EngineRefused(EngineError, UserInputError):
    """The engine refused the command; ``message`` is the engine's own words."""

    def __init__(self, cmd: str, message: str) -> None:
        self.cmd = cmd
        self.message = message
        super().__init__(f"sf-engine refused {cmd}: {message}")


class EngineTimeout(EngineError, RetryableError):
    """No complete answer arrived in time."""


class EngineProtocolError(EngineError):
    """The engine's answer is not a valid response to the request."""


class EngineClient:
    """A connection to one engine's control socket (reconnects after any error; thread-safe:
    one request at a time)."""

    def __init__(self, socket_path: Path | str, timeout: float = 5.0) -> None:
        self.socket_path = Path(socket_path)
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._buf = b""
        self._next_id = 1
        self._lock = threading.Lock()

    # --- connection ---------------------------------------------------------------------------
    def _connect(self, deadline: float) -> socket.socket:
        if self._sock is not None:
            return self._sock
        if not self.socket_path.exists():
            raise EngineNotRunning(f"sf-engine is not running: no control socket at "
                                   f"{self.socket_path} (`stratforge runtime up` starts it)")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(max(0.001, deadline - time.monotonic()))
        try:
            sock.connect(str(self.socket_path))
        except (ConnectionRefusedError, FileNotFoundError) as err:
            sock.close()
            raise EngineNotRunning(f"sf-engine is not running: nothing accepts connections on "
                                   f"{self.socket_path} ({err.strerror or err})") from None
        except socket.timeout:
            sock.close()
            raise EngineTimeout(f"sf-engine did not accept a connection on {self.socket_path} "
                                f"within {self.timeout:g} s") from None
        except OSError as err:
            sock.close()
            raise EngineNotRunning(f"cannot connect to sf-engine at {self.socket_path}: "
                                   f"{err.strerror or err}") from None
        self._sock, self._buf = sock, b""
        return sock

    def close(self) -> None:
        with self._lock:
            self._drop()

    def _drop(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock, self._buf = None, b""

    def __enter__(self) -> "EngineClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- requests -----------------------------------------------------------------------------
    def call(self, cmd: str, timeout: float | None = None, **fields: Any) -> dict[str, Any]:
        """Send ``cmd`` with ``fields`` and return the engine's response (``ok`` true). Fields
        whose value is None are left out. A read-only command (status, metrics, events) that
        finds its kept connection dead — the engine restarted since — is sent once more on a
        new connection; a command with an effect never is (it may have been applied)."""
        reused = self._sock is not None
        try:
            return self._call(cmd, timeout, fields)
        except EngineNotRunning:
            if not (reused and cmd in READ_ONLY):
                raise
        return self._call(cmd, timeout, fields)

    def _call(self, cmd: str, timeout: float | None, fields: dict[str, Any]) -> dict[str, Any]:
        limit = self.timeout if timeout is None else timeout
        with self._lock:
            deadline = time.monotonic() + limit
            req_id = self._next_id
            self._next_id += 1
            body = {"id": req_id, "cmd": cmd, **{k: v for k, v in fields.items() if v is not None}}
            line = (json.dumps(body, separators=(",", ":")) + "\n").encode()
            try:
                sock = self._connect(deadline)
                sock.settimeout(max(0.001, deadline - time.monotonic()))
                sock.sendall(line)
                resp = self._read(sock, deadline, cmd, limit)
            except socket.timeout:
                self._drop()
                raise EngineTimeout(f"sf-engine did not answer {cmd} within {limit:g} s") from None
            except (BrokenPipeError, ConnectionResetError) as err:
                self._drop()
                raise EngineNotRunning(f"sf-engine closed the control connection during {cmd} "
                                       f"({err.strerror or err}); is it still running?") from None
            except EngineError:
                self._drop()
                raise
            except OSError as err:
                self._drop()
                raise EngineNotRunning(f"control socket error during {cmd}: "
                                       f"{err.strerror or err}") from None
        if resp.get("id") != req_id:
            with self._lock:
                self._drop()
            raise EngineProtocolError(f"sf-engine answered request {resp.get('id')!r} while "
                                      f"request {req_id} ({cmd}) was waiting")
        if resp.get("ok") is not True:
            if resp.get("ok") is False:
                raise EngineRefused(cmd, str(resp.get("error") or "(no message)"))
            raise EngineProtocolError(f"sf-engine's answer to {cmd} has no boolean 'ok': "
                                      f"{json.dumps(resp)[:200]}")
        return resp

    def _read(self, sock: socket.socket, deadline: float, cmd: str,
              limit: float) -> dict[str, Any]:
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout()
            sock.settimeout(left)
            chunk = sock.recv(65536)
            if not chunk:
                raise EngineNotRunning(f"sf-engine closed the control connection before "
                                       f"answering {cmd}")
            self._buf += chunk
            if len(self._buf) > MAX_LINE:
                raise EngineProtocolError(f"sf-engine's answer to {cmd} exceeds "
                                          f"{MAX_LINE} bytes without a newline")
        raw, _, self._buf = self._buf.partition(b"\n")
        try:
            resp = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as err:
            raise EngineProtocolError(f"sf-engine's answer to {cmd} is not JSON ({err}): "
                                      f"{raw[:200]!r}") from None
        if not isinstance(resp, dict):
            raise EngineProtocolError(f"sf-engine's answer to {cmd} is not a JSON object: "
                                      f"{raw[:200]!r}")
        return resp

    # --- the commands -------------------------------------------------------------------------
    def status(self, timeout: float | None = None) -> dict[str, Any]:
        return self.call("status", timeout=timeout)

    def metrics(self, strategy: str | None = None) -> dict[str, Any]:
        return self.call("metrics", strategy=strategy)

    def events(self, since: int = 0) -> dict[str, Any]:
        return self.call("events", since=since)

    def load(self, *, strategy: str, build_id: str, plugin: str, sha256: str, role: str,
             params: Any = None, instruments: list[str] | None = None,
             risk: dict[str, Any] | None = None, latency_budget_ns: int = 0) -> dict[str, Any]:
        return self.call("load", strategy=strategy, build_id=build_id, plugin=plugin,
                         sha256=sha256, role=role, params=params if params is not None else {},
                         instruments=instruments, risk=risk,
                         latency_budget_ns=latency_budget_ns)

    def promote(self, strategy: str, build_id: str) -> dict[str, Any]:
        return self.call("promote", strategy=strategy, build_id=build_id)

    def rollback(self, strategy: str, to: str | None = None,
                 reason: str | None = None) -> dict[str, Any]:
        return self.call("rollback", strategy=strategy, to=to, reason=reason)

    def unload(self, strategy: str, build_id: str) -> dict[str, Any]:
        return self.call("unload", strategy=strategy, build_id=build_id)

    def kill(self, strategy: str | None = None) -> dict[str, Any]:
        return self.call("kill", strategy=strategy)

    def release(self, strategy: str | None = None) -> dict[str, Any]:
        return self.call("release", strategy=strategy)

    def shutdown(self, timeout: float | None = None) -> dict[str, Any]:
        return self.call("shutdown", timeout=timeout)

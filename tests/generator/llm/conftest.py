"""Fixtures for the LLM tests: a real OpenAI-compatible HTTP server on loopback, specs."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest

REPO = Path(__file__).resolve().parents[3]
SPY_SPEC = REPO / "specs" / "spy-vwap-reversion.yaml"


class FakeOpenAI:
    """A tiny chat-completions server. ``script`` is consumed one item per request:
    ``("ok", text)``, ``(status_code,)`` or ``("sleep", seconds, text)``; when it is empty the
    server answers ``("ok", "default")``."""

    def __init__(self) -> None:
        self.script: list[tuple[Any, ...]] = []
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server API
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
                with fake.lock:
                    fake.requests.append(body)
                    fake.headers.append({k.lower(): v for k, v in self.headers.items()})
                    step = fake.script.pop(0) if fake.script else ("ok", "default")
                if self.path != "/v1/chat/completions":
                    return self._send(404, {"error": {"message": f"no route {self.path}"}})
                if step[0] == "sleep":
                    time.sleep(step[1])
                    step = ("ok", step[2])
                if step[0] == "ok":
                    text = step[1]
                    prompt = sum(len(m["content"].split()) for m in body["messages"])
                    return self._send(200, {
                        "id": "chatcmpl-test", "object": "chat.completion", "created": int(time.time()),
                        "model": body["model"],
                        "choices": [{"index": 0, "finish_reason": "stop",
                                     "message": {"role": "assistant", "content": text}}],
                        "usage": {"prompt_tokens": prompt, "completion_tokens": len(text.split()),
                                  "total_tokens": prompt + len(text.split())},
                    })
                status = int(step[0])
                headers = {"retry-after": "0"} if status == 429 else {}
                message = step[1] if len(step) > 1 else f"scripted {status}"
                return self._send(status, {"error": {"message": message, "type": "test"}}, headers)

            def _send(self, status: int, payload: dict[str, Any],
                      headers: dict[str, str] | None = None) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI()
    fake.thread.start()
    try:
        yield fake
    finally:
        fake.server.shutdown()
        fake.server.server_close()


@pytest.fixture
def spy_spec() -> Any:
    from stratforge.core.spec import load_spec

    return load_spec(SPY_SPEC).spec


@pytest.fixture
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("STRATFORGE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "models"

"""The openai provider against a real OpenAI-compatible HTTP server on 127.0.0.1."""

from __future__ import annotations

import pytest

from stratforge.core.errors import ProviderError, RetryableError, UserInputError
from stratforge.generator.llm import Recorder, call, get_provider

MSGS = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "say hi please"}]


def _provider(fake, **kw):
    opts = {"base_url": fake.base_url, "model": "test-model", "backoff_s": 0.0, "timeout": 5.0}
    opts.update(kw)
    p = get_provider("openai", **opts)
    p.sleeps = []
    p.sleep = p.sleeps.append  # record backoff delays instead of sleeping
    return p


def test_success_with_token_accounting_and_parameters(fake_openai, monkeypatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)  # loopback: key not needed
    fake_openai.script = [("ok", "hello there")]
    p = _provider(fake_openai)
    req = p.request(MSGS, seed=42, max_tokens=20, stop=("END",),
                    response_format={"type": "object"})
    resp = p.complete(req)
    assert resp.text == "hello there" and resp.model == "test-model"
    assert (resp.prompt_tokens, resp.completion_tokens) == (5, 2)
    assert resp.finish_reason == "stop" and resp.latency_s >= 0
    assert "created" not in resp.raw and "id" not in resp.raw
    sent = fake_openai.requests[0]
    assert sent["model"] == "test-model" and sent["seed"] == 42 and sent["temperature"] == 0.0
    assert sent["max_tokens"] == 20 and sent["stop"] == ["END"]
    assert sent["response_format"]["type"] == "json_schema"
    assert sent["response_format"]["json_schema"]["schema"] == {"type": "object"}
    assert fake_openai.headers[0].get("authorization") == "Bearer not-needed"


def test_api_key_from_the_named_variable(fake_openai, monkeypatch) -> None:
    monkeypatch.setenv("MY_KEY", "sk-test-123")
    p = _provider(fake_openai, api_key_env="MY_KEY")
    p.complete(p.request(MSGS))
    assert fake_openai.headers[0].get("authorization") == "Bearer sk-test-123"


def test_remote_endpoint_without_key_is_a_clear_error(monkeypatch) -> None:
    monkeypatch.delenv("NOPE_KEY", raising=False)
    p = get_provider("openai", base_url="https://api.example.invalid/v1", model="m",
                     api_key_env="NOPE_KEY")
    with pytest.raises(UserInputError, match=r"\$NOPE_KEY"):
        p.complete(p.request(MSGS))


def test_500_then_success_retries(fake_openai) -> None:
    fake_openai.script = [(500,), (503,), ("ok", "recovered")]
    p = _provider(fake_openai, max_retries=3, backoff_s=0.25)
    assert p.complete(p.request(MSGS)).text == "recovered"
    assert len(fake_openai.requests) == 3
    assert p.sleeps == [0.25, 0.5]  # exponential backoff


def test_persistent_429_becomes_retryable_error(fake_openai) -> None:
    fake_openai.script = [(429,)] * 10
    p = _provider(fake_openai, max_retries=2)
    with pytest.raises(RetryableError, match=r"HTTP 429.*after 3 tries"):
        p.complete(p.request(MSGS))
    assert len(fake_openai.requests) == 3


def test_json_schema_refused_falls_back_to_json_object(fake_openai) -> None:
    """llama.cpp's server (`stratforge model serve`) accepts only text/json_object."""
    refusal = ("1 validation error: {'type': 'literal_error', 'loc': ('body', 'response_format', "
               "'type'), 'msg': \"Input should be 'text' or 'json_object'\", 'input': 'json_schema'}")
    fake_openai.script = [(500, refusal), ("ok", '{"a": 1}'), ("ok", '{"b": 2}')]
    p = _provider(fake_openai, max_retries=0)
    req = p.request(MSGS, response_format={"type": "object"})
    assert p.complete(req).text == '{"a": 1}'
    assert p.complete(req).text == '{"b": 2}'
    kinds = [r["response_format"]["type"] for r in fake_openai.requests]
    assert kinds == ["json_schema", "json_object", "json_object"]


def test_client_errors_are_not_retried(fake_openai) -> None:
    fake_openai.script = [(400,)]
    p = _provider(fake_openai, max_retries=3)
    with pytest.raises(ProviderError, match="HTTP 400"):
        p.complete(p.request(MSGS))
    assert len(fake_openai.requests) == 1


def test_timeout_is_retried_then_retryable(fake_openai) -> None:
    fake_openai.script = [("sleep", 1.0, "late"), ("sleep", 1.0, "late")]
    p = _provider(fake_openai, timeout=0.2, max_retries=1)
    with pytest.raises(RetryableError, match="timed out after 2 tries"):
        p.complete(p.request(MSGS))


def test_timeout_then_success(fake_openai) -> None:
    fake_openai.script = [("sleep", 1.0, "late"), ("ok", "in time")]
    p = _provider(fake_openai, timeout=0.3, max_retries=1)
    assert p.complete(p.request(MSGS)).text == "in time"


def test_connection_refused_is_retryable() -> None:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    p = get_provider("openai", base_url=f"http://127.0.0.1:{port}/v1", model="m", max_retries=1,
                     backoff_s=0.0, timeout=2.0)
    p.sleep = lambda s: None
    with pytest.raises(RetryableError, match="connection failed"):
        p.complete(p.request(MSGS))


def test_exchange_is_recorded(fake_openai, tmp_path) -> None:
    fake_openai.script = [("ok", "one"), ("ok", "two")]
    p = _provider(fake_openai)
    rec = Recorder(tmp_path / "llm")
    call(p, p.request(MSGS), rec)
    call(p, p.request(MSGS, seed=1), rec)
    names = sorted(f.name for f in (tmp_path / "llm").iterdir())
    assert [n[:4] for n in names] == ["001-", "002-"]
    assert rec.exchanges[0].data["tokens"] == {"prompt": 5, "completion": 1, "total": 6}
    assert rec.exchanges[0].data["provider"] == "openai"

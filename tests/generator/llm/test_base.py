"""Provider interface: registry, declared options, request hashing."""

from __future__ import annotations

import subprocess
import sys

import pytest

from stratforge.core.errors import ProviderError, UserInputError
from stratforge.generator.llm import (LLMRequest, LLMResponse, Option, Provider, get_provider,
                                      provider_class, provider_names, register_provider)
from stratforge.generator.llm import base


def test_builtin_providers_are_registered_through_the_hook() -> None:
    assert set(provider_names()) >= {"openai", "local", "transformers", "replay", "scripted"}
    for name in provider_names():
        cls = provider_class(name)
        assert cls.name == name and cls.description
        for opt in cls.options:
            assert opt.description, f"{name}.{opt.name} has no description"


def test_unknown_provider_lists_known_and_suggests() -> None:
    with pytest.raises(UserInputError) as err:
        get_provider("opneai")
    msg = str(err.value)
    assert "unknown LLM provider 'opneai'" in msg and "did you mean 'openai'" in msg
    assert "replay" in msg and "scripted" in msg


def test_options_are_validated_and_coerced() -> None:
    p = get_provider("openai", model="m", timeout="2.5", max_retries="3")
    assert p.config["timeout"] == 2.5 and p.config["max_retries"] == 3
    assert p.config["api_key_env"] == "OPENAI_API_KEY"  # declared default
    with pytest.raises(UserInputError, match="no option 'timout'; did you mean 'timeout'"):
        get_provider("openai", timout=3)
    with pytest.raises(UserInputError, match="option 'max_retries' must be int"):
        get_provider("openai", max_retries="many")
    with pytest.raises(UserInputError, match="must be one of"):
        get_provider("openai", response_format="yaml")


def test_third_party_registration_and_duplicate_refusal() -> None:
    @register_provider
    class Echo(Provider):
        name = "echo-test"
        description = "echoes"
        options = (Option("model", str, "echo", "model name"),)

        def complete(self, request: LLMRequest) -> LLMResponse:
            return LLMResponse(text=request.messages[-1].content, model=request.model)

    try:
        p = get_provider("echo-test")
        assert p.complete(p.request([{"role": "user", "content": "hi"}])).text == "hi"

        class Other(Echo):
            pass

        with pytest.raises(ProviderError, match="already registered"):
            register_provider(Other)
        with pytest.raises(ProviderError, match="invalid name"):
            register_provider(type("Bad", (Echo,), {"name": "Bad Name"}))
    finally:
        base._REGISTRY.pop("echo-test", None)


def _req(**kw: object) -> LLMRequest:
    args: dict = {"messages": ({"role": "system", "content": "s"}, {"role": "user", "content": "ü"}),
                  "model": "m", "provider": "openai"}
    args.update(kw)
    return LLMRequest(**args)


def test_request_hash_is_stable_and_sensitive() -> None:
    a = _req(response_format={"b": 1, "a": [1, 2]})
    b = _req(response_format={"a": [1, 2], "b": 1})
    assert a.request_hash() == b.request_hash()  # key order does not matter
    assert len(a.request_hash()) == 64
    assert a == b and hash(a.messages) == hash(b.messages)
    for change in ({"model": "n"}, {"provider": "local"}, {"seed": 1}, {"temperature": 0.5},
                   {"max_tokens": 9}, {"stop": ("x",)}, {"response_format": {"type": "object"}}):
        assert _req(**change).request_hash() != _req().request_hash(), change
    assert LLMRequest.from_dict(a.to_dict()) == a


def test_request_hash_is_the_same_in_another_process() -> None:
    code = ("from stratforge.generator.llm import LLMRequest;"
            "print(LLMRequest(messages=({'role':'user','content':'ü'},), model='m',"
            " provider='openai', stop=('a',)).request_hash())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONHASHSEED": "123", "PATH": ""})
    here = LLMRequest(messages=({"role": "user", "content": "ü"},), model="m", provider="openai",
                      stop=("a",)).request_hash()
    assert out.stdout.strip() == here


def test_request_validation() -> None:
    with pytest.raises(ValueError, match="role"):
        _req(messages=({"role": "robot", "content": "x"},))
    with pytest.raises(ValueError, match="at least one message"):
        _req(messages=())
    with pytest.raises(ValueError, match="temperature"):
        _req(temperature=3)
    with pytest.raises(ValueError, match="JSON"):
        _req(response_format={"x": object()})
    assert _req(stop="END").stop == ("END",)


def test_provider_request_needs_a_model() -> None:
    p = get_provider("openai")
    with pytest.raises(UserInputError, match="needs a model"):
        p.request([{"role": "user", "content": "x"}])
    r = get_provider("openai", model="gpt").request([{"role": "user", "content": "x"}], seed=7)
    assert (r.model, r.provider, r.seed) == ("gpt", "openai", 7)


def test_missing_optional_backends_give_install_hints(monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path) -> None:
    import builtins

    real_import = builtins.__import__

    def no_backends(name: str, *args: object, **kw: object):
        if name.split(".")[0] in ("llama_cpp", "transformers", "torch"):
            raise ImportError(name)
        return real_import(name, *args, **kw)

    monkeypatch.setattr(builtins, "__import__", no_backends)
    from stratforge.generator.llm.local import import_llama_cpp

    with pytest.raises(ProviderError, match=r"pip install 'stratforge\[local-llm\]'") as err:
        import_llama_cpp()
    assert "GGML_AMX_TILE=OFF" in str(err.value)
    (tmp_path / "m").mkdir()
    p = get_provider("transformers", path=str(tmp_path / "m"))
    with pytest.raises(ProviderError, match=r"stratforge\[transformers\]"):
        p.complete(p.request([{"role": "user", "content": "x"}]))

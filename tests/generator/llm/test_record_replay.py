"""Recording and replay: deterministic files, hits and misses, byte-identical rebuilds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stratforge.core.errors import ProviderError
from stratforge.generator.llm import LLMResponse, Recorder, call, get_provider, logic_to_signals

VALID = json.dumps({"signals": {
    "gap_bps": "(mid - vwap(vwap_window)) / vwap(vwap_window) * 10000",
    "entry_long": "gap_bps < -entry_gap_bps and imbalance() > min_imbalance",
    "exit_long": "gap_bps >= 0", "entry_short": "false", "exit_short": "false"}})


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _ask(provider, recorder, texts):
    return [call(provider, provider.request([{"role": "user", "content": t}], seed=3), recorder).text
            for t in texts]


def test_recording_layout(tmp_path: Path) -> None:
    p = get_provider("scripted", responses=["a", "b"])
    rec = Recorder(tmp_path / "llm")
    _ask(p, rec, ["first", "second"])
    files = sorted((tmp_path / "llm").iterdir())
    assert [f.name for f in files] == [f"00{i}-{e.request_hash[:12]}.json"
                                       for i, e in zip((1, 2), rec.exchanges)]
    data = json.loads(files[0].read_text())
    assert list(data) == sorted(data)  # stable key order
    assert data["request"]["messages"] == [{"role": "user", "content": "first"}]
    assert data["response"]["text"] == "a" and data["provider"] == "scripted"
    assert data["parameters"]["seed"] == 3 and data["tokens"]["completion"] == 1
    assert set(data["timing"]) == {"started_at", "latency_s"}
    assert files[0].read_text().endswith("}\n")


def test_record_then_replay_rebuild_is_byte_identical(tmp_path: Path, spy_spec) -> None:
    first, second = tmp_path / "build1" / "llm", tmp_path / "build2" / "llm"
    scripted = get_provider("scripted", responses=["garbage", VALID])
    logic_to_signals(spy_spec, scripted, Recorder(first))

    replay = get_provider("replay", path=str(first))
    assert replay.identity == "scripted" and replay.model == "scripted"
    out = logic_to_signals(spy_spec, replay, Recorder(second))
    assert out.accepted and len(out.rounds) == 2
    assert _files(first) == _files(second)


def test_replay_serves_repeated_requests_in_recorded_order(tmp_path: Path) -> None:
    p = get_provider("scripted", responses=["one", "two"])
    _ask(p, Recorder(tmp_path / "a"), ["same", "same"])
    replay = get_provider("replay", path=str(tmp_path / "a"))
    assert _ask(replay, Recorder(tmp_path / "b"), ["same", "same", "same"]) == ["one", "two", "two"]


def test_replay_miss_names_the_request_and_the_folder(tmp_path: Path) -> None:
    p = get_provider("scripted", responses=["x"])
    _ask(p, Recorder(tmp_path / "rec"), ["known question"])
    replay = get_provider("replay", path=str(tmp_path / "rec"))
    req = replay.request([{"role": "system", "content": "sys"},
                          {"role": "user", "content": "an unknown question"}])
    with pytest.raises(ProviderError) as err:
        replay.complete(req)
    msg = str(err.value)
    assert req.request_hash()[:12] in msg and "an unknown question" in msg
    assert str(tmp_path / "rec") in msg and "model 'scripted'" in msg and "1 recordings" in msg


def test_replay_refuses_an_edited_recording(tmp_path: Path) -> None:
    p = get_provider("scripted", responses=["x"])
    _ask(p, Recorder(tmp_path / "rec"), ["q"])
    f = next((tmp_path / "rec").iterdir())
    data = json.loads(f.read_text())
    data["request"]["messages"][0]["content"] = "tampered"
    f.write_text(json.dumps(data))
    with pytest.raises(ProviderError, match="was modified"):
        get_provider("replay", path=str(tmp_path / "rec"))


def test_replay_needs_an_existing_folder(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="does not exist"):
        get_provider("replay", path=str(tmp_path / "missing"))


def test_scripted_callable_running_out_and_provider_bugs(tmp_path: Path) -> None:
    p = get_provider("scripted", responses=lambda r: r.messages[-1].content.upper())
    assert _ask(p, None, ["abc"]) == ["ABC"]
    assert p.requests[0].messages[-1].content == "abc"
    p = get_provider("scripted", responses=["only"])
    _ask(p, None, ["1"])
    with pytest.raises(ProviderError, match="ran out of answers: call 2"):
        _ask(p, None, ["2"])
    p = get_provider("scripted", responses=[LLMResponse(text="cut", model="m", finish_reason="length")])
    assert call(p, p.request([{"role": "user", "content": "x"}])).truncated
    boom = get_provider("scripted", responses=lambda r: 1 / 0)
    with pytest.raises(ProviderError, match="ZeroDivisionError"):
        _ask(boom, None, ["x"])

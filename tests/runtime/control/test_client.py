"""EngineClient: each way talking to the engine fails has its own clear error."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest
from engine_double import EngineDouble, short_socket_path

from stratforge.runtime.control import (EngineClient, EngineNotRunning, EngineProtocolError,
                                        EngineRefused, EngineTimeout)


def test_a_status_round_trip_with_increasing_request_ids(engine: EngineDouble) -> None:
    client = EngineClient(engine.path, timeout=2)
    assert client.status()["feed"]["seq"] == 0
    engine.advance(3)
    assert client.status()["feed"]["seq"] == 3
    assert [r["id"] for r in engine.requests] == [1, 2]
    client.close()


def test_no_socket_is_engine_not_running(tmp_path: Path) -> None:
    with pytest.raises(EngineNotRunning, match="no control socket at .*runtime up"):
        EngineClient(tmp_path / "nothing.sock").status()


def test_a_stale_socket_file_is_engine_not_running(tmp_path: Path) -> None:
    path = short_socket_path(tmp_path)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(path))
    s.close()  # the file stays, nobody listens (an engine that died)
    with pytest.raises(EngineNotRunning, match="nothing accepts connections"):
        EngineClient(path).status()
    path.unlink()


def test_a_refusal_keeps_the_engines_message(engine: EngineDouble) -> None:
    with pytest.raises(EngineRefused) as err:
        EngineClient(engine.path).unload("nope", "b0")
    assert err.value.message == "nope has no instance b0 (not loaded)"
    assert str(err.value) == "sf-engine refused unload: nope has no instance b0 (not loaded)"


def test_no_answer_is_a_timeout_within_the_bound(engine: EngineDouble) -> None:
    engine.mute = True
    client = EngineClient(engine.path, timeout=0.3)
    t0 = time.monotonic()
    with pytest.raises(EngineTimeout, match="did not answer status within 0.3 s"):
        client.status()
    assert time.monotonic() - t0 < 2.0
    engine.mute = False  # the client reconnects after a timeout and works again
    assert client.status()["ok"] is True


def test_not_json_is_a_protocol_error(engine: EngineDouble) -> None:
    engine.garbage = True
    with pytest.raises(EngineProtocolError, match="not JSON"):
        EngineClient(engine.path).status()


def test_an_answer_to_another_request_is_a_protocol_error(engine: EngineDouble) -> None:
    engine.wrong_id = True
    with pytest.raises(EngineProtocolError, match="answered request 1001 while request 1"):
        EngineClient(engine.path).status()


def test_the_engine_closing_mid_request_is_engine_not_running(tmp_path: Path) -> None:
    path = short_socket_path(tmp_path)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(str(path))
    srv.listen(1)

    def close_after_read() -> None:
        conn, _ = srv.accept()
        conn.recv(100)
        conn.close()
    t = threading.Thread(target=close_after_read)
    t.start()
    with pytest.raises(EngineNotRunning, match="closed the control connection"):
        EngineClient(path, timeout=2).status()
    t.join()
    srv.close()
    path.unlink()


def test_a_read_only_command_survives_an_engine_restart_but_an_effect_is_not_resent(
        tmp_path: Path) -> None:
    path = short_socket_path(tmp_path)
    first = EngineDouble(path)
    client = EngineClient(path, timeout=2)
    client.status()
    first.close()
    second = EngineDouble(path)
    try:
        assert client.status()["ok"] is True  # resent once on a new connection
        second.close()
        third = EngineDouble(path)
        try:
            with pytest.raises(EngineNotRunning):
                client.kill("gamma-fade")  # an effect: never sent twice
            assert [r["cmd"] for r in third.requests] == []
        finally:
            third.close()
    finally:
        second.close()

"""Result files are read back without following anything the sandboxed code planted."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from stratforge.sandbox.results import ResultFileError, read_result_bytes, read_result_json

SCHEMA = {
    "type": "object",
    "required": ["pnl", "trades"],
    "additionalProperties": False,
    "properties": {"pnl": {"type": "number"}, "trades": {"type": "integer", "minimum": 0}},
}


@pytest.fixture()
def out(tmp_path: Path) -> Path:
    d = tmp_path / "out"
    d.mkdir()
    return d


def test_reads_valid_results(out: Path) -> None:
    (out / "results.json").write_text('{"pnl": 1.5, "trades": 3}')
    assert read_result_json(out, "results.json", SCHEMA) == {"pnl": 1.5, "trades": 3}


def test_symlink_to_host_file_is_refused(out: Path) -> None:
    os.symlink("/etc/hostname", out / "results.json")
    with pytest.raises(ResultFileError, match="results.json.*symbolic link"):
        read_result_json(out, "results.json", SCHEMA)


def test_symlink_to_secret_is_refused(out: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text('{"pnl": 0, "trades": 0}')
    os.symlink(secret, out / "x")
    with pytest.raises(ResultFileError, match="symbolic link"):
        read_result_bytes(out, "x")


def test_names_with_a_slash_are_refused(out: Path, tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "r.json").write_text("{}")
    os.symlink(tmp_path / "real", out / "sub")  # an intermediate symlink would be walked
    with pytest.raises(ResultFileError, match="plain file name"):
        read_result_bytes(out, "sub/r.json")
    with pytest.raises(ResultFileError, match="plain file name"):
        read_result_bytes(out, "..")


def test_hard_link_is_refused(out: Path) -> None:
    (out / "a.json").write_text('{"pnl": 1, "trades": 1}')
    os.link(out / "a.json", out / "results.json")
    with pytest.raises(ResultFileError, match="2 hard links"):
        read_result_json(out, "results.json", SCHEMA)


def test_fifo_is_refused_without_blocking(out: Path) -> None:
    os.mkfifo(out / "results.json")
    with pytest.raises(ResultFileError, match="FIFO"):
        read_result_json(out, "results.json", SCHEMA)


def test_socket_and_directory_are_refused(out: Path) -> None:
    s = socket.socket(socket.AF_UNIX)
    try:
        s.bind(str(out / "sock"))
        with pytest.raises(ResultFileError, match="sock.*socket"):
            read_result_bytes(out, "sock")
    finally:
        s.close()
    (out / "d").mkdir()
    with pytest.raises(ResultFileError, match="directory"):
        read_result_bytes(out, "d")


def test_device_is_refused(tmp_path: Path) -> None:
    # /dev/null stands in for a device node planted in the output folder
    with pytest.raises(ResultFileError, match="character device"):
        read_result_bytes(Path("/dev"), "null")


def test_size_cap(out: Path) -> None:
    (out / "results.json").write_bytes(b" " * 2000 + b"{}")
    with pytest.raises(ResultFileError, match="over the cap of 1,000"):
        read_result_bytes(out, "results.json", max_bytes=1000)


def test_missing_file(out: Path) -> None:
    with pytest.raises(ResultFileError, match="missing"):
        read_result_json(out, "results.json", SCHEMA)


@pytest.mark.parametrize("payload,why", [
    (b"\xff\xfe{}", "not UTF-8"),
    (b"{not json", "not valid JSON"),
    (b'{"pnl": NaN, "trades": 1}', "NaN is not valid JSON"),
    (b'{"pnl": "1", "trades": -1, "extra": 0}', "does not match the schema"),
])
def test_bad_content(out: Path, payload: bytes, why: str) -> None:
    (out / "results.json").write_bytes(payload)
    with pytest.raises(ResultFileError, match=why):
        read_result_json(out, "results.json", SCHEMA)


def test_schema_errors_are_all_reported_with_paths(out: Path) -> None:
    (out / "results.json").write_text('{"pnl": "1", "trades": -1, "extra": 0}')
    with pytest.raises(ResultFileError) as info:
        read_result_json(out, "results.json", SCHEMA)
    msg = str(info.value)
    assert "pnl:" in msg and "trades:" in msg and "extra" in msg


def test_invalid_schema_is_a_caller_error(out: Path) -> None:
    (out / "results.json").write_text("{}")
    with pytest.raises(ValueError, match="schema is invalid"):
        read_result_json(out, "results.json", {"type": 5})

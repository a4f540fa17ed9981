"""The installed ``sf-venue`` binary driven over TCP by a client written from docs/venue-protocol.md.

The client below uses nothing but the page's frame tables (``struct`` formats, little-endian):
if the document were wrong or incomplete, these tests could not talk to the venue. Planted
defects (a wrong sequence number, a truncated frame, a bad length) must each be caught, answered
as documented and journaled, and must leave the venue serving other sessions.
"""

from __future__ import annotations

import json
import select
import signal
import socket
import struct
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from stratforge.core.tools import find_executable
from stratforge.runtime.data.format import (
    ASK,
    BID,
    CLEAR,
    DEPTH,
    END_OF_BATCH,
    SNAPSHOT,
    TRADE,
    Instrument,
    empty_events,
    write_events,
)

# --- the protocol, from docs/venue-protocol.md ---------------------------------------------------
HEADER = struct.Struct("<HBBIQq")  # length, type, version, reserved, seq, ts_ns
LOGON, LOGON_ACK, HEARTBEAT, NEW_ORDER, CANCEL, REPLACE = 1, 2, 3, 4, 5, 6
ACK, REJECT, FILL, CANCELED, LOGOUT, STATUS, STATUS_REPLY = 7, 8, 9, 10, 11, 12, 13
BODY = {
    LOGON: struct.Struct("<32sI4x"),
    LOGON_ACK: struct.Struct("<II"),
    HEARTBEAT: struct.Struct(""),
    NEW_ORDER: struct.Struct("<QIBBBxqq"),
    CANCEL: struct.Struct("<Q"),
    REPLACE: struct.Struct("<Qqq"),
    ACK: struct.Struct("<QQqq"),
    REJECT: struct.Struct("<QiI48s"),
    FILL: struct.Struct("<QqqqB7xd"),
    CANCELED: struct.Struct("<Qi4xq"),
    LOGOUT: struct.Struct("<i4x48s"),
    STATUS: struct.Struct(""),
}
SIZES = {LOGON: 64, LOGON_ACK: 32, HEARTBEAT: 24, NEW_ORDER: 56, CANCEL: 32, REPLACE: 48, ACK: 56,
         REJECT: 88, FILL: 72, CANCELED: 48, LOGOUT: 80, STATUS: 24}
SEQ_GAP, SEQ_REPEAT, BAD_LENGTH, UNKNOWN_ORDER = 1, 2, 3, 9
REQUESTED, CANCEL_ON_DISCONNECT, VENUE_SHUTDOWN = 0, 1, 3
BUY, SELL, LIMIT, GTC = 1, 2, 1, 1


class Client:
    """A venue session: frames numbered from 1, the venue's numbering checked."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.seq = 0
        self.expect = 1
        self.buf = b""

    def frame(self, ftype: int, *fields, ts: int = 0, seq: int | None = None) -> bytes:
        body = BODY[ftype].pack(*fields)
        if seq is None:
            self.seq += 1
            seq = self.seq
        return HEADER.pack(HEADER.size + len(body), ftype, 1, 0, seq, ts) + body

    def send(self, ftype: int, *fields, ts: int = 0, seq: int | None = None) -> None:
        self.sock.sendall(self.frame(ftype, *fields, ts=ts, seq=seq))

    def recv(self, timeout: float = 3.0) -> tuple[int, int, tuple | str] | None:
        """The next frame as (type, ts_ns, fields or JSON text); None at EOF or timeout."""
        end = time.monotonic() + timeout
        while True:
            if len(self.buf) >= HEADER.size:
                length, ftype, version, _, seq, ts = HEADER.unpack_from(self.buf)
                assert version == 1
                if len(self.buf) >= length:
                    raw, self.buf = self.buf[:length], self.buf[length:]
                    assert seq == self.expect, f"venue seq {seq}, expected {self.expect}"
                    self.expect += 1
                    if ftype == STATUS_REPLY:
                        return ftype, ts, raw[HEADER.size:].decode()
                    assert length == SIZES[ftype]
                    return ftype, ts, BODY[ftype].unpack_from(raw, HEADER.size)
            left = end - time.monotonic()
            if left <= 0 or not select.select([self.sock], [], [], left)[0]:
                return None
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buf += chunk

    def recv_until(self, ftype: int, timeout: float = 3.0) -> list:
        """Frames up to and including the first of ``ftype`` (heartbeats skipped)."""
        got = []
        while True:
            f = self.recv(timeout)
            assert f is not None, f"no {ftype} frame; got {got}"
            if f[0] != HEARTBEAT:
                got.append(f)
            if f[0] == ftype:
                return got

    def logon(self, name: str, heartbeat_ms: int = 100) -> tuple:
        self.send(LOGON, name.encode(), heartbeat_ms)
        f = self.recv()
        assert f is not None and f[0] == LOGON_ACK, f
        return f[2]

    def close(self) -> None:
        self.sock.close()


# --- a market of our own ------------------------------------------------------------------------
def write_market(path: Path) -> None:
    """PYV0 (tick 0.5): bid 2000 x7 / ask 2004 x7 at 1 ms; a sell trade through 1990 at 2 ms; then
    the ask size flickering every 0.1 ms until 50 ms."""
    rows = [(1_000_000, CLEAR, 0, 0, 0, SNAPSHOT), (1_000_000, DEPTH, BID, 2000, 7, SNAPSHOT),
            (1_000_000, DEPTH, ASK, 2004, 7, SNAPSHOT | END_OF_BATCH),
            (2_000_000, TRADE, ASK, 1990, 2, END_OF_BATCH)]
    rows += [(t, DEPTH, ASK, 2004, 7 + (t // 100_000) % 3, END_OF_BATCH) for t in range(3_000_000, 50_000_000, 100_000)]
    cols = np.array(rows, dtype=np.int64)
    ev = empty_events(len(rows))
    ev["recv_ts"], ev["exch_ts"] = cols[:, 0], cols[:, 0] - 500
    ev["type"], ev["side"], ev["flags"] = cols[:, 1], cols[:, 2], cols[:, 5]
    ev["v"][:, 0], ev["v"][:, 1] = cols[:, 3], cols[:, 4]
    write_events(path, [Instrument("PYV0", "0.5", 1)], ev, source="pytest")


class Venue:
    def __init__(self, tmp: Path, *args: str, timeout_ms: int = 500) -> None:
        self.journal = tmp / "venue.journal.jsonl"
        port_file = tmp / "venue.port"
        if not args:
            write_market(tmp / "market.sfe")
            args = ("--data", str(tmp / "market.sfe"))
        self.proc = subprocess.Popen(
            [str(find_executable("sf-venue")), *args, "--port", "0", "--port-file", str(port_file),
             "--journal", str(self.journal), "--heartbeat-timeout-ms", str(timeout_ms)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        end = time.monotonic() + 30
        while not port_file.exists():
            assert self.proc.poll() is None, self.proc.communicate()
            assert time.monotonic() < end, "sf-venue wrote no port file"
            time.sleep(0.01)
        self.port = int(port_file.read_text())
        assert not list(tmp.glob("venue.port.tmp*")), "the port file is written by rename"

    def lines(self, **match) -> list[dict]:
        out = []
        for line in self.journal.read_text().splitlines():
            d = json.loads(line)
            if all(d.get(k) == v for k, v in match.items()):
                out.append(d)
        return out

    def wait_line(self, timeout: float = 5.0, **match) -> dict:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if found := self.lines(**match):
                return found[0]
            time.sleep(0.01)
        raise AssertionError(f"no journal line {match}")

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(10)


@pytest.fixture
def venue(tmp_path):
    v = Venue(tmp_path)
    yield v
    if v.proc.poll() is None:
        v.proc.kill()
        v.proc.wait()


def test_order_flow_ack_fill_cancel_status_and_disconnect(venue):
    c = Client(venue.port)
    timeout_ms, session_id = c.logon("py-1")
    assert timeout_ms == 500 and session_id >= 1
    # crossing buy at the ask: ACK, then a taker FILL of all 3 at 2004
    c.send(NEW_ORDER, 1, 0, BUY, LIMIT, GTC, 2004, 3, ts=1_500_000)
    frames = c.recv_until(FILL)
    assert [f[0] for f in frames] == [ACK, FILL]
    assert frames[1][2][:5] == (1, 2004, 3, 0, 0)  # client id, px, qty, leaves, maker
    # a resting buy at 1995; a heartbeat stamped 2.5 ms replays the sell trade through 1990
    c.send(NEW_ORDER, 2, 0, BUY, LIMIT, GTC, 1995, 2, ts=1_600_000)
    assert c.recv_until(ACK)[-1][2][:4] == (2, 2, 1995, 2)
    c.send(HEARTBEAT, ts=2_500_000)
    fill = c.recv_until(FILL)[-1]
    assert fill[1] == 2_000_000 and fill[2][:5] == (2, 1995, 2, 0, 1)  # maker fill at our price
    # cancel: of an unknown order (REJECT), of an open order (CANCELED with its quantity)
    c.send(CANCEL, 77, ts=2_600_000)
    rej = c.recv_until(REJECT)[-1][2]
    assert rej[0] == 77 and rej[1] == UNKNOWN_ORDER
    c.send(NEW_ORDER, 3, 0, BUY, LIMIT, GTC, 1980, 1, ts=2_700_000)
    c.recv_until(ACK)
    c.send(REPLACE, 3, 1981, 4, ts=2_750_000)
    assert c.recv_until(ACK)[-1][2][2:] == (1981, 4)
    c.send(CANCEL, 3, ts=2_800_000)
    assert c.recv_until(CANCELED)[-1][2] == (3, REQUESTED, 4)
    # STATUS
    c.send(NEW_ORDER, 4, 0, SELL, LIMIT, GTC, 2010, 5, ts=2_900_000)
    c.recv_until(ACK)
    c.send(STATUS, ts=2_900_000)
    status = json.loads(c.recv_until(STATUS_REPLY)[-1][2])
    (mine,) = [s for s in status["sessions"] if s["session"] == "py-1"]
    assert mine["open_orders"] == 1 and mine["logged_on"] and mine["ts_ns"] == 2_900_000
    # the client vanishes: its open order is canceled on disconnect, and journaled
    c.close()
    line = venue.wait_line(t="cancel", session="py-1", client_id=4)
    assert line["reason"] == "cancel_on_disconnect" and line["leaves"] == 5
    assert venue.lines(t="disconnect", session="py-1")[0]["open_orders"] == 1
    assert [d["client_id"] for d in venue.lines(t="fill", session="py-1")] == [1, 2]


def _assert_venue_still_serves(venue, name: str) -> None:
    assert venue.proc.poll() is None, "sf-venue died"
    c = Client(venue.port)
    c.logon(name)
    c.send(NEW_ORDER, 1, 0, BUY, LIMIT, GTC, 2004, 1, ts=1_100_000)
    assert [f[0] for f in c.recv_until(FILL)] == [ACK, FILL]
    c.close()


@pytest.mark.parametrize("seq,code", [(5, SEQ_GAP), (1, SEQ_REPEAT)], ids=["gap", "repeat"])
def test_wrong_sequence_number_is_caught(venue, seq, code):
    c = Client(venue.port)
    c.logon("py-seq")
    c.send(NEW_ORDER, 9, 0, BUY, LIMIT, GTC, 1990, 1, ts=1_200_000)
    c.recv_until(ACK)
    c.send(HEARTBEAT, ts=1_300_000, seq=seq)  # expected: 3
    frames = c.recv_until(LOGOUT)  # REJECT, the CANCELED of the open order, LOGOUT
    assert [f[0] for f in frames] == [REJECT, CANCELED, LOGOUT]
    assert frames[0][2][1] == code and b"expected 3" in frames[0][2][3]
    assert frames[1][2][:2] == (9, CANCEL_ON_DISCONNECT)
    assert frames[2][2][0] == code
    assert c.recv(1.0) is None  # closed
    d = venue.wait_line(t="disconnect", session="py-seq")
    assert ("SEQ_GAP" if code == SEQ_GAP else "SEQ_REPEAT") in d["reason"]
    assert venue.wait_line(t="cancel", session="py-seq", client_id=9)["reason"] == "cancel_on_disconnect"
    _assert_venue_still_serves(venue, "py-after-seq")


def test_bad_length_is_caught(venue):
    c = Client(venue.port)
    c.logon("py-len")
    raw = bytearray(c.frame(HEARTBEAT, ts=1_300_000))
    struct.pack_into("<H", raw, 0, 100)  # a heartbeat claiming 100 bytes
    c.sock.sendall(bytes(raw))
    frames = c.recv_until(LOGOUT)
    assert frames[0][0] == REJECT and frames[0][2][1] == BAD_LENGTH
    assert b"HEARTBEAT is 24" in frames[0][2][3]
    assert frames[1][2][0] == BAD_LENGTH  # LOGOUT carries the reason too
    assert "BAD_LENGTH" in venue.wait_line(t="disconnect", session="py-len")["reason"]
    _assert_venue_still_serves(venue, "py-after-len")


def test_truncated_frame_is_caught(venue):
    c = Client(venue.port)
    c.logon("py-cut")
    c.send(NEW_ORDER, 5, 0, SELL, LIMIT, GTC, 2008, 2, ts=1_200_000)
    c.recv_until(ACK)
    c.sock.sendall(c.frame(NEW_ORDER, 6, 0, SELL, LIMIT, GTC, 2009, 1, ts=1_300_000)[:30])
    c.close()  # the peer dies mid-frame
    d = venue.wait_line(t="disconnect", session="py-cut")
    assert "truncated frame: 30 bytes" in d["reason"]
    assert venue.wait_line(t="cancel", session="py-cut", client_id=5)["reason"] == "cancel_on_disconnect"
    assert not venue.lines(t="order", session="py-cut", client_id=6)  # never acted on
    _assert_venue_still_serves(venue, "py-after-cut")


def test_heartbeat_timeout_cancels_on_disconnect(venue):
    c = Client(venue.port)
    c.logon("py-quiet", heartbeat_ms=100)
    c.send(NEW_ORDER, 1, 0, BUY, LIMIT, GTC, 1990, 1, ts=1_200_000)
    c.recv_until(ACK)
    time.sleep(0.9)  # silent past the 500 ms timeout (the venue's own heartbeats keep arriving)
    frames = c.recv_until(LOGOUT)
    assert (CANCELED, (1, CANCEL_ON_DISCONNECT, 1)) in [(f[0], f[2]) for f in frames]
    assert b"heartbeat timeout" in frames[-1][2][1]
    assert "heartbeat timeout" in venue.wait_line(t="disconnect", session="py-quiet")["reason"]


def test_sigterm_cancels_open_orders_and_exits_zero(venue):
    c = Client(venue.port)
    c.logon("py-term")
    c.send(NEW_ORDER, 1, 0, BUY, LIMIT, GTC, 1990, 3, ts=1_200_000)
    c.recv_until(ACK)
    assert venue.stop() == 0
    assert c.recv_until(CANCELED)[-1][2] == (1, VENUE_SHUTDOWN, 3)
    assert venue.lines()[-1]["t"] == "stop"
    assert venue.lines(t="cancel", session="py-term")[0]["reason"] == "venue_shutdown"


def test_venue_config_entry_latency_and_fees(tmp_path):
    write_market(tmp_path / "market.sfe")
    cfg = {"latency": {"feed": {"model": "constant", "ns": 0}, "entry": {"model": "constant", "ns": 1_000_000},
                       "response": {"model": "constant", "ns": 0}},
           "queue_model": "risk_averse", "fees": {"maker_bps": -1.0, "taker_bps": 10.0}}
    v = Venue(tmp_path, "--data", str(tmp_path / "market.sfe"), "--venue-config", json.dumps(cfg))
    try:
        c = Client(v.port)
        c.logon("py-cfg")
        # stamped 1.5 ms, acted on at 2.5 ms: the sell trade through 1990 at 2 ms is already past
        c.send(NEW_ORDER, 1, 0, BUY, LIMIT, GTC, 1995, 2, ts=1_500_000)
        assert c.recv_until(ACK)[-1][1] == 2_500_000
        c.send(NEW_ORDER, 2, 0, BUY, LIMIT, GTC, 2004, 3, ts=2_600_000)  # taker: 10 bps of 2004 x 3 x 0.5
        fill = c.recv_until(FILL)[-1][2]
        assert fill[0] == 2 and fill[5] == pytest.approx(2004 * 3 * 0.5 * 10 / 1e4)
        assert not v.lines(t="fill", client_id=1)
        c.close()
    finally:
        assert v.stop() == 0


def test_synthetic_data_and_bad_command_lines(tmp_path):
    v = Venue(tmp_path, "--synth", "11:20000:2")
    try:
        c = Client(v.port)
        c.send(STATUS)
        status = json.loads(c.recv_until(STATUS_REPLY)[-1][2])
        assert status["data"] == "synth" and 20000 <= status["events"] <= 20002
        c.close()
    finally:
        assert v.stop() == 0
    exe = str(find_executable("sf-venue"))
    r = subprocess.run([exe, "--port", "0"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "exactly one of --data FILE or --synth SEED" in r.stderr
    r = subprocess.run([exe, "--synth", "1:1000", "--port", "0", "--venue-config", '{"queue_model": "fifo"}'],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 3 and "venue.queue_model" in r.stderr and "fifo" in r.stderr
    r = subprocess.run([exe, "--synth", "1:1000", "--port", "0", "--bind", "localhost"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 3 and "--bind 'localhost' is not an IPv4 address" in r.stderr
    r = subprocess.run([exe, "--data", str(tmp_path / "missing.sfe"), "--port", "0"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 4 and "missing.sfe" in r.stderr

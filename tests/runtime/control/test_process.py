"""Process handling without the engine: pid checks that a recycled pid cannot fool, the
SIGTERM-then-SIGKILL stop, exit descriptions, and the engine.json the control plane writes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stratforge.core.errors import UserInputError
from stratforge.core.tools import which
from stratforge.runtime.data.format import is_bar_file
from stratforge.runtime.control.process import (EngineJson, Firm, ReplayFeed, Runtime,
                                                SynthFeed, VenueLink, describe_exit,
                                                parse_venue_config, pid_alive, stop_pid)

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from resource_kit import missing  # noqa: E402

IGNORES_TERM = ("import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                "print('ready', flush=True)\ntime.sleep(60)\n")


def test_pid_alive_checks_the_command_line() -> None:
    me = os.getpid()
    assert pid_alive(me) and pid_alive(me, "python")
    assert not pid_alive(me, "sf-engine")  # a recycled pid is not the engine
    assert not pid_alive(None) and not pid_alive(-1)


def test_a_process_ignoring_sigterm_is_killed_after_the_grace_period() -> None:
    proc = subprocess.Popen([sys.executable, "-c", IGNORES_TERM], stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
    t0 = time.monotonic()
    how = stop_pid(proc.pid, None, proc, grace_s=0.5)
    assert how == "killed (SIGKILL after the grace period)"
    assert proc.returncode == -signal.SIGKILL and time.monotonic() - t0 < 5
    assert stop_pid(proc.pid, None, proc) == "not running"


def test_a_process_that_stops_on_sigterm() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    assert stop_pid(proc.pid, None, proc, grace_s=5) == "stopped (SIGTERM)"


def test_describe_exit() -> None:
    assert describe_exit(-9) == "killed by SIGKILL"
    assert describe_exit(-11) == "killed by SIGSEGV"
    assert describe_exit(6) == "exited with status 6"


def test_engine_json_paper_live_and_defaults(tmp_path: Path) -> None:
    doc = json.loads(EngineJson(control_socket=str(tmp_path / "e.sock"),
                                feed=ReplayFeed(path="/data/x.sfe", speed=0, loop=True)).to_json())
    assert doc["venue"] is None  # paper live
    assert doc["feed"] == {"kind": "replay", "path": "/data/x.sfe", "speed": 0.0, "loop": True,
                           "bar_mode": False}
    assert "max_reference_age_ms" not in doc["risk"]  # unset fields are left to the engine
    assert doc["sim_venue"]["queue_model"] == "risk_averse"
    doc = json.loads(EngineJson(control_socket="s", feed=SynthFeed(seed=5, events=100),
                                venue=VenueLink(port=5001, session="engine-2"),
                                firm=Firm(max_position={"ZZX": 40})).to_json())
    assert doc["venue"] == {"host": "127.0.0.1", "port": 5001, "session": "engine-2",
                            "heartbeat_ms": 250}
    assert doc["feed"]["kind"] == "synth" and doc["firm"]["max_position"] == {"ZZX": 40}


# --- sf-venue's matching config (--venue-config) ---------------------------------------------


def test_a_venue_config_keeps_the_defaults_it_does_not_name(tmp_path: Path) -> None:
    v = parse_venue_config('{"fees": {"maker_bps": 35, "taker_bps": 55.5}}')
    assert (v.fees.maker_bps, v.fees.taker_bps) == (35, 55.5)
    assert v.queue_model == "risk_averse" and v.latency.entry.ns == 0 and v.seed == 1
    f = tmp_path / "venue.json"
    f.write_text('{"queue_model": "decrease_advances", "seed": 9}')
    v = parse_venue_config(str(f))
    assert (v.queue_model, v.seed, v.fees.maker_bps) == ("decrease_advances", 9, 0)


@pytest.mark.parametrize(("text", "message"), [
    ('{"fees": {"maker_bps": 3}', r"--venue-config: the venue config is not JSON"),
    ('{"fees": 12}', r"--venue-config: not a venue config \(fees: "),
    ('{"fees": {"maker_bps": 1, "taker_bps": 1, "rebate": 2}}',
     r"not a venue config \(fees\.rebate: "),
    ('{"queue_model": "fifo"}', r"not a venue config \(queue_model: "),
    ('{"slippage": 1}', r"not a venue config \(slippage: "),
    ("no-such-file.json", r"--venue-config no-such-file\.json: cannot read it"),
])
def test_a_bad_venue_config_is_refused_naming_the_problem(text: str, message: str) -> None:
    with pytest.raises(UserInputError, match=message):
        parse_venue_config(text)


def test_a_venue_config_file_that_is_not_an_object(tmp_path: Path) -> None:
    f = tmp_path / "v.json"
    f.write_text("[1, 2]")
    with pytest.raises(UserInputError, match=rf"{f}: the venue config is a JSON object"):
        parse_venue_config(str(f))


def _cmdline(pid: int | None) -> list[str]:
    assert pid is not None
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")


def test_up_records_the_venue_config_and_sf_venue_runs_with_it(tmp_path: Path) -> None:
    if which("sf-engine") is None or which("sf-venue") is None:
        missing("compiler", "sf-engine and sf-venue are built by `pip install -e .`")
    rt = Runtime(tmp_path / "state")
    adverse = parse_venue_config('{"fees": {"maker_bps": 900, "taker_bps": 1200}}')
    try:
        rt.up(SynthFeed(seed=77, events=5_000), venue_config=adverse)
        assert rt.venue_config() == adverse
        argv = _cmdline(rt.venue_pid())
        assert argv[argv.index("--venue-config") + 1] == str(rt.paths.venue_json)
        rt.down()
        rt.up(SynthFeed(seed=77, events=5_000))  # a new `up` without one: the default venue
        assert rt.venue_config() is None and "--venue-config" not in _cmdline(rt.venue_pid())
    finally:
        rt.down()


def test_a_file_of_bars_runs_engine_and_venue_in_bar_mode(tmp_path: Path) -> None:
    """`runtime up --data BARS.sfe`: sf-engine and sf-venue both match on bars (else every
    order of a bars strategy is NO_REFERENCE); a book file runs neither in bar mode."""
    if which("sf-engine") is None or which("sf-venue") is None:
        missing("compiler", "sf-engine and sf-venue are built by `pip install -e .`")
    files = {}
    for kind in ("bars", "l2"):
        files[kind] = tmp_path / f"{kind}.sfe"
        subprocess.run([sys.executable, "-m", "stratforge", "data", "synth", "--kind", kind,
                        "--events", "400", "--seed", "8", "-o", str(files[kind])], check=True,
                       capture_output=True)
    for kind, path in files.items():
        rt = Runtime(tmp_path / f"state-{kind}")
        feed = ReplayFeed(path=str(path), speed=0, loop=True, bar_mode=is_bar_file(path))
        assert feed.bar_mode is (kind == "bars")
        try:
            rt.up(feed)
            assert ("--bar-mode" in _cmdline(rt.venue_pid())) is (kind == "bars")
            assert rt.client.status()["feed"]["bar_mode"] is (kind == "bars")
        finally:
            rt.down()

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

from stratforge.runtime.control.process import (EngineJson, Firm, ReplayFeed, SynthFeed,
                                                VenueLink, describe_exit, pid_alive, stop_pid)

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
    assert doc["feed"] == {"kind": "replay", "path": "/data/x.sfe", "speed": 0.0, "loop": True}
    assert "max_reference_age_ms" not in doc["risk"]  # unset fields are left to the engine
    assert doc["sim_venue"]["queue_model"] == "risk_averse"
    doc = json.loads(EngineJson(control_socket="s", feed=SynthFeed(seed=5, events=100),
                                venue=VenueLink(port=5001, session="engine-2"),
                                firm=Firm(max_position={"ZZX": 40})).to_json())
    assert doc["venue"] == {"host": "127.0.0.1", "port": 5001, "session": "engine-2",
                            "heartbeat_ms": 250}
    assert doc["feed"]["kind"] == "synth" and doc["firm"]["max_position"] == {"ZZX": 40}

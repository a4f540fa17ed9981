"""A hostile generated pytest file: it gathers what it can of the host and fails loudly with
it, so anything it obtained would appear in the run's output. Copied into a bundle as
tests/test_strategy.py by tests/sandbox/test_hostile.py; never collected from here."""

import json
import os
import socket
from pathlib import Path

TARGETS = json.loads((Path(__file__).parent / "targets.json").read_text())


def _try(fn):
    try:
        return repr(fn())
    except Exception as err:  # noqa: BLE001 - the payload wants every outcome
        return f"{type(err).__name__}: {err}"


def _connect(family, addr):
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(2)
        s.connect(addr)
        s.sendall(b"hello from pytest")
        return "connected"


def test_exfiltrate():
    found = {
        "environ": dict(os.environ),
        "proc1": _try(lambda: Path("/proc/1/environ").read_bytes()),
        "home": _try(lambda: Path(TARGETS["home_secret"]).read_text()),
        "canary_write": _try(lambda: Path(TARGETS["canary"]).write_text("pwned")),
        "tcp4": _try(lambda: _connect(socket.AF_INET, ("127.0.0.1", TARGETS["port4"]))),
        "tcp6": _try(lambda: _connect(socket.AF_INET6, ("::1", TARGETS["port6"]))),
        "unix": _try(lambda: _connect(socket.AF_UNIX, TARGETS["unix"])),
    }
    print(json.dumps(found, default=str))
    raise AssertionError(f"exfiltrated: {found}")

"""A separate process that runs one registry action with the file-backed recording deployer;
the crash tests kill it (SIGKILL, via STRATFORGE_REGISTRY_KILL_AT) and start it again.

    python crash_worker.py DB_URL DEPLOYER_STATE promote NAME VERSION shadow|live ACTOR
    python crash_worker.py DB_URL DEPLOYER_STATE rollback NAME ACTOR
    python crash_worker.py DB_URL DEPLOYER_STATE reconcile
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from registry_kit import RecordingDeployer  # noqa: E402

from stratforge.registry import Registry  # noqa: E402


def main(argv: list[str]) -> None:
    url, state, action, *rest = argv
    reg = Registry.open(url, RecordingDeployer(Path(state)))
    if action == "promote":
        name, number, to, actor = rest
        print(reg.promote(name, int(number), to, actor))
    elif action == "rollback":
        name, actor = rest
        print(reg.rollback(name, actor, "crash test"))
    elif action == "reconcile":
        print(reg.reconcile())
    else:
        raise SystemExit(f"unknown action {action}")


if __name__ == "__main__":
    main(sys.argv[1:])

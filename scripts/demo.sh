#!/usr/bin/env bash
# README command 1: set up, then `stratforge demo` — the whole product on embedded defaults.
# In its own workspace (./stratforge-demo: a git repository with the example specs, a SQLite
# registry, the runtime's folder) it builds every example through `stratforge ci run --publish
# local` (generate → sandboxed tests → backtest → scorecard; no network and no LLM: the examples'
# recorded exchanges), commits a second version of one passing strategy, starts the runtime
# (sf-venue, sf-engine, the control plane) on that strategy's data — real market data when
# ../shared/data is beside the checkout, else a synthetic session —, promotes version 1 to shadow
# and — after its shadow gate holds on the engine's metrics and a second user approves — to live,
# puts version 2 in shadow next to it, and serves the dashboard. It prints the URL and a one-time
# login. A FAIL or INCONCLUSIVE verdict is a result, not an error: the demo fails only when the
# pipeline does or nothing passes. Arguments go to `stratforge demo` (--help lists them);
# `bash scripts/demo.sh --down` stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The engine's binaries and the CLI live in .venv/bin: first on PATH, so that nothing installed
# elsewhere on the machine can stand in for them.
export PATH="$PWD/.venv/bin:$PATH"
exec .venv/bin/stratforge demo "$@"

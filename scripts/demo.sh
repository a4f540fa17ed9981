#!/usr/bin/env bash
# The main job on embedded defaults: set up, then run the pipeline over the example specs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/stratforge validate specs/

#!/usr/bin/env bash
# The main job on embedded defaults: set up, validate the example specs, then run the whole
# pipeline (generate → test → backtest → score) for each one: the registry in a SQLite file
# (every build becomes a version; STRATFORGE_DB_URL to put it elsewhere), local sandbox,
# seeded synthetic sample data, and no LLM (the examples need none; recorded exchanges cover
# the LLM path in the tests). Each build ends with a scorecard in strategies/<name>/; a FAIL or
# INCONCLUSIVE verdict is a result, not an error — the demo fails only when the pipeline does.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The engine's binaries and the CLI live in .venv/bin: first on PATH, so that nothing installed
# elsewhere on the machine can stand in for them.
export PATH="$PWD/.venv/bin:$PATH"
SF=.venv/bin/stratforge

$SF validate specs/

status=0
summary=()
for spec in specs/*.yaml; do
  name=$(basename "$spec" .yaml)
  start=$(date +%s)
  set +e
  $SF build "$spec"
  rc=$?
  set -e
  secs=$(( $(date +%s) - start ))
  case $rc in
    0|1) if [ -f "strategies/$name/scorecard.json" ]; then summary+=("$name=$secs")
         else summary+=("$name=$secs=BUILD FAILED"); status=1; fi ;;
    *) summary+=("$name=$secs=ERROR (exit $rc)"); status=1 ;;
  esac
done

# The verdict of each example and the gates that decide it (docs/examples.md says why).
echo
.venv/bin/python scripts/verdict_summary.py "${summary[@]}"
echo
$SF versions
exit $status

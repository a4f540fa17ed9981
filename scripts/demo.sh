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
    0) verdict=PASS ;;
    1) verdict=$(grep -o '"verdict": *"[A-Z]*"' "strategies/$name/scorecard.json" 2>/dev/null \
                 | head -1 | sed 's/.*"\([A-Z]*\)"$/\1/' || true)
       [ -n "$verdict" ] || { verdict="BUILD FAILED"; status=1; } ;;
    *) verdict="ERROR (exit $rc)"; status=1 ;;
  esac
  summary+=("$(printf '%-24s %-14s %4ss   strategies/%s/scorecard.md' "$name" "$verdict" "$secs" "$name")")
done

echo
echo "spec                     verdict        time   scorecard"
printf '%s\n' "${summary[@]}"
echo
$SF versions
exit $status

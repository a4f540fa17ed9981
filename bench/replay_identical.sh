#!/usr/bin/env bash
# Checks that two engine builds replay identically: same sf-replay config through both, tape
# files compared byte for byte, results JSON compared without its timing fields.
#   bash bench/replay_identical.sh OLD/sf-replay NEW/sf-replay CONFIG.json
# Used for every engine hot-path change (docs/benchmarks.md). Exit 0 when identical.
set -euo pipefail
OLD=$1 NEW=$2 CFG=$3
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
for v in old new; do
  bin=$OLD; [ "$v" = new ] && bin=$NEW
  "$bin" --config "$CFG" --out "$WORK/r_$v.json" --tape "$WORK/t_$v.jsonl" --quiet
  python3 - "$WORK/r_$v.json" "$WORK/r_$v.strip.json" <<'PY'
import json, sys
TIMING = {"wall_time_s", "events_per_s", "latency_ns", "latency", "callbacks", "tick_to_order_ns", "tsc_ns_per_tick"}
def strip(o):
    if isinstance(o, dict):
        return {k: strip(v) for k, v in o.items() if k not in TIMING}
    if isinstance(o, list):
        return [strip(x) for x in o]
    return o
json.dump(strip(json.load(open(sys.argv[1]))), open(sys.argv[2], "w"), indent=1, sort_keys=True)
PY
done
cmp "$WORK/t_old.jsonl" "$WORK/t_new.jsonl"
diff -q "$WORK/r_old.strip.json" "$WORK/r_new.strip.json" >/dev/null
echo "identical: tape ($(wc -l < "$WORK/t_new.jsonl") lines) and results"

#!/usr/bin/env bash
# Instructions per event of the engine's two sf-bench workloads (replay with the no-op strategy,
# and the reference market maker with venue and risk gate), counted by valgrind's callgrind over
# sf::Engine::run() inclusive. Counts are deterministic for a given binary and file, so they
# compare two engine builds on a noisy machine where events/s cannot.
#
#   cmake -S runtime/engine -B build/engine-rel -DCMAKE_BUILD_TYPE=Release && cmake --build build/engine-rel -j2
#   bash bench/callgrind_instructions.sh [SF_BENCH] [EVENTS] [SEED]
# SF_BENCH defaults to build/engine-rel/sf-bench: the CMake build keeps the symbol
# sf::Engine::run() that the count is scoped to (the pip-installed binary may not).
set -euo pipefail
BIN=${1:-build/engine-rel/sf-bench}
EVENTS=${2:-300000}
SEED=${3:-1}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
"$BIN" --synth "$EVENTS" --seed "$SEED" --out "$WORK/data.sfe" --no-run >/dev/null
valgrind --tool=callgrind --collect-atstart=no --toggle-collect='sf::Engine::run()' \
  --dump-after='sf::Engine::run()' --callgrind-out-file="$WORK/cg.out" \
  "$BIN" --data "$WORK/data.sfe" --repeat 1 --no-latency >/dev/null 2>"$WORK/valgrind.log"
if ! ls "$WORK"/cg.out.* >/dev/null 2>&1; then
  echo "error: callgrind collected nothing: $BIN has no sf::Engine::run() symbol (use a CMake build)" >&2
  exit 1
fi
N=$(python3 -c "import struct,sys; h=open(sys.argv[1],'rb').read(64); print(struct.unpack_from('<Q',h,24)[0])" "$WORK/data.sfe")
i=0
for f in $(ls "$WORK"/cg.out.* | sort -t. -k3 -n); do
  total=$(grep -E '^(summary|totals):' "$f" | head -1 | awk '{print $2}')
  name=$([ $i = 0 ] && echo replay_noop || echo market_maker)
  python3 -c "import sys; t,n=int(sys.argv[2]),int(sys.argv[3]); print(f'{sys.argv[1]:<14} {t/n:8.1f} instructions/event ({t:,} over {n:,} events)')" "$name" "$total" "$N"
  i=$((i+1))
done

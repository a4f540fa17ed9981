#!/usr/bin/env bash
# The whole test suite on a fresh machine: set up with test needs, run pytest, then build the
# C++ engine in Debug with -Werror and AddressSanitizer + UndefinedBehaviorSanitizer and run
# every ctest case under it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
# The engine's binaries and the CLI live in .venv/bin: first on PATH, so that nothing installed
# elsewhere on the machine can stand in for them.
export PATH="$PWD/.venv/bin:$PATH"

status=0
.venv/bin/python -m pytest -q -p no:cacheprovider || status=$?

if [ -f runtime/engine/CMakeLists.txt ] && grep -q "enable_testing" runtime/engine/CMakeLists.txt; then
  cmake -S runtime/engine -B build/engine-asan -DCMAKE_BUILD_TYPE=Debug \
    -DSF_SANITIZE=ON -DSF_WERROR=ON >/dev/null
  cmake --build build/engine-asan -j2
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    ctest --test-dir build/engine-asan --output-on-failure -j2 || status=$?
  # ThreadSanitizer on sf-engine's shadow thread (ring, hand-off, slot moves; docs/runtime.md):
  # its own build of that one test (TSan does not combine with ASan).
  cmake -S runtime/engine -B build/engine-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DSF_SANITIZE_THREAD=ON -DSF_WERROR=ON >/dev/null
  cmake --build build/engine-tsan -j2 --target test_shadow
  TSAN_OPTIONS=halt_on_error=1 build/engine-tsan/tests/test_shadow || status=$?
fi
exit $status

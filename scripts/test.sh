#!/usr/bin/env bash
# scripts/test.sh - installs dependencies, builds with ASan+UBSan, runs cppcheck and
# every test:
#   1. cmocka unit tests under ctest (tests/unit)
#   2. pytest integration tests against real MariaDB and the project's daemons
#      on loopback (tests/integration), using the sanitized binaries, so a leak or
#      UB in a daemon fails the test that stopped it
#   3. every libFuzzer target over its seed corpus plus a short bounded run
#      (scripts/fuzz-smoke.sh; clang build in build-fuzz)
# Usage: scripts/test.sh [PYTEST ARGS...]   Environment: BULWARK_BUILD (default build-asan).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"
BUILD=${BULWARK_BUILD:-$REPO/build-asan}
T0=$(date +%s)
step() { printf '\n==== %s (%ds) ====\n' "$1" $(($(date +%s) - T0)); }

step "dependencies"
"$REPO/scripts/install-deps.sh"

step "build (ASan+UBSan) in $BUILD"
cmake -S "$REPO" -B "$BUILD" -DBULWARK_SANITIZE=ON -DBULWARK_TESTS=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$BUILD" -j"$(nproc)"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:abort_on_error=0:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export BULWARK_BUILD="$BUILD"

step "static analysis (clang-format, cppcheck)"
git ls-files '*.c' '*.h' | xargs clang-format --dry-run --Werror
cppcheck --enable=warning,performance,portability --std=c11 --inline-suppr --quiet --error-exitcode=1 \
    -I shared -I master -I node -I "$BUILD/proto" -D_GNU_SOURCE -DPROTOBUF_C_VERSION_NUMBER=1004001 \
    "-D_Noreturn=__attribute__((noreturn))" shared master node tests/unit tests/bench tests/fuzz

step "unit tests (ctest)"
(cd "$BUILD" && ctest --output-on-failure --timeout 300)

step "integration tests (pytest)"
/usr/bin/python3 -m pytest -p no:cacheprovider -v --durations=10 "$REPO/tests/integration" "$@"

step "fuzz targets over their seed corpora"
"$REPO/scripts/fuzz-smoke.sh"

step "all tests passed"

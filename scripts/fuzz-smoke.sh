#!/usr/bin/env bash
# fuzz-smoke.sh - the CI check of the fuzz targets: builds build-fuzz, runs every
# target once over its committed seed corpus (-runs=0: each seed must pass), then
# fuzzes each for 10 s in a throw-away corpus. About a minute after the build.
# Exits non-zero on any crash, leak, timeout or broken invariant; inputs that fail
# are kept in build-fuzz/artifacts/ for the CI job to upload.
set -euo pipefail
# shellcheck source=scripts/fuzz-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/fuzz-common.sh"

secs=${FUZZ_SMOKE_SECONDS:-10}
fuzz_build "${FUZZ_ALL_TARGETS[@]}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

failed=0
for t in "${FUZZ_ALL_TARGETS[@]}"; do
  bin=$FUZZ_BUILD/tests/fuzz/fuzz_$t
  fuzz_flags "$t"
  mkdir -p "$work/$t"
  if ! "$bin" "${FUZZ_FLAGS[@]}" -runs=0 "$FUZZ_SRC/corpus/$t" >"$work/$t.seeds.log" 2>&1; then
    echo "fuzz-smoke: $t: FAILED on its seed corpus"
    tail -n 30 "$work/$t.seeds.log"
    failed=1
    continue
  fi
  if ! "$bin" "${FUZZ_FLAGS[@]}" -max_total_time="$secs" "$work/$t" "$FUZZ_SRC/corpus/$t" \
    >"$work/$t.log" 2>&1; then
    echo "fuzz-smoke: $t: FAILED while fuzzing"
    tail -n 30 "$work/$t.log"
    failed=1
    continue
  fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t.log" | tail -1)
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$work/$t.log" | tail -1 || true)
  echo "fuzz-smoke: $t: ok (seeds pass; ${secs}s: ${execs:-?} execs, ${cov:-cov ?})"
done
exit $failed

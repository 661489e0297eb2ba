#!/usr/bin/env bash
# fuzz.sh - runs the libFuzzer targets for a while each (default 300 s per target).
#
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]   (targets: packet params
# hdr keys scan; default all). Builds build-fuzz with clang if needed. Each target
# works on tests/fuzz/corpus-run/<target>/ (gitignored; it keeps growing between
# runs), seeded from the committed tests/fuzz/corpus/<target>/. Crash, leak and
# timeout inputs go to build-fuzz/artifacts/, the full output to
# build-fuzz/fuzz-logs/<target>.log. Exits 1 if any target found a problem.
set -euo pipefail
# shellcheck source=scripts/fuzz-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/fuzz-common.sh"

secs=${1:-300}
[[ $secs =~ ^[0-9]+$ && $secs -gt 0 ]] || {
  echo "usage: $0 [SECONDS_PER_TARGET] [TARGET...]" >&2
  exit 2
}
(($# > 0)) && shift
targets=("$@")
((${#targets[@]})) || targets=("${FUZZ_ALL_TARGETS[@]}")
fuzz_check_targets "${targets[@]}"

echo "fuzz: building $FUZZ_BUILD"
fuzz_build "${targets[@]}"
mkdir -p "$FUZZ_BUILD/fuzz-logs"

failed=0
summary=()
for t in "${targets[@]}"; do
  run=$FUZZ_SRC/corpus-run/$t
  log=$FUZZ_BUILD/fuzz-logs/$t.log
  mkdir -p "$run"
  fuzz_flags "$t"
  echo "fuzz: $t for ${secs}s (corpus $run, log $log)"
  marker=$(mktemp)
  rc=0
  "$FUZZ_BUILD/tests/fuzz/fuzz_$t" "${FUZZ_FLAGS[@]}" -max_total_time="$secs" \
    "$run" "$FUZZ_SRC/corpus/$t" >"$log" 2>&1 || rc=$?

  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$log" | tail -1 || true)
  mapfile -t found < <(find "$FUZZ_BUILD/artifacts" -name "fuzz_$t-*" -newer "$marker" -type f)
  rm -f "$marker"
  if ((rc != 0 || ${#found[@]} > 0)); then
    failed=1
    result="PROBLEM (exit $rc): ${found[*]:-see $log}"
    grep -m1 -E '^==[0-9]+==ERROR|invariant failed|^SUMMARY' "$log" || true
  else
    result="no crashes"
  fi
  line=$(printf '%-7s execs=%-10s exec/s=%-7s %-32s %s' "$t" "${execs:-?}" "${rate:-?}" \
    "${cov:-cov: ?}" "$result")
  echo "fuzz: $line"
  summary+=("$line")
done

echo
echo "fuzz: summary (${secs}s per target)"
printf '  %s\n' "${summary[@]}"
exit $failed

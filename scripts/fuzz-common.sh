# shellcheck shell=bash
# fuzz-common.sh - shared by scripts/fuzz.sh and scripts/fuzz-smoke.sh (sourced, not run).
#
# Defines where things are (the repository root is found from this file's path, so
# the scripts work from any directory), the list of fuzz targets with their input
# size limits, and fuzz_build, which configures build-fuzz with clang on first use
# and then builds it incrementally.

FUZZ_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FUZZ_BUILD=$FUZZ_ROOT/build-fuzz
FUZZ_SRC=$FUZZ_ROOT/tests/fuzz
FUZZ_ALL_TARGETS=(packet params hdr keys scan milter cli symbols message html archive rules dkim dns spf dmarc tokens rbl arc)

# Largest input per target: enough for the longest meaningful input (4097 short
# header fields need ~12 KiB; a key file or config file is a few hundred bytes),
# small enough that the fuzzer spends its time on structure, not on size.
fuzz_max_len() {
  case $1 in
    packet) echo 8192 ;;
    params) echo 4096 ;;
    hdr | scan) echo 16384 ;;
    keys) echo 4096 ;;
    cli) echo 256 ;;
    symbols) echo 4096 ;;
    milter) echo 4096 ;;
    message) echo 65536 ;;
    html) echo 32768 ;;
    archive) echo 65536 ;;
    rules) echo 16384 ;;
    dkim) echo 16384 ;;
    dns) echo 1024 ;;
    spf) echo 8192 ;;
    dmarc) echo 4096 ;;
    tokens) echo 32768 ;;
    rbl) echo 4096 ;;
    arc) echo 16384 ;;
    *) return 1 ;;
  esac
}

fuzz_check_targets() {
  local t
  for t in "$@"; do
    fuzz_max_len "$t" >/dev/null || {
      echo "unknown fuzz target '$t' (have: ${FUZZ_ALL_TARGETS[*]})" >&2
      exit 2
    }
  done
}

# The libFuzzer flags common to every run of target $1 (dictionary if there is one).
fuzz_flags() {
  local t=$1
  FUZZ_FLAGS=(-max_len="$(fuzz_max_len "$t")" -timeout=10 -rss_limit_mb=2048
              -artifact_prefix="$FUZZ_BUILD/artifacts/fuzz_$t-" -print_final_stats=1)
  [[ -f $FUZZ_SRC/$t.dict ]] && FUZZ_FLAGS+=(-dict="$FUZZ_SRC/$t.dict")
  return 0
}

fuzz_build() {
  # Configured every time (quick when cached): a target added since the last run is
  # unknown to the old Makefiles until cmake has run again.
  if [[ ! -f $FUZZ_BUILD/CMakeCache.txt ]]; then
    CC=${FUZZ_CC:-clang} cmake -S "$FUZZ_ROOT" -B "$FUZZ_BUILD" -DBULWARK_FUZZ=ON \
      -DBULWARK_SANITIZE=ON -DBULWARK_TESTS=OFF >/dev/null
  else
    cmake -S "$FUZZ_ROOT" -B "$FUZZ_BUILD" >/dev/null
  fi
  local targets=() t
  for t in "$@"; do targets+=(--target "fuzz_$t"); done
  cmake --build "$FUZZ_BUILD" -j "$(nproc)" "${targets[@]}" >/dev/null
  mkdir -p "$FUZZ_BUILD/artifacts"
}

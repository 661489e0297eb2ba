#!/usr/bin/env bash
# Regenerates docs/config.md from the parameter tables (shared/params.c) with
# `bulwarkctl config doc`. Builds bulwarkctl first if needed.
# Usage: scripts/gen-docs.sh   (build directory: $BULWARK_BUILD, default ./build)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
build=${BULWARK_BUILD:-$repo/build}
[[ -f $build/CMakeCache.txt ]] || cmake -S "$repo" -B "$build"
cmake --build "$build" --target bulwarkctl -j"$(nproc)"
out=$repo/docs/config.md
"$build/node/bulwarkctl" config doc >"$out.tmp"
mv "$out.tmp" "$out"
echo "gen-docs: wrote $out"

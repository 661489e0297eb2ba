#!/usr/bin/env bash
# tests/bench/scan.sh - throughput and memory of the local scan pipeline (every check,
# ClamAV with the tests' signatures) over the SpamAssassin public corpus.
#
# Builds a Release tree (build-bench), fetches the corpus (tests/bench/corpus.sh),
# writes the test ClamAV database (tests/integration/corpus.py), then ROUNDS times,
# alternating, runs over every message of the corpus in one process each:
#   bulwark+clamav  bulwarkctl scan --local --json --clamav-db DB   (the full pipeline)
#   bulwark         bulwarkctl scan --local --json                  (without ClamAV)
#   clamscan        clamscan -d DB (ClamAV alone, same signatures: the peer for the
#                   ClamAV share of the cost; it parses MIME and archives itself)
# and prints, per variant, the median messages/s, MB/s, peak RSS (GNU time) and the
# per-message p50/p99 from the pipeline's own timing. One thread per process: the
# figures are per core. docs/performance.md keeps them.
#
# usage: tests/bench/scan.sh [ROUNDS]    (default 3)
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BULWARK_BUILD:-$REPO/build-bench}
ROUNDS=${1:-3}

if [[ -z ${BULWARK_BUILD:-} ]]; then
    "$REPO/scripts/install-deps.sh" >/dev/null
    cmake -S "$REPO" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DBULWARK_TESTS=OFF >/dev/null
    cmake --build "$BUILD" -j"$(nproc)" >/dev/null
fi
[[ -x /usr/bin/time ]] || apt-get install -y -q time >/dev/null
CTL=$BUILD/node/bulwarkctl
CORPUS=$("$REPO/tests/bench/corpus.sh")
TMP=$(mktemp -d /tmp/bulwark-scan-bench.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

/usr/bin/python3 -c "import sys; sys.path.insert(0, '$REPO/tests/integration'); import corpus; \
from pathlib import Path; corpus.write_signatures(Path('$TMP/db'))"
find "$CORPUS" -name '*.eml' | sort >"$TMP/files"
mapfile -t FILES <"$TMP/files"
N=${#FILES[@]}
BYTES=$(cat "${FILES[@]}" | wc -c)
echo "corpus: $N messages, $((BYTES / 1024 / 1024)) MiB ($CORPUS)"
echo "machine: $(nproc) cores, $(uname -r); $ROUNDS rounds, median shown"

run() { # variant round
    local v=$1 r=$2 out=$TMP/$1.$2
    case $v in
        bulwark+clamav) /usr/bin/time -f '%e %M' -o "$out.time" "$CTL" scan --local --json \
            --clamav-db "$TMP/db" "${FILES[@]}" >"$out.json" 2>"$out.err" || true ;;
        bulwark) /usr/bin/time -f '%e %M' -o "$out.time" "$CTL" scan --local --json \
            "${FILES[@]}" >"$out.json" 2>"$out.err" || true ;;
        clamscan) /usr/bin/time -f '%e %M' -o "$out.time" clamscan --no-summary --infected \
            -d "$TMP/db" "${FILES[@]}" >"$out.json" 2>"$out.err" || true ;;
    esac
}
VARIANTS=(bulwark+clamav bulwark clamscan)
for ((r = 1; r <= ROUNDS; r++)); do
    for v in "${VARIANTS[@]}"; do run "$v" "$r"; done
done

/usr/bin/python3 - "$TMP" "$N" "$BYTES" "$ROUNDS" "${VARIANTS[@]}" <<'PY'
import json, statistics, sys
from pathlib import Path
tmp, n, nbytes, rounds, variants = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), \
    int(sys.argv[4]), sys.argv[5:]
print(f"{'variant':16} {'msg/s':>8} {'MB/s':>7} {'peak RSS MiB':>13} {'p50 ms':>7} {'p99 ms':>7}"
      f"  actions (last round)")
for v in variants:
    secs, rss, lat, actions = [], [], [], {}
    for r in range(1, rounds + 1):
        t = (tmp / f"{v}.{r}.time").read_text().split()
        if len(t) < 2:
            continue
        e, m = t[-2], t[-1]
        secs.append(float(e))
        rss.append(int(m) / 1024)
        if v.startswith("bulwark"):
            lines = (tmp / f"{v}.{r}.json").read_text().splitlines()
            lat = sorted(json.loads(x)["ms"] for x in lines)
            actions = {}
            for x in lines:
                a = json.loads(x)["action"]
                actions[a] = actions.get(a, 0) + 1
            if len(lines) != n:
                print(f"  {v} round {r}: {len(lines)} results for {n} messages", file=sys.stderr)
        else:
            found = len((tmp / f"{v}.{r}.json").read_text().splitlines())
            actions = {"infected": found}
    s = statistics.median(secs)
    p50 = f"{lat[len(lat) // 2]:.2f}" if lat else "-"
    p99 = f"{lat[int(len(lat) * 0.99)]:.2f}" if lat else "-"
    print(f"{v:16} {n / s:8.0f} {nbytes / s / 1e6:7.2f} {statistics.median(rss):13.1f} "
          f"{p50:>7} {p99:>7}  {actions}")
PY

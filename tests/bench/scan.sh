#!/usr/bin/env bash
# tests/bench/scan.sh - throughput and memory of the local scan pipeline (every check,
# ClamAV with the tests' signatures) over the SpamAssassin public corpus, with rspamd
# beside it.
#
# Builds a Release tree (build-bench), fetches the corpus (tests/bench/corpus.sh),
# writes the test ClamAV database (tests/integration/corpus.py), then ROUNDS times,
# alternating, runs over every message of the corpus (or of the accuracy benchmark's
# TEST set with --test) in one process each:
#   bulwark+clamav  bulwarkctl scan --local --json --clamav-db DB   (the full pipeline)
#   bulwark         bulwarkctl scan --local --json                  (without ClamAV)
#   clamscan        clamscan -d DB (ClamAV alone, same signatures: the peer for the
#                   ClamAV share of the cost; it parses MIME and archives itself)
#   rspamd          Debian's rspamd 3.4, stock rules, network modules off (DNS answered
#                   NXDOMAIN by a loopback stub, see tests/bench/peers.py), ONE normal
#                   worker process, Bayes in a private Redis but UNTRAINED (so skipped,
#                   like bulwark here, which runs without --redis; both trained with
#                   --trained); fed over HTTP /checkv2 by a client keeping
#                   RSPAMD_INFLIGHT (default 2) requests in flight so the worker never
#                   waits for the client. One rspamd worker
#                   (one process, one thread) against one bulwarkctl thread: both get
#                   one core; the client runs on the other core. Started once before
#                   the rounds (Hyperscan cache warm, 20 warm-up messages), stopped by
#                   PID at exit. Peak RSS is the normal worker's (VmHWM).
# and prints, per variant, the median messages/s, MB/s, peak RSS (GNU time) and the
# per-message p50/p99 (bulwark: the pipeline's own timing; rspamd: the client's round
# trip). One thread per process: the figures are per core. docs/performance.md keeps
# them; docs/accuracy.md the rspamd comparison on TEST.
#
# The first three variants run exactly as before rspamd was added (same files, same
# commands), so the default figures stay comparable with docs/performance.md.
#
# usage: tests/bench/scan.sh [--test] [--trained] [--variants V1,V2,...] [ROUNDS]
#        (default 3 rounds)
#   --test      only the accuracy benchmark's TEST set (easy-ham-2, spam-2, hard-ham-1
#               with an even id: 2,921 messages); default: the whole corpus (6,046)
#   --variants  default bulwark+clamav,bulwark,clamscan,rspamd (rspamd only if
#               installed)
#   --trained   Bayes trained on the accuracy benchmark's TRAIN set for both: bulwark
#               variants get --redis to a private Redis filled by `bulwarkctl learn`
#               (and check.bayes.autolearn=no), rspamd's Redis is filled through its
#               controller; default: no Bayes for bulwark (no --redis), rspamd's
#               untrained (below min_learns it skips Bayes)
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BULWARK_BUILD:-$REPO/build-bench}
ROUNDS=3
SET=all
TRAINED=
VARIANTS=(bulwark+clamav bulwark clamscan)
command -v rspamd >/dev/null && VARIANTS+=(rspamd)
while (($#)); do
    case $1 in
        --test) SET=test; shift ;;
        --trained) TRAINED=1; shift ;;
        --variants) IFS=, read -ra VARIANTS <<<"$2"; shift 2 ;;
        [0-9]*) ROUNDS=$1; shift ;;
        *) echo "scan.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
RSPAMD_INFLIGHT=${RSPAMD_INFLIGHT:-2}

if [[ -z ${BULWARK_BUILD:-} ]]; then
    "$REPO/scripts/install-deps.sh" >/dev/null
    cmake -S "$REPO" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DBULWARK_TESTS=OFF >/dev/null
    cmake --build "$BUILD" -j"$(nproc)" >/dev/null
fi
[[ -x /usr/bin/time ]] || apt-get install -y -q time >/dev/null
CTL=$BUILD/node/bulwarkctl
CORPUS=$("$REPO/tests/bench/corpus.sh")
TMP=$(mktemp -d /tmp/bulwark-scan-bench.XXXXXX)
chmod 755 "$TMP"
SERVER=
REDIS=
cleanup() {
    if [[ -n $REDIS ]]; then
        kill -TERM "$REDIS" 2>/dev/null || true
        wait "$REDIS" 2>/dev/null || true
    fi
    if [[ -n $SERVER ]]; then
        kill -TERM "$SERVER" 2>/dev/null || true
        wait "$SERVER" 2>/dev/null || true
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

/usr/bin/python3 -c "import sys; sys.path.insert(0, '$REPO/tests/integration'); import corpus; \
from pathlib import Path; corpus.write_signatures(Path('$TMP/db'))"
if [[ $SET == test ]]; then
    /usr/bin/python3 "$REPO/tests/bench/accuracy.py" --corpus "$CORPUS" --print-split test \
        >"$TMP/files"
else
    find "$CORPUS" -name '*.eml' | sort >"$TMP/files"
fi
mapfile -t FILES <"$TMP/files"
N=${#FILES[@]}
BYTES=$(cat "${FILES[@]}" | wc -c)
echo "corpus: $N messages, $((BYTES / 1024 / 1024)) MiB ($CORPUS, $([[ $SET == test ]] &&
    echo "TEST set of tests/bench/accuracy.sh" || echo "every folder"))"

BULWARK_ARGS=()
if [[ -n $TRAINED ]]; then
    command -v redis-server >/dev/null && command -v redis-cli >/dev/null ||
        { echo "scan.sh: --trained needs redis-server and redis-cli (apt-get install redis-server)" >&2; exit 1; }
    /usr/bin/python3 "$REPO/tests/bench/accuracy.py" --corpus "$CORPUS" --print-split train \
        >"$TMP/train"
    RPORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    mkdir -p "$TMP/redis"
    redis-server --port "$RPORT" --bind 127.0.0.1 --dir "$TMP/redis" --save '' \
        --appendonly no --daemonize no >"$TMP/redis/log" 2>&1 &
    REDIS=$!
    for _ in $(seq 100); do
        redis-cli -p "$RPORT" ping >/dev/null 2>&1 && break
        sleep 0.1
    done
    grep '/spam-' "$TMP/train" | xargs "$CTL" learn --spam --redis "127.0.0.1:$RPORT" >/dev/null
    grep -v '/spam-' "$TMP/train" | xargs "$CTL" learn --ham --redis "127.0.0.1:$RPORT" >/dev/null
    BULWARK_ARGS=(--redis "127.0.0.1:$RPORT" --set check.bayes.autolearn=no)
    echo "bulwark: Bayes learned from TRAIN ($(wc -l <"$TMP/train") messages) into Redis :$RPORT"
fi

if [[ " ${VARIANTS[*]} " == *" rspamd "* ]]; then
    command -v rspamd >/dev/null || { echo "scan.sh: rspamd not installed" >&2; exit 1; }
    /usr/bin/python3 "$REPO/tests/bench/peers.py" serve-rspamd "$TMP/rspamd" 1 \
        "$REPO/state/rspamd-hs-cache" ${TRAINED:+"$TMP/train"} >"$TMP/rspamd.log" 2>&1 &
    SERVER=$!
    for _ in $(seq 1200); do
        [[ -f $TMP/rspamd/info ]] && break
        kill -0 "$SERVER" 2>/dev/null || { echo "scan.sh: rspamd failed to start:" >&2
            cat "$TMP/rspamd.log" >&2; exit 1; }
        sleep 0.5
    done
    [[ -f $TMP/rspamd/info ]] || { echo "scan.sh: rspamd not ready after 10 min" >&2; exit 1; }
    echo "rspamd: 1 normal worker, $([[ -n $TRAINED ]] && echo "Bayes learned from TRAIN" ||
        echo "untrained Bayes"), $RSPAMD_INFLIGHT requests in flight"
fi
echo "machine: $(nproc) cores, $(uname -r); $ROUNDS rounds, median shown"

run() { # variant round
    local v=$1 r=$2 out=$TMP/$1.$2
    case $v in
        bulwark+clamav) /usr/bin/time -f '%e %M' -o "$out.time" "$CTL" scan --local --json \
            --clamav-db "$TMP/db" "${BULWARK_ARGS[@]}" "${FILES[@]}" >"$out.json" 2>"$out.err" || true ;;
        bulwark) /usr/bin/time -f '%e %M' -o "$out.time" "$CTL" scan --local --json \
            "${BULWARK_ARGS[@]}" "${FILES[@]}" >"$out.json" 2>"$out.err" || true ;;
        rspamd) /usr/bin/python3 "$REPO/tests/bench/peers.py" check-rspamd "$TMP/rspamd/info" \
            "$TMP/files" "$RSPAMD_INFLIGHT" "$out" 2>"$out.err" || true ;;
        clamscan) /usr/bin/time -f '%e %M' -o "$out.time" clamscan --no-summary --infected \
            -d "$TMP/db" "${FILES[@]}" >"$out.json" 2>"$out.err" || true ;;
    esac
}
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
        if v.startswith("bulwark") or v == "rspamd":
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

#!/usr/bin/env bash
# tests/bench/dispatch.sh - throughput and added latency of the master's dispatcher.
#
# Starts a private MariaDB, a real bulwark-master on loopback and, against it:
#   1. null workers (bulwark-bench workers: answer every job at once, one connection
#      per worker thread) and one client keeping a window of jobs in flight:
#      jobs/s through the dispatcher;
#   2. the same workers and a client sending at a fixed 1,000 jobs/s: the round trip
#      client -> master -> worker -> master -> client, p50/p99 (the latency the cluster
#      adds to a scan);
#   3. a real bulwark-node (N worker threads sharing one connection) instead of the
#      null workers: jobs/s with the pipeline of the day; and N nodes of one worker
#      each (one connection per worker), to weigh the shared connection;
# each with CURVE off and on, and, for comparison, the same messages scanned by the
# pipeline in-process (what `bulwarkctl scan --local` does), single thread.
# Messages: 10 KB RFC 5322 messages generated here. Prints a table and one JSON line
# per run; docs/performance.md records the figures.
#
# usage: tests/bench/dispatch.sh [JOBS] [SECONDS]   (default 100000 jobs, 10 s at 1k/s)
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BULWARK_BUILD:-$REPO/build-bench}
JOBS=${1:-100000}
SECS=${2:-10}
WINDOW=${WINDOW:-256}
NULL_WORKERS=${NULL_WORKERS:-2}
NODE_WORKERS=${NODE_WORKERS:-2}

if [[ -z ${BULWARK_BUILD:-} ]]; then
    "$REPO/scripts/install-deps.sh" >/dev/null
    cmake -S "$REPO" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DBULWARK_TESTS=OFF >/dev/null
    cmake --build "$BUILD" -j"$(nproc)" >/dev/null
fi
BENCH=$BUILD/tests/bench/bulwark-bench
MASTER=$BUILD/master/bulwark-master
NODE=$BUILD/node/bulwark-node
CTL=$BUILD/node/bulwarkctl

TMP=$(mktemp -d /tmp/bulwark-bench.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT

port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# ---- data -----------------------------------------------------------------------------
mkdir -p "$TMP/msgs" "$TMP/keys" "$TMP/logs"
/usr/bin/python3 - "$TMP/msgs" <<'EOF'
import sys, time
d = sys.argv[1]
line = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor."
date = time.strftime('%a, %d %b %Y %H:%M:%S +0000', time.gmtime())
for i in range(200):
    hdr = (f"From: Sender {i} <sender{i}@example.com>\r\nTo: user@example.org\r\n"
           f"Subject: benchmark message {i}\r\nDate: {date}\r\nMessage-ID: <{i}.bench@example.com>\r\n"
           "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n")
    body = (line + "\r\n") * ((10240 - len(hdr)) // (len(line) + 2))
    open(f"{d}/m{i:03d}.eml", "w", newline="").write(hdr + body)
EOF

# ---- database -------------------------------------------------------------------------
mariadb-install-db --no-defaults --datadir="$TMP/db" --user=root \
    --auth-root-authentication-method=normal --skip-test-db >/dev/null 2>&1
mariadbd --no-defaults --datadir="$TMP/db" --socket="$TMP/db.sock" --skip-networking --user=root \
    --pid-file="$TMP/db.pid" --innodb-buffer-pool-size=32M >"$TMP/logs/mariadb.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do
    mariadb --no-defaults -S "$TMP/db.sock" -u root -e "CREATE DATABASE IF NOT EXISTS bulwark" \
        2>/dev/null && break
    sleep 0.2
done

for k in master ctl bench0 $(for i in $(seq 8); do echo "node$i"; done); do
    "$CTL" keygen --dir "$TMP/keys" "$k" >/dev/null
done
: >"$TMP/keys/allowed"
echo "ctl $(sed -n 's/^public = //p' "$TMP/keys/ctl.pub") client" >>"$TMP/keys/allowed"
for k in bench0 $(for i in $(seq 8); do echo "node$i"; done); do
    echo "$k $(sed -n 's/^public = //p' "$TMP/keys/$k.pub") node" >>"$TMP/keys/allowed"
done

CP=$(port); WP=$(port); PP=$(port); SP=$(port)

start_master() { # curve yes|no
    cat >"$TMP/master.conf" <<EOF
master_id = bench
client_endpoint = tcp://127.0.0.1:$CP
worker_endpoint = tcp://127.0.0.1:$WP
publish_endpoint = tcp://127.0.0.1:$PP
snapshot_endpoint = tcp://127.0.0.1:$SP
curve_enable = $1
curve_secret_key = $TMP/keys/master.key
curve_allow = $TMP/keys/allowed
db_socket = $TMP/db.sock
db_user = root
log_level = warn
io_threads = ${MASTER_IO_THREADS:-1}
EOF
    "$MASTER" -c "$TMP/master.conf" 2>>"$TMP/logs/master.log" &
    MASTER_PID=$!
    PIDS+=($MASTER_PID)
    sleep 0.3
}

start_node() { # curve processes workers-each: N bulwark-node processes, one connection each
    WORKERS_PID=""
    local i
    for i in $(seq "$2"); do
        cat >"$TMP/node$i.conf" <<EOF
node_id = bench-node$i
master_worker_endpoint = tcp://127.0.0.1:$WP
master_publish_endpoint = tcp://127.0.0.1:$PP
master_snapshot_endpoint = tcp://127.0.0.1:$SP
curve_enable = $1
curve_secret_key = $TMP/keys/node$i.key
curve_server_key = $TMP/keys/master.pub
workers = $3
log_level = warn
EOF
        "$NODE" -c "$TMP/node$i.conf" 2>>"$TMP/logs/node.log" &
        WORKERS_PID="$WORKERS_PID $!"
        PIDS+=($!)
    done
}

start_null_workers() { # curve
    local keys=()
    [[ $1 == yes ]] && keys=("$TMP/keys/bench0.key" "$TMP/keys/master.pub")
    "$BENCH" workers "tcp://127.0.0.1:$WP" "$NULL_WORKERS" 64 "${keys[@]}" 2>>"$TMP/logs/workers.log" &
    WORKERS_PID=$!
    PIDS+=($WORKERS_PID)
}

stop_pid() { local p; for p in $1; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; }

client() { # curve mode args...
    local curve=$1; shift
    local keys=()
    [[ $curve == yes ]] && keys=("$TMP/keys/ctl.key" "$TMP/keys/master.pub")
    "$BENCH" client "tcp://127.0.0.1:$CP" "$TMP/msgs" "$@" "${keys[@]}"
}

field() { /usr/bin/python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }

RESULTS=()
run() { # label curve workers-kind [processes workers-each]
    local label=$1 curve=$2 kind=$3
    start_master "$curve"
    if [[ $kind == null ]]; then start_null_workers "$curve"; else start_node "$curve" "$4" "$5"; fi
    local tp lat=""
    tp=$(client "$curve" window "$WINDOW" "$JOBS")
    [[ $kind == null ]] && lat=$(client "$curve" rate 1000 "$SECS")
    stop_pid "$WORKERS_PID"
    stop_pid "$MASTER_PID"
    echo "# $label throughput: $tp"
    [[ -n $lat ]] && echo "# $label latency:    $lat"
    RESULTS+=("$label|$tp|$lat")
}

echo "bulwark dispatch benchmark: $(nproc) cores, $(uname -r), $(date -u +%FT%TZ)"
echo "messages: 200 x 10 KB, window $WINDOW, $JOBS jobs per throughput run, 1000 jobs/s x ${SECS}s for latency"
LOCAL=$("$BENCH" local "$TMP/msgs" 50)
echo "# local pipeline: $LOCAL"
run "null workers, CURVE off" no null
run "null workers, CURVE on" yes null
run "1 node x $NODE_WORKERS workers, CURVE off" no node 1 "$NODE_WORKERS"
run "1 node x $NODE_WORKERS workers, CURVE on" yes node 1 "$NODE_WORKERS"
run "$NODE_WORKERS nodes x 1 worker, CURVE on" yes node "$NODE_WORKERS" 1

echo
printf '%-40s %10s %10s %10s %10s\n' "run" "jobs/s" "p50 ms" "p99 ms" "tempfail"
for r in "${RESULTS[@]}"; do
    IFS='|' read -r label tp lat <<<"$r"
    printf '%-40s %10s %10s %10s %10s\n' "$label (window)" "$(field "$tp" jobs_per_s)" \
        "$(awk "BEGIN{printf \"%.3f\", $(field "$tp" p50_us)/1000}")" \
        "$(awk "BEGIN{printf \"%.3f\", $(field "$tp" p99_us)/1000}")" "$(field "$tp" tempfail)"
    if [[ -n $lat ]]; then
        printf '%-40s %10s %10s %10s %10s\n' "$label (1k/s)" "$(field "$lat" jobs_per_s)" \
            "$(awk "BEGIN{printf \"%.3f\", $(field "$lat" p50_us)/1000}")" \
            "$(awk "BEGIN{printf \"%.3f\", $(field "$lat" p99_us)/1000}")" "$(field "$lat" tempfail)"
    fi
done
printf '%-40s %10s %10s %10s\n' "pipeline in-process (local)" "$(field "$LOCAL" scans_per_s)" \
    "$(awk "BEGIN{printf \"%.3f\", $(field "$LOCAL" p50_us)/1000}")" \
    "$(awk "BEGIN{printf \"%.3f\", $(field "$LOCAL" p99_us)/1000}")"
echo
echo "targets: >= 20000 jobs/s through the dispatcher; p99 added latency < 1 ms at 1000 jobs/s"

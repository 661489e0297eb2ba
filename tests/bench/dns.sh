#!/usr/bin/env bash
# tests/bench/dns.sh - the node's resolver (node/dns.c) replaying the DNS lookups of
# 1,000 corpus messages against a loopback authoritative server: lookups/s, cache hit
# rate, per-message lookup time, cold and warm.
#
# Builds a Release tree (build-bench) unless BULWARK_BUILD is given, fetches the
# SpamAssassin corpus (tests/bench/corpus.sh), and derives each message's lookups with
# tests/bench/dns_replay.py (SPF/MX/A of the Return-Path and From domains, DMARC, DKIM
# keys, PTR and a block list for each public Received IP, A and a URI block list for
# each URL host) together with one zone file for "." that answers them (some names
# NXDOMAIN, as block lists do). nsd serves that zone on a free 127.0.0.1 port (one
# server process, response rate limiting off: RRL would drop a resolver's burst from
# one address), started here in the foreground and stopped by its PID at exit.
# bulwark-dns-bench then replays the file through one resolver forwarding to nsd:
# THREADS threads (the node's workers) take messages in order, each message is one
# batch (every lookup submitted, then each waited for), PASSES passes over the same
# resolver (pass 1 cold, the rest warm). The cache hit rate is 1 - the queries nsd
# received (nsd-control stats over a Unix socket) / the lookups made.
#
# usage: tests/bench/dns.sh [--messages N] [--threads T] [--passes P] [--cache MIB]
#        (default 1,000 messages, 2 threads = the cores here, 3 passes, the node's
#        default dns_cache_size of 64 MiB)
# Prints one JSON line per pass (bulwark-dns-bench) and a summary; docs/performance.md
# keeps the figures.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BULWARK_BUILD:-$REPO/build-bench}
MESSAGES=1000
THREADS=2
PASSES=3
CACHE=64
while (($#)); do
    case $1 in
        --messages) MESSAGES=$2; shift 2 ;;
        --threads) THREADS=$2; shift 2 ;;
        --passes) PASSES=$2; shift 2 ;;
        --cache) CACHE=$2; shift 2 ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "dns.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
die() { echo "dns.sh: $*" >&2; exit 1; }
command -v nsd >/dev/null || die "nsd not found (apt-get install nsd)"
command -v nsd-control >/dev/null || die "nsd-control not found (apt-get install nsd)"

if [[ -z ${BULWARK_BUILD:-} ]]; then
    echo "building $BUILD (Release) ..." >&2
    cmake -S "$REPO" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DBULWARK_TESTS=OFF >/dev/null
    cmake --build "$BUILD" -j"$(nproc)" --target bulwark-dns-bench >/dev/null
fi
BENCH=$BUILD/tests/bench/bulwark-dns-bench
[[ -x $BENCH ]] || die "$BENCH not found (BULWARK_BUILD=$BUILD)"
CORPUS=$("$REPO/tests/bench/corpus.sh")

TMP=$(mktemp -d /tmp/bulwark-dns-bench.XXXXXX)
NSD_PID=
cleanup() {
    if [[ -n $NSD_PID ]] && kill -0 "$NSD_PID" 2>/dev/null; then
        kill "$NSD_PID"
        wait "$NSD_PID" 2>/dev/null || true
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT

/usr/bin/python3 "$REPO/tests/bench/dns_replay.py" --corpus "$CORPUS" --count "$MESSAGES" \
    --replay "$TMP/replay.txt" --zone "$TMP/root.zone" --stats "$TMP/stats.json" >/dev/null
nsd-checkzone . "$TMP/root.zone" >/dev/null || die "nsd-checkzone refused the generated zone"

PORT=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$TMP/nsd.conf" <<EOF
server:
    ip-address: 127.0.0.1@$PORT
    do-ip6: no
    server-count: 1
    username: ""
    chroot: ""
    zonesdir: "$TMP"
    database: ""
    zonelistfile: "$TMP/zone.list"
    xfrdfile: "$TMP/xfrd.state"
    pidfile: "$TMP/nsd.pid"
    logfile: "$TMP/nsd.log"
    hide-version: yes
    rrl-ratelimit: 0
    rrl-whitelist-ratelimit: 0
remote-control:
    control-enable: yes
    control-interface: $TMP/nsd.ctl
zone:
    name: "."
    zonefile: "root.zone"
EOF
nsd -d -c "$TMP/nsd.conf" >"$TMP/nsd.out" 2>&1 &
NSD_PID=$!
COUNT="nsd-control -c $TMP/nsd.conf stats_noreset | sed -n 's/^num.queries=//p'"
for _ in $(seq 100); do
    [[ -n $(eval "$COUNT" 2>/dev/null) ]] && break
    kill -0 "$NSD_PID" 2>/dev/null || die "nsd exited: $(cat "$TMP/nsd.out" "$TMP/nsd.log" 2>/dev/null)"
    sleep 0.1
done
[[ -n $(eval "$COUNT" 2>/dev/null) ]] || die "nsd did not answer nsd-control"

echo "replay: $(cat "$TMP/stats.json" | tr -d '\n ')" >&2
"$BENCH" --dns "127.0.0.1:$PORT" --threads "$THREADS" --passes "$PASSES" --cache "$CACHE" \
    --count-cmd "$COUNT" \
    "$TMP/replay.txt" | tee "$TMP/passes.jsonl"

/usr/bin/python3 - "$TMP/passes.jsonl" "$TMP/stats.json" <<'EOF'
import json, sys
passes = [json.loads(l) for l in open(sys.argv[1])]
stats = json.load(open(sys.argv[2]))
print(f"\n{stats['messages']} messages, {stats['lookups']} lookups "
      f"({stats['distinct']} distinct), {passes[0]['threads']} threads, "
      f"cache {passes[0]['cache_mib']} MiB")
print(f"{'pass':<10}{'lookups/s':>12}{'hit rate':>10}{'upstream':>10}"
      f"{'msg p50 ms':>12}{'msg p99 ms':>12}{'timeouts':>10}")
for p in passes:
    name = "cold" if p["pass"] == 1 else f"warm {p['pass'] - 1}"
    print(f"{name:<10}{p['lookups_per_s']:>12,.0f}{p['cache_hit_rate']:>10.1%}"
          f"{p['upstream']:>10}{p['msg_p50_ms']:>12.2f}{p['msg_p99_ms']:>12.2f}"
          f"{p['timeout']:>10}")
EOF

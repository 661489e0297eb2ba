#!/usr/bin/env bash
# tests/bench/smtp.sh - messages/s through Postfix + bulwark-milter + the cluster,
# against the same Postfix with no milter, side by side on this machine.
#
# Starts a private MariaDB, bulwark-master, two bulwark-node scanners (2 workers
# each), bulwark-milter, Postfix's smtp-sink as the protected mail server, and two
# gateway Postfix instances (scripts/postfix-instance.sh): one with the milter, one
# without. Postfix's smtp-source sends MESSAGES messages of SIZE bytes over SESSIONS
# parallel SMTP sessions on loopback to each, ROUNDS times, alternating. Figures:
# accepted/s (smtp-source's run time: every message scanned and answered during the
# SMTP session) and delivered/s (until the gateway's log shows every message relayed
# to the sink), and the ratio with/without milter. docs/performance.md keeps them.
#
# usage: tests/bench/smtp.sh [MESSAGES] [SIZE] [SESSIONS] [ROUNDS]
#        (default 2000 messages of 5120 bytes, 20 sessions, 3 rounds)
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BULWARK_BUILD:-$REPO/build-bench}
N=${1:-2000}
SIZE=${2:-5120}
SESSIONS=${3:-20}
ROUNDS=${4:-3}

if [[ -z ${BULWARK_BUILD:-} ]]; then
    "$REPO/scripts/install-deps.sh" >/dev/null
    cmake -S "$REPO" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DBULWARK_TESTS=OFF >/dev/null
    cmake --build "$BUILD" -j"$(nproc)" >/dev/null
fi
PI=$REPO/scripts/postfix-instance.sh
CTL=$BUILD/node/bulwarkctl
SMTP_SOURCE=$(command -v smtp-source || echo /usr/sbin/smtp-source)
SMTP_SINK=$(command -v smtp-sink || echo /usr/sbin/smtp-sink)

TMP=$(mktemp -d /tmp/bulwark-smtp-bench.XXXXXX)
chmod 755 "$TMP"
PIDS=()
cleanup() {
    "$PI" stop "$TMP/pf-milter" >/dev/null 2>&1 || true
    "$PI" stop "$TMP/pf-plain" >/dev/null 2>&1 || true
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT
port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

mkdir -p "$TMP/keys" "$TMP/logs"
mariadb-install-db --no-defaults --datadir="$TMP/db" --user=root \
    --auth-root-authentication-method=normal --skip-test-db >/dev/null 2>&1
mariadbd --no-defaults --datadir="$TMP/db" --socket="$TMP/db.sock" --skip-networking --user=root \
    --pid-file="$TMP/db.pid" --innodb-buffer-pool-size=64M \
    --innodb-flush-log-at-trx-commit="${DB_FLUSH:-1}" >"$TMP/logs/mariadb.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do
    mariadb --no-defaults -S "$TMP/db.sock" -u root -e "CREATE DATABASE IF NOT EXISTS bulwark" \
        2>/dev/null && break
    sleep 0.2
done

for k in master ctl milter node1 node2; do "$CTL" keygen --dir "$TMP/keys" "$k" >/dev/null; done
pub() { sed -n 's/^public = //p' "$TMP/keys/$1.pub"; }
{
    echo "ctl $(pub ctl) admin"
    echo "milter $(pub milter) client"
    echo "node1 $(pub node1) node"
    echo "node2 $(pub node2) node"
} >"$TMP/keys/allowed"

CP=$(port); WP=$(port); PP=$(port); SP=$(port); MP=$(port); SINK=$(port); G1=$(port); G2=$(port)
cat >"$TMP/master.conf" <<EOF
client_endpoint = tcp://127.0.0.1:$CP
worker_endpoint = tcp://127.0.0.1:$WP
publish_endpoint = tcp://127.0.0.1:$PP
snapshot_endpoint = tcp://127.0.0.1:$SP
curve_secret_key = $TMP/keys/master.key
curve_allow = $TMP/keys/allowed
db_socket = $TMP/db.sock
db_user = root
log_level = warn
EOF
"$BUILD/master/bulwark-master" -c "$TMP/master.conf" 2>"$TMP/logs/master.log" &
PIDS+=($!)
for n in node1 node2; do
    cat >"$TMP/$n.conf" <<EOF
node_id = $n
master_worker_endpoint = tcp://127.0.0.1:$WP
master_publish_endpoint = tcp://127.0.0.1:$PP
master_snapshot_endpoint = tcp://127.0.0.1:$SP
curve_secret_key = $TMP/keys/$n.key
curve_server_key = $TMP/keys/master.pub
workers = 2
log_level = warn
EOF
    "$BUILD/node/bulwark-node" -c "$TMP/$n.conf" 2>"$TMP/logs/$n.log" &
    PIDS+=($!)
done
cat >"$TMP/milter.conf" <<EOF
milter_socket = inet:127.0.0.1:$MP
master_endpoint = tcp://127.0.0.1:$CP
curve_secret_key = $TMP/keys/milter.key
curve_server_key = $TMP/keys/master.pub
log_level = warn
EOF
"$BUILD/node/bulwark-milter" -c "$TMP/milter.conf" 2>"$TMP/logs/milter.log" &
PIDS+=($!)
cat >"$TMP/ctl.conf" <<EOF
master_endpoint = tcp://127.0.0.1:$CP
curve_secret_key = $TMP/keys/ctl.key
curve_server_key = $TMP/keys/master.pub
EOF
for _ in $(seq 100); do
    [[ $("$CTL" -c "$TMP/ctl.conf" --timeout 1 status --json 2>/dev/null | grep -o '"node":' | wc -l) -ge 2 ]] && break
    sleep 0.2
done

# The protected mail server: Postfix's smtp-sink, which accepts and discards.
"$SMTP_SINK" -u postfix 127.0.0.1:"$SINK" 256 >/dev/null 2>&1 &
PIDS+=($!)

"$PI" start "$TMP/pf-milter" "$G1" "$SINK" "inet:127.0.0.1:$MP" >/dev/null
"$PI" start "$TMP/pf-plain" "$G2" "$SINK" >/dev/null

sent_count() { grep -c 'status=sent' "$1/maillog" 2>/dev/null || true; }

# One run: smtp-source to PORT, then wait for every message to be relayed.
run() { # instance-dir port
    local dir=$1 port=$2 before t0 t1 t2 now
    before=$(sent_count "$dir")
    t0=$(date +%s.%N)
    "$SMTP_SOURCE" -c -l "$SIZE" -m "$N" -s "$SESSIONS" -f sender@example.com -t user@example.org \
        "127.0.0.1:$port" >/dev/null
    t1=$(date +%s.%N)
    for _ in $(seq 3000); do
        now=$(sent_count "$dir")
        ((now - before >= N)) && break
        sleep 0.05
    done
    t2=$(date +%s.%N)
    awk -v n="$N" -v a="$t0" -v b="$t1" -v c="$t2" -v got="$((now - before))" \
        'BEGIN { printf "%.0f %.0f %d\n", n / (b - a), got / (c - a), got }'
}

echo "bulwark SMTP benchmark: $(nproc) cores, $(date -u +%FT%TZ); $N messages of $SIZE bytes," \
    "$SESSIONS sessions, $ROUNDS rounds"
printf '%-6s %-14s %12s %13s %10s\n' round gateway accepted/s delivered/s delivered
declare -a ACC_M ACC_P DEL_M DEL_P
for r in $(seq "$ROUNDS"); do
    read -r a d got < <(run "$TMP/pf-plain" "$G2")
    printf '%-6s %-14s %12s %13s %10s\n' "$r" "no milter" "$a" "$d" "$got"
    ACC_P+=("$a"); DEL_P+=("$d")
    read -r a d got < <(run "$TMP/pf-milter" "$G1")
    printf '%-6s %-14s %12s %13s %10s\n' "$r" "with Bulwark" "$a" "$d" "$got"
    ACC_M+=("$a"); DEL_M+=("$d")
done
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
am=$(median "${ACC_M[@]}"); ap=$(median "${ACC_P[@]}")
dm=$(median "${DEL_M[@]}"); dp=$(median "${DEL_P[@]}")
echo
printf 'median accepted/s: with Bulwark %s, without %s, ratio %s\n' "$am" "$ap" \
    "$(awk -v a="$am" -v b="$ap" 'BEGIN { printf "%.2f", a / b }')"
printf 'median delivered/s: with Bulwark %s, without %s, ratio %s\n' "$dm" "$dp" \
    "$(awk -v a="$dm" -v b="$dp" 'BEGIN { printf "%.2f", a / b }')"
st=$("$CTL" -c "$TMP/ctl.conf" status --json)
echo "cluster: $(/usr/bin/python3 -c 'import json,sys; s=json.loads(sys.argv[1]); print("jobs answered", s["jobs_answered"], "expired", s["jobs_expired"])' "$st")"
echo "target: ratio >= 0.5"

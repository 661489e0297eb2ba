#!/usr/bin/env bash
# scripts/quickstart.sh - an all-in-one Bulwark cluster on this machine, on loopback.
#
#   scripts/quickstart.sh [start]   install, build, start, scan sample mail, show results
#   scripts/quickstart.sh status    what runs, and the master's view of the cluster
#   scripts/quickstart.sh stop      stop everything this script started
#
# Everything lives under one state directory ($BULWARK_STATE, default ./state):
# keys/, etc/ (config files), mysql/ (MariaDB datadir), run/ (sockets, pid files),
# log/, postfix/ (the gateway MTA), sink/ (a Maildir: the "protected mail server").
# Processes, all on 127.0.0.1: a private MariaDB (Unix socket only), bulwark-master
# (ports 7400-7403, CURVE on), two bulwark-node scanners, bulwark-milter (7410), a
# Postfix gateway listening on 2525 that hands every message to the milter and
# relays what it accepts to the sink on 2526. Run twice, it reuses what exists and
# starts only what is not running. Debian 12, as root.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
STATE=${BULWARK_STATE:-$REPO/state}
BUILD=${BULWARK_BUILD:-$REPO/build}
BASE_PORT=${BULWARK_PORT:-7400}
CTL=$BUILD/node/bulwarkctl
SMTP_PORT=${BULWARK_SMTP_PORT:-2525}
SINK_PORT=${BULWARK_SINK_PORT:-2526}
MILTER_PORT=$((BASE_PORT + 10))
DNS_PORT=$((BASE_PORT + 53))
CMD=${1:-start}

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
pidfile() { echo "$STATE/run/$1.pid"; }
running() { local f; f=$(pidfile "$1"); [[ -f $f ]] && kill -0 "$(cat "$f")" 2>/dev/null; }
ctl() { "$CTL" -c "$STATE/etc/bulwarkctl.conf" "$@"; }

stop_one() {
    local name=$1 f pid
    f=$(pidfile "$name")
    [[ -f $f ]] || return 0
    pid=$(cat "$f")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        if kill -0 "$pid" 2>/dev/null; then
            echo "$name did not stop in 30 s; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
        echo "stopped $name (pid $pid)"
    fi
    rm -f "$f"
}

cmd_stop() {
    "$REPO/scripts/postfix-instance.sh" stop "$STATE/postfix" >/dev/null 2>&1 || true
    echo "stopped postfix"
    for n in sink milter node2 node1 master dns mariadb; do stop_one "$n"; done
}

cmd_status() {
    for n in mariadb dns master node1 node2 milter sink; do
        if running "$n"; then
            printf '%-8s running (pid %s)\n' "$n" "$(cat "$(pidfile "$n")")"
        else
            printf '%-8s stopped\n' "$n"
        fi
    done
    if "$REPO/scripts/postfix-instance.sh" status "$STATE/postfix" >/dev/null 2>&1; then
        printf '%-8s running (127.0.0.1:%s)\n' postfix "$SMTP_PORT"
    else
        printf '%-8s stopped\n' postfix
    fi
    if running master; then
        echo
        ctl --timeout 3 status || true
    fi
}

# Starts a daemon detached from this shell, logging to log/NAME.log.
spawn() {
    local name=$1
    shift
    setsid "$@" >>"$STATE/log/$name.log" 2>&1 </dev/null &
    echo $! >"$(pidfile "$name")"
}

start_mariadb() {
    if [[ ! -d $STATE/mysql/mysql ]]; then
        say "initialising MariaDB datadir $STATE/mysql"
        mariadb-install-db --no-defaults --datadir="$STATE/mysql" --user=root \
            --auth-root-authentication-method=normal --skip-test-db >"$STATE/log/mariadb-install.log" 2>&1
    fi
    if ! running mariadb; then
        spawn mariadb mariadbd --no-defaults --datadir="$STATE/mysql" --socket="$STATE/run/mysqld.sock" \
            --skip-networking --user=root --pid-file="$STATE/run/mysqld.real.pid" \
            --innodb-buffer-pool-size=64M --log-error="$STATE/log/mariadb.err"
    fi
    for _ in $(seq 150); do
        mariadb --no-defaults -S "$STATE/run/mysqld.sock" -u root \
            -e "CREATE DATABASE IF NOT EXISTS bulwark" 2>/dev/null && return 0
        sleep 0.2
    done
    echo "MariaDB did not come up; see $STATE/log/mariadb.err" >&2
    exit 1
}

write_config() {
    local k
    for k in master ctl milter node1 node2; do
        [[ -f $STATE/keys/$k.key ]] || "$CTL" keygen --dir "$STATE/keys" "$k" >/dev/null
    done
    {
        echo "# NAME PUBLICKEY ROLES: keys the master accepts (SIGHUP re-reads)"
        echo "ctl $(sed -n 's/^public = //p' "$STATE/keys/ctl.pub") admin"
        echo "milter $(sed -n 's/^public = //p' "$STATE/keys/milter.pub") client"
        for k in node1 node2; do
            echo "$k $(sed -n 's/^public = //p' "$STATE/keys/$k.pub") node"
        done
    } >"$STATE/keys/allowed"
    local ep="tcp://127.0.0.1"
    cat >"$STATE/etc/master.conf" <<EOF
# bulwark-master (reference: docs/config.md)
master_id = quickstart-master
client_endpoint = $ep:$BASE_PORT
worker_endpoint = $ep:$((BASE_PORT + 1))
publish_endpoint = $ep:$((BASE_PORT + 2))
snapshot_endpoint = $ep:$((BASE_PORT + 3))
curve_secret_key = $STATE/keys/master.key
curve_allow = $STATE/keys/allowed
db_socket = $STATE/run/mysqld.sock
db_user = root
EOF
    # ClamAV signatures: freshclam's directory when it has a database, else the
    # test signatures the project's tests use (EICAR and one hash): no internet here.
    mkdir -p "$STATE/clamav"
    if ls /var/lib/clamav/*.c[lv]d >/dev/null 2>&1; then
        cp -u /var/lib/clamav/*.c[lv]d "$STATE/clamav/"
    else
        /usr/bin/python3 -c "import sys; sys.path.insert(0, '$REPO/tests/integration'); \
import corpus; from pathlib import Path; corpus.write_signatures(Path('$STATE/clamav'))"
    fi
    for k in node1 node2; do
        cat >"$STATE/etc/$k.conf" <<EOF
# bulwark-node (reference: docs/config.md)
node_id = $k
master_worker_endpoint = $ep:$((BASE_PORT + 1))
master_publish_endpoint = $ep:$((BASE_PORT + 2))
master_snapshot_endpoint = $ep:$((BASE_PORT + 3))
curve_secret_key = $STATE/keys/$k.key
curve_server_key = $STATE/keys/master.pub
workers = 2
clamav_db_dir = $STATE/clamav
# The quick start's own DNS server (dnsmasq): no machine here reaches the Internet's
# DNS. In production, point this at a local recursive resolver (docs/dns.md).
dns_forwarders = 127.0.0.1:$DNS_PORT
EOF
    done
    cat >"$STATE/etc/milter.conf" <<EOF
# bulwark-milter (reference: docs/config.md)
milter_socket = inet:127.0.0.1:$MILTER_PORT
master_endpoint = $ep:$BASE_PORT
curve_secret_key = $STATE/keys/milter.key
curve_server_key = $STATE/keys/master.pub
EOF
    cat >"$STATE/etc/bulwarkctl.conf" <<EOF
# bulwarkctl (reference: docs/config.md)
master_endpoint = $ep:$BASE_PORT
curve_secret_key = $STATE/keys/ctl.key
curve_server_key = $STATE/keys/master.pub
timeout = 20s
EOF
}

cmd_start() {
    [[ $(id -u) -eq 0 ]] || { echo "quickstart.sh: run as root (it installs packages)" >&2; exit 1; }
    say "installing dependencies"
    "$REPO/scripts/install-deps.sh"
    say "building in $BUILD"
    cmake -S "$REPO" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBULWARK_TESTS=OFF >/dev/null
    cmake --build "$BUILD" -j"$(nproc)" >/dev/null
    mkdir -p "$STATE"/{keys,etc,run,log}
    chmod 700 "$STATE/keys"
    write_config
    say "starting MariaDB"
    start_mariadb
    say "starting a DNS server for the demo domains (dnsmasq on 127.0.0.1:$DNS_PORT)"
    # Authoritative for every name (--local=/#/): the demo records below, NXDOMAIN for
    # the rest, at once; the nodes' SPF/DKIM/DMARC lookups never wait for a timeout.
    running dns || spawn dns dnsmasq --conf-file=/dev/null --keep-in-foreground --no-resolv \
        --no-hosts --user=root --port="$DNS_PORT" --listen-address=127.0.0.1 --bind-interfaces \
        --local=/#/ --txt-record=example.com,"v=spf1 ip4:127.0.0.0/8 -all" \
        --txt-record=_dmarc.example.com,"v=DMARC1; p=quarantine" \
        --txt-record=example.org,"v=spf1 ip4:127.0.0.0/8 -all"
    say "starting bulwark-master and two bulwark-node scanners"
    running master || spawn master "$BUILD/master/bulwark-master" -c "$STATE/etc/master.conf"
    for _ in $(seq 100); do ctl --timeout 1 status >/dev/null 2>&1 && break; sleep 0.2; done
    for k in node1 node2; do
        running "$k" || spawn "$k" "$BUILD/node/bulwark-node" -c "$STATE/etc/$k.conf"
    done
    for _ in $(seq 100); do
        [[ $(ctl --timeout 1 status --json 2>/dev/null | grep -o '"node":' | wc -l) -ge 2 ]] && break
        sleep 0.2
    done
    running milter || spawn milter "$BUILD/node/bulwark-milter" -c "$STATE/etc/milter.conf"
    say "starting the sink (the protected mail server) and the Postfix gateway"
    mkdir -p "$STATE/sink/cur" "$STATE/sink/new" "$STATE/sink/tmp"
    running sink || spawn sink /usr/bin/python3 -m aiosmtpd -n -l "127.0.0.1:$SINK_PORT" \
        -c aiosmtpd.handlers.Mailbox "$STATE/sink"
    "$REPO/scripts/postfix-instance.sh" start "$STATE/postfix" "$SMTP_PORT" "$SINK_PORT" \
        "inet:127.0.0.1:$MILTER_PORT" >/dev/null
    # The demo policy: tag from score 3 with a Subject prefix, quarantine what is
    # over 100 KB.
    ctl config set --comment "quick start policy" "policy.subject_prefix=[SPAM]" \
        policy.tag_score=3 check.size.max_bytes=100k check.size.action=quarantine >/dev/null
    ctl status
    say "sending sample mail to the gateway (127.0.0.1:$SMTP_PORT) with swaks"
    mkdir -p "$STATE/samples"
    /usr/bin/python3 "$REPO/scripts/quickstart_samples.py" "$STATE" "$SMTP_PORT" "$CTL"
    cat <<EOF

The cluster is running (state in $STATE, logs in $STATE/log and $STATE/postfix/maillog).
Send mail to it:  swaks --server 127.0.0.1:$SMTP_PORT --to bob@example.org
Delivered mail:   $STATE/sink (a Maildir)
Look around:
  $CTL -c $STATE/etc/bulwarkctl.conf status
  $CTL -c $STATE/etc/bulwarkctl.conf quarantine list
  $CTL -c $STATE/etc/bulwarkctl.conf log search --since 1h
  $CTL -c $STATE/etc/bulwarkctl.conf config history
  $CTL -c $STATE/etc/bulwarkctl.conf scan --local --json FILE...
  $0 status | stop
EOF
}

case $CMD in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
*) echo "usage: $0 [start|status|stop]" >&2; exit 2 ;;
esac

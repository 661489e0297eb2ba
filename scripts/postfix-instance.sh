#!/usr/bin/env bash
# postfix-instance.sh - a private Postfix instance under one directory, for the
# tests, the quick start and the benchmarks. Needs root (Postfix drops to its
# own `postfix` user) and the Debian postfix package.
#
#   postfix-instance.sh start DIR LISTEN_PORT RELAY_PORT [MILTER_SOCKET]
#   postfix-instance.sh stop DIR
#   postfix-instance.sh status DIR
#
# start writes DIR/main.cf and DIR/master.cf (no chroot; queue, data and log under
# DIR; smtpd on 127.0.0.1:LISTEN_PORT only; everything relayed to
# [127.0.0.1]:RELAY_PORT; mail for any domain accepted from 127.0.0.0/8; no local
# delivery; short retry times), takes the milter settings from
# deploy/postfix/main.cf.fragment when MILTER_SOCKET (e.g. inet:127.0.0.1:7410) is
# given, starts Postfix (or reloads it if it runs) and waits until it answers SMTP.
# Extra main.cf lines may come in $POSTFIX_EXTRA (one setting per line; a later
# line wins). The log is DIR/maillog. start and stop are idempotent.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
FRAGMENT=$REPO/deploy/postfix/main.cf.fragment

die() {
  echo "postfix-instance: $*" >&2
  exit 1
}

usage() {
  sed -n '6,8p' "$0" | sed 's/^# //' >&2
  exit 2
}

running() {
  postfix -c "$1" status >/dev/null 2>&1
}

# The milter settings of the shipped fragment, with our socket.
milter_settings() {
  local sock=$1
  grep -Ev '^[[:space:]]*(#|$)' "$FRAGMENT" |
    sed -E "s|^smtpd_milters[[:space:]]*=.*|smtpd_milters = $sock|"
}

write_main_cf() {
  local dir=$1 listen=$2 relay=$3 milter=$4
  {
    cat <<EOF
# Written by scripts/postfix-instance.sh: a private test instance.
compatibility_level = 3.6
queue_directory = $dir/queue
data_directory = $dir/data
maillog_file = $dir/maillog
maillog_file_prefixes = $dir
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
myhostname = pf$listen.bulwark.test
mydomain = bulwark.test
myorigin = \$myhostname
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
mydestination =
relay_domains =
local_recipient_maps =
alias_maps =
alias_database =
local_transport = error:5.1.1 no local delivery on this instance
relayhost = [127.0.0.1]:$relay
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_recipient_restrictions = permit_mynetworks, reject
smtpd_banner = \$myhostname ESMTP
biff = no
append_dot_mydomain = no
smtputf8_enable = no
smtp_tls_security_level = none
smtpd_tls_security_level = none
# Short retry times so tests see a deferred message go out again within seconds.
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
smtp_connect_timeout = 5s
smtp_helo_timeout = 30s
smtp_data_done_timeout = 120s
bounce_queue_lifetime = 1h
maximal_queue_lifetime = 1h
default_destination_concurrency_limit = 10
EOF
    if [[ -n $milter ]]; then
      echo "# From deploy/postfix/main.cf.fragment"
      milter_settings "$milter"
    fi
    if [[ -n ${POSTFIX_EXTRA:-} ]]; then
      printf '%s\n' "$POSTFIX_EXTRA"
    fi
  } >"$dir/main.cf"
}

write_master_cf() {
  local dir=$1 listen=$2
  cat >"$dir/master.cf" <<EOF
# Written by scripts/postfix-instance.sh: no chroot (column 5 is n everywhere).
# service  type  private unpriv chroot wakeup maxproc command
127.0.0.1:$listen inet n - n - - smtpd
pickup     unix  n - n 60 1 pickup
cleanup    unix  n - n - 0 cleanup
qmgr       unix  n - n 300 1 qmgr
rewrite    unix  - - n - - trivial-rewrite
bounce     unix  - - n - 0 bounce
defer      unix  - - n - 0 bounce
trace      unix  - - n - 0 bounce
verify     unix  - - n - 1 verify
flush      unix  n - n 1000? 0 flush
proxymap   unix  - - n - - proxymap
smtp       unix  - - n - - smtp
relay      unix  - - n - - smtp
showq      unix  n - n - - showq
error      unix  - - n - - error
retry      unix  - - n - - error
discard    unix  - - n - - discard
anvil      unix  - - n - 1 anvil
scache     unix  - - n - 1 scache
postlog    unix-dgram n - n - 1 postlogd
EOF
}

# Waits until the SMTP port greets with 220.
wait_smtp() {
  local port=$1 i
  for ((i = 0; i < 150; i++)); do
    if timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port && head -c 3 <&3" 2>/dev/null |
      grep -q 220; then
      return 0
    fi
    sleep 0.1
  done
  return 1
}

cmd_start() {
  (($# >= 3 && $# <= 4)) || usage
  local dir=$1 listen=$2 relay=$3 milter=${4:-}
  [[ $(id -u) == 0 ]] || die "must run as root"
  command -v postfix >/dev/null || die "postfix is not installed"
  mkdir -p "$dir/queue" "$dir/data"
  chown postfix: "$dir/data"
  dir=$(cd "$dir" && pwd)
  write_main_cf "$dir" "$listen" "$relay" "$milter"
  write_master_cf "$dir" "$listen"
  touch "$dir/maillog"
  if running "$dir"; then
    postfix -c "$dir" reload >/dev/null 2>&1 || die "reload failed; see $dir/maillog"
  else
    # `postfix check` creates the queue subdirectories with their owners and modes.
    postfix -c "$dir" check 2>>"$dir/maillog" || die "postfix check failed; see $dir/maillog"
    postfix -c "$dir" start >/dev/null 2>>"$dir/maillog" || die "start failed; see $dir/maillog"
  fi
  wait_smtp "$listen" || die "no SMTP greeting on 127.0.0.1:$listen; see $dir/maillog"
  echo "postfix-instance: $dir listening on 127.0.0.1:$listen, relaying to 127.0.0.1:$relay${milter:+, milter $milter}"
}

cmd_stop() {
  (($# == 1)) || usage
  local dir=$1 pid i
  [[ -f $dir/main.cf ]] || return 0
  running "$dir" || return 0
  pid=$(tr -d ' ' <"$dir/queue/pid/master.pid" 2>/dev/null || true)
  postfix -c "$dir" stop >/dev/null 2>&1 || true
  for ((i = 0; i < 100; i++)); do
    running "$dir" || break
    sleep 0.1
  done
  if running "$dir" && [[ -n $pid ]]; then
    kill -9 "$pid" 2>/dev/null || true
  fi
  running "$dir" && die "$dir did not stop"
  return 0
}

cmd_status() {
  (($# == 1)) || usage
  if running "$1"; then
    echo "postfix-instance: $1 running"
  else
    echo "postfix-instance: $1 stopped"
    return 1
  fi
}

case ${1:-} in
start) shift && cmd_start "$@" ;;
stop) shift && cmd_stop "$@" ;;
status) shift && cmd_status "$@" ;;
*) usage ;;
esac

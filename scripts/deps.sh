#!/bin/bash
# Installs the Debian packages heapprof needs, only those missing.
#   scripts/deps.sh            everything (build, tests, demo)
#   scripts/deps.sh PKG...     just these
# Runs apt-get update only when an install fails without it; uses sudo when
# not root. On a system without dpkg it only says what to install.
set -u
pkgs=("$@")
[ ${#pkgs[@]} -gt 0 ] || pkgs=(build-essential g++ cmake pkg-config libunwind-dev zlib1g-dev
    libcmocka-dev golang-go graphviz
    clang libclang-rt-14-dev
    curl python3 sqlite3 strace git redis-server redis-tools libjemalloc2 libgoogle-perftools4 libmimalloc2.0
    prometheus libpython3.11-testsuite)

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "deps: not a Debian system; make sure these (or their equivalents) are installed: ${pkgs[*]}" >&2
    exit 0
fi
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    sudo=(sudo)
fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
install() { "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"; }
if ! install; then
    # Fresh machines and containers often have no package lists yet.
    "${sudo[@]}" apt-get update -q && install || { echo "deps: could not install ${missing[*]}" >&2; exit 1; }
fi

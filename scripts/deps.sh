#!/usr/bin/env bash
# Install what tix needs to build and test, from Debian 12's packages. As root it installs
# what is missing; otherwise it prints the exact command to run.
set -euo pipefail
packages=(gcc make pkg-config libmicrohttpd-dev libcjson-dev libsodium-dev libsqlite3-dev libcurl4-openssl-dev
          python3 python3-pytest)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ]; then
    echo "deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
else
    echo "deps: missing packages: ${missing[*]}" >&2
    echo "deps: run: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi

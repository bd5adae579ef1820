#!/usr/bin/env bash
# Install what `make bench` needs beyond the build deps (scripts/deps.sh), from Debian 12's
# packages: the load generator, the reference server, curl for set-up. As root it installs
# what is missing; otherwise it prints the exact command to run.
set -euo pipefail
packages=(wrk nginx curl python3)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ]; then
    echo "bench deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
else
    echo "bench deps: missing packages: ${missing[*]}" >&2
    echo "bench deps: run: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi

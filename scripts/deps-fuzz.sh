#!/usr/bin/env bash
# Install what `make fuzz` needs on top of scripts/deps.sh: clang and its libFuzzer and
# sanitizer runtimes, from Debian 12's packages. `make run` and `make test` never need these.
# As root it installs what is missing; otherwise it prints the exact command to run.
set -euo pipefail
packages=(clang libclang-rt-14-dev)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ]; then
    echo "deps-fuzz: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
else
    echo "deps-fuzz: missing packages: ${missing[*]}" >&2
    echo "deps-fuzz: run: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi

#!/usr/bin/env bash
# install-packages.sh NAME PACKAGE...: make sure Debian 12 packages are installed, for the
# scripts/deps*.sh and bench/deps.sh wrappers (NAME prefixes their messages). As root it
# installs what is missing; otherwise it prints the exact command to run and exits 1.
set -euo pipefail
name=$1
shift
missing=()
for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ]; then
    echo "$name: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
else
    echo "$name: missing packages: ${missing[*]}" >&2
    echo "$name: run: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi

#!/usr/bin/env bash
# Install what tix needs to build and test, from Debian 12's packages (and, through
# scripts/deps-ops.sh, the OpenAPI meta-schema from npm). As root it installs
# what is missing; otherwise it prints the exact command to run.
set -euo pipefail
"$(dirname "$0")/install-packages.sh" deps gcc make pkg-config libmicrohttpd-dev \
    libcjson-dev libsodium-dev libsqlite3-dev libcurl4-openssl-dev python3 python3-pytest
exec "$(dirname "$0")/deps-ops.sh"

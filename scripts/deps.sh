#!/usr/bin/env bash
# Install what tix needs to build and test, from Debian 12's packages (`make test` adds
# scripts/deps-browser.sh and scripts/deps-ops.sh). As root it installs what is missing;
# otherwise it prints the exact command to run.
set -euo pipefail
# postgresql-15 (its server binaries: the tests start a throwaway cluster, scripts/pg.sh),
# libpq-dev (the PostgreSQL store) and python3-psycopg2 (the tests read a PostgreSQL store);
# nginx, which the multi-node tests put in front of three nodes with deploy/nginx-tix.conf
# (run by the test as its own foreground process: the package's service is not used).
exec "$(dirname "$0")/install-packages.sh" deps gcc make pkg-config libmicrohttpd-dev \
    libcjson-dev libsodium-dev libsqlite3-dev libcurl4-openssl-dev libpq-dev python3 \
    python3-pytest postgresql-15 python3-psycopg2 nginx

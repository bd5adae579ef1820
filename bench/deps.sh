#!/usr/bin/env bash
# Install what `make bench` needs beyond the build deps (scripts/deps.sh), from Debian 12's
# packages: the load generator, the reference server, curl for set-up, and for the PostgreSQL
# scenarios (bench/pg.sh) the server with pgbench (postgresql-15; psql comes with it). As root
# it installs what is missing; otherwise it prints the exact command to run.
set -euo pipefail
exec "$(dirname "$0")/../scripts/install-packages.sh" "bench deps" wrk nginx curl python3 \
    postgresql-15

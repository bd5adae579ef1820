#!/usr/bin/env bash
# pg.sh: a throwaway PostgreSQL cluster for the tests.
#
#   scripts/pg.sh start DIR     initdb a cluster in DIR (made if missing) and start it
#   scripts/pg.sh url DIR       the libpq URL of its `postgres` database (superuser tix)
#   scripts/pg.sh restart DIR   restart it (fast shutdown) and wait until it answers
#   scripts/pg.sh down DIR      stop the server (fast shutdown), keeping DIR; `up` starts it again
#   scripts/pg.sh up DIR
#   scripts/pg.sh stop DIR      stop it and remove DIR
#
# The server listens on a unix socket in DIR only (no TCP port: several clusters on one machine
# never collide) with trust authentication for the local user tix. As root it runs as the
# unprivileged user `postgres` (or `nobody`), since PostgreSQL refuses to run as root.
# For speed on a shared test machine: fsync=off and full_page_writes=off. Commits still wait
# for the WAL to be written, so a server killed or restarted keeps every commit it
# acknowledged; only a crash of the whole machine could lose them. Never for real data.
# With TIX_PG_DURABLE=1 (the benchmark's cluster: bench/pg.sh), `start` makes a new cluster
# durable instead, with the settings of docs/DEPLOY.md: fsync, full_page_writes and
# synchronous_commit on, shared_buffers 1GB, max_wal_size 4GB, checkpoint_timeout 15min,
# wal_compression on.
set -euo pipefail

usage() {
    echo "usage: $0 start|url|restart|down|up|stop DIR" >&2
    exit 2
}
[ $# -eq 2 ] || usage
cmd=$1
dir=$2
port=5432

bindir() {
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -n "$d" ] && [ -x "$d/pg_ctl" ] || {
        echo "pg.sh: no PostgreSQL server binaries (apt-get install postgresql-15)" >&2
        exit 1
    }
    echo "$d"
}

# Run a command as the cluster's owner.
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        local user=postgres
        id "$user" >/dev/null 2>&1 || user=nobody
        runuser -u "$user" -- "$@"
    else
        "$@"
    fi
}

pg_ctl_() {
    as_owner "$(bindir)/pg_ctl" -D "$dir/data" -l "$dir/server.log" "$@"
}

case "$cmd" in
start)
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [ "$(id -u)" -eq 0 ]; then
        owner=postgres
        id "$owner" >/dev/null 2>&1 || owner=nobody
        chown "$owner" "$dir"
        chmod 0755 "$dir"
    fi
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        as_owner "$(bindir)/initdb" -D "$dir/data" -U tix -A trust -E UTF8 --locale=C.UTF-8 \
            >"$dir/initdb.log" 2>&1 || {
            cat "$dir/initdb.log" >&2
            exit 1
        }
        cat >>"$dir/data/postgresql.conf" <<EOF
# scripts/pg.sh: a throwaway cluster for tests
listen_addresses = ''
unix_socket_directories = '$dir'
port = $port
max_connections = 300
log_min_messages = warning
log_min_error_statement = panic
log_line_prefix = '%m [%p] '
EOF
        if [ "${TIX_PG_DURABLE:-0}" = 1 ]; then
            cat >>"$dir/data/postgresql.conf" <<EOF
# TIX_PG_DURABLE=1: durable, with the settings docs/DEPLOY.md gives for production
fsync = on
full_page_writes = on
synchronous_commit = on
shared_buffers = 1GB
max_wal_size = 4GB
checkpoint_timeout = 15min
wal_compression = on
EOF
        else
            cat >>"$dir/data/postgresql.conf" <<EOF
fsync = off
full_page_writes = off
shared_buffers = 64MB
EOF
        fi
    fi
    pg_ctl_ -w -t 60 start >/dev/null || {
        cat "$dir/server.log" >&2
        exit 1
    }
    ;;
url)
    dir=$(cd "$dir" && pwd)
    echo "postgresql://tix@/postgres?host=$dir&port=$port"
    ;;
restart)
    pg_ctl_ -w -t 60 -m fast restart >/dev/null
    ;;
down)
    pg_ctl_ -w -t 60 -m fast stop >/dev/null
    ;;
up)
    pg_ctl_ -w -t 60 start >/dev/null
    ;;
stop)
    if [ -f "$dir/data/postmaster.pid" ]; then pg_ctl_ -w -t 60 -m fast stop >/dev/null || true; fi
    rm -rf "$dir"
    ;;
*)
    usage
    ;;
esac

#!/usr/bin/env bash
# bench/run.sh: tix's benchmark, as `make bench` runs it (after bench/deps.sh and the release
# build of build/tix and build/bench/sqlite_bench). A benchmark is not a test: this measures
# and reports; it never judges a time, and `make test` does not run it.
#
# Protocol, for a 2-core machine:
#   - the server under test is pinned to core 0 (`taskset -c 0`): tix with --threads 1 and a
#     fresh data directory per scenario, then, in the same run, the reference: nginx (one
#     process: master_process off, daemon off) answering the same bytes;
#   - the load generator `wrk -t1 -c64 --latency` is pinned to core 1;
#   - each measurement runs BENCH_SECONDS (10) s after a BENCH_WARMUP_SECONDS (2) s warm-up
#     with the same load;
#   - server CPU per request = (utime + stime of the server process, all its threads, read
#     from /proc/PID/stat before and after the measured run) / the requests wrk completed.
#
# Scenarios: reject (409 on a held seat), parking (libmicrohttpd's cost of parking a request),
# connect (GET /healthz on a new connection for each request: what accepting one costs),
# hold (201 on a new seat of a 1,000,000-seat event), memory (resident bytes per seat and the
# start-up that loads a 1,000,000-seat event),
# seatmap (50,000 seats; plus a conditional GET when tix sends an ETag), mixed (a flash sale),
# stream (10,000 viewers of live seat streams: memory per stream, then the fan-out of holds to
# them: changes delivered, messages per viewer, delay from commit to viewer, and the holds' rate
# and CPU with and without the viewers), and bench/sqlite_bench, the raw SQLite cost of a hold
# (the hold reference adds it to nginx's).
# On PostgreSQL (bench/pg.sh, opt-in: not in the default list; `make bench-pg` runs them):
# hold-pg (durable holds through one tix node against pgbench running the same statements on
# the same server, BENCH_PG_ROUNDS rounds, 5 by default) and hold-pg-3 (three nodes on one
# database, with the feed lag between them, bench/feed_lag.py).
# Prints one table and writes it, with the machine and the versions, to
# bench/results/<date>-<hostname>.md.
#
# Environment: BENCH_SECONDS (10), BENCH_WARMUP_SECONDS (2), BENCH_CONNECTIONS (64),
# BENCH_SQLITE_SECONDS (5, the cap of each SQLite run), BENCH_SCENARIOS (the scenarios to run,
# in order; default "sqlite reject parking connect hold memory seatmap mixed stream"; the hold reference
# needs sqlite first, parking needs reject first; hold-pg and hold-pg-3 are also known),
# BENCH_STREAM_VIEWERS (10000: the viewers of the stream scenario), BENCH_STREAM_HOLDS_PER_S
# (200: its steady hold rate),
# BENCH_ROUNDS (3: reject, parking, connect and hold, the scenarios whose ratios matter, run this
# many times, each round the server and then its reference back to back; the table shows the
# round with the median CPU per request of each row, and the range), BENCH_PERF=1 (profile tix with perf during an extra reject run and an extra hold run, and add
# the profiles to the results), BENCH_BASELINE (a path to another tix binary, an earlier build:
# reject, connect, hold, memory, seatmap and stream then also run it, right after this build in each round, as
# rows "tix before", so that a change is measured before and after in the same run; `make
# bench BASELINE=REV` builds REV's release binary for it with bench/baseline.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

readonly root=$PWD
tix_bin=$root/build/tix # the build under test; the baseline's while its rows run
tix_label=tix           # its name in the table
skip_reference=0        # 1 while the baseline runs: the references ran for this build already
readonly baseline_bin=${BENCH_BASELINE:-}
readonly sqlite_bench_bin=$root/build/bench/sqlite_bench
readonly mhd_bench_bin=$root/build/bench/mhd_bench
readonly lua_dir=$root/bench/wrk
readonly seconds=${BENCH_SECONDS:-10}
readonly warmup_seconds=${BENCH_WARMUP_SECONDS:-2}
readonly connections=${BENCH_CONNECTIONS:-64}
readonly sqlite_seconds=${BENCH_SQLITE_SECONDS:-5}
readonly scenarios=${BENCH_SCENARIOS:-sqlite reject parking connect hold memory seatmap mixed stream}
readonly rounds=${BENCH_ROUNDS:-3}
round=1
readonly admin_token=bench-admin-token
readonly wait_tenths_max=300     # every wait for a server: at most 30 s
readonly stop_tenths_max=150     # a server that has not stopped 15 s after SIGTERM is killed
readonly mixed_held_seats=20     # tech-conference seats held before the mixed run
readonly server_core=0
readonly client_core=1

readonly bench_name=bench
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh" # log, die, free_port, post_json, create_big_event
# shellcheck source=bench/pg.sh
. "$root/bench/pg.sh" # the PostgreSQL scenarios: hold-pg, hold-pg-3

for tool in wrk curl taskset python3 awk; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found: run 'make bench' (it installs it)"
done
nginx_bin=$(command -v nginx 2>/dev/null || echo /usr/sbin/nginx)
[ -x "$nginx_bin" ] || die "nginx not found: run 'make bench' (it installs it)"
[ -x "$tix_bin" ] || die "$tix_bin not built: run 'make bench'"
[ -z "$baseline_bin" ] || [ -x "$baseline_bin" ] || die "BENCH_BASELINE: $baseline_bin is not a binary"
[ -x "$sqlite_bench_bin" ] || die "$sqlite_bench_bin not built: run 'make bench'"
[ -x "$mhd_bench_bin" ] || die "$mhd_bench_bin not built: run 'make bench'"
[ "$(nproc)" -ge 2 ] || log "warning: fewer than 2 cores: server and wrk share core 0"
clk_tck=$(getconf CLK_TCK)

# ---- clean-up: every server this script started is stopped, the temp dir removed ----
work=""
server_pids=()

is_alive() {
    local pid=$1 state
    [ -r "/proc/$pid/stat" ] || return 1
    state=$(sed -E 's/^.*\) ([A-Za-z]).*/\1/' "/proc/$pid/stat" 2>/dev/null) || return 1
    [ "$state" != Z ] && [ "$state" != X ]
}

# stop_server PID: SIGTERM, wait at most 15 s, then SIGKILL; reap it.
stop_server() {
    local pid=$1 i kept=()
    if is_alive "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < stop_tenths_max; i++)); do
            is_alive "$pid" || break
            sleep 0.1
        done
        if is_alive "$pid"; then
            log "process $pid did not stop within 15 s: killing it"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    wait "$pid" 2>/dev/null || true
    for i in "${server_pids[@]}"; do [ "$i" = "$pid" ] || kept+=("$i"); done
    server_pids=("${kept[@]}")
}

cleanup() {
    local pid
    for pid in "${server_pids[@]}"; do stop_server "$pid"; done
    pg_cleanup # bench/pg.sh: the PostgreSQL cluster, if one was made
    if [ -n "$work" ]; then rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$root/build"
work=$(mktemp -d "$root/build/bench.XXXXXX")

# ---- servers ----

# wait_http URL: until URL answers with any HTTP status (30 s at most).
wait_http() {
    local i code
    for ((i = 0; i < wait_tenths_max; i++)); do
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1" || true)
        [ "$code" != 000 ] && [ -n "$code" ] && return 0
        sleep 0.1
    done
    die "$1 did not answer within 30 s"
}

# start_tix DATA_DIR [OPTION...]: tix on core 0, one HTTP thread, a free port, and the given
# options of `tix serve` (--store URL). Sets tix_pid and tix_url.
start_tix() {
    local data=$1 log_file=$1.log port="" i
    shift
    : >"$log_file" # before the server's own redirection, which runs in the background
    taskset -c "$server_core" "$tix_bin" serve --data "$data" --listen 127.0.0.1:0 --threads 1 \
        --admin-token "$admin_token" "$@" >"$log_file" 2>&1 &
    tix_pid=$!
    server_pids+=("$tix_pid")
    for ((i = 0; i < wait_tenths_max; i++)); do
        port=$(sed -nE 's/.*listening on 127\.0\.0\.1:([0-9]+).*/\1/p' "$log_file" | head -n 1)
        [ -n "$port" ] && break
        is_alive "$tix_pid" || { cat "$log_file" >&2; die "tix exited during start-up"; }
        sleep 0.1
    done
    [ -n "$port" ] || die "tix did not listen within 30 s (log: $log_file)"
    tix_url=http://127.0.0.1:$port
    wait_http "$tix_url/healthz"
}

# start_nginx NAME LOCATIONS: nginx on core 0 as the current user, one process, its prefix,
# pid, temp and log files in the work dir, listening on a free port of 127.0.0.1, with the
# given location blocks. Sets nginx_pid and nginx_url.
start_nginx() {
    local prefix=$work/nginx-$1 locations=$2 port
    mkdir -p "$prefix/tmp" "$prefix/logs"
    port=$(free_port)
    cat >"$prefix/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $prefix/nginx.pid;
error_log $prefix/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    server_tokens off;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 75s;
    keepalive_requests 1000000000;
    client_body_temp_path $prefix/tmp/body;
    proxy_temp_path $prefix/tmp/proxy;
    fastcgi_temp_path $prefix/tmp/fastcgi;
    uwsgi_temp_path $prefix/tmp/uwsgi;
    scgi_temp_path $prefix/tmp/scgi;
    server {
        listen 127.0.0.1:$port;
$locations
    }
}
EOF
    taskset -c "$server_core" "$nginx_bin" -p "$prefix/" -c "$prefix/nginx.conf" \
        -e "$prefix/logs/error.log" >"$prefix/logs/stdout.log" 2>&1 &
    nginx_pid=$!
    server_pids+=("$nginx_pid")
    nginx_url=http://127.0.0.1:$port
    sleep 0.2
    is_alive "$nginx_pid" || { cat "$prefix/logs/"* >&2; die "nginx exited during start-up"; }
    wait_http "$nginx_url/"
}

# start_nginx_returning NAME PATH STATUS BODY_FILE: start_nginx answering PATH with STATUS and
# the bytes of BODY_FILE as application/json: the reference of a tix answer.
start_nginx_returning() {
    start_nginx "$1" "        location = $2 {
            default_type application/json;
            return $3 $(nginx_return_text "$4");
        }"
}

# nginx_return_text FILE: the file's bytes as a single-quoted nginx string.
nginx_return_text() {
    local text
    text=$(<"$1")
    case $text in *'$'*) die "$1 holds a '\$', which nginx's return would expand" ;; esac
    text=${text//\\/\\\\}
    text=${text//\'/\\\'}
    printf "'%s'" "$text"
}

# ---- measurement ----
# Process CPU time in clock ticks: utime + stime of all the threads of PID (fields 14, 15 of
# /proc/PID/stat), or, with "children", cutime + cstime (16, 17): the CPU time of the children
# it has waited for, which is how wrk's own CPU time is read from this shell.
cpu_ticks() {
    local stat
    stat=$(<"/proc/$1/stat")
    stat=${stat##*) }
    # shellcheck disable=SC2086
    set -- $stat ${2:-}
    if [ "${!#}" = children ]; then echo $((${14} + ${15})); else echo $((${12} + ${13})); fi
}

# Busy clock ticks of core N so far (user, nice, system, irq, softirq, steal in /proc/stat):
# what else ran on a core during a run shows how noisy the run was.
core_ticks() {
    awk -v cpu="cpu$1" '$1 == cpu {print $2 + $3 + $4 + $7 + $8 + $9; exit}' /proc/stat
}

# share T0 T1 HZ SECONDS -> "N%": ticks over wall time.
share() {
    awk -v t=$(($2 - $1)) -v hz="$3" -v s="$4" 'BEGIN {printf "%.0f%%", t / hz / s * 100}'
}

# busy_with_other OWN_T0 OWN_T1 CORE_T0 CORE_T1 SECONDS -> "N% (+M% other)"
busy_with_other() {
    local own other
    own=$(share "$1" "$2" "$clk_tck" "$5")
    other=$(awk -v o=$(($2 - $1)) -v c=$(($4 - $3)) -v hz="$clk_tck" -v s="$5" \
        'BEGIN {x = (c - o) / hz / s * 100; if (x < 0) x = 0; printf "%.0f%%", x}')
    echo "$own (+$other other)"
}

# Rows of the table, in order; cpu_of/rps_of by "scenario/server" for the ratios.
rows=()
declare -A cpu_of rps_of
raw_outputs=$work/wrk-outputs.txt
: >"$raw_outputs"

# add_row SCENARIO SERVER RPS P50 P99 CPU_US CORE_PCT WRK_CORE_PCT RESPONSES REFERENCE
# REFERENCE: the "scenario/server" key of the row this one is divided by, "(...)" for a
# reference row (shown as is), or "-" for none.
add_row() {
    rows+=("$(printf '%s\t' "$@")")
    if [ "$6" != "-" ]; then cpu_of["$1/$2"]=$6; fi
    if [ "$3" != "-" ]; then rps_of["$1/$2"]=$3; fi
}

# measure SCENARIO SERVER PID URL REFERENCE_KEY [SCRIPT [ARGS...]]: warm up, then the measured
# run; adds a row. The warm-up gets warmup_args instead of ARGS when that array is set; when
# measure_hook names a function, it is called with "begin" right before the measured run and
# with "end" right after it (both are reset after each call).
warmup_args=()
measure_hook=""
measure() {
    local scenario=$1 server=$2 pid=$3 url=$4 ref=$5 script=${6:-}
    shift 5
    [ $# -gt 0 ] && shift
    local script_opt=() out=$work/wrk.out before after
    [ -n "$script" ] && script_opt=(-s "$lua_dir/$script")
    local warm=("$@")
    [ ${#warmup_args[@]} -gt 0 ] && warm=("${warmup_args[@]}")
    warmup_args=()
    local hook=$measure_hook
    measure_hook=""
    log "$scenario: $server: warm-up ${warmup_seconds}s, then ${seconds}s"
    taskset -c "$client_core" wrk -t1 -c"$connections" -d"${warmup_seconds}s" --timeout 10s \
        "${script_opt[@]}" "$url" -- "${warm[@]}" >/dev/null 2>&1 || true
    is_alive "$pid" || die "$server died during the $scenario warm-up"
    local wrk_before wrk_after core0_before core0_after core1_before core1_after
    before=$(cpu_ticks "$pid")
    wrk_before=$(cpu_ticks $$ children)
    core0_before=$(core_ticks "$server_core")
    core1_before=$(core_ticks "$client_core")
    [ -z "$hook" ] || "$hook" begin
    taskset -c "$client_core" wrk -t1 -c"$connections" -d"${seconds}s" --timeout 10s --latency \
        "${script_opt[@]}" "$url" -- "$@" >"$out" 2>&1 || true
    [ -z "$hook" ] || "$hook" end
    core0_after=$(core_ticks "$server_core")
    core1_after=$(core_ticks "$client_core")
    wrk_after=$(cpu_ticks $$ children)
    is_alive "$pid" || die "$server died during the $scenario run"
    after=$(cpu_ticks "$pid")
    { echo "## $scenario / $server (round $round)"; cat "$out"; echo; } >>"$raw_outputs"

    local requests run_s rps p50 p99 statuses non2xx errors cpu_us core_pct wrk_pct responses
    local bytes_per_response
    requests=$(awk '/ requests in /{print $1; exit}' "$out")
    run_s=$(awk '/ requests in /{sub(/s,$/, "", $4); print $4; exit}' "$out")
    bytes_per_response=$(awk -v n="$requests" '/ requests in /{
        v = $5; u = v; sub(/[A-Za-z]+$/, "", v); sub(/^[0-9.]+/, "", u)
        m = (u == "KB") ? 1024 : (u == "MB") ? 1048576 : (u == "GB") ? 1073741824 : 1
        if (n > 0) printf "%.0f", v * m / n; exit }' "$out")
    rps=$(awk '/^Requests\/sec:/{printf "%.0f", $2; exit}' "$out")
    p50=$(awk '$1 == "50%" {print $2; exit}' "$out")
    p99=$(awk '$1 == "99%" {print $2; exit}' "$out")
    statuses=$(sed -n 's/^statuses: //p' "$out")
    non2xx=$(awk '/Non-2xx or 3xx responses:/{print $NF; exit}' "$out")
    errors=$(awk '/Socket errors:/{sub(/^ *Socket errors: */, ""); print; exit}' "$out")
    if [ -z "$requests" ] || [ "$requests" = 0 ] || [ -z "$run_s" ]; then
        cat "$out" >&2
        log "$scenario: $server: wrk completed no request"
        add_row "$scenario" "$server" - - - - - - "no request completed" "$ref"
        return 0
    fi
    cpu_us=$(awk -v t=$((after - before)) -v hz="$clk_tck" -v n="$requests" \
        'BEGIN {printf "%.1f", t / hz * 1e6 / n}')
    core_pct=$(busy_with_other "$before" "$after" "$core0_before" "$core0_after" "$run_s")
    wrk_pct=$(busy_with_other "$wrk_before" "$wrk_after" "$core1_before" "$core1_after" "$run_s")
    if [ -n "$statuses" ]; then
        responses=$statuses
    else
        responses="non-2xx/3xx: ${non2xx:-0} of $requests"
    fi
    responses+=", ${bytes_per_response:-?} B/response"
    case $errors in
    "" | "connect 0, read 0, write 0, timeout 0") ;;
    *) responses+="; socket errors: $errors" ;;
    esac
    add_row "$scenario" "$server" "$rps" "${p50:--}" "${p99:--}" "$cpu_us" "$core_pct" \
        "$wrk_pct" "$responses" "$ref"
}

# profile_tix SCENARIO PID URL SCRIPT [ARGS...]: an extra run of SCENARIO's load (not in the
# table) with perf stat and perf record attached to tix; its flat profile goes to the results.
perf_report=$work/perf.txt
profile_tix() {
    local scenario=$1 pid=$2 url=$3 script=$4
    shift 4
    command -v perf >/dev/null 2>&1 || { log "BENCH_PERF=1 but perf is not installed"; return 0; }
    log "$scenario: tix: profiling with perf for ${seconds}s (extra run, not in the table)"
    taskset -c "$client_core" wrk -t1 -c"$connections" -d"$((seconds + 2))s" \
        -s "$lua_dir/$script" "$url" -- "$@" >"$work/perf-wrk.out" 2>&1 &
    local wrk_pid=$!
    sleep 1
    perf stat -e task-clock,context-switches,cpu-migrations,page-faults -p "$pid" \
        -o "$work/perf-stat.txt" -- sleep "$seconds" >/dev/null 2>&1 &
    local stat_pid=$!
    perf record -F 999 -e cpu-clock -g -p "$pid" -o "$work/perf.data" -- sleep "$seconds" \
        >/dev/null 2>&1 || log "perf record failed"
    wait "$stat_pid" || true
    wait "$wrk_pid" || true
    {
        echo "### $scenario"
        echo
        echo '```'
        echo "perf stat -p <tix> during ${seconds}s of the $scenario load:"
        grep -E 'task-clock|context-switches|cpu-migrations|page-faults' "$work/perf-stat.txt" ||
            true
        grep -E ' requests in ' "$work/perf-wrk.out" | sed 's/^ */wrk: /' || true
        echo
        echo "perf report (flat, self time, >= 1%):"
        perf report -i "$work/perf.data" --stdio --no-children --sort dso,symbol -g none \
            --percent-limit 1 2>/dev/null | grep -vE '^#|^$' | sed -E 's/[ -]+$//' |
            head -n 40 || true
        echo '```'
        echo
    } >>"$perf_report"
}

# ---- scenarios ----

scenario_reject() {
    local data=$work/reject-$round-${tix_label// /-} # the baseline's own: its schema may be older
    "$tix_bin" seed --data "$data" >"$data.seed.log" 2>&1 || die "reject: $tix_label's seed failed: $(tail -n 3 "$data.seed.log")"
    start_tix "$data"
    local reserve='{"event_id":"nba-finals","seat_id":"A1","user_id":"holder"}'
    post_json "$tix_url/reserve" "$reserve" >/dev/null
    [ "$http_status" = 201 ] || die "reject: holding A1: HTTP $http_status"
    post_json "$tix_url/reserve" "$reserve" >"$work/reject.body"
    [ "$http_status" = 409 ] || die "reject: second hold of A1: HTTP $http_status, not 409"
    log "reject: tix answers 409 $(cat "$work/reject.body")"
    measure reject "$tix_label" "$tix_pid" "$tix_url/reserve" reject/nginx reject.lua nba-finals A1
    if [ "${BENCH_PERF:-0}" = 1 ] && [ "$round" = 1 ] && [ "$skip_reference" = 0 ]; then
        profile_tix reject "$tix_pid" "$tix_url/reserve" reject.lua nba-finals A1
    fi
    stop_server "$tix_pid"
    [ "$skip_reference" = 0 ] || return 0

    start_nginx_returning reject /reserve 409 "$work/reject.body"
    post_json "$nginx_url/reserve" "$reserve" >"$work/reject.nginx.body"
    if [ "$http_status" != 409 ] || ! cmp -s "$work/reject.body" "$work/reject.nginx.body"; then
        die "reject: nginx does not answer tix's 409 bytes"
    fi
    measure reject nginx "$nginx_pid" "$nginx_url/reserve" "(ref)" reject.lua nba-finals A1
    stop_server "$nginx_pid"
}

# connect: GET /healthz with a new connection for every request (bench/wrk/connect.lua), tix
# against nginx answering the same bytes: what accepting a connection costs. tix's acceptor
# thread peeks at each new connection's first bytes and hands it to a libmicrohttpd daemon
# (src/http/accept.h); kept-alive connections (the other scenarios) pay that once.
scenario_connect() {
    local data=$work/connect-$round-${tix_label// /-}
    "$tix_bin" seed --data "$data" >"$data.seed.log" 2>&1 || die "connect: $tix_label's seed failed: $(tail -n 3 "$data.seed.log")"
    start_tix "$data"
    curl -s -o "$work/healthz.body" -w '%{http_code}' "$tix_url/healthz" >"$work/healthz.status"
    [ "$(cat "$work/healthz.status")" = 200 ] || die "connect: GET /healthz: HTTP $(cat "$work/healthz.status")"
    measure connect "$tix_label" "$tix_pid" "$tix_url/healthz" connect/nginx connect.lua
    stop_server "$tix_pid"
    rm -rf "$data"
    [ "$skip_reference" = 0 ] || return 0
    start_nginx_returning connect /healthz 200 "$work/healthz.body"
    measure connect nginx "$nginx_pid" "$nginx_url/healthz" "(ref)" connect.lua
    stop_server "$nginx_pid"
}

# parking: what libmicrohttpd charges for parking a request (MHD_suspend_connection, then
# MHD_resume_connection), which every durable write in tix pays while the group commit syncs:
# bench/mhd_bench answers tix's 409 bytes (from the reject scenario) on core 0, at once and
# then after parking each request; the same wrk load as reject. "CPU vs ref" of the parked row
# is against the unparked one; the difference in µs is the cost of a park.
start_mhd_bench() { # start_mhd_bench PARK -> mhd_pid, mhd_url
    local port
    port=$(free_port)
    taskset -c "$server_core" "$mhd_bench_bin" --port "$port" --status 409 \
        --body "$work/reject.body" --park "$1" >"$work/mhd_bench.log" 2>&1 &
    mhd_pid=$!
    server_pids+=("$mhd_pid")
    mhd_url=http://127.0.0.1:$port
    wait_http "$mhd_url/"
}

scenario_parking() {
    [ -s "$work/reject.body" ] || die "parking: run the reject scenario first (its 409 body)"
    start_mhd_bench 0
    measure parking "libmicrohttpd" "$mhd_pid" "$mhd_url/reserve" "(ref)" reject.lua nba-finals A1
    stop_server "$mhd_pid"
    start_mhd_bench 1
    measure parking "libmicrohttpd parked" "$mhd_pid" "$mhd_url/reserve" parking/libmicrohttpd \
        reject.lua nba-finals A1
    stop_server "$mhd_pid"
}

scenario_hold() {
    local data=$work/hold-$round-${tix_label// /-} b100
    # the SQLite part of the reference, measured again next to this round's servers
    taskset -c "$server_core" "$sqlite_bench_bin" --dir "$work" --seconds 2 \
        >"$work/sqlite-round.out"
    b100=$(sed -nE 's/.*batch=100 .*cpu_us_per_update=([0-9.]+).*/\1/p' "$work/sqlite-round.out")
    start_tix "$data"
    create_big_event "$tix_url"
    # one hold on the last seat, outside the walked range: the 201 body nginx will answer
    post_json "$tix_url/reserve" \
        '{"event_id":"bench-arena","seat_id":"ALL1000","user_id":"buyer999999"}' >"$work/hold.body"
    [ "$http_status" = 201 ] || die "hold: HTTP $http_status: $(cat "$work/hold.body")"
    warmup_args=(0)
    measure hold "$tix_label" "$tix_pid" "$tix_url/reserve" "hold/reference" hold.lua 200000
    if [ "${BENCH_PERF:-0}" = 1 ] && [ "$round" = 1 ] && [ "$skip_reference" = 0 ]; then
        profile_tix hold "$tix_pid" "$tix_url/reserve" hold.lua 500000
    fi
    stop_server "$tix_pid"
    rm -rf "$data"
    [ "$skip_reference" = 0 ] || return 0

    start_nginx_returning hold /reserve 201 "$work/hold.body"
    warmup_args=(0)
    measure hold nginx "$nginx_pid" "$nginx_url/reserve" "(part of ref)" hold.lua 200000
    stop_server "$nginx_pid"
    local nginx_cpu=${cpu_of[hold/nginx]:-}
    if [ -n "$nginx_cpu" ] && [ -n "$b100" ]; then
        add_row hold reference - - - \
            "$(awk -v a="$nginx_cpu" -v b="$b100" 'BEGIN {printf "%.1f", a + b}')" \
            - - "nginx + SQLite at batch 100: $nginx_cpu + $b100" "(ref)"
    fi
}

# memory: tix's resident memory (VmRSS) empty and with bench-arena (1,000,000 seats) loaded,
# and the start-up that loads it again: from exec to the first answer of /healthz.
memory_out=$work/memory.txt
memory_before_out=$work/memory-before.txt
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
scenario_memory() {
    local data=$work/memory-$tix_label empty_kb loaded_kb restarted_kb started ended out=$memory_out
    [ "$skip_reference" = 0 ] || out=$memory_before_out
    start_tix "$data"
    empty_kb=$(rss_kb "$tix_pid")
    create_big_event "$tix_url"
    sleep 1 # let the writer and the seat map settle
    loaded_kb=$(rss_kb "$tix_pid")
    stop_server "$tix_pid"
    started=$(date +%s.%N)
    start_tix "$data"
    ended=$(date +%s.%N)
    restarted_kb=$(rss_kb "$tix_pid")
    stop_server "$tix_pid"
    rm -rf "$data"
    {
        echo "| measure | value |"
        echo "| --- | ---: |"
        echo "| resident, empty | $((empty_kb / 1024)) MiB ($empty_kb kB) |"
        echo "| resident, bench-arena created (1,000,000 seats) | $((loaded_kb / 1024)) MiB ($loaded_kb kB) |"
        awk -v a="$empty_kb" -v b="$loaded_kb" \
            'BEGIN {printf "| per seat, in all | %.1f bytes |\n", (b - a) * 1024 / 1000000}'
        echo "| resident after a restart that loaded it | $((restarted_kb / 1024)) MiB ($restarted_kb kB) |"
        awk -v a="$started" -v b="$ended" \
            'BEGIN {printf "| start-up with it, exec to the first /healthz answer | %.2f s |\n", b - a}'
    } >"$out"
    log "memory ($tix_label): $(tr '\n' ' ' <"$out")"
}

scenario_seatmap() {
    local data=$work/seatmap-$tix_label www=$work/www tix_etag nginx_etag
    "$tix_bin" seed --data "$data" >"$data.seed.log" 2>&1 || die "seatmap: $tix_label's seed failed: $(tail -n 3 "$data.seed.log")"
    start_tix "$data"
    mkdir -p "$www/events/stadium-tour"
    local file=$www/events/stadium-tour/seats
    local code
    code=$(curl -s -D "$work/seatmap.headers" -o "$file" -w '%{http_code}' --max-time 60 \
        "$tix_url/events/stadium-tour/seats")
    [ "$code" = 200 ] || die "seatmap: HTTP $code"
    log "seatmap: $(wc -c <"$file") bytes"
    tix_etag=$(sed -nE 's/^[Ee][Tt][Aa][Gg]: *(.*)\r?$/\1/p' "$work/seatmap.headers" | tr -d '\r')
    measure seatmap "$tix_label" "$tix_pid" "$tix_url/events/stadium-tour/seats" seatmap/nginx
    if [ -n "$tix_etag" ]; then
        log "seatmap: tix's ETag: $tix_etag"
        measure "seatmap 304" "$tix_label" "$tix_pid" "$tix_url/events/stadium-tour/seats" \
            "seatmap 304/nginx" conditional.lua "$tix_etag"
    else
        log "seatmap: tix sends no ETag"
        add_row "seatmap 304" "$tix_label" - - - - - - "no ETag" -
    fi
    stop_server "$tix_pid"
    [ "$skip_reference" = 0 ] || return 0

    start_nginx seatmap "        location = /events/stadium-tour/seats {
            default_type application/json;
            root $www;
        }"
    curl -s -D "$work/seatmap.nginx.headers" -o "$work/seatmap.nginx.body" --max-time 60 \
        "$nginx_url/events/stadium-tour/seats"
    cmp -s "$file" "$work/seatmap.nginx.body" || die "seatmap: nginx does not serve tix's bytes"
    nginx_etag=$(sed -nE 's/^[Ee][Tt][Aa][Gg]: *(.*)\r?$/\1/p' "$work/seatmap.nginx.headers" |
        tr -d '\r')
    measure seatmap nginx "$nginx_pid" "$nginx_url/events/stadium-tour/seats" "(ref)"
    measure "seatmap 304" nginx "$nginx_pid" "$nginx_url/events/stadium-tour/seats" "(ref)" \
        conditional.lua "$nginx_etag"
    stop_server "$nginx_pid"
}

scenario_mixed() {
    local data=$work/mixed seats=() seat
    "$tix_bin" seed --data "$data" >"$data.seed.log" 2>&1 || die "mixed: seed failed: $(tail -n 3 "$data.seed.log")"
    start_tix "$data"
    create_big_event "$tix_url"
    mapfile -t seats < <(curl -s --max-time 30 "$tix_url/events/tech-conference/seats" |
        grep -oE '"id":"[A-Za-z0-9]+"' | sed -E 's/"id":"(.*)"/\1/' | head -n "$mixed_held_seats")
    [ ${#seats[@]} -gt 0 ] || die "mixed: no seat of tech-conference found"
    for seat in "${seats[@]}"; do # one buyer per seat: tix caps the seats of one buyer
        post_json "$tix_url/reserve" \
            "{\"event_id\":\"tech-conference\",\"seat_id\":\"$seat\",\"user_id\":\"early-$seat\"}" \
            >/dev/null
        [ "$http_status" = 201 ] || die "mixed: holding $seat: HTTP $http_status"
    done
    measure mixed tix "$tix_pid" "$tix_url/" - mixed.lua "${seats[@]}"
    stop_server "$tix_pid"
}

# stream: live seat streams (GET /events/{id}/stream) on bench-arena. bench/stream_viewers.py
# (one Python process, epoll, on core 1) holds the viewers; hold_paced.lua (wrk) makes the seat
# changes. First a tix without viewers: holds at BENCH_STREAM_HOLDS_PER_S, then as fast as it
# takes them. Then a fresh tix: BENCH_STREAM_VIEWERS viewers opened (resident memory before and
# after, the time until each got its first frame, tix_streams_open from /metrics, tix's CPU
# while they sit idle); holds as fast as tix takes them on another event (bench-arena-2: what
# parked viewers cost the write path without any fan-out); then the two hold loads on
# bench-arena with the viewers watching, each a window of the viewers: seat changes delivered,
# messages per viewer, the delay from commit to viewer.
readonly stream_viewers=${BENCH_STREAM_VIEWERS:-10000}
readonly stream_holds_per_s=${BENCH_STREAM_HOLDS_PER_S:-200}
readonly stream_idle_seconds=5 # tix's CPU with every viewer open and nothing happening
readonly stream_drain_seconds=3 # after a window, for the changes committed before its end
readonly bench_arena_ttl_ms=$((86400 * 1000)) # create_big_event's hold_ttl_s
stream_out=$work/stream.txt
viewers_pid=""
viewers_out=$work/stream-viewers.out

# viewers_start URL AFTER: the viewer client on core 1, VIEWERS viewers of bench-arena after
# position AFTER, commands through a FIFO (fd viewers_ctl). Waits for its `open` line.
viewers_start() {
    local port=${1##*:} fifo=$work/stream-viewers.ctl
    rm -f "$fifo"
    mkfifo "$fifo"
    exec {viewers_ctl}<>"$fifo"
    : >"$viewers_out"
    taskset -c "$client_core" /usr/bin/python3 "$root/bench/stream_viewers.py" --port "$port" \
        --event bench-arena --after "$2" --viewers "$stream_viewers" \
        --ttl-ms "$bench_arena_ttl_ms" --control "$fifo" >"$viewers_out" 2>"$work/stream-viewers.err" &
    viewers_pid=$!
    server_pids+=("$viewers_pid")
    viewers_line open 180 >/dev/null
}

# viewers_line PREFIX TIMEOUT_S: the viewer client's first output line starting with PREFIX.
viewers_line() {
    local i
    for ((i = 0; i < $2 * 10; i++)); do
        if grep -q "^$1 " "$viewers_out"; then
            grep "^$1 " "$viewers_out" | head -n 1
            return 0
        fi
        is_alive "$viewers_pid" || { cat "$work/stream-viewers.err" >&2; die "stream_viewers exited"; }
        sleep 0.1
    done
    die "stream: no '$1' report from the viewers within $2 s"
}

# value LINE KEY: the value of key=value in a report line of the viewers ("-" if absent).
value() { sed -nE "s/^(.* )?$2=([^ ]*).*$/\2/p" <<<"$1" | grep . || echo -; }

# The measure hook of the runs with viewers: a window of the viewers around the measured run,
# and their client's CPU meanwhile (viewers_cpu: ticks).
stream_window=""
viewers_window() {
    if [ "$1" = begin ]; then
        viewers_cpu=$(cpu_ticks "$viewers_pid")
        echo "begin $stream_window" >&"$viewers_ctl"
    else
        echo "end $stream_window $stream_drain_seconds" >&"$viewers_ctl"
        viewers_cpu=$(($(cpu_ticks "$viewers_pid") - viewers_cpu))
    fi
}

# stream_open DATA_DIR: a fresh tix with bench-arena and the viewers open on it; the figures of
# the opening and of the idle viewers in stream_fig.
declare -A stream_fig
stream_open() {
    local limits=() after t0 t1
    if [ "$stream_viewers" -gt 10000 ]; then # beyond tix's defaults
        limits=(--max-streams "$stream_viewers" --max-connections $((stream_viewers + 1024)))
    fi
    start_tix "$1" "${limits[@]}"
    create_big_event "$tix_url"
    create_big_event "$tix_url" bench-arena-2
    sleep 1 # let the writer and the seat map settle
    after=$(curl -s --max-time 30 "$tix_url/events/bench-arena/seats?status=sold" |
        sed -nE 's/.*"position":([0-9]+).*/\1/p')
    [ -n "$after" ] || die "stream: no position in bench-arena's seat map"
    stream_fig[rss_before_kb]=$(rss_kb "$tix_pid")
    t0=$(cpu_ticks "$tix_pid")
    log "stream: opening $stream_viewers viewers of bench-arena after position $after"
    viewers_start "$tix_url" "$after"
    stream_fig[open_cpu_ticks]=$(($(cpu_ticks "$tix_pid") - t0))
    stream_fig[open]=$(viewers_line open 1)
    log "stream: $(viewers_line open 1)"
    sleep 1
    stream_fig[rss_after_kb]=$(rss_kb "$tix_pid")
    stream_fig[metrics_open]=$(curl -s --max-time 10 -H "Authorization: Bearer $admin_token" \
        "$tix_url/metrics" | awk '$1 == "tix_streams_open" {print $2}')
    t0=$(cpu_ticks "$tix_pid")
    sleep "$stream_idle_seconds"
    t1=$(cpu_ticks "$tix_pid")
    stream_fig[idle_core]=$(share "$t0" "$t1" "$clk_tck" "$stream_idle_seconds")
}

# stream_fanout NAME SCENARIO SERVER REFERENCE_KEY SCRIPT ARGS...: a measured hold run (its
# warm-up from warmup_args) inside a window NAME of the viewers; its report in stream_fig[NAME].
stream_fanout() {
    local name=$1 scenario=$2 server=$3 ref=$4
    shift 4
    stream_window=$name
    measure_hook=viewers_window
    measure "$scenario" "$server" "$tix_pid" "$tix_url/reserve" "$ref" "$@"
    stream_fig[$name]=$(viewers_line "window $name" $((stream_drain_seconds + 30)))
    stream_fig[$name.client_core]=$(share 0 "$viewers_cpu" "$clk_tck" "$seconds")
    log "stream: ${stream_fig[$name]}"
}

scenario_stream() {
    local data=$work/stream-$tix_label paced="stream holds $stream_holds_per_s/s"
    local max="stream holds, max"
    start_tix "$data-alone"
    create_big_event "$tix_url"
    warmup_args=(0 "$stream_holds_per_s")
    measure "$paced" "$tix_label" "$tix_pid" "$tix_url/reserve" - hold_paced.lua 100000 \
        "$stream_holds_per_s"
    warmup_args=(300000)
    measure "$max" "$tix_label" "$tix_pid" "$tix_url/reserve" - hold.lua 400000
    stop_server "$tix_pid"
    rm -rf "$data-alone"

    stream_open "$data"
    local with="$tix_label + $stream_viewers viewers"
    warmup_args=(300000 bench-arena-2)
    stream_fanout idle "$max" "$tix_label + $stream_viewers idle viewers (of bench-arena)" \
        "$max/$tix_label" hold.lua 400000 bench-arena-2
    warmup_args=(0 "$stream_holds_per_s")
    stream_fanout paced "$paced" "$with" "$paced/$tix_label" hold_paced.lua 100000 \
        "$stream_holds_per_s"
    warmup_args=(300000)
    stream_fanout max "$max" "$with" "$max/$tix_label" hold.lua 400000
    echo quit >&"$viewers_ctl"
    stop_server "$viewers_pid"
    exec {viewers_ctl}>&-
    stop_server "$tix_pid"
    rm -rf "$data"
    stream_report "$paced" "$max" >>"$stream_out"
}

# stream_report PACED_SCENARIO MAX_SCENARIO: the stream scenario's table for this build.
stream_report() {
    local with="$tix_label + $stream_viewers viewers" open=${stream_fig[open]} name scenario
    local idle="$tix_label + $stream_viewers idle viewers (of bench-arena)"
    echo "| $tix_label, $stream_viewers viewers of bench-arena | |"
    echo "| --- | ---: |"
    awk -v n="$(value "$open" viewers)" -v s="$(value "$open" seconds)" \
        -v e="$(value "$open" errors)" -v t="${stream_fig[open_cpu_ticks]}" -v hz="$clk_tck" \
        -v a="${stream_fig[rss_before_kb]}" -v b="${stream_fig[rss_after_kb]}" 'BEGIN {
        printf "| viewers open (each got its first frame) | %d of '"$stream_viewers"'", n
        printf " in %.2f s (%.0f/s), tix CPU %.0f µs per stream opened; %d errors |\n", s, n / s,
            t / hz * 1e6 / n, e
        printf "| tix resident, before → with the viewers | %.1f → %.1f MiB |\n", a / 1024, b / 1024
        printf "| **per stream** (resident; kernel socket buffers not included) | **%.0f bytes** |\n",
            (b - a) * 1024 / n }'
    echo "| tix_streams_open (GET /metrics) | ${stream_fig[metrics_open]:-?} |"
    echo "| tix CPU, every viewer open and idle (${stream_idle_seconds} s) | ${stream_fig[idle_core]} of core $server_core |"
    echo "| **$2 on another event** (bench-arena-2): holds/s with the idle viewers (without) | ${rps_of[$2/$idle]:--} (${rps_of[$2/$tix_label]:--}) |"
    echo "| tix CPU per hold, with the idle viewers (without) | ${cpu_of[$2/$idle]:--} µs (${cpu_of[$2/$tix_label]:--}) |"
    for name in paced max; do
        scenario=$1
        [ "$name" = paced ] || scenario=$2
        echo "| **$scenario**: holds/s with the viewers (without) | ${rps_of[$scenario/$with]:--} (${rps_of[$scenario/$tix_label]:--}) |"
        echo "| tix CPU per hold, with the viewers (without) | ${cpu_of[$scenario/$with]:--} µs (${cpu_of[$scenario/$tix_label]:--}) |"
        stream_report_window "${stream_fig[$name]}"
        echo "| viewers' client (Python) | ${stream_fig[$name.client_core]} of core $client_core |"
        [ "$name" = paced ] || continue
        # the same rate with and without the viewers: the difference is the fan-out's
        awk -v w="${cpu_of[$scenario/$with]:-0}" -v a="${cpu_of[$scenario/$tix_label]:-0}" \
            -v r="${rps_of[$scenario/$with]:-0}" -v ra="${rps_of[$scenario/$tix_label]:-0}" \
            -v d="$(value "${stream_fig[$name]}" delivered_per_s)" \
            -v m="$(value "${stream_fig[$name]}" msgs_per_viewer_s)" -v n="$stream_viewers" 'BEGIN {
            f = w * r - a * ra # µs of CPU per second
            if (d > 0 && m > 0) printf "| fan-out, tix CPU | %.0f%% of core '"$server_core"': %.1f µs per message per viewer, %.2f µs per change delivered |\n",
                f / 1e4, f / (m * n), f / d }'
    done
    echo
}

# stream_report_window LINE: the rows of one window of the viewers.
stream_report_window() {
    awk -v d="$(value "$1" delivered_per_s)" -v v="$(value "$1" viewers)" \
        -v c="$(value "$1" complete)" 'BEGIN {
        printf "| seat changes delivered, all viewers | %d/s (%.0f/s per viewer; ", d, v ? d / v : 0
        printf "%.2f%% of what the viewers saw committed reached every viewer) |\n", c * 100 }'
    echo "| messages per viewer | $(value "$1" msgs_per_viewer_s)/s (the busiest: $(value "$1" msgs_per_viewer_s_max)/s) |"
    echo "| **delay, commit → viewer: p50 / p99 / max** | **$(value "$1" delay_p50_ms) / $(value "$1" delay_p99_ms) / $(value "$1" delay_max_ms) ms** |"
    echo "| to the viewers | $(value "$1" mb_per_s) MB/s |"
    echo "| reloads / streams closed / errors, so far | $(value "$1" reloads) / $(value "$1" closed) / $(value "$1" errors) |"
}

sqlite_out=$work/sqlite.out
scenario_sqlite() {
    log "sqlite_bench: batches of 1, 100, 1000, up to ${sqlite_seconds}s each"
    taskset -c "$server_core" "$sqlite_bench_bin" --dir "$work" --seconds "$sqlite_seconds" \
        >"$sqlite_out"
}

# ---- the report ----
md_row() { # cells... -> "| a | b |"
    local line="|" cell
    for cell in "$@"; do line+=" $cell |"; done
    echo "$line"
}

ratio() { # ratio A B -> "A/B x" or "-"
    if [ -z "${1:-}" ] || [ -z "${2:-}" ] || [ "$1" = - ] || [ "$2" = - ]; then
        echo "-"
    else
        awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }'
    fi
}

results_table() {
    md_row scenario server "req/s" p50 p99 "CPU µs/req" "CPU vs ref" "req/s vs ref" \
        "server core" "wrk core" responses
    md_row --- --- ---: ---: ---: ---: ---: ---: ---: ---: ---
    local row f
    for row in "${rows[@]}"; do
        IFS=$'\t' read -r -a f <<<"$row"
        local ref=${f[9]} cpu_ratio="-" rps_ratio="-"
        case $ref in
        -) ;;
        "("*) cpu_ratio=$ref rps_ratio=$ref ;;
        *)
            cpu_ratio=$(ratio "${f[5]}" "${cpu_of[$ref]:-}")
            rps_ratio=$(ratio "${f[2]}" "${rps_of[$ref]:-}")
            ;;
        esac
        md_row "${f[0]}" "${f[1]}" "${f[2]}" "${f[3]}" "${f[4]}" "${f[5]}" "$cpu_ratio" \
            "$rps_ratio" "${f[6]}" "${f[7]}" "${f[8]}"
    done
}

sqlite_table() {
    md_row "holds per commit" updates seconds "updates/s" "CPU µs/update" "wall µs/update"
    md_row ---: ---: ---: ---: ---: ---:
    local line
    while read -r line; do
        local batch updates secs ups cpu wall
        batch=$(sed -nE 's/.*batch=([0-9]+).*/\1/p' <<<"$line")
        updates=$(sed -nE 's/.*updates=([0-9]+) .*/\1/p' <<<"$line")
        secs=$(sed -nE 's/.*seconds=([0-9.]+).*/\1/p' <<<"$line")
        ups=$(sed -nE 's/.*updates_per_s=([0-9.]+).*/\1/p' <<<"$line")
        cpu=$(sed -nE 's/.*cpu_us_per_update=([0-9.]+).*/\1/p' <<<"$line")
        wall=$(sed -nE 's/.*wall_us_per_update=([0-9.]+).*/\1/p' <<<"$line")
        md_row "$batch" "$updates" "$secs" "$ups" "$cpu" "$wall"
    done < <(grep 'batch=' "$sqlite_out")
}

git_state() {
    local rev
    if ! rev=$(git -C "$root" rev-parse --short HEAD 2>/dev/null); then
        echo "not a git checkout"
        return
    fi
    if [ -n "$(git -C "$root" status --porcelain -- src 2>/dev/null)" ]; then
        echo "git $rev + uncommitted changes in src/"
    else
        echo "git $rev"
    fi
}

# ---- main ----
started_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
log "work dir $work; server on core $server_core, wrk -t1 -c$connections on core $client_core"

# reduce_rows: one row per scenario/server, the round with the median CPU per request (rows of
# several rounds say so, with their CPU range); cpu_of and rps_of follow the kept rows.
reduce_rows() {
    local -a order=() kept=()
    local -A group=()
    local row key
    for row in "${rows[@]}"; do
        IFS=$'\t' read -r -a f <<<"$row"
        key="${f[0]}/${f[1]}"
        [ -n "${group[$key]+x}" ] || order+=("$key")
        group[$key]+="$row"$'\n'
    done
    for key in "${order[@]}"; do
        local sorted n
        sorted=$(printf '%s' "${group[$key]}" | sort -t$'\t' -k6,6g)
        n=$(grep -c . <<<"$sorted")
        IFS=$'\t' read -r -a f <<<"$(sed -n "$(((n + 1) / 2))p" <<<"$sorted")"
        if [ "$n" -gt 1 ]; then
            local lo hi
            lo=$(head -n 1 <<<"$sorted" | cut -f6)
            hi=$(tail -n 1 <<<"$sorted" | cut -f6)
            f[8]+="; median of $n rounds (CPU µs/req $lo to $hi)"
        fi
        kept+=("$(printf '%s\t' "${f[@]}")")
    done
    rows=()
    cpu_of=()
    rps_of=()
    for row in "${kept[@]}"; do
        IFS=$'\t' read -r -a f <<<"$row"
        add_row "${f[@]}"
    done
}

# run_baseline SCENARIO: the same scenario with the baseline binary (no reference rows).
run_baseline() {
    [ -n "$baseline_bin" ] || return 0
    if [ "$1" = stream ] && ! "$baseline_bin" serve --help 2>&1 | grep -q -- --max-streams; then
        log "stream: the baseline has no live streams: no \"tix before\" rows"
        return 0
    fi
    local own=$tix_bin
    tix_bin=$baseline_bin tix_label="tix before" skip_reference=1
    "scenario_$1"
    tix_bin=$own tix_label=tix skip_reference=0
}

for scenario in $scenarios; do
    case $scenario in
    reject | hold | connect)
        for ((round = 1; round <= rounds; round++)); do
            "scenario_$scenario"
            run_baseline "$scenario"
        done
        round=1
        ;;
    parking)
        for ((round = 1; round <= rounds; round++)); do "scenario_$scenario"; done
        round=1
        ;;
    memory | seatmap | stream)
        "scenario_$scenario"
        run_baseline "$scenario"
        ;;
    sqlite | mixed) "scenario_$scenario" ;;
    hold-pg)
        for ((round = 1; round <= pg_rounds; round++)); do scenario_hold_pg; done
        round=1
        ;;
    hold-pg-3) scenario_hold_pg_3 ;;
    *) die "BENCH_SCENARIOS: unknown scenario '$scenario' (sqlite reject parking connect hold memory seatmap mixed stream hold-pg hold-pg-3)" ;;
    esac
done

reduce_rows

load_after=$(cut -d' ' -f1-3 /proc/loadavg)
cpu_model=$(lscpu 2>/dev/null | sed -nE 's/^Model name: *//p' | head -n 1)
mem_total=$(awk '/^MemTotal:/{printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)
os_name=$(sed -nE 's/^PRETTY_NAME="?([^"]*)"?/\1/p' /etc/os-release 2>/dev/null || true)
fs_type=$(df -T "$work" | awk 'NR == 2 {print $2}')
v_tix=$("$tix_bin" version 2>&1 | head -n 1)
v_nginx=$("$nginx_bin" -v 2>&1 | sed 's/^nginx version: //' | head -n 1)
v_wrk=$({ wrk -v 2>&1 || true; } | head -n 1 | awk '{print $1, $2}')
v_sqlite=$("$sqlite_bench_bin" --version)
v_mhd=$(pkg-config --modversion libmicrohttpd 2>/dev/null || echo unknown)
v_cc=$(${CC:-gcc} --version 2>/dev/null | head -n 1 || echo unknown)

host=$(hostname)
mkdir -p "$root/bench/results"
result_file=$root/bench/results/$(date +%Y-%m-%d)-$host.md
if [ "$scenarios" != "sqlite reject parking hold memory seatmap mixed stream" ]; then
    # a partial run never replaces the day's full results
    result_file=$root/bench/results/$(date +%Y-%m-%d)-$host-${scenarios// /-}.md
fi
{
    echo "# tix benchmark, $started_at, $host"
    echo
    echo "## Machine"
    echo
    echo "- CPU: ${cpu_model:-unknown}, $(nproc) cores; memory $mem_total"
    echo "- kernel: $(uname -r) ($os_name); data directories on $fs_type"
    echo "- load average (1, 5, 15 min): $load_before before, $load_after after"
    if awk -v l="${load_before%% *}" 'BEGIN {exit !(l > 0.5)}'; then
        echo "- the machine was busy before the run (load > 0.5): expect noisy numbers"
    fi
    echo
    echo "## Versions"
    echo
    echo "- tix: $v_tix ($(git_state)), release build (-O2 -g)"
    if [ -n "$baseline_bin" ]; then
        echo "- tix before (rows \"tix before\"): $baseline_bin, $("$baseline_bin" version 2>&1 | head -n 1)"
        [ -f "$baseline_bin.rev" ] && echo "  built from git $(cat "$baseline_bin.rev")"
    fi
    echo "- nginx: $v_nginx; wrk: $v_wrk"
    echo "- SQLite: $v_sqlite; libmicrohttpd: $v_mhd; compiler: $v_cc"
    echo
    if [ ${#rows[@]} -gt 0 ]; then # the protocol of the scenarios other than PostgreSQL's
        echo "## Protocol"
        echo
        echo "Server pinned to core $server_core (tix \`--threads 1\`, fresh data dir per scenario;"
        echo "nginx as one process, \`master_process off\`); \`wrk -t1 -c$connections --latency\`"
        echo "pinned to core $client_core; ${warmup_seconds} s warm-up, then ${seconds} s measured."
        echo "CPU µs/req: the server process's utime + stime (/proc/PID/stat) over the run / requests."
        echo "\"CPU vs ref\" and \"req/s vs ref\": tix divided by the reference row of its scenario."
        echo "\"server core\", \"wrk core\": CPU time of the server, of wrk, over the run's wall time"
        echo "(100% = its core saturated; a server below 100% waits on the client, the disk or locks);"
        echo "\"other\": what else ran on that core meanwhile (other processes of this machine: noise)."
        echo "The hold reference: nginx answering a 201 with a hold-sized body plus SQLite's CPU per"
        echo "update at batch 100 (bench/sqlite_bench, measured again in each hold round)."
        echo "Parking: bench/mhd_bench, libmicrohttpd alone answering tix's 409 bytes, at once and"
        echo "after parking every request (suspend + resume), as tix parks every durable write."
        echo "Connect: GET /healthz on a new connection for each request (Connection: close), tix"
        echo "(its acceptor peeks at each connection and hands it to libmicrohttpd) against nginx."
        echo "reject, parking, connect and hold ran $rounds rounds (server, then its reference, back to back);"
        echo "each row is the round with the median CPU µs/req, its range in the last column."
        echo
    fi
    if [ ${#rows[@]} -gt 0 ]; then
        echo "## Results"
        echo
        results_table
    fi
    pg_report
    if [ -s "$memory_out" ]; then
        echo
        echo "## Memory and start-up (core $server_core)"
        echo
        cat "$memory_out"
    fi
    if [ -s "$memory_before_out" ]; then
        echo
        echo "## Memory and start-up of tix before (core $server_core)"
        echo
        cat "$memory_before_out"
    fi
    if [ -s "$stream_out" ]; then
        echo
        echo "## Live streams (the stream scenario)"
        echo
        echo "bench/stream_viewers.py (one Python process, epoll) on core $client_core holds the"
        echo "viewers of bench-arena; wrk on core $client_core makes the holds (bench/wrk/hold_paced.lua"
        echo "at $stream_holds_per_s/s, then bench/wrk/hold.lua as fast as tix takes them). Delay: a message's"
        echo "arrival at a viewer minus the commit time of each held seat it carries (its expires_at"
        echo "minus the event's hold TTL: the writer batch's clock, as the hold's created_at), in ms."
        echo "The rows \"stream holds\" above are the same loads, without and with the viewers (\"idle"
        echo "viewers\": the holds on bench-arena-2 while the viewers watch bench-arena, no fan-out)."
        echo
        cat "$stream_out"
    fi
    if [ -s "$sqlite_out" ]; then
        echo
        echo "## SQLite alone (bench/sqlite_bench, core $server_core)"
        echo
        sed -nE 's/^sqlite_bench: (SQLite.*)/\1; per update: INSERT hold, conditional UPDATE seat,/p' \
            "$sqlite_out"
        echo "INSERT outbox (tix's statements and tables); seats walked in key order."
        echo
        sqlite_table
    fi
    if [ -s "$perf_report" ]; then
        echo
        echo "## Profiles of tix (BENCH_PERF=1)"
        echo
        cat "$perf_report"
    fi
    echo
    echo "<details><summary>wrk output of every measured run</summary>"
    echo
    echo '```'
    cat "$raw_outputs"
    echo '```'
    echo
    echo "</details>"
} >"$result_file"

echo
[ ${#rows[@]} -eq 0 ] || results_table
[ ! -s "$sqlite_out" ] || { echo; sqlite_table; }
[ ! -s "$stream_out" ] || { echo; cat "$stream_out"; }
pg_report
echo
echo "bench: load average $load_before before, $load_after after"
echo "bench: wrote ${result_file#"$root"/}"

# shellcheck shell=bash disable=SC2154 # the variables of bench/run.sh, which sources this
# bench/pg.sh: the PostgreSQL scenarios of bench/run.sh (sourced by it, after its helpers:
# log, die, start_tix, stop_server, cpu_ticks, core_ticks, post_json, create_big_event).
#
# The cluster: a throwaway one (scripts/pg.sh with TIX_PG_DURABLE=1) made in a temp directory
# once per run and removed at the end: durable (fsync, full_page_writes, synchronous_commit on;
# the settings of docs/DEPLOY.md), on a unix socket, PostgreSQL 15 pinned to core 1 with the
# load generator. Placement on 2 cores: the client of PostgreSQL (tix, or pgbench in its place)
# on core 0, PostgreSQL and the load (wrk; nothing for pgbench, which is its own load) on core
# 1. So tix and pgbench get the same core and PostgreSQL the same other one; wrk's share of
# core 1 counts against tix (shown in the "core 1" column).
#
# hold-pg (BENCH_PG_ROUNDS rounds, default 5, each round's runs back to back; bench-arena and
# pgbench-arena are reset with plain SQL before each run, so every run starts from the same
# state):
#   - tix: one node, `wrk -t1 -c64` of new holds on bench-arena (1,000,000 seats), as `hold`;
#   - pgbench batched: one connection (tix's writer is one connection), one transaction of B
#     holds sent in one pipeline (bench/pgbench/hold.sh B), where B is the mean batch tix's
#     writer made in the same round's run (tix_writer_batch_commands): tix's own pattern;
#   - pgbench per hold: the same one connection, one hold per transaction: tix's writer without
#     its group commit. (64 connections of one hold per transaction, as many holds in flight as
#     wrk's 64, made about 40 holds/s in one 4 s trial on a busy machine: every transaction takes
#     the feed's counter row (dense seqs), so 64 backends queue on one row lock on one core; not
#     a useful reference.)
#   Both run the statements a hold runs (bench/pgbench/hold.sh says which) on pgbench-arena, an
#   event of the same database and tables; after each run every hold's seat is checked taken.
#   With BENCH_BASELINE (make bench-pg BASELINE=REV), the earlier build runs too, right after
#   tix in each round (rows "tix before"), on a database of its own in the same cluster (its
#   schema version may be older than this tix's).
# hold-pg-3: three tix nodes on the database (all on core 0, like one node's share), `wrk -t3
#   -c63`, thread k to node k: total holds/s; meanwhile bench/feed_lag.py (core 1) measures how
#   long a hold acknowledged by one node takes to show on the next one, and once before the
#   load, idle.

readonly pg_core=1
readonly pgbench_event=pgbench-arena
readonly lag_event=lag-probe
readonly pg_rounds=${BENCH_PG_ROUNDS:-5} # hold-pg's rounds (noisy machines need many)
pg_dir=""
pg_url=""
pg_url_before="" # with BENCH_BASELINE: the earlier build's database, in the same cluster
pg_postmaster=""
pg_rows=()       # the hold-pg and hold-pg-3 rows, tab-separated
pg_lag_lines=()  # feed_lag.py's lines, with when they ran
pg_ratio_lines=() # per round: tix's holds/s over each pgbench row's
pg_ratios_batched=() # the same, numbers only, for the medians
pg_ratios_single=()

pg_cleanup() {
    if [ -n "$pg_dir" ]; then
        "$root/scripts/pg.sh" stop "$pg_dir/cluster" >/dev/null 2>&1 || true
        rm -rf "$pg_dir"
        pg_dir=""
    fi
}

pg_sql() { # pg_sql SQL: run it, print the rows (psql -At)
    psql -X -q -At -v ON_ERROR_STOP=1 "$pg_url" -c "$1"
}

# The cluster and the events: bench-arena for tix, pgbench-arena (100 rows AA..DV of 10,000
# seats, bench/pgbench/hold.sh's seat names) and lag-probe (1,000 seats) made through tix.
pg_setup() {
    [ -z "$pg_url" ] || return 0
    command -v pgbench >/dev/null 2>&1 || die "pgbench not found: run 'make bench-pg'"
    pg_dir=$(mktemp -d /tmp/tix-bench-pg.XXXXXX)
    chmod 0755 "$pg_dir" # the cluster's owner (postgres) goes through it
    log "PostgreSQL: a durable cluster in $pg_dir, on core $pg_core"
    TIX_PG_DURABLE=1 taskset -c "$pg_core" "$root/scripts/pg.sh" start "$pg_dir/cluster"
    pg_url=$("$root/scripts/pg.sh" url "$pg_dir/cluster")
    pg_postmaster=$(head -n 1 "$pg_dir/cluster/data/postmaster.pid")
    local setting
    for setting in fsync synchronous_commit full_page_writes; do
        [ "$(pg_sql "SHOW $setting")" = on ] || die "PostgreSQL: $setting is not on"
    done
    start_tix "$work/pg-setup" --store "$pg_url"
    create_big_event "$tix_url"
    pg_create_event "$pgbench_event" "$(awk 'BEGIN { for (r = 0; r < 100; r++)
        printf "%s\"%c%c\"", (r ? "," : ""), 65 + int(r / 26), 65 + r % 26 }')" 10000 100
    pg_create_event "$lag_event" '"A","B","C","D","E","F","G","H","I","J"' 100 10
    stop_server "$tix_pid"
    if [ -n "$baseline_bin" ]; then # its own database: its schema may be older than this tix's
        pg_sql "CREATE DATABASE tix_before" >/dev/null
        pg_url_before=${pg_url/\/postgres\?//tix_before?}
        local own=$tix_bin
        tix_bin=$baseline_bin
        start_tix "$work/pg-setup-before" --store "$pg_url_before"
        tix_bin=$own
        create_big_event "$tix_url"
        stop_server "$tix_pid"
        psql -X -q "$pg_url_before" -c "VACUUM ANALYZE"
    fi
    pg_sql "VACUUM ANALYZE" >/dev/null
}

# pg_create_event ID ROWS_JSON SEATS_PER_ROW MAX_SEATS_PER_HOLD: an event of one section
# through tix (tix_url), ROWS_JSON its row labels ('"A","B"').
pg_create_event() {
    local body="{\"id\":\"$1\",\"name\":\"$1\",\"venue\":\"Bench\","
    body+='"starts_at":"2030-01-01T00:00:00Z","hold_ttl_s":86400,'
    body+="\"max_seats_per_hold\":$4,\"sections\":[{\"name\":\"Floor\",\"rows\":[$2],"
    body+="\"seats_per_row\":$3,\"price_cents\":5000}]}"
    post_json "$tix_url/events" "$body" -H "Authorization: Bearer $admin_token" >/dev/null
    [ "$http_status" = 201 ] || die "creating $1: HTTP $http_status: $(cat "$work/post.out")"
}

# CPU clock ticks of the whole PostgreSQL server so far: the postmaster's own and its exited
# children's (it reaps them: cutime, cstime), plus every live child's.
pg_cpu_ticks() {
    local stat total child
    stat=$(<"/proc/$pg_postmaster/stat")
    stat=${stat##*) }
    # shellcheck disable=SC2086
    set -- $stat
    total=$((${12} + ${13} + ${14} + ${15}))
    for child in $(pgrep -P "$pg_postmaster"); do
        stat=$(cat "/proc/$child/stat" 2>/dev/null) || continue
        stat=${stat##*) }
        # shellcheck disable=SC2086
        set -- $stat
        total=$((total + ${12} + ${13}))
    done
    echo "$total"
}

# pg_backends: the PIDs of the server's processes now, but autovacuum workers (which come and
# go on their own), one a line.
pg_backends() {
    local child
    for child in $(pgrep -P "$pg_postmaster"); do
        grep -qs 'autovacuum worker' "/proc/$child/cmdline" || echo "$child"
    done
}

# pg_wait_backends BEFORE: wait (2 s at most) until no process but those of BEFORE (a list from
# pg_backends) is left: a client's backend still exiting when its client returned would be
# counted neither alive nor in the postmaster's reaped children's time (pg_cpu_ticks).
pg_wait_backends() {
    local i
    for ((i = 0; i < 40; i++)); do
        [ -z "$(comm -13 <(sort <<<"$1") <(pg_backends | sort))" ] && return 0
        sleep 0.05
    done
    log "PostgreSQL: a client's backend had not exited 2 s after its client: its CPU is missed"
}

# metric URL NAME: a sample's value from tix's /metrics.
metric() {
    curl -s --max-time 10 -H "Authorization: Bearer $admin_token" "$1/metrics" |
        awk -v n="$2" '$1 == n {print $2; exit}'
}

# metric_total NAME URL...: the sum of a sample over the nodes.
metric_total() {
    local name=$1 url total=0 v
    shift
    for url in "$@"; do
        v=$(metric "$url" "$name")
        total=$(awk -v a="$total" -v b="${v:-0}" 'BEGIN {printf "%.0f", a + b}')
    done
    echo "$total"
}

per_hold_us() { # per_hold_us TICKS HOLDS -> CPU µs per hold
    awk -v t="$1" -v hz="$clk_tck" -v n="$2" \
        'BEGIN {if (n > 0) printf "%.1f", t / hz * 1e6 / n; else print "-"}'
}

# pg_row SCENARIO CLIENT HOLDS_PER_S P50 P99 HOLDS_PER_TX CLIENT_US PG_US CORE0 CORE1 NOTES
pg_row() { pg_rows+=("$(printf '%s\t' "$@")"); }

# pg_wrk_run SECONDS SCRIPT OUT THREADS CONNECTIONS URL [ARGS...]: the load, on core 1; with
# pg_nodes set ("HOST:PORT ..."), wrk's threads spread over those nodes (hold.lua).
pg_nodes=""
pg_wrk_run() {
    local secs=$1 script=$2 out=$3 threads=$4 conns=$5 url=$6
    shift 6
    BENCH_NODES=$pg_nodes taskset -c "$client_core" wrk -t"$threads" -c"$conns" -d"${secs}s" \
        --timeout 10s --latency -s "$lua_dir/$script" "$url" -- "$@" >"$out" 2>&1 || true
}

# pg_measure_tix SCENARIO LABEL URLS PIDS SCRIPT ARGS...: one measured wrk run against the tix
# nodes (URLS, PIDS: space-separated; wrk goes to the first URL, the script may spread it);
# adds a row; sets pg_batch (the mean commands per batch over the run, all nodes).
pg_measure_tix() {
    local scenario=$1 label=$2 urls=$3 pids=$4 script=$5
    shift 5
    local out=$work/pg-wrk.out url pid threads=1 conns=$connections
    local -a u p
    read -r -a u <<<"$urls"
    read -r -a p <<<"$pids"
    if [ ${#u[@]} -gt 1 ]; then threads=${#u[@]} conns=$((connections / threads * threads)); fi
    local sum0 cnt0 sum1 cnt1 tix0=0 tix1=0
    sum0=$(metric_total tix_writer_batch_commands_sum "${u[@]}")
    cnt0=$(metric_total tix_writer_batch_commands_count "${u[@]}")
    for pid in "${p[@]}"; do tix0=$((tix0 + $(cpu_ticks "$pid"))); done
    local pg0 wrk0 c00 c10
    pg0=$(pg_cpu_ticks) wrk0=$(cpu_ticks $$ children)
    c00=$(core_ticks "$server_core") c10=$(core_ticks "$client_core")
    pg_wrk_run "$seconds" "$script" "$out" "$threads" "$conns" "${u[0]}/reserve" "$@"
    local pg1 wrk1 c01 c11
    c01=$(core_ticks "$server_core") c11=$(core_ticks "$client_core")
    pg1=$(pg_cpu_ticks) wrk1=$(cpu_ticks $$ children)
    for pid in "${p[@]}"; do
        is_alive "$pid" || die "a tix node died during the $scenario run"
        tix1=$((tix1 + $(cpu_ticks "$pid")))
    done
    sum1=$(metric_total tix_writer_batch_commands_sum "${u[@]}")
    cnt1=$(metric_total tix_writer_batch_commands_count "${u[@]}")
    { echo "## $scenario / $label (round $round)"; cat "$out"; echo; } >>"$raw_outputs"
    local requests run_s rps p50 p99 non2xx errors
    requests=$(awk '/ requests in /{print $1; exit}' "$out")
    run_s=$(awk '/ requests in /{sub(/s,$/, "", $4); print $4; exit}' "$out")
    rps=$(awk '/^Requests\/sec:/{printf "%.0f", $2; exit}' "$out")
    p50=$(awk '$1 == "50%" {print $2; exit}' "$out")
    p99=$(awk '$1 == "99%" {print $2; exit}' "$out")
    non2xx=$(awk '/Non-2xx or 3xx responses:/{print $NF; exit}' "$out")
    errors=$(awk '/Socket errors:/{sub(/^ *Socket errors: */, ""); print; exit}' "$out")
    if [ -z "$requests" ] || [ "$requests" = 0 ]; then
        cat "$out" >&2
        pg_row "$scenario" "$label" - - - - - - - - "no request completed"
        pg_batch=1
        return 0
    fi
    local batch_mean
    batch_mean=$(awk -v s="$sum0" -v c="$cnt0" -v S="$sum1" -v C="$cnt1" \
        'BEGIN {if (C > c) printf "%.1f", (S - s) / (C - c); else print "-"}')
    pg_batch=$(awk -v m="$batch_mean" 'BEGIN {v = int(m + 0.5); print (v >= 1 ? v : 1)}')
    [ "$pg_batch" -ge 1 ] || pg_batch=1
    local notes="non-2xx: ${non2xx:-0} of $requests"
    [ -z "$errors" ] || notes+="; socket errors: $errors"
    [ ${#p[@]} -eq 1 ] || notes+="; ${#p[@]} nodes"
    pg_row "$scenario" "$label" "$rps" "${p50:--}" "${p99:--}" \
        "$batch_mean" \
        "$(per_hold_us $((tix1 - tix0)) "$requests")" "$(per_hold_us $((pg1 - pg0)) "$requests")" \
        "$(share "$c00" "$c01" "$clk_tck" "$run_s")" \
        "$(share "$c10" "$c11" "$clk_tck" "$run_s")$(
            echo " (wrk $(share "$wrk0" "$wrk1" "$clk_tck" "$run_s"))")" \
        "$notes"
    pg_last_rps=$rps
}

# pg_reset_event EVENT [DATABASE_URL]: every seat of EVENT free again, its holds ended (so that the buyer-limit
# query of the next run finds none), with plain SQL while no tix node runs (a node loads the
# seats when it starts): each run starts from the same state, on the same seats.
pg_reset_event() { # pg_reset_event EVENT [DATABASE_URL]
    psql -X -q -v ON_ERROR_STOP=1 "${2:-$pg_url}" -c "
        UPDATE seats SET status = 'available', hold_seq = NULL
            WHERE event_id = '$1' AND status <> 'available';
        UPDATE holds SET status = 'released' WHERE event_id = '$1' AND status = 'active'" \
        >/dev/null
}

# pg_pgbench SECONDS CLIENTS HOLDS_PER_TX [measure LABEL]: pgbench on core 0 with hold.sh's
# script, on a reset pgbench-arena (client k walks seats k * 1,000,000 / CLIENTS on); a
# measured run adds a row and checks that each hold took its seat. Sets pg_last_rps (holds/s).
pg_pgbench() {
    local secs=$1 clients=$2 holds=$3 label=${5:-} script=$work/pgbench-$3.sql
    local out=$work/pgbench.out logs=$work/pgbench-log
    "$root/bench/pgbench/hold.sh" "$holds" "$pgbench_event" >"$script"
    local pg0 cl0 c00 c10 standing
    standing=$(pg_backends)
    pg_reset_event "$pgbench_event"
    pg_wait_backends "$standing" # the reset's psql, out of the count
    rm -f "$logs".*
    pg0=$(pg_cpu_ticks) cl0=$(cpu_ticks $$ children)
    c00=$(core_ticks "$server_core") c10=$(core_ticks "$client_core")
    taskset -c "$server_core" pgbench -n -M prepared -c "$clients" -j 1 -T "$secs" \
        -D span=$((1000000 / clients)) -D n=0 -D now="$(date +%s%3N)" -f "$script" \
        ${label:+-l --log-prefix="$logs"} "$pg_url" >"$out" 2>&1 || {
        cat "$out" >&2
        die "pgbench failed"
    }
    local c01 c11 pg1 cl1
    c01=$(core_ticks "$server_core") c11=$(core_ticks "$client_core")
    pg_wait_backends "$standing"
    pg1=$(pg_cpu_ticks) cl1=$(cpu_ticks $$ children)
    local tx
    tx=$(awk '/number of transactions actually processed:/{print $NF; exit}' "$out")
    [ -n "$tx" ] || { cat "$out" >&2; die "pgbench: no transaction count"; }
    [ -n "$label" ] || return 0
    {
        echo "## hold-pg / $label (round $round)"
        grep -vE '^pgbench: (warning|error)' "$out" | head -n 20
        echo
    } >>"$raw_outputs"
    local held holds_done tps rps p50 p99 notes
    held=$(pg_sql "SELECT count(*) FROM seats
                   WHERE event_id = '$pgbench_event' AND status = 'held'")
    holds_done=$((tx * holds))
    tps=$(awk '/^tps = /{print $3; exit}' "$out")
    rps=$(awk -v t="$tps" -v h="$holds" 'BEGIN {printf "%.0f", t * h}')
    # per transaction latencies (µs, the third field of pgbench's log) -> ms
    read -r p50 p99 < <(cat "$logs".* | awk '{print $3}' | sort -n | awk '{v[NR] = $1} END {
        if (NR == 0) { print "- -"; exit }
        i = int(NR * 0.5 + 0.5); j = int(NR * 0.99 + 0.5); if (i < 1) i = 1; if (j < 1) j = 1
        printf "%.2fms %.2fms\n", v[i] / 1000, v[j] / 1000 }')
    notes="$tx transactions of $holds"
    if [ "$held" -ne "$holds_done" ]; then
        notes+="; WARNING: $held seats taken for $holds_done holds"
    fi
    pg_row hold-pg "$label" "$rps" "$p50" "$p99" "$holds" \
        "$(per_hold_us $((cl1 - cl0)) "$holds_done") (pgbench)" \
        "$(per_hold_us $((pg1 - pg0)) "$holds_done")" \
        "$(share "$c00" "$c01" "$clk_tck" "$secs")" "$(share "$c10" "$c11" "$clk_tck" "$secs")" \
        "$notes; latencies per transaction"
    pg_last_rps=$rps
}

scenario_hold_pg() {
    pg_setup
    local data=$work/hold-pg-$round base=0
    pg_reset_event bench-arena
    start_tix "$data" --store "$pg_url"
    log "hold-pg: tix: warm-up ${warmup_seconds}s, then ${seconds}s"
    pg_wrk_run "$warmup_seconds" hold.lua "$work/pg-warm.out" 1 "$connections" \
        "$tix_url/reserve" "$base"
    pg_measure_tix hold-pg tix "$tix_url" "$tix_pid" hold.lua $((base + 50000))
    local tix_rps=${pg_last_rps:-0} batch=$pg_batch
    stop_server "$tix_pid"
    rm -rf "$data"
    if [ -n "$baseline_bin" ]; then # the same run with the earlier build
        local own=$tix_bin
        pg_reset_event bench-arena "$pg_url_before"
        tix_bin=$baseline_bin
        start_tix "$data-before" --store "$pg_url_before"
        tix_bin=$own
        pg_wrk_run "$warmup_seconds" hold.lua "$work/pg-warm.out" 1 "$connections" \
            "$tix_url/reserve" "$base"
        pg_measure_tix hold-pg "tix before" "$tix_url" "$tix_pid" hold.lua $((base + 50000))
        stop_server "$tix_pid"
        rm -rf "$data-before"
    fi
    log "hold-pg: tix's writer made batches of $batch holds on average"
    local label_b="pgbench, 1 connection, $batch holds a transaction (pipelined)"
    log "hold-pg: $label_b: warm-up ${warmup_seconds}s, then ${seconds}s"
    pg_pgbench "$warmup_seconds" 1 "$batch"
    pg_pgbench "$seconds" 1 "$batch" measure "$label_b"
    local batched_rps=${pg_last_rps:-0}
    local label_1="pgbench, 1 connection, 1 hold a transaction"
    log "hold-pg: $label_1: warm-up ${warmup_seconds}s, then ${seconds}s"
    pg_pgbench "$warmup_seconds" 1 1
    pg_pgbench "$seconds" 1 1 measure "$label_1"
    local single_rps=${pg_last_rps:-0}
    pg_ratios_batched+=("$(pg_ratio "$tix_rps" "$batched_rps")")
    pg_ratios_single+=("$(pg_ratio "$tix_rps" "$single_rps")")
    pg_ratio_lines+=("$(awk -v r="$round" -v t="$tix_rps" -v b="$batched_rps" -v s="$single_rps" \
        -v n="$batch" 'BEGIN {
            printf "round %d: tix %d holds/s; against pgbench batched (%d a transaction) %.2fx,", \
                r, t, n, (b > 0 ? t / b : 0)
            printf " against pgbench one hold a transaction %.2fx\n", (s > 0 ? t / s : 0) }')")
}

# pg_lag_start SECONDS URL...: bench/feed_lag.py on core 1, in the background (lag_pid);
# pg_lag_finish LABEL: wait for it and put its line, labelled, into the report.
pg_lag_start() {
    local secs=$1
    shift
    taskset -c "$client_core" python3 "$root/bench/feed_lag.py" --event "$lag_event" \
        --seconds "$secs" --interval-ms 20 "$@" >"$work/feed_lag.out" 2>"$work/feed_lag.err" &
    lag_pid=$!
}
pg_lag_finish() {
    local line
    wait "$lag_pid" || true
    line=$(grep '^feed_lag:' "$work/feed_lag.out" || true)
    [ -s "$work/feed_lag.err" ] && head -n 5 "$work/feed_lag.err" >&2
    pg_lag_lines+=("$1: ${line:-no result}")
    log "feed lag, $1: ${line:-no result}"
}

scenario_hold_pg_3() {
    pg_setup
    local urls=() pids=() k
    pg_reset_event bench-arena
    for k in 1 2 3; do
        start_tix "$work/hold-pg-3-node$k" --store "$pg_url"
        urls+=("$tix_url")
        pids+=("$tix_pid")
        pg_nodes+="${tix_url#http://} "
    done
    pg_lag_start 3 "${urls[@]}"
    pg_lag_finish "idle, 3 nodes"
    local first=400000 stride=100000
    log "hold-pg-3: 3 nodes: warm-up ${warmup_seconds}s, then ${seconds}s with the feed lag probe"
    pg_wrk_run "$warmup_seconds" hold.lua "$work/pg-warm.out" 3 \
        $((connections / 3 * 3)) "${urls[0]}/reserve" $((first - 3 * stride)) bench-arena \
        "$stride"
    pg_lag_start "$seconds" "${urls[@]}"
    pg_measure_tix hold-pg-3 "tix, 3 nodes" "${urls[*]}" "${pids[*]}" hold.lua \
        "$first" bench-arena "$stride"
    pg_lag_finish "under the hold-pg-3 load"
    for k in "${pids[@]}"; do stop_server "$k"; done
    pg_nodes=""
}

pg_ratio() { # pg_ratio A B -> A / B with 2 decimals (0 when B is 0)
    awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}'
}

pg_median_range() { # pg_median_range NUMBER... -> "median (min-max)"
    printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {
        if (NR == 0) { print "-"; exit }
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "%.2f (%.2f-%.2f)", m, v[1], v[NR] }'
}

pg_table() {
    md_row scenario client "holds/s" p50 p99 "holds per transaction" "client CPU µs/hold" \
        "PostgreSQL CPU µs/hold" "core 0" "core 1" notes
    md_row --- --- ---: ---: ---: ---: ---: ---: ---: ---: ---
    local row f
    for row in "${pg_rows[@]}"; do
        IFS=$'\t' read -r -a f <<<"$row"
        md_row "${f[@]:0:11}"
    done
}

# The PostgreSQL part of the results file (nothing when no PostgreSQL scenario ran).
pg_report() {
    [ ${#pg_rows[@]} -gt 0 ] || return 0
    echo
    echo "## PostgreSQL (hold-pg, hold-pg-3)"
    echo
    echo "- PostgreSQL: $(pg_sql 'SHOW server_version' 2>/dev/null || echo '?') on core $pg_core," \
        "a new cluster on $(df -T "${pg_dir:-/tmp}" | awk 'NR == 2 {print $2}'), unix socket;" \
        "durable: fsync, full_page_writes, synchronous_commit on; shared_buffers 1GB," \
        "max_wal_size 4GB, checkpoint_timeout 15min, wal_compression on"
    echo "- tix nodes and pgbench on core $server_core; wrk, the feed lag probe and PostgreSQL" \
        "on core $client_core"
    echo "- holds/s: wrk's requests/s (201s) for tix; pgbench's transactions/s x holds per" \
        "transaction. p50/p99: per request for tix (wrk), per transaction for pgbench (its log)."
    echo "- client CPU: tix's (all nodes) or pgbench's, per hold; PostgreSQL CPU: the whole" \
        "server's (postmaster and every backend), per hold."
    echo
    pg_table
    if [ ${#pg_ratio_lines[@]} -gt 0 ]; then
        echo
        echo "tix against pgbench (holds/s), each round's runs back to back:"
        echo
        local line
        for line in "${pg_ratio_lines[@]}"; do echo "- $line"; done
        echo
        echo "Median over ${#pg_ratio_lines[@]} rounds (range): tix against pgbench batched" \
            "$(pg_median_range "${pg_ratios_batched[@]}")x, against pgbench one hold a" \
            "transaction $(pg_median_range "${pg_ratios_single[@]}")x" \
            "(target: >= 0.7x the batched)."
    fi
    if [ ${#pg_lag_lines[@]} -gt 0 ]; then
        echo
        echo "Feed lag (bench/feed_lag.py: from one node's 201 to the next node's seat map" \
            "showing the hold; a probe every 20 ms, each on the next node):"
        echo
        local line
        for line in "${pg_lag_lines[@]}"; do echo "- $line"; done
    fi
}

#!/usr/bin/env bash
# bench/instructions.sh: user-space instructions per request of tix's reject and hold paths,
# counted by valgrind's callgrind, as `make bench-instructions` runs it.
#
# Why: CPU time per request (make bench) is the figure that matters, but on a machine whose
# speed drifts it cannot show a change of a few per cent. An instruction count does not drift:
# it shows what a change to tix's own code did, run after run. It does not see the kernel
# (system calls, TCP), nor cache misses, nor what an instruction costs (valgrind counts each
# byte of a `rep stos` memset as one), so it complements make bench, never replaces it.
#
# Protocol: tix (release build, --threads 1, fresh data dir) runs under callgrind, one output
# per thread; the counters are zeroed once the data is set up, then `wrk -t1 -cC` loads it for
# S seconds (the same Lua scripts as make bench), the counters are dumped and each thread's
# total is divided by the requests wrk completed. Threads are named by what they run (the HTTP
# thread runs http__on_request, the writer commit__writer); valgrind runs them one at a time,
# about 50x slower, so batches and timings differ from a real run.
#
# Environment: BENCH_SECONDS (10), BENCH_CONNECTIONS (64). Prints a Markdown table (threads
# under 100 instructions per request left out).
set -euo pipefail
cd "$(dirname "$0")/.."

readonly tix_bin=${BENCH_TIX:-$PWD/build/tix} # BENCH_TIX: another build to count
readonly seconds=${BENCH_SECONDS:-10}
readonly connections=${BENCH_CONNECTIONS:-64}
readonly admin_token=bench-admin-token
readonly bench_name=bench-instructions
# shellcheck source=bench/lib.sh
. bench/lib.sh # die, free_port, post_json, create_big_event

for tool in valgrind callgrind_control wrk curl python3; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found: run 'make bench-instructions'"
done
[ -x "$tix_bin" ] || die "$tix_bin not built: run 'make bench-instructions'"

work=$(mktemp -d)
pid=""
cleanup() {
    if [ -n "$pid" ]; then kill -KILL "$pid" 2>/dev/null || true; fi # a server left on error: its figures are void
    rm -rf "$work"
}
trap cleanup EXIT

# start DATA_DIR: tix under callgrind on a free port; sets pid and url.
start() {
    local port
    port=$(free_port)
    valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$work/cg.out" \
        "$tix_bin" serve --data "$1" --listen "127.0.0.1:$port" --threads 1 \
        --admin-token "$admin_token" >"$1.log" 2>&1 &
    pid=$!
    url=http://127.0.0.1:$port
    for _ in $(seq 600); do
        curl -s -o /dev/null --max-time 2 "$url/healthz" && return 0
        sleep 0.1
    done
    die "tix under valgrind did not answer within 60 s (see $1.log)"
}

# measure NAME LUA ARGS...: zero the counters, load, dump; print one row per busy thread.
measure() {
    local name=$1 lua=$2 requests f total label
    shift 2
    rm -f "$work"/cg.out*
    callgrind_control -z "$pid" >/dev/null 2>&1
    wrk -t1 -c"$connections" -d"${seconds}s" -s "bench/wrk/$lua" "$url/reserve" -- "$@" \
        >"$work/wrk.out"
    requests=$(awk '/ requests in /{print $1}' "$work/wrk.out")
    [ "${requests:-0}" -gt 0 ] || die "$name: wrk completed no request"
    callgrind_control -d "$pid" >/dev/null 2>&1
    kill -TERM "$pid"
    wait "$pid" || true
    pid=""
    for f in "$work"/cg.out.1-*; do
        total=$(sed -nE 's/^(summary|totals): ([0-9]+).*/\2/p' "$f" | head -n 1)
        [ "${total:-0}" -gt 0 ] || continue
        if grep -q "http__on_request" "$f"; then
            label="HTTP thread"
        elif grep -q "commit__writer" "$f"; then
            label="writer"
        elif grep -q "store__checkpointer" "$f"; then
            label="WAL checkpointer"
        else
            label="other ($(basename "$f"))"
        fi
        awk -v n="$name" -v r="$requests" -v l="$label" -v t="$total" \
            'BEGIN { if (t / r >= 100) printf "| %s | %d | %s | %.0f |\n", n, r, l, t / r }'
    done
}

echo "| scenario | requests | thread | instructions per request |"
echo "| --- | ---: | --- | ---: |"

# reject: a hold for a seat already held (the demo data's nba-finals A1)
"$tix_bin" seed --data "$work/reject" >/dev/null 2>&1
start "$work/reject"
post_json "$url/reserve" '{"event_id":"nba-finals","seat_id":"A1","user_id":"holder"}' >/dev/null
measure reject reject.lua nba-finals A1

# hold: distinct free seats of a 1,000,000-seat event (rows A, B, ... of 1,000 seats)
mkdir -p "$work/hold"
start "$work/hold"
create_big_event "$url"
measure hold hold.lua 0

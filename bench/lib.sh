# bench/lib.sh: what bench/run.sh and bench/instructions.sh share; sourced, not run.
# The sourcing script sets bench_name (the prefix of its messages), admin_token (tix's admin
# token) and, before calling post_json or create_big_event, work (its scratch directory).

readonly big_event_rows=1000 # bench-arena: 1,000 rows x 1,000 seats
readonly big_event_seats_per_row=1000

log() { echo "$bench_name: $*" >&2; }
die() {
    echo "$bench_name: error: $*" >&2
    exit 1
}

# free_port: a port of 127.0.0.1 nothing listens on (at the moment it is printed).
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

post_json() { # post_json URL BODY [curl args...] -> body on stdout, status in $http_status
    local url=$1 body=$2 out=$work/post.out
    shift 2
    # curl prints 000 and fails when it got no answer (the caller says so: never exit silently);
    # 600 s: a 1,000,000-seat event under valgrind on a busy machine takes minutes
    http_status=$(curl -s -o "$out" -w '%{http_code}' --max-time 600 -X POST "$url" \
        -H 'Content-Type: application/json' "$@" -d "$body") || true
    cat "$out"
}

# create_big_event URL [ID]: bench-arena (or ID), 1,000 rows (A..Z, AA.., bijective base 26) x
# 1,000 seats.
create_big_event() {
    local rows_json body started id=${2:-bench-arena}
    rows_json=$(awk -v n="$big_event_rows" 'BEGIN {
        for (i = 0; i < n; i++) {
            v = i + 1; s = ""
            while (v > 0) { v--; s = sprintf("%c", 65 + v % 26) s; v = int(v / 26) }
            printf "%s\"%s\"", (i ? "," : ""), s
        } }')
    body="{\"id\":\"$id\",\"name\":\"Bench Arena\",\"venue\":\"Bench\","
    body+='"starts_at":"2030-01-01T00:00:00Z",'
    body+='"hold_ttl_s":86400,"max_seats_per_hold":100,"sections":[{"name":"Floor","rows":['
    body+="$rows_json],\"seats_per_row\":$big_event_seats_per_row,\"price_cents\":5000}]}"
    started=$(date +%s.%N)
    post_json "$1/events" "$body" -H "Authorization: Bearer $admin_token" >/dev/null
    [ "$http_status" = 201 ] ||
        die "creating $id: HTTP $http_status: $(cat "$work/post.out")"
    log "$id (1,000,000 seats) created in $(awk -v a="$started" -v b="$(date +%s.%N)" \
        'BEGIN {printf "%.1f", b - a}') s"
}

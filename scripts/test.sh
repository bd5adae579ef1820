#!/usr/bin/env bash
# The whole test suite, as `make test` runs it (CI too):
#   1. C unit tests under AddressSanitizer + UndefinedBehaviorSanitizer
#   2. the same unit tests under ThreadSanitizer (they include the writer contention test)
#   3. system tests (pytest) driving the ASan+UBSan build of the real binary over HTTP, on the
#      embedded store
#   4. the same system tests on PostgreSQL (TIX_TEST_STORE=postgresql)
#   5. every fuzz input kept in fuzz/corpus/ and fuzz/crashers/, replayed through its target
#   6. the concurrency system tests against a ThreadSanitizer build of the server
#   7. browser tests: the buyer's page in Debian's chromium (playwright-core, node --test)
#      against the ASan+UBSan build of the server
# A throwaway PostgreSQL cluster (scripts/pg.sh) runs for the whole run, on a unix socket in a
# temporary directory, and is stopped at the end whatever happens: the unit tests run the store
# conformance suite on it too (TIX_TEST_PG_URL).
# Ends with one summary line: "N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."

export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1"
PYTEST=${PYTEST:-/usr/bin/python3 -m pytest}

passed=0
failed=0
status=0
log=$(mktemp)
pgdir=$(mktemp -d /tmp/tix-pg.XXXXXX)
trap 'scripts/pg.sh stop "$pgdir"; rm -f "$log"' EXIT

echo "== a throwaway PostgreSQL cluster (scripts/pg.sh start $pgdir) =="
if scripts/pg.sh start "$pgdir"; then
    TIX_TEST_PG_URL=$(scripts/pg.sh url "$pgdir")
    export TIX_TEST_PG_URL TIX_TEST_PG_DIR="$pgdir"
else
    echo "PostgreSQL did not start: its tests fail"
    export TIX_TEST_PG_URL="postgresql:///tix-pg-did-not-start?host=$pgdir"
fi

# Add the "N passed, M failed" counts of the last run (in $log) to the totals; a run that
# failed with no failure counted (a sanitizer stopped it before its summary) is one failure.
count() {
    local rc=$1 line p f
    [ "$rc" -eq 0 ] || status=1
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
    p=$(sed -E 's/^([0-9]+) passed.*/\1/' <<<"$line")
    f=$(sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/' <<<"$line")
    passed=$((passed + ${p:-0}))
    failed=$((failed + ${f:-0}))
    if [ "$rc" -ne 0 ] && [ "${f:-0}" -eq 0 ]; then failed=$((failed + 1)); fi
}

# Add pytest's closing counts (in $log) to the totals; a failed run with no count is one failure.
count_pytest() {
    local rc=$1 line p f
    [ "$rc" -eq 0 ] || status=1
    line=$(grep -E '[0-9]+ (passed|failed)' "$log" | tail -n 1)
    p=$(grep -oE '[0-9]+ passed' <<<"$line" | grep -oE '[0-9]+')
    f=$(grep -oE '[0-9]+ (failed|error|errors)' <<<"$line" | awk '{s+=$1} END {print s+0}')
    passed=$((passed + ${p:-0}))
    failed=$((failed + ${f:-0}))
    if [ "$rc" -ne 0 ] && [ "${f:-0}" -eq 0 ]; then failed=$((failed + 1)); fi
}

# Add the node test runner's closing counts ("ℹ pass N", "ℹ fail N" of each file run, in $log)
# to the totals; a failed run with no failure counted is one failure.
count_node() {
    local rc=$1 p f
    [ "$rc" -eq 0 ] || status=1
    p=$(grep -aE '^ℹ pass [0-9]+$' "$log" | awk '{s+=$3} END {print s+0}')
    f=$(grep -aE '^ℹ (fail|cancelled) [0-9]+$' "$log" | awk '{s+=$3} END {print s+0}')
    passed=$((passed + p))
    failed=$((failed + f))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then failed=$((failed + 1)); fi
}

echo "== unit tests (ASan + UBSan) =="
./build/asan/unit 2>&1 | tee "$log"
count "${PIPESTATUS[0]}"

echo "== unit tests (ThreadSanitizer) =="
# TSan needs a fixed memory layout on recent kernels: run without address randomisation.
setarch "$(uname -m)" -R ./build/tsan/unit 2>&1 | tee "$log"
count "${PIPESTATUS[0]}"

echo "== system tests (pytest, real binary over HTTP, ASan + UBSan build) =="
TIX_BIN="$PWD/build/asan/tix" $PYTEST -q -p no:cacheprovider tests/system 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
count_pytest "$rc"

echo "== system tests on PostgreSQL (the same, with tix serve --store URL) =="
TIX_TEST_STORE=postgresql TIX_BIN="$PWD/build/asan/tix" $PYTEST -q -p no:cacheprovider \
    tests/system 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
count_pytest "$rc"

echo "== fuzz corpus and crashers, replayed (gcc, ASan + UBSan) =="
# Each input of fuzz/corpus/<target>/ and fuzz/crashers/<target>/ runs once through
# build/asan/fuzz-replay-<target> (fuzz/replay_main.c: no clang, no libFuzzer). One process per
# target; when it fails, every input again in a process of its own, to name the ones that fail.
replay_fuzz() {
    local p=0 f=0 t bin n input
    TMPDIR=$(mktemp -d) # the targets' temp stores (a crash leaves its own behind)
    export TMPDIR
    for t in $(find fuzz/corpus fuzz/crashers -mindepth 1 -maxdepth 1 -type d -printf '%f\n' \
                   2>/dev/null | sort -u); do
        local inputs=()
        for input in fuzz/corpus/"$t"/* fuzz/crashers/"$t"/*; do
            [ -f "$input" ] && inputs+=("$input")
        done
        n=${#inputs[@]}
        [ "$n" -eq 0 ] && continue
        bin="build/asan/fuzz-replay-$t"
        if [ ! -x "$bin" ]; then
            echo "fuzz replay: $bin is missing ($n inputs not run)"
            f=$((f + n))
            continue
        fi
        if "$bin" "${inputs[@]}" >/dev/null 2>&1; then
            echo "fuzz replay: $t: $n inputs"
            p=$((p + n))
            continue
        fi
        for input in "${inputs[@]}"; do
            if "$bin" "$input" >/dev/null 2>&1; then
                p=$((p + 1))
            else
                f=$((f + 1))
                echo "fuzz replay: FAILED $t $input; its report:"
                "$bin" "$input" 2>&1 | grep -av '^replay: ' | head -n 40
            fi
        done
    done
    rm -rf "$TMPDIR"
    echo "$p passed, $f failed"
    [ "$f" -eq 0 ]
}
replay_fuzz 2>&1 | tee "$log"
count "${PIPESTATUS[0]}"

echo "== concurrency system tests against the ThreadSanitizer build of the server =="
# Many clients on the same seats, clients hanging up mid-commit, concurrent idempotent
# retries, live streams through a flash sale, viewers gone and a stop with streams open: any
# data race report fails the test (the harness reads the server's output).
stream=tests/system/test_stream.py
setarch "$(uname -m)" -R env TIX_BIN="$PWD/build/tsan/tix" $PYTEST -q -p no:cacheprovider \
    tests/system/test_contention.py tests/system/test_disconnects.py \
    tests/system/test_idempotency.py \
    "$stream::test_a_flash_sale_reaches_viewers_batched_and_replays_onto_the_seat_map" \
    "$stream::test_the_heartbeat_keeps_a_quiet_stream_alive_and_finds_clients_gone" \
    "$stream::test_max_streams_answers_503_until_a_stream_closes" \
    "$stream::test_sigterm_ends_every_stream_and_the_server_exits_0_at_once" \
    2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
count_pytest "$rc"

echo "== browser tests (the buyer's page in Debian's chromium; ASan + UBSan build of the server) =="
# tests/browser/*.test.mjs one file at a time (each starts its own tix on a seeded data dir);
# screenshots and measured times go to build/browser-tests/.
browser_tests() {
    local f rc=0
    for f in tests/browser/*.test.mjs; do
        TIX_BIN="$PWD/build/asan/tix" node --test --test-reporter=spec "$f" || rc=1
    done
    return $rc
}
browser_tests 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
count_node "$rc"

echo
echo "make test: all suites (unit ASan, unit TSan, system ASan on SQLite and on PostgreSQL," \
    "fuzz replay, system TSan, browser)"
echo "$passed passed, $failed failed"
exit $status

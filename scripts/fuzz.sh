#!/usr/bin/env bash
# Run each libFuzzer target of build/fuzz/ for a bounded time, as `make fuzz` does:
#   scripts/fuzz.sh SECONDS TARGET...
# Each target starts from its seed corpus fuzz/corpus/<target>/ (read only) and writes the
# new inputs it finds to a temp dir, removed at the end, so the repository stays small.
# Crashes, leaks, timeouts and out-of-memory inputs are written to fuzz/crashers/<target>/:
# fix the bug, keep the file (`make test` replays it from then on as a regression test).
# Ends with one line per target (executions, corpus, crashers) and fails if any target did.
set -uo pipefail
cd "$(dirname "$0")/.."

seconds=${1:?usage: scripts/fuzz.sh SECONDS TARGET...}
shift
work=$(mktemp -d /tmp/tix-fuzz-run.XXXXXX)
trap 'rm -rf "$work"' EXIT
export TMPDIR="$work" # the targets' temp stores, left behind by a crash, go with it
# leaks are checked per input; a report aborts, and libFuzzer keeps the input
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:symbolize=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

declare -a summary
status=0
touch "$work/.start" # crashers newer than this were found by this run
for t in "$@"; do
    bin="build/fuzz/fuzz_$t"
    seeds="fuzz/corpus/$t"
    crashers="fuzz/crashers/$t"
    mkdir -p "$work/$t" "$crashers" "$seeds"
    dict=()
    [ -f "fuzz/dict/$t.dict" ] && dict=(-dict="fuzz/dict/$t.dict")
    echo "== fuzz $t: ${seconds}s from $(find "$seeds" -type f | wc -l) seeds =="
    "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
        -print_final_stats=1 -artifact_prefix="$crashers/" "${dict[@]}" \
        "$work/$t" "$seeds" >"$work/$t.log" 2>&1
    rc=$?
    if [ "$rc" -eq 0 ]; then
        grep -aE '^(Done|stat::)' "$work/$t.log" || true
    else # the report: from the sanitizer's or the oracle's first line on
        awk '/ERROR|broken invariant|runtime error/ {on=1} on' "$work/$t.log" |
            grep -avE '^#[0-9]+' | head -n 80
    fi
    execs=$(grep -aoE 'stat::number_of_executed_units: *[0-9]+' "$work/$t.log" | grep -oE '[0-9]+$' |
        tail -n 1)
    # a crash ends the run before the final stats: take the last progress line's count
    [ -n "$execs" ] || execs=$(grep -aoE '^#[0-9]+' "$work/$t.log" | tr -d '#' | tail -n 1)
    found=$(find "$work/$t" -type f | wc -l)
    crashes=$(find "$crashers" -type f -newer "$work/.start" | wc -l)
    if [ "$rc" -ne 0 ]; then
        status=1
        echo "fuzz $t: FAILED (exit $rc); see the report above, the input is in $crashers/"
    fi
    summary+=("$(printf '%-18s %12s execs  %6s new inputs  %3s new crashers  exit %s' \
        "$t" "${execs:-?}" "$found" "$crashes" "$rc")")
done

echo
echo "make fuzz: ${seconds}s per target"
printf '%s\n' "${summary[@]}"
exit $status

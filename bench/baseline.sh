#!/usr/bin/env bash
# bench/baseline.sh REV: build git revision REV's release binary into build/baseline/tix (and
# record REV in build/baseline/tix.rev), for `make bench BASELINE=REV`: bench/run.sh then runs
# the scenarios that measure tix with this binary too, as "tix before", in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
rev=${1:?usage: bench/baseline.sh REV}
sha=$(git rev-parse --verify "$rev^{commit}") || { echo "baseline: no commit '$rev'" >&2; exit 2; }
out=build/baseline
if [ -x "$out/tix" ] && [ "$(cat "$out/tix.rev" 2>/dev/null)" = "$sha" ]; then
    echo "baseline: $out/tix is already git $sha"
    exit 0
fi
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
git archive "$sha" | tar -x -C "$tree"
echo "baseline: building git $sha in $tree"
make -C "$tree" --no-print-directory build/tix >/dev/null
mkdir -p "$out"
cp "$tree/build/tix" "$out/tix"
echo "$sha" >"$out/tix.rev"
echo "baseline: $out/tix is git $sha"

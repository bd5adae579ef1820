#!/usr/bin/env bash
# Install what `make fuzz` needs on top of scripts/deps.sh: clang and its libFuzzer and
# sanitizer runtimes, from Debian 12's packages. `make run` and `make test` never need these.
# As root it installs what is missing; otherwise it prints the exact command to run.
set -euo pipefail
exec "$(dirname "$0")/install-packages.sh" deps-fuzz clang libclang-rt-14-dev

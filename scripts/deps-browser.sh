#!/usr/bin/env bash
# What the browser tests (tests/browser/) need, for `make test`: Debian's chromium, Node.js and
# npm, and the npm packages of tests/browser/package-lock.json (playwright-core: it drives
# /usr/bin/chromium and downloads no browser). A node and an npm already on PATH are used as
# they are (Debian 12's nodejs 18 and npm 9 are enough); otherwise Debian's are installed.
# As root it installs what is missing; otherwise it prints the exact command to run.
set -euo pipefail
cd "$(dirname "$0")/.."
packages=(chromium)
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)
scripts/install-packages.sh "browser-test deps" "${packages[@]}"
# npm ci when the packages are missing or older than the lock file.
if [ ! -d tests/browser/node_modules ] || [ tests/browser/package-lock.json -nt tests/browser/node_modules ]; then
    echo "browser-test deps: npm ci in tests/browser"
    (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
    touch tests/browser/node_modules
fi

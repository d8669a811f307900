#!/usr/bin/env bash
# Builds the console's front end into ch12-console/web/dist (run by `make ch12`).
#
# Needs node and npm (.ci/install-deps installs Debian's nodejs and npm). Without them it says
# so and stops without failing: mqconsole still runs, and its / page says how to build this.
# npm ci installs exactly the versions in package-lock.json into web/node_modules (kept out
# of git), again only when the lock file changed; vite build runs when a source changed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
if ! command -v node > /dev/null || ! command -v npm > /dev/null; then
  echo "ch12: node/npm not found: the web front end is NOT built (mqconsole still works and" \
       "shows a page saying how to build it; install nodejs and npm, then make ch12)"
  exit 0
fi
if [ ! -e node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "ch12: npm ci (ch12-console/web/node_modules, versions from package-lock.json)"
  if ! npm ci --no-audit --no-fund --loglevel=error; then
    echo "ch12: npm ci failed (no access to the npm registry?): the web front end is NOT built;" \
         "mqconsole still works and shows a page saying how to build it" >&2
    exit 0
  fi
fi
if [ ! -e dist/index.html ] || \
   [ -n "$(find index.html vite.config.js package-lock.json src -newer dist/index.html -print -quit)" ]; then
  echo "ch12: vite build -> ch12-console/web/dist"
  npm run build --silent > /dev/null
  touch dist/index.html
fi

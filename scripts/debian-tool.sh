#!/usr/bin/env bash
# Usage: debian-tool.sh PACKAGE COMMAND...
# Installs Debian's PACKAGE when one of its COMMANDs is missing, for the tests that run a real
# tool (prometheus and promtool for __test__/operate/operate.prometheus.test.js; those and
# prometheus-alertmanager's server, named prometheus-alertmanager, and amtool for
# __test__/operate/fleet.alerts.test.js and __test__/production/fleet.test.js; chromium for
# __test__/page/report.page.test.js and the DevTools check of __test__/sites/profiles.test.js, golang-go's
# go tool pprof for the latter). The package's own service, if any, is not used (the tests
# start their own on loopback); where policy-rc.d forbids it, it is not started either.
#
# Installs wait for one another: ours take a lock of their own (two test files that need tools
# install one after the other), and apt-get waits for the dpkg lock another apt-get or dpkg
# holds (DPkg::Lock::Timeout), up to DEBIAN_TOOL_WAIT_S seconds (default 900); `apt-get
# update`, which takes the lists' lock, is retried as long while that lock is held.
#
# Prints the path of the first COMMAND on success; exits 1 with the reason on stderr where
# the package cannot be installed (not root, no apt-get, the install failed, or the locks were
# held past the wait).
set -euo pipefail

package="$1"
shift
wait_s="${DEBIAN_TOOL_WAIT_S:-900}"
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
  # One of our installs at a time; the lock is released when this script exits.
  exec 9>/var/lock/leakproof-debian-tool.lock
  flock -w "$wait_s" 9 || { echo "another leakproof install held its lock for $wait_s s" >&2; exit 1; }
  # Another install may have brought it while this one waited.
  if have_all "$@"; then command -v "$1"; exit 0; fi

  deadline=$((SECONDS + wait_s))
  # Runs apt-get with ARGS, waiting for the dpkg lock, and again while another holds a lock it
  # does not wait for (the lists' lock of `apt-get update`). Its output goes to stderr.
  apt_get() {
    local log status
    log="$(mktemp)"
    while true; do
      status=0
      DEBIAN_FRONTEND=noninteractive apt-get -o "DPkg::Lock::Timeout=$((deadline - SECONDS > 0 ? deadline - SECONDS : 1))" "$@" >"$log" 2>&1 || status=$?
      if [ "$status" = 0 ] || ! grep -q 'Could not get lock\|Unable to lock' "$log" || [ "$SECONDS" -ge "$deadline" ]; then
        cat "$log" >&2
        rm -f "$log"
        return "$status"
      fi
      sleep 2
    done
  }
  install() {
    apt_get install -y -q --no-install-recommends "$package"
  }
  # A fresh machine may not have the package lists yet: update once, then try again.
  if ! install; then
    apt_get update -q && install || { echo "apt-get install $package failed" >&2; exit 1; }
  fi
fi
command -v "$1"

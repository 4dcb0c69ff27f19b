#!/usr/bin/env bash
# Installs Debian's chromium package when it is missing, for the test that opens the HTML
# report in a headless browser (__test__/report.page.test.js). Prints the path of the browser
# binary on success; exits 1 with the reason on stderr where it cannot be installed (not root,
# no apt-get, or the install failed).
set -euo pipefail

if command -v chromium >/dev/null; then
  command -v chromium
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "chromium is not installed and there is no apt-get to install it" >&2
  exit 1
fi
if [ "$(id -u)" != 0 ]; then
  echo "chromium is not installed, and installing it needs root (apt-get install chromium)" >&2
  exit 1
fi
install() {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium >&2
}
# A fresh machine may not have the package lists yet: update once, then try again.
if ! install; then
  apt-get update -q >&2 && install || { echo "apt-get install chromium failed" >&2; exit 1; }
fi
command -v chromium

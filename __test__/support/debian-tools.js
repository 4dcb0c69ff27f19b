'use strict'

/**
 * The real tools some tests run, installed from Debian's packages where they are missing
 * (scripts/debian-tool.sh): chromium for the report page and DevTools, golang's `go tool
 * pprof` for the pprof files. Where one cannot be installed, the test says why it skipped.
 */
const path = require('node:path')
const { spawnSync } = require('node:child_process')

const SCRIPT = path.join(__dirname, '..', '..', 'scripts', 'debian-tool.sh')

/** Chromium's flags for a headless run in a container. */
const LAUNCH_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync']

/**
 * The path of `command`, installing Debian's `pkg` first if it is missing: `{ path }`, or
 * `{ missing }` saying why there is none.
 */
function debianTool(pkg, command) {
  const install = spawnSync('bash', [SCRIPT, pkg, command], { encoding: 'utf8', timeout: 300_000 })
  if (install.status !== 0) return { missing: `${pkg} could not be installed: ${(install.stderr ?? '').trim() || install.error?.message}` }
  return { path: install.stdout.trim() }
}

/** A headless Debian chromium launched with playwright-core: `{ browser }`, or `{ missing }`. */
async function launchChromium() {
  const chromium = debianTool('chromium', 'chromium')
  if (chromium.missing !== undefined) return chromium
  const { chromium: launcher } = require('playwright-core')
  return { browser: await launcher.launch({ executablePath: chromium.path, args: LAUNCH_ARGS }) }
}

module.exports = { debianTool, launchChromium }

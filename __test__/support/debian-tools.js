'use strict'

/**
 * The real tools some tests run, installed from Debian's packages where they are missing
 * (scripts/debian-tool.sh): chromium for the report page and DevTools, golang's `go tool
 * pprof` for the pprof files, Prometheus and Alertmanager for the metrics and the fleet. Where
 * one cannot be installed, the test says why it skipped, and fails in CI (`missingTool`).
 */
const assert = require('node:assert/strict')
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
  // The script waits up to 15 minutes for another install's locks, then installs.
  const install = spawnSync('bash', [SCRIPT, pkg, command], { encoding: 'utf8', timeout: 25 * 60_000 })
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

/**
 * Skips `t`, saying `why` its tool is missing; in CI (`CI=true`) fails it instead: a skipped test
 * there is a test that did not run in a green run, and nobody would see it.
 */
function missingTool(t, why) {
  if (process.env.CI === 'true') assert.fail(`${why} (CI=true: every tool the tests run must be there, so this fails rather than skips)`)
  t.skip(why)
}

/** The path of `command` of Debian's `pkg`, installed if need be; null with `t` skipped (failed in CI) where it cannot be. */
function toolPath(t, pkg, command) {
  const found = debianTool(pkg, command)
  if (found.missing === undefined) return found.path
  missingTool(t, found.missing)
  return null
}

module.exports = { debianTool, launchChromium, missingTool, toolPath }

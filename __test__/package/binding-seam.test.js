'use strict'

// The seam between Rust and JS has one owner per fact: the detector's constants and rules are
// Rust's, exported by the binding and read by JS; the native monitor takes watch()'s options
// by their own names; the public types are built on binding.d.ts, which the package must ship.
// (result-shapes.test.js holds every result to its type.)
const { test } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { execFileSync } = require('node:child_process')
const { nativeBinding } = require('../../lib/shared/native')
const { resolveOptions, OPTIONS: WATCH_OPTIONS } = require('../../lib/watch/options')
const { OPTIONS: RESTART_OPTIONS } = require('../../lib/mitigate/restart-options')

const ROOT = path.join(__dirname, '..', '..')
const read = (file) => fs.readFileSync(path.join(ROOT, file), 'utf8')

test("limitWithinMs defaults to the detector's urgent horizon, which its docs and type state", () => {
  const horizon = nativeBinding().URGENT_HORIZON_MS
  assert.equal(horizon, 15 * 60_000)
  assert.equal(resolveOptions({ restart: true }).restart.limitWithinMs, horizon)
  assert.equal(resolveOptions({ restart: { limitWithinMs: 60_000 } }).restart.limitWithinMs, 60_000)
  const row = RESTART_OPTIONS.ROWS.find((o) => o.name === 'limitWithinMs')
  assert.ok(row.doc.default.startsWith(`${horizon} `), row.doc.default)
  assert.match(read('lib/mitigate/types.d.ts'), new RegExp(`@default ${horizon} \\(15 min\\) \\*/\\n  limitWithinMs\\?: number`))
})

test('without the addon, restart options are still checked, and watch() says the addon is missing', () => {
  const script = `
    const { resolveOptions } = require('./lib/watch/options')
    const { configFromEnv } = require('./lib/watch/env-config')
    const out = { resolved: resolveOptions({ restart: { exitCode: 70 } }).restart }
    try { resolveOptions({ restart: { limitWithinMs: 0 } }) } catch (err) { out.refused = err.code }
    out.problems = configFromEnv({ LEAKPROOF_RESTART: '1', LEAKPROOF_RESTART_EXIT_CODE: '70' }).problems
    try { require('.').watch({ restart: true }) } catch (err) { out.watch = err.code }
    console.log(JSON.stringify(out))`
  const env = { ...process.env, LEAKPROOF_NATIVE_PATH: path.join(ROOT, 'no-such-addon.node') }
  const out = JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: ROOT, env, encoding: 'utf8' }))
  assert.equal(out.resolved.exitCode, 70)
  assert.equal('limitWithinMs' in out.resolved, false, 'left unset, not made up')
  assert.equal(out.refused, 'ERR_LEAKPROOF_INVALID_OPTION')
  assert.deepEqual(out.problems, [])
  assert.equal(out.watch, 'ERR_LEAKPROOF_NATIVE_UNAVAILABLE')
})

test("the native monitor's options are watch()'s, by the same names (and the detector's, when the warm-up starts, and whether warmupMs was left unset)", () => {
  const dts = read('binding.d.ts')
  const fieldsOf = (name) => {
    const start = dts.indexOf(`export interface ${name} {`)
    assert.ok(start >= 0, `binding.d.ts declares ${name}`)
    return [...dts.slice(start, dts.indexOf('\n}', start)).matchAll(/^ {2}(\w+)\??:/gm)].map((m) => m[1])
  }
  assert.match(dts, /constructor\(config: MonitorConfig,/)
  const watchOptions = new Set(WATCH_OPTIONS.ROWS.map((o) => o.name))
  const monitor = fieldsOf('MonitorConfig')
  assert.deepEqual(monitor.filter((f) => !watchOptions.has(f)), ['detector', 'startedAt'])
  assert.ok(monitor.includes('intervalMs'))
  assert.deepEqual(fieldsOf('DetectorConfig').filter((f) => !watchOptions.has(f)), ['warmupEndsWhenServing'])
})

test("the detector's run length is read from the binding: minPoints floors spanning minDurationMs", () => {
  const { floorsToJudge } = nativeBinding()
  assert.equal(floorsToJudge(8, 60_000, 10_000), 8)
  assert.equal(floorsToJudge(8, 60_000, 5_000), 13)
  assert.equal(floorsToJudge(3, 1_000, 60_000), 3)
})

test('the public types import binding.d.ts, and the package ships it', () => {
  for (const file of ['lib/diagnose/types.d.ts', 'lib/watch/events.d.ts', 'lib/watch/types.d.ts', 'lib/detect/types.d.ts']) {
    assert.match(read(file), /from '\.\.\/\.\.\/binding'/, file)
  }
  // The root tarball holds what package.json "files" lists (scripts/pack.js stages exactly those).
  const { files } = JSON.parse(read('package.json'))
  assert.ok(files.includes('binding.d.ts'), `package.json "files" lists binding.d.ts, which the public types import: ${JSON.stringify(files)}`)
})

'use strict'

// Bad input to the restart policy: absurd windows, a drain deadline of 0, unknown keys, the
// policy in a worker thread, its variables without LEAKPROOF_RESTART; the readiness route's
// answers and bad paths; a watcher stopped before any restart was due lets go of the servers
// it saw.
const test = require('node:test')
const assert = require('node:assert/strict')
const diagnosticsChannel = require('node:diagnostics_channel')
const http = require('node:http')
const { Worker } = require('node:worker_threads')
const { resolveOptions } = require('../../lib/watch/options')
const { configFromEnv } = require('../../lib/watch/env-config')
const { readinessHandler } = require('../../lib/operate/http')
const { coordinateRestarts } = require('../..')
const { watch } = require('../..')

const refused = (restart, pattern) =>
  assert.throws(
    () => resolveOptions({ restart }),
    (err) => err.code === 'ERR_LEAKPROOF_INVALID_OPTION' && pattern.test(err.message),
    JSON.stringify(restart),
  )

test('absurd windows and deadlines are refused with a coded error naming the option', () => {
  for (const limitWithinMs of [0, -1, NaN, Infinity, 8 * 24 * 3600_000]) refused({ limitWithinMs }, /options\.restart\.limitWithinMs must be a number of ms > 0 and <= 604800000/)
  refused({ limitWithinMs: '900000' }, /limitWithinMs/)
  refused({ drainTimeoutMs: 0 }, /options\.restart\.drainTimeoutMs must be a number of ms > 0/)
  refused({ drainTimeoutMs: 3600_000 }, /drainTimeoutMs/)
  refused({ readinessDelayMs: -5 }, /readinessDelayMs must be a number of ms >= 0/)
  refused({ minIntervalMs: Infinity }, /minIntervalMs/)
  refused({ clusterSpacingMs: 2 * 24 * 3600_000 }, /clusterSpacingMs/)
  for (const exitCode of [256, -1, 1.5]) refused({ exitCode }, /exitCode must be an integer from 0 to 255/)
  refused({ beforeRestart: 'shutdown' }, /beforeRestart must be a function/)
  refused('yes', /options\.restart must be true, false or an object/)
  refused(null, /options\.restart must be true, false or an object/)
  assert.throws(() => resolveOptions({ restart: { drainTimeout: 5 } }), (err) => err.code === 'ERR_LEAKPROOF_UNKNOWN_OPTION' && /"drainTimeout" in options\.restart/.test(err.message))
})

test('restart: true and false, and zero where zero makes sense', () => {
  assert.equal(resolveOptions({}).restart, null)
  assert.equal(resolveOptions({ restart: false }).restart, null)
  assert.deepEqual(resolveOptions({ restart: true }).restart, { limitWithinMs: 900_000, minIntervalMs: 300_000, readinessDelayMs: 35_000, drainTimeoutMs: 30_000, exitCode: 75, clusterSpacingMs: 60_000, beforeRestart: undefined })
  const settings = resolveOptions({ restart: { readinessDelayMs: 0, minIntervalMs: 0, clusterSpacingMs: 0, exitCode: 0 } }).restart
  assert.deepEqual([settings.readinessDelayMs, settings.minIntervalMs, settings.clusterSpacingMs, settings.exitCode], [0, 0, 0, 0])
})

test("the preload: restart variables need LEAKPROOF_RESTART, and a bad one keeps the option's default", () => {
  const off = configFromEnv({ LEAKPROOF_RESTART_DRAIN_TIMEOUT_MS: '5000' })
  assert.deepEqual(off.options, {})
  assert.match(off.problems[0], /ignoring LEAKPROOF_RESTART_DRAIN_TIMEOUT_MS: the restart policy is off \(LEAKPROOF_RESTART=1 turns it on\)/)
  const on = configFromEnv({ LEAKPROOF_RESTART: 'on', LEAKPROOF_RESTART_DRAIN_TIMEOUT_MS: '0', LEAKPROOF_RESTART_EXIT_CODE: '70' })
  assert.deepEqual(on.options, { restart: { exitCode: 70 } })
  assert.match(on.problems[0], /ignoring LEAKPROOF_RESTART_DRAIN_TIMEOUT_MS="0" .*using the default, 30000/)
  assert.deepEqual(configFromEnv({ LEAKPROOF_RESTART: '0' }).options, { restart: false })
})

test('a worker thread: watch() refuses the policy, and the preload leaves its variables alone', async () => {
  const code = `
    const { parentPort } = require('node:worker_threads')
    const { resolveOptions } = require(${JSON.stringify(require.resolve('../../lib/watch/options'))})
    const { configFromEnv } = require(${JSON.stringify(require.resolve('../../lib/watch/env-config'))})
    let error = null
    try { resolveOptions({ restart: true }) } catch (err) { error = { code: err.code, message: err.message } }
    parentPort.postMessage({ error, preload: configFromEnv({ LEAKPROOF_RESTART: '1', LEAKPROOF_RESTART_EXIT_CODE: '70' }) })`
  const worker = new Worker(code, { eval: true })
  const [answer] = await Promise.all([new Promise((resolve) => worker.once('message', resolve)), new Promise((resolve) => worker.once('exit', resolve))])
  assert.equal(answer.error.code, 'ERR_LEAKPROOF_INVALID_OPTION')
  assert.match(answer.error.message, /options\.restart must be unset in a worker thread/)
  assert.deepEqual([answer.preload.options, answer.preload.problems], [{}, []])
})

test('the readiness route: 200 while serving, GET and HEAD only, exact path; next() or 404 elsewhere; bad paths refused', async (t) => {
  const handler = readinessHandler({ path: '/healthz/ready' })
  const server = http.createServer((req, res) => handler(req, res)).listen(0, '127.0.0.1')
  t.after(() => server.close())
  await new Promise((resolve) => server.once('listening', resolve))
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address())
  const ask = (method, path) =>
    new Promise((resolve, reject) => {
      http.request({ host: '127.0.0.1', port, method, path, agent: false }, (res) => {
        let body = ''
        res.on('data', (chunk) => (body += chunk)).on('end', () => resolve({ status: res.statusCode, body }))
      }).on('error', reject).end()
    })
  const ok = await ask('GET', '/healthz/ready')
  assert.equal(ok.status, 200)
  assert.deepEqual(JSON.parse(ok.body), { state: 'serving', since: null, kind: null, ready: true })
  assert.equal((await ask('HEAD', '/healthz/ready')).status, 200)
  assert.equal((await ask('POST', '/healthz/ready')).status, 405)
  assert.equal((await ask('GET', '/healthz/ready/')).status, 404)
  assert.equal((await ask('GET', '/healthz/ready?x=1')).status, 200, 'a query string is not part of the path')
  let passedOn = false
  readinessHandler()({ url: '/other', method: 'GET' }, null, () => (passedOn = true))
  assert.ok(passedOn, 'Express: next() outside its path')
  for (const path of ['ready', '/ready/', '/a/../ready', '/%2e']) {
    assert.throws(() => readinessHandler({ path }), { code: 'ERR_LEAKPROOF_INVALID_OPTION' }, path)
  }
  assert.throws(() => readinessHandler({ route: '/ready' }), { code: 'ERR_LEAKPROOF_UNKNOWN_OPTION' })
})

test('coordinateRestarts() takes only its spacing, and is one coordinator however often called', () => {
  assert.throws(() => coordinateRestarts({ limitWithinMs: 1000 }), { code: 'ERR_LEAKPROOF_UNKNOWN_OPTION' })
  assert.throws(() => coordinateRestarts({ clusterSpacingMs: -1 }), { code: 'ERR_LEAKPROOF_INVALID_OPTION' })
  const coordinator = coordinateRestarts({ clusterSpacingMs: 1000 })
  try {
    assert.equal(coordinateRestarts({ clusterSpacingMs: 2000 }), coordinator)
    assert.equal(coordinator.spacingMs, 2000)
    assert.equal(process.env.LEAKPROOF_RESTART_COORDINATOR, String(process.pid))
    assert.deepEqual([coordinator.queued, coordinator.restarting], [0, null])
  } finally {
    coordinator.stop()
  }
  assert.equal(process.env.LEAKPROOF_RESTART_COORDINATOR, undefined)
})

test('a watcher with the policy sees servers while it runs, and lets go of them once stopped', () => {
  const channel = diagnosticsChannel.channel('http.server.request.start')
  const before = channel.hasSubscribers
  const watcher = watch({ restart: true })
  try {
    assert.equal(channel.hasSubscribers, true)
    assert.deepEqual(watcher.status().restart, { on: true, due: null })
  } finally {
    watcher.stop()
  }
  assert.equal(channel.hasSubscribers, before)
  assert.deepEqual(watcher.status().restart, { on: true, due: null })
})

'use strict'

// The restart policy on a real http service under loopback load, at the fast test pace (50×
// production): two instances behind a balancer that probes readiness, one leaking. The
// leaking one leaves with its evidence on disk and no request failing; its hooks and a
// SIGTERM from outside change the way it leaves, never whether it does. Production-like
// timings: production/restart.test.js.
const test = require('node:test')
const assert = require('node:assert/strict')
const http = require('node:http')
const { ServiceProcess, Balancer, FAST_ENV } = require('../support/restart-harness')
const { tempDir } = require('../support/temp-dir')

/** The policy at test timings: no minimum uptime, a 1.5 s readiness delay (15 probes), a 5 s drain. */
const RESTART_ENV = { LEAKPROOF_RESTART: '1', LEAKPROOF_RESTART_MIN_INTERVAL_MS: '0', LEAKPROOF_RESTART_READINESS_DELAY_MS: '1500', LEAKPROOF_RESTART_DRAIN_TIMEOUT_MS: '5000' }

/**
 * A leaking instance and a healthy one behind a balancer, the leaking one started as
 * `leaking` says; runs until the leaking one exits, then one more second of load.
 */
async function runPair(t, { leaking = {}, preload = true, during = async () => {} } = {}) {
  const dir = tempDir(t)
  const sick = new ServiceProcess({ ...FAST_ENV, ...RESTART_ENV, LEAKPROOF_DIR: dir, SERVICE_LEAK: '1', SERVICE_LEAK_RECORDS: '6', ...leaking }, { preload })
  const healthy = new ServiceProcess({ ...FAST_ENV, ...RESTART_ENV, SERVICE_LEAK: '0' })
  t.after(() => {
    sick.kill()
    healthy.kill()
  })
  const balancer = new Balancer()
  balancer.add(await sick.port)
  balancer.add(await healthy.port)
  balancer.start(8)
  await during(sick)
  const exit = await sick.exited
  await new Promise((resolve) => setTimeout(resolve, 1000))
  await balancer.stop()
  return { sick, healthy, exit, balancer, sickPort: await sick.port }
}

test('a leaking instance leaves with its evidence written and no request failing', async (t) => {
  const { sick, healthy, exit, balancer, sickPort } = await runPair(t)
  assert.equal(exit.code, 75, `exit ${exit.code} ${exit.signal}; stderr: ${sick.stderr}`)
  const due = sick.line('restart-due')
  assert.ok(due, 'restart-due was published')
  assert.equal(due.kind, 'heap')
  assert.ok(sick.line('leak').time <= due.time, 'a leak event came first')
  assert.equal(due.evidence.settled, true)
  assert.ok(due.evidence.reports.length >= 1 && due.evidence.snapshots.length >= 1, JSON.stringify(due.evidence))
  assert.deepEqual(exit.evidenceMissing, [], 'every evidence file was on disk when it exited')
  const left = sick.line('restart-exit')
  assert.equal(left.stoppedBy, 'servers')
  assert.equal(left.drained, true)
  assert.ok(left.time - due.time >= 1500, 'readiness failed for the delay before the servers closed')
  assert.deepEqual(balancer.failures, [])
  assert.ok(balancer.served.get(sickPort) > 100, 'the leaking instance served until it left')
  assert.equal(healthy.line('restart-due'), undefined, 'the healthy instance stays')
  assert.equal(healthy.child.exitCode, null)
})

test('beforeRestart that throws: an error event, and the servers are closed and drained anyway', async (t) => {
  const { sick, exit, balancer } = await runPair(t, { leaking: { SERVICE_HOOK: 'throws' }, preload: false })
  assert.equal(exit.code, 75, sick.stderr)
  assert.ok(sick.lines.some((l) => l.type === 'error' && /beforeRestart/.test(l.during) && /could not shut down/.test(l.error)))
  const left = sick.line('restart-exit')
  assert.deepEqual([left.stoppedBy, left.beforeRestart, left.drained], ['servers', 'threw', true])
  assert.deepEqual(balancer.failures, [])
})

test('beforeRestart that never resolves: the drain deadline wins', async (t) => {
  const { sick, exit, balancer } = await runPair(t, { leaking: { SERVICE_HOOK: 'hangs' }, preload: false })
  assert.equal(exit.code, 75, sick.stderr)
  const due = sick.line('restart-due')
  const left = sick.line('restart-exit')
  assert.deepEqual([left.stoppedBy, left.beforeRestart], ['beforeRestart', 'deadline'])
  assert.ok(left.time - due.time >= 1500 + 5000, 'it waited the delay and the whole drain deadline')
  assert.ok(left.time - due.time < 1500 + 5000 + 5000, 'and no longer')
  assert.deepEqual(balancer.failures, [])
})

test('a SIGTERM during the drain: the requests in flight still finish, then it exits with its code', async (t) => {
  let slow = null
  const { sick, exit, balancer } = await runPair(t, {
    during: async (service) => {
      await service.waitFor('restart-due')
      // A request that will be in flight when the drain starts (1.5 s after restart-due)...
      const port = await service.port
      slow = new Promise((resolve) => {
        http.get({ host: '127.0.0.1', port, path: '/slow?ms=3000', agent: false }, (res) => {
          res.resume().on('end', () => resolve(res.statusCode))
        }).on('error', (err) => resolve(err.code))
      })
      // ... and a SIGTERM in the middle of it.
      await new Promise((resolve) => setTimeout(resolve, 2500))
      service.kill('SIGTERM')
    },
  })
  assert.equal(exit.code, 75, `exit ${exit.code} ${exit.signal}`)
  assert.equal(await slow, 200)
  const left = sick.line('restart-exit')
  assert.deepEqual([left.sigterm, left.drained], [true, true])
  assert.ok(left.drainMs >= 1000, `the drain waited for the slow request (${left.drainMs} ms)`)
  assert.deepEqual(balancer.failures, [])
})

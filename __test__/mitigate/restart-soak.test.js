'use strict'

// Thirty minutes of healthy services with the restart policy on, compressed 50× as the leak
// tests' watcher is (FAST_ENV: 200 ms floors for 10 s), the policy's times with them:
// a GC sawtooth, a Map cache that fills and levels off, and a BoundedMap that fills, each
// under loopback load behind a balancer that probes readiness. No restart, readiness never
// fails, no request fails. CI runs it on every supported Node version.
const test = require('node:test')
const assert = require('node:assert/strict')
const { ServiceProcess, Balancer, FAST_ENV } = require('../support/restart-harness')

const COMPRESSION = 50
const SOAK_MS = (30 * 60_000) / COMPRESSION

/** The policy's defaults, compressed like the watcher's times. */
const RESTART_ENV = {
  LEAKPROOF_RESTART: '1',
  LEAKPROOF_RESTART_LIMIT_WITHIN_MS: String((15 * 60_000) / COMPRESSION),
  LEAKPROOF_RESTART_MIN_INTERVAL_MS: String((5 * 60_000) / COMPRESSION),
  LEAKPROOF_RESTART_READINESS_DELAY_MS: String(35_000 / COMPRESSION),
  LEAKPROOF_RESTART_DRAIN_TIMEOUT_MS: String(30_000 / COMPRESSION),
}

test('healthy services with the restart policy on never restart over a compressed half hour', async (t) => {
  const kinds = ['0', 'cache', 'bounded']
  // Caches of 4,000 records (~6 MB) fill in about 20 s at this load (16 minutes of production), then level off.
  const services = kinds.map((leak) => new ServiceProcess({ ...FAST_ENV, ...RESTART_ENV, SERVICE_LEAK: leak, SERVICE_CACHE_MAX: '4000' }))
  t.after(() => services.forEach((s) => s.kill()))
  const balancer = new Balancer()
  for (const service of services) balancer.add(await service.port)
  balancer.start(12)
  await new Promise((resolve) => setTimeout(resolve, SOAK_MS))
  await balancer.stop()
  for (const [i, service] of services.entries()) {
    assert.equal(service.line('restart-due'), undefined, `${kinds[i]}: ${JSON.stringify(service.line('restart-due'))}`)
    assert.equal(service.child.exitCode, null, `${kinds[i]} still runs; stderr: ${service.stderr}`)
    t.diagnostic(`${kinds[i]}: ${service.lines.filter((l) => l.type === 'leak').length} leak events, ${balancer.served.get(await service.port)} requests`)
  }
  assert.deepEqual(balancer.failures, [])
})

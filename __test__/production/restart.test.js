'use strict'

// The restart policy at production timings (issue 32): the watcher at its defaults, under
// loopback load. Standalone, with the policy's defaults but its minimum uptime (a 35 s
// readiness delay, probes every second, a 30 s drain): a leaking instance beside a healthy one
// behind a balancer that probes readiness leaves with its evidence written and no request
// failing. Under cluster, four leaking workers, the spacing at 20 s: replacement first, one at
// a time, spaced, never fewer than four serving. Both run at once. The minimum uptime is 2 min
// in both, not the default 5: with it the standalone service waited on the wall, its leak
// reported and its evidence written, for a rule that the fast-pace test holds at its default
// (mitigate/restart.test.js, "a leak that reaches its limit before minIntervalMs").
const test = require('node:test')
const { runStandalone, assertLeftGracefully, runCluster, assertRestartedInTurn } = require('../support/restart-harness')

/** Heap limit of the services: a leak of ~1 MB/s reaches it in about eight minutes. */
const HEAP_MB = 512
/** The policy's minimum uptime in both runs (the default is 5 min). */
const MIN_UPTIME_MS = 2 * 60_000

test('restarts at production timings', { concurrency: true }, async (t) => {
  const standalone = t.test('standalone, at every default but the minimum uptime: leaves gracefully with its evidence written', { timeout: 12 * 60_000 }, async (t) => {
    const run = await runStandalone(t, { env: { LEAKPROOF_RESTART: '1', LEAKPROOF_RESTART_MIN_INTERVAL_MS: String(MIN_UPTIME_MS) }, sickEnv: { SERVICE_LEAK_RECORDS: '4' }, heapMb: HEAP_MB, probeMs: 1000 })
    assertLeftGracefully(run, { readinessDelayMs: 35_000 })
    const due = run.sick.line('restart-due')
    t.diagnostic(`restart due ${Math.round((due.time - run.sick.line('listening').time) / 1000)} s after start, ${Math.round(due.timeLeftMs / 1000)} s before the limit; ${run.balancer.ok} requests`)
  })
  const cluster = t.test('cluster of four, all leaking: one at a time, replacement first, spaced', { timeout: 12 * 60_000 }, async (t) => {
    const spacingMs = 20_000
    const run = await runCluster(t, {
      env: { LEAKPROOF_RESTART: '1', LEAKPROOF_RESTART_MIN_INTERVAL_MS: String(MIN_UPTIME_MS), LEAKPROOF_RESTART_CLUSTER_SPACING_MS: String(spacingMs), LEAKPROOF_MAX_SNAPSHOTS: '16', SERVICE_LEAK_RECORDS: '2' },
      workers: 4,
      heapMb: HEAP_MB,
      timeoutMs: 10 * 60_000,
    })
    const fewest = assertRestartedInTurn(run, { workers: 4, spacingMs })
    t.diagnostic(`requests ${run.balancer.ok}, fewest serving ${fewest}`)
  })
  await Promise.all([standalone, cluster])
})

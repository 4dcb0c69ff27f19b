'use strict'

// The restart policy under `cluster`, at the fast test pace: four workers sharing a port, all
// leaking, under loopback load. The primary (the preload's coordinator) starts each one's
// replacement before it leaves, one at a time and spaced: no request fails, never fewer than
// four workers serve, and every worker's evidence is on disk.
const test = require('node:test')
const { FAST_ENV, runCluster, assertRestartedInTurn } = require('../support/restart-harness')

const WORKERS = 4
const SPACING_MS = 3000

test('four leaking workers restart one at a time, replacement first, spaced, with no request failing', async (t) => {
  const run = await runCluster(t, {
    env: {
      ...FAST_ENV,
      LEAKPROOF_RESTART: '1',
      LEAKPROOF_RESTART_MIN_INTERVAL_MS: '0',
      LEAKPROOF_RESTART_DRAIN_TIMEOUT_MS: '5000',
      LEAKPROOF_RESTART_CLUSTER_SPACING_MS: String(SPACING_MS),
      // Two snapshots a worker, none rotated away by another's.
      LEAKPROOF_MAX_SNAPSHOTS: '16',
      SERVICE_LEAK_RECORDS: '4',
    },
    workers: WORKERS,
    timeoutMs: 150_000,
  })
  const fewest = assertRestartedInTurn(run, { workers: WORKERS, spacingMs: SPACING_MS })
  t.diagnostic(`requests ${run.balancer.ok}, fewest serving ${fewest}`)
})

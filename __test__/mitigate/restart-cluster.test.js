'use strict'

// The restart policy under `cluster`, at the fast test pace: four workers sharing a port, all
// leaking, under loopback load. The primary (the preload's coordinator) starts each one's
// replacement before it leaves, one at a time and spaced: no request fails, never fewer than
// four workers serve, and every worker's evidence is on disk.
const test = require('node:test')
const assert = require('node:assert/strict')
const { FAST_ENV, runCluster, assertRestartedInTurn } = require('../support/restart-harness')
const { URGENT_MARGIN_MS } = require('../../lib/mitigate/cluster')

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
      // The default maxSnapshots (4) on one dir: each worker keeps its own budget, so a
      // sibling's snapshots never rotate away a waiting worker's pair.
      SERVICE_LEAK_RECORDS: '4',
    },
    workers: WORKERS,
    timeoutMs: 150_000,
  })
  const fewest = assertRestartedInTurn(run, { workers: WORKERS, spacingMs: SPACING_MS })
  t.diagnostic(`requests ${run.balancer.ok}, fewest serving ${fewest}`)
})

test("the spacing gives way to a worker whose limit would come first: its turn comes by its limit less its exit's time", async (t) => {
  const spacingMs = 600_000 // longer than the leak leaves any worker
  const drainTimeoutMs = 5000
  const run = await runCluster(t, {
    env: {
      ...FAST_ENV,
      LEAKPROOF_RESTART: '1',
      LEAKPROOF_RESTART_MIN_INTERVAL_MS: '0',
      LEAKPROOF_RESTART_READINESS_DELAY_MS: '0',
      LEAKPROOF_RESTART_DRAIN_TIMEOUT_MS: String(drainTimeoutMs),
      LEAKPROOF_RESTART_CLUSTER_SPACING_MS: String(spacingMs),
      LEAKPROOF_MAX_SNAPSHOTS: '8',
      // V8's own snapshot near the limit would go to the working directory, and stretch the limit.
      LEAKPROOF_NEAR_HEAP_LIMIT: '0',
      SERVICE_LEAK_RECORDS: '4',
    },
    workers: 2,
    heapMb: 128,
    timeoutMs: 150_000,
  })
  const [first, second] = run.exits
  assert.ok(second, `both workers left: ${JSON.stringify(run.exits)}; stderr: ${run.stderr}`)
  for (const exit of run.exits) assert.deepEqual([exit.code, exit.onPurpose], [75, true], 'each left on purpose, none at the heap limit')
  const [, replacement] = run.lines.filter((l) => l.type === 'fork').slice(2)
  const due = run.lines.find((l) => l.type === 'restart-due' && l.pid === second.worker)
  // Its latest turn as first asked; the worker asks again, sooner, if its limit comes nearer.
  // On a loaded machine the leak is reported late, and that turn may have passed before the
  // worker asked: then it comes when asked.
  const latestTurnAt = due.limitAt - URGENT_MARGIN_MS - drainTimeoutMs
  const turnBy = Math.max(first.time, latestTurnAt, due.time)
  assert.ok(replacement.time >= first.time, 'one restart at a time')
  assert.ok(replacement.time <= turnBy + 2000, `its turn came by its limit less its exit's time, or when it asked, not after the spacing (${replacement.time - turnBy} ms after; asked ${due.time - latestTurnAt} ms after that turn, the first left ${first.time - latestTurnAt} ms after it)`)
  assert.deepEqual(run.balancer.failures, [])
  t.diagnostic(`second restart ${Math.round((replacement.time - first.time) / 1000)} s after the first exit, ${Math.round((due.limitAt - second.time) / 1000)} s before its first projected limit`)
})

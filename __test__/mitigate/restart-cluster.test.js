'use strict'

// The restart policy under `cluster`, at the fast test pace: four workers sharing a port, all
// leaking, under loopback load. The primary (the preload's coordinator) starts each one's
// replacement before it leaves, one at a time and spaced: no request fails, never fewer than
// four workers serve, and every worker's evidence is on disk.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const net = require('node:net')
const { ServiceProcess, Balancer, FAST_ENV } = require('../support/restart-harness')
const { tempDir } = require('../support/temp-dir')

const WORKERS = 4
const SPACING_MS = 3000

/** A port free on 127.0.0.1 just now. */
async function freePort() {
  const server = net.createServer().listen(0, '127.0.0.1')
  await new Promise((resolve) => server.once('listening', resolve))
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address())
  await new Promise((resolve) => server.close(resolve))
  return port
}

/**
 * The workers serving over time, from the primary's `listening` lines and each leaving
 * worker's close (its `restart-exit` time less its drain): the fewest once the first
 * workers all listened.
 */
function fewestServing(lines, firstWorkers) {
  const changes = []
  for (const l of lines) {
    if (l.type === 'listening') changes.push({ time: l.time, delta: +1 })
    if (l.type === 'restart-exit') changes.push({ time: l.time - l.drainMs, delta: -1 })
    if (l.type === 'exit' && !lines.some((e) => e.type === 'restart-exit' && e.pid === l.worker)) changes.push({ time: l.time, delta: -1 })
  }
  // Within one millisecond, a replacement's listening comes first: its worker closes only when told it listens.
  changes.sort((a, b) => a.time - b.time || b.delta - a.delta)
  const allUp = Math.max(...lines.filter((l) => l.type === 'listening' && firstWorkers.includes(l.worker)).map((l) => l.time))
  let serving = 0
  let fewest = Infinity
  for (const { time, delta } of changes) {
    serving += delta
    if (time >= allUp) fewest = Math.min(fewest, serving)
  }
  return fewest
}

test('four leaking workers restart one at a time, replacement first, spaced, with no request failing', async (t) => {
  const dir = tempDir(t)
  const port = await freePort()
  const primary = new ServiceProcess({
    ...FAST_ENV,
    LEAKPROOF_RESTART: '1',
    LEAKPROOF_RESTART_MIN_INTERVAL_MS: '0',
    LEAKPROOF_RESTART_DRAIN_TIMEOUT_MS: '5000',
    LEAKPROOF_RESTART_CLUSTER_SPACING_MS: String(SPACING_MS),
    LEAKPROOF_DIR: dir,
    LEAKPROOF_MAX_SNAPSHOTS: '16',
    SERVICE_CLUSTER: String(WORKERS),
    SERVICE_PORT: String(port),
    SERVICE_LEAK: '1',
    SERVICE_LEAK_RECORDS: '4',
  })
  t.after(() => primary.kill('SIGTERM'))
  const forked = async (n) => {
    while (primary.lines.filter((l) => l.type === 'listening').length < n) await new Promise((resolve) => setTimeout(resolve, 50))
  }
  await forked(WORKERS)
  const firstWorkers = primary.lines.filter((l) => l.type === 'fork').map((l) => l.worker)
  const balancer = new Balancer()
  balancer.add(port, { probe: false })
  balancer.start(16)
  const leftOnPurpose = () => primary.lines.filter((l) => l.type === 'exit' && firstWorkers.includes(l.worker))
  const until = Date.now() + 150_000
  while (leftOnPurpose().length < WORKERS && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 100))
  await new Promise((resolve) => setTimeout(resolve, 1000))
  await balancer.stop()
  const lines = primary.lines

  const exits = leftOnPurpose()
  assert.equal(exits.length, WORKERS, `every first worker left: ${JSON.stringify(exits)}; stderr: ${primary.stderr}`)
  for (const exit of exits) assert.deepEqual([exit.code, exit.onPurpose], [75, true])
  const forks = lines.filter((l) => l.type === 'fork')
  assert.equal(forks.length, 2 * WORKERS, 'one replacement each, and the primary re-forked none')
  // One at a time, replacement first, each replacement at least the spacing after the last exit.
  const replacements = forks.slice(WORKERS)
  exits.sort((a, b) => a.time - b.time)
  for (let i = 0; i < WORKERS; i++) {
    const leaving = lines.find((l) => l.type === 'restart-exit' && l.pid === exits[i].worker)
    const replacementUp = lines.find((l) => l.type === 'listening' && l.worker === replacements[i].worker)
    assert.ok(replacementUp.time <= leaving.time - leaving.drainMs, `worker ${i + 1}'s replacement listened before it closed`)
    if (i > 0) assert.ok(replacements[i].time >= exits[i - 1].time + SPACING_MS, `restart ${i + 1} came ${replacements[i].time - exits[i - 1].time} ms after the last exit`)
    if (i > 0) assert.ok(replacements[i].time >= exits[i - 1].time, 'never two at once')
  }
  const fewest = fewestServing(lines, firstWorkers)
  assert.ok(fewest >= WORKERS - 1, `never fewer than ${WORKERS - 1} serving (fewest: ${fewest})`)
  // Evidence: each worker's restart-due listed a report, and its files are on disk.
  for (const exit of exits) {
    const due = lines.find((l) => l.type === 'restart-due' && l.pid === exit.worker)
    assert.ok(due.evidence.settled && due.evidence.reports.length >= 1, JSON.stringify(due.evidence))
    assert.ok(due.plan.coordinated, 'the worker knew its primary coordinates')
    for (const file of [...due.evidence.reports, ...due.evidence.snapshots]) assert.ok(fs.existsSync(file), file)
  }
  assert.deepEqual(balancer.failures, [])
  t.diagnostic(`requests ${balancer.ok}, fewest serving ${fewest}`)
})

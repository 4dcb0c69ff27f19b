'use strict'

// When a restart is due (lib/mitigate/restart-policy.js), on a clock of the test's: the
// rules one at a time, each both ways.
const test = require('node:test')
const assert = require('node:assert/strict')
const { RestartPolicy } = require('../../lib/mitigate/restart-policy')
const { resolveRestart } = require('../../lib/mitigate/restart-options')

/** Every default, as `watch({ restart: true })` resolves them. */
const DEFAULTS = resolveRestart('restart', true)

const MINUTE = 60_000

/** A policy whose process started at 0, on a clock the test sets; `at(ms)` moves it. */
function policyAt(settings = {}) {
  const clock = { time: 0, now: () => clock.time, monotonic: () => clock.time }
  const policy = new RestartPolicy({ ...DEFAULTS, minIntervalMs: 0, ...settings }, { clock, processStartedAt: 0 })
  return { policy, at: (ms) => (clock.time = ms) }
}

const leak = (kind, time) => ({ type: 'leak', kind, time, slopeBytesPerSec: 1e6, current: 1e8, urgent: true })
const report = (time, path = '/d/r.report.json') => ({ type: 'report', kind: 'pair', time, path, baseline: '/d/a.heapsnapshot', followUp: '/d/b.heapsnapshot' })
const trend = (kind, limitAt, leaking = true) => ({ kind, leaking, limitAt })

/** policyAt(settings) at 10 min, with a heap leak reported then and its report written. */
function reportedHeapLeak(settings) {
  const { policy, at } = policyAt(settings)
  at(10 * MINUTE)
  policy.note(leak('heap', 10 * MINUTE))
  policy.note(report(10 * MINUTE))
  return { policy, at }
}

test('a leak near its limit, with its report, is due; the event lists the evidence', () => {
  const { policy, at } = policyAt()
  at(10 * MINUTE)
  policy.note(leak('heap', 10 * MINUTE))
  policy.note({ type: 'sites', time: 10 * MINUTE, profile: { heapprofile: '/d/p.heapprofile', pprof: '/d/p.pb.gz' } })
  policy.note(report(11 * MINUTE))
  at(11 * MINUTE)
  const due = policy.due([trend('heap', 20 * MINUTE)])
  assert.equal(due.kind, 'heap')
  assert.equal(due.timeLeftMs, 9 * MINUTE)
  assert.equal(due.leak.time, 10 * MINUTE)
  assert.deepEqual(due.evidence, { settled: true, reports: ['/d/r.report.json'], snapshots: ['/d/a.heapsnapshot', '/d/b.heapsnapshot'], profiles: ['/d/p.heapprofile', '/d/p.pb.gz'] })
})

test('never without a leak event of that kind, whatever the trend says', () => {
  const { policy, at } = policyAt()
  at(10 * MINUTE)
  policy.note(leak('external', 10 * MINUTE))
  policy.note(report(10 * MINUTE))
  assert.equal(policy.due([trend('heap', 11 * MINUTE)]), null)
  assert.equal(policy.due([trend('external', 11 * MINUTE)]).kind, 'external')
})

test('not once the growth has stopped (a cache that levelled off), nor with no limit known', () => {
  const { policy } = reportedHeapLeak()
  assert.equal(policy.due([trend('heap', 11 * MINUTE, false)]), null)
  assert.equal(policy.due([trend('heap', null)]), null)
  assert.equal(policy.due([]), null)
})

test('not while the limit is further than limitWithinMs; due once it comes within', () => {
  const { policy, at } = reportedHeapLeak({ limitWithinMs: 5 * MINUTE })
  assert.equal(policy.due([trend('heap', 16 * MINUTE)]), null)
  at(11 * MINUTE)
  assert.equal(policy.due([trend('heap', 16 * MINUTE)]).timeLeftMs, 5 * MINUTE)
})

test('not before the process has run minIntervalMs, unless the limit is too near to wait', () => {
  const { policy, at } = reportedHeapLeak({ minIntervalMs: 30 * MINUTE })
  assert.equal(policy.due([trend('heap', 20 * MINUTE)]), null)
  // Two exits (130 s at the defaults) from the limit, the process would die before its uptime
  // reached minIntervalMs: it restarts now, and says why.
  assert.equal(policy.due([trend('heap', 10 * MINUTE + 131_000)]), null)
  const early = policy.due([trend('heap', 10 * MINUTE + 130_000)])
  assert.deepEqual([early.timeLeftMs, early.beforeMinInterval, early.evidence.settled], [130_000, true, true])
  at(30 * MINUTE)
  const due = policy.due([trend('heap', 40 * MINUTE)])
  assert.equal(due.beforeMinInterval, false)
})

test('a coordinated cluster worker waits no readiness delay: its last moment is two drains from the limit', () => {
  // 2 × 30 s drain = 60 s, where a worker on its own has 2 × (35 s + 30 s) = 130 s.
  const clock = { time: 0, now: () => clock.time, monotonic: () => clock.time }
  const policy = new RestartPolicy({ ...DEFAULTS }, { clock, processStartedAt: 0, coordinated: true })
  clock.time = MINUTE
  policy.note(leak('heap', MINUTE))
  assert.equal(policy.due([trend('heap', MINUTE + 61_000)]), null)
  const due = policy.due([trend('heap', MINUTE + 60_000)])
  assert.deepEqual([due.beforeMinInterval, due.evidence.settled], [true, false])
})

test('waits for the evidence until the limit is two exits away, then goes without it', () => {
  // Two exits: 2 × (35 s + 30 s) = 130 s, over the least margin of 30 s.
  const { policy, at } = policyAt()
  at(10 * MINUTE)
  policy.note(leak('heap', 10 * MINUTE))
  policy.note(report(9 * MINUTE)) // an earlier leak's report is not this one's evidence
  assert.equal(policy.due([trend('heap', 10 * MINUTE + 131_000)]), null)
  const due = policy.due([trend('heap', 10 * MINUTE + 130_000)])
  assert.equal(due.evidence.settled, false)
})

test("the census' report while a pair is under way does not settle the evidence; the pair's does", () => {
  const { policy, at } = policyAt()
  at(10 * MINUTE)
  policy.note(leak('heap', 10 * MINUTE))
  policy.note({ type: 'report', kind: 'no-snapshot', time: 10 * MINUTE + 20_000, path: '/d/c.report.json', heapSnapshot: { taken: false, why: 'pair-pending', detail: null } })
  assert.equal(policy.due([trend('heap', 20 * MINUTE)]), null)
  policy.note(report(10 * MINUTE + 60_000))
  const due = policy.due([trend('heap', 20 * MINUTE)])
  assert.equal(due.evidence.settled, true)
  assert.deepEqual(due.evidence.reports, ['/d/c.report.json', '/d/r.report.json'])
})

test('the nearest of several leaking kinds is the one due', () => {
  const { policy, at } = policyAt()
  at(10 * MINUTE)
  policy.note(leak('heap', 10 * MINUTE))
  policy.note(leak('native', 10 * MINUTE))
  policy.note(report(10 * MINUTE))
  assert.equal(policy.due([trend('heap', 20 * MINUTE), trend('native', 15 * MINUTE)]).kind, 'native')
})

test('with a short exit, the evidence is awaited until 30 s before the limit', () => {
  const { policy, at } = policyAt({ readinessDelayMs: 0, drainTimeoutMs: 5_000 })
  at(10 * MINUTE)
  policy.note(leak('heap', 10 * MINUTE))
  assert.equal(policy.due([trend('heap', 10 * MINUTE + 31_000)]), null)
  assert.equal(policy.due([trend('heap', 10 * MINUTE + 30_000)]).evidence.settled, false)
})

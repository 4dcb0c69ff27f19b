'use strict'

// One rule for a snapshot pair's follow-up, whichever thread the pair is of (issue 70): the
// rule on its own (lib/capture/pair.js' Pair#followUpDue), then a service whose main thread
// and whose worker (watched from the main thread) both leak, with `followUpGrowthBytes` set
// once: each pair's follow-up waits for that much growth and for its thread to recover from
// the baseline's pause.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const { Pair } = require('../../lib/capture/pair')
const { firstHolder } = require('../../lib/diagnose/report-text')
const { runScenario, scenarioDirs } = require('../support/threads-app')

const MiB = 1024 * 1024

test.after(() => {
  for (const dir of scenarioDirs) fs.rmSync(dir, { recursive: true, force: true })
})

/** A pair whose baseline was written at 1 s after stopping its thread for 2 s, following the heap (and `kinds`). */
function pair(kinds = ['heap']) {
  return new Pair({ path: '/d/b.heapsnapshot', levels: { heap: 10 * MiB, external: 1 * MiB }, kinds: new Set(kinds), startedAt: 0, endedAt: 1_000, pauseMs: 2_000 })
}

/** The state the rule reads, the heap grown by `heapGrowth` at `now`. */
const state = (now, heapGrowth, fields = {}) => ({ now, levels: { heap: 10 * MiB + heapGrowth, external: 1 * MiB, native: null, nativeAt: null }, intervalMs: 500, followUpGrowthBytes: 4 * MiB, diagnosing: false, urgent: false, ...fields })

test('the follow-up is due once a kind it follows grew followUpGrowthBytes and its thread recovered for three pauses', () => {
  const p = pair()
  // Recovered at 1 s + 3 × 2 s, whatever the growth before.
  assert.equal(p.followUpDue(state(6_999, 8 * MiB)), null)
  assert.deepEqual(p.followUpDue(state(7_000, 4 * MiB)), [{ kind: 'heap', sinceBytes: 10 * MiB, untilBytes: 14 * MiB, growthBytes: 4 * MiB }])
  assert.equal(p.followUpDue(state(60_000, 4 * MiB - 1)), null, 'less growth waits, however long')
  // A short pause: the sampling interval is the least recovery.
  const quick = new Pair({ path: '/d/b', levels: { heap: 0, external: 0 }, kinds: new Set(['heap']), startedAt: 0, endedAt: 1_000, pauseMs: 10 })
  assert.equal(quick.followUpDue({ ...state(1_499, 0), levels: { heap: 5 * MiB } }), null)
  assert.notEqual(quick.followUpDue({ ...state(1_500, 0), levels: { heap: 5 * MiB } }), null)
})

test('the follow-up waits for a diagnosis under way unless the leak is urgent', () => {
  const p = pair()
  assert.equal(p.followUpDue(state(10_000, 5 * MiB, { diagnosing: true })), null)
  assert.notEqual(p.followUpDue(state(10_000, 5 * MiB, { diagnosing: true, urgent: true })), null)
})

test('a pair following external and native memory compares each with its own baseline; native from the first floor read after it settled', () => {
  const p = pair(['external', 'native'])
  const levels = { heap: 10 * MiB, external: 6 * MiB, native: 50 * MiB }
  // Not the heap (not followed), but external memory grew 5 MiB.
  assert.deepEqual(p.followUpDue({ ...state(10_000, 0), levels }), [{ kind: 'external', sinceBytes: 1 * MiB, untilBytes: 6 * MiB, growthBytes: 5 * MiB }])
  // A native floor taken within an interval of the baseline is not its level.
  p.noteNative({ native: 40 * MiB, nativeAt: 1_400 }, 500, { now: () => 1_400, monotonic: () => 1_400 })
  assert.equal(p.grown(levels).some((g) => g.kind === 'native'), false)
  p.noteNative({ native: 40 * MiB, nativeAt: 1_600 }, 500, { now: () => 1_600, monotonic: () => 1_600 })
  p.noteNative({ native: 48 * MiB, nativeAt: 9_000 }, 500, { now: () => 9_000, monotonic: () => 9_000 })
  assert.deepEqual(p.grown(levels).find((g) => g.kind === 'native'), { kind: 'native', sinceBytes: 40 * MiB, untilBytes: 48 * MiB, growthBytes: 8 * MiB })
})

test("one followUpGrowthBytes, set once, times the follow-up of the main thread's pair and of a worker's watched from it", { timeout: 240_000 }, async () => {
  const followUpGrowthBytes = 6 * MiB
  const bothPaired = (events) => [true, false].every((main) => events.some((e) => e.type === 'report' && e.kind === 'pair' && (e.threadId === 0) === main))
  const { events } = await runScenario('worker-and-main', 120_000, bothPaired, { LEAKPROOF_FOLLOW_UP_GROWTH_BYTES: String(followUpGrowthBytes) })
  const said = JSON.stringify(events.filter((e) => e.type !== 'sample').map((e) => [e.type, e.threadId, e.kind ?? e.role ?? e.skipped]))
  for (const main of [true, false]) {
    const report = events.find((e) => e.type === 'report' && e.kind === 'pair' && (e.threadId === 0) === main)
    assert.ok(report !== undefined, `no pair of the ${main ? 'main thread' : 'worker'}: ${said}`)
    // The worker's holder in its module, the main thread's in the fixture.
    assert.match(firstHolder(report) ?? '', main ? /threads-app\.js/ : /memo-handler\.js/, JSON.stringify(report.growthRoots?.[0] ?? null))
    const growth = Math.max(...report.leaking.map((kind) => kind.growthBytes))
    assert.ok(growth >= followUpGrowthBytes, `${main ? 'main' : 'worker'}: followed up after ${growth} bytes of growth`)
    const snapshot = (role) => events.find((e) => e.type === 'snapshot' && e.role === role && e.threadId === report.threadId && (role === 'baseline' ? e.path === report.baseline : e.path === report.followUp))
    const [baseline, followUp] = [snapshot('baseline'), snapshot('follow-up')]
    assert.ok(baseline !== undefined && followUp !== undefined, said)
    // The follow-up's snapshot is asked for no sooner than three of the baseline's pauses (or an interval) after it was written.
    assert.ok(followUp.time - baseline.time >= Math.max(500, 3 * baseline.durationMs), `${followUp.time - baseline.time} ms after a ${baseline.durationMs} ms baseline`)
  }
})

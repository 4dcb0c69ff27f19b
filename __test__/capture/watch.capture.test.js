'use strict'

// The watcher's capture policy over real snapshots in real directories: the pause budget
// and when it gives way, the follow-up that comes once the heap has grown, the budget's bad
// values, a full disk, and a process killed while writing.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { spawn, execFileSync } = require('node:child_process')
const { once } = require('node:events')
const { Capture } = require('../../lib/capture/capture')
const { watcherThreadTarget } = require('../../lib/watch/leak-targets')
const { SYSTEM_CLOCK } = require('../../lib/shared/clock')
const { resolveOptions } = require('../../lib/watch/options')
const { configFromEnv } = require('../../lib/watch/env-config')
const { SnapshotStore } = require('../../lib/capture/snapshots')
const { SnapshotCost } = require('../../lib/capture/snapshot-cost')
const { watch } = require('../..')
const { tempDir } = require('../support/temp-dir')

const MiB = 1024 * 1024
const isRoot = process.getuid?.() === 0

/** The heap floor now: what the capture is told a snapshot would hold. */
function floor() {
  return process.memoryUsage().heapUsed
}

/** The floors of each kind now, as the watcher gives them to the capture (no native floor yet). */
function floors() {
  const { heapUsed, external } = process.memoryUsage()
  return { heap: heapUsed, external, native: null, nativeAt: null }
}

/**
 * A Capture with the watcher's settings (`overrides` on top of the defaults), the events it
 * emits and the pairs it gives up (`noPair`) collected; its directory goes when test `t` is done. The monitor is only told to pause native floors: a stand-in here.
 */
function capture(t, overrides) {
  const dir = tempDir(t, 'capture')
  const events = []
  const noPair = []
  const monitor = { pauseNative() {}, resetNative() {} }
  const options = resolveOptions({ dir, nearHeapLimit: false, snapshotWriter: 'in-process', ...overrides })
  const emit = (type, fields) => events.push({ type, at: Date.now(), ...fields })
  const c = new Capture(options, { target: watcherThreadTarget(SYSTEM_CLOCK), monitor, emit, onNoPair: (skipped) => noPair.push(skipped) })
  return { c, dir, events, noPair }
}

const leak = (fields = {}) => ({ kind: 'heap', current: floor(), urgent: false, projectedLimitAt: null, ...fields })

test('a snapshot predicted to pause longer than the budget is declined with its cost and the ways to get it', async (t) => {
  const { c, dir, events } = capture(t, { snapshotMaxPauseMs: 1 })
  const result = await c.onLeak(leak()).written
  assert.equal(result.skipped, 'pause')
  assert.equal(result.reason, 'leak')
  assert.equal(result.pauseBudgetMs, 1)
  assert.ok(result.predicted.pauseMs > 1 && result.predicted.bytes > floor(), JSON.stringify(result.predicted))
  assert.match(result.detail, /stop the event loop for about [\d.]+ s/)
  assert.match(result.detail, /snapshotMaxPauseMs is 1\b/)
  assert.match(result.detail, /LEAKPROOF_SNAPSHOT_MAX_PAUSE_MS/)
  assert.deepStrictEqual(events.map((e) => e.type), ['snapshot-skipped'])
  assert.deepStrictEqual(fs.readdirSync(dir), [])
})

test('a process about to die gets its snapshot whatever the budget, and the event says why', async (t) => {
  const { c, events } = capture(t, { snapshotMaxPauseMs: 1 })
  const result = await c.onLeak(leak({ urgent: true, projectedLimitAt: Date.now() + 5 * 60_000 })).written
  assert.equal(result.role, 'baseline', JSON.stringify(result))
  assert.match(result.overBudgetBecause, /^the leak is urgent: its limit is projected in \d+ s$/)
  assert.ok(fs.statSync(result.path).size > 0)
  assert.equal(events[0].type, 'snapshot')
})

test('near the heap limit, a snapshot whose pause would outlast a liveness probe goes to a forked child, not in-process', async (t) => {
  if (process.platform !== 'linux') return t.skip('forked children write snapshots on Linux only')
  const { c, events } = capture(t, { snapshotWriter: 'fork', snapshotMemoryFactor: 0.001 })
  // A 1 GB heap (a pause of about a minute and a half) whose limit is an hour away: the dying
  // allowance alone would let it stop the process in-process.
  const result = await c.onNearLimit({ projectedLimitAt: Date.now() + 3_600_000, heapUsed: 1e9 })
  assert.equal(result.writer, 'child', JSON.stringify(result))
  assert.equal(result.reason, 'near-heap-limit')
  assert.equal(events[0].type, 'snapshot')
})

test('a leak that is not urgent stays within the budget, whatever its projection', async (t) => {
  const { c } = capture(t, { snapshotMaxPauseMs: 1 })
  const result = await c.onLeak(leak({ urgent: false, projectedLimitAt: Date.now() + 5 * 60_000 })).written
  assert.equal(result.skipped, 'pause')
})

test('a heap above its threshold is about to die too', async (t) => {
  const { c } = capture(t, { snapshotMaxPauseMs: 1 })
  const result = await c.onThreshold('heap')
  assert.equal(result.role, 'baseline', JSON.stringify(result))
  assert.equal(result.overBudgetBecause, 'the heap is above its threshold')
})

test('a threshold crossed while the leak\'s baseline is written is not lost: its snapshot follows', async (t) => {
  const { c, events } = capture(t, { cooldownMs: 0 })
  const baseline = c.onLeak(leak()).written
  // Crossed once, while the baseline is being written: reported once, so it must wait.
  assert.equal(c.onThreshold('heap'), null)
  assert.equal((await baseline).role, 'baseline')
  for (let i = 0; i < 200 && !events.some((e) => e.type === 'snapshot' && e.reason === 'threshold'); i++) await new Promise((resolve) => setTimeout(resolve, 50))
  const written = events.filter((e) => e.type === 'snapshot').map((e) => e.reason)
  assert.deepEqual(written, ['leak', 'threshold'], JSON.stringify(events.map((e) => e.type)))
})

test('a snapshot that could not finish before the projected limit is declined all the same', async (t) => {
  const { c } = capture(t, { snapshotMaxPauseMs: 1 })
  const result = await c.onLeak(leak({ urgent: true, projectedLimitAt: Date.now() + 50 })).written
  assert.equal(result.skipped, 'pause')
  assert.equal(result.overBudgetBecause, undefined)
})

test('the follow-up comes once the heap has grown, within the cooldown, and the pair becomes a report', async (t) => {
  const { c, events } = capture(t, { snapshotMaxPauseMs: Infinity, cooldownMs: 10 * 60_000, followUpGrowthBytes: 4 * MiB, intervalMs: 10 })
  const baseline = await c.onLeak(leak()).written
  const baselineEndedAt = Date.now()
  assert.equal(baseline.role, 'baseline', JSON.stringify(baseline))
  // Not grown yet: nothing.
  const notDue = c.onLeak(leak())
  assert.equal(notDue.role, null)
  assert.equal(await notDue.written, null)
  const kept = []
  let followUp = null
  const deadline = Date.now() + 60_000
  while (followUp === null && Date.now() < deadline) {
    // Up to ~10 MB kept, past the 4 MiB: growing on while the service recovers (three baseline
    // pauses) made the follow-up and its diff larger, and the test up to twice as slow.
    if (kept.length < 200_000) for (let i = 0; i < 20_000; i++) kept.push({ i, text: `entry ${i}` })
    c.onFloor(floors(), false)
    await new Promise((resolve) => setTimeout(resolve, 50))
    followUp = events.find((e) => e.type === 'snapshot' && e.role === 'follow-up') ?? null
  }
  assert.ok(followUp, JSON.stringify(events))
  assert.equal(followUp.baseline, baseline.path)
  // The service had at least three baseline pauses back before the follow-up.
  assert.ok(followUp.at - baselineEndedAt >= 3 * baseline.durationMs - 5, `${followUp.at - baselineEndedAt} ms after a ${baseline.durationMs} ms pause`)
  const report = await waitFor(events, 'report')
  assert.equal(report.baseline, baseline.path)
  assert.ok(kept.length > 0)
})

test('an external leak is followed up once external memory has grown, whatever the heap does', async (t) => {
  const { c, events } = capture(t, { snapshotMaxPauseMs: Infinity, cooldownMs: 10 * 60_000, followUpGrowthBytes: 4 * MiB, intervalMs: 10 })
  const baseline = await c.onLeak(leak({ kind: 'external', current: process.memoryUsage().external })).written
  assert.equal(baseline.role, 'baseline', JSON.stringify(baseline))
  await new Promise((resolve) => setTimeout(resolve, 3 * baseline.durationMs + 50))
  // The heap has not grown: no follow-up yet.
  assert.equal(await c.onFloor(floors(), false), null)
  const uploads = []
  for (let i = 0; i < 8; i++) uploads.push(Buffer.alloc(MiB, i))
  const followUp = await c.onFloor(floors(), false)
  assert.equal(followUp?.role, 'follow-up', JSON.stringify(followUp))
  const report = await waitFor(events, 'report')
  const external = report.leaking.find((k) => k.kind === 'external')
  assert.ok(external.growthBytes >= 4 * MiB, JSON.stringify(report.leaking))
  assert.equal(uploads.length, 8)
})

test('a native leak is followed up on native floors taken after the baseline, not on older ones', async (t) => {
  const { c, events } = capture(t, { snapshotMaxPauseMs: Infinity, cooldownMs: 10 * 60_000, followUpGrowthBytes: 4 * MiB, intervalMs: 10 })
  const before = Date.now()
  c.onFloor({ ...floors(), native: 100 * MiB, nativeAt: before }, false)
  const baseline = await c.onLeak(leak({ kind: 'native', current: 100 * MiB })).written
  assert.equal(baseline.role, 'baseline', JSON.stringify(baseline))
  await new Promise((resolve) => setTimeout(resolve, 3 * baseline.durationMs + 50))
  // A floor from before the snapshot was written does not count, however far below it is.
  assert.equal(await c.onFloor({ ...floors(), native: 200 * MiB, nativeAt: before }, false), null)
  const at = Date.now()
  assert.equal(await c.onFloor({ ...floors(), native: 200 * MiB, nativeAt: at }, false), null)
  assert.equal(await c.onFloor({ ...floors(), native: 202 * MiB, nativeAt: at + 10 }, false), null)
  const followUp = await c.onFloor({ ...floors(), native: 205 * MiB, nativeAt: at + 20 }, false)
  assert.equal(followUp?.role, 'follow-up', JSON.stringify(followUp))
  assert.equal(events.filter((e) => e.type === 'snapshot').length, 2)
  const report = await waitFor(events, 'report')
  assert.deepStrictEqual(report.leaking.find((k) => k.kind === 'native'), { kind: 'native', sinceBytes: 200 * MiB, untilBytes: 205 * MiB, growthBytes: 5 * MiB })
  // Nothing this process holds gained native memory between the two: its verdict says so,
  // with the mappings read once the native level settled and when the follow-up was decided.
  assert.equal(report.native.growthBytes, 5 * MiB)
  assert.equal(report.native.verdict, 'no JS object holds it', JSON.stringify(report.native))
  assert.ok(Array.isArray(report.native.mappings) && report.native.next.length > 0, JSON.stringify(report.native))
})

test('after a pair, the next snapshot waits for the cooldown', async (t) => {
  const { c } = capture(t, { snapshotMaxPauseMs: Infinity, cooldownMs: 10 * 60_000, followUpGrowthBytes: 1, intervalMs: 1 })
  const baseline = await c.onLeak(leak()).written
  // The follow-up waits for the service to recover from the baseline's pause.
  await new Promise((resolve) => setTimeout(resolve, 3 * baseline.durationMs + 50))
  // Grown, by far more than the garbage of earlier tests a GC may free meanwhile.
  const followUp = await c.onLeak(leak({ current: floor() + 64 * MiB })).written
  assert.equal(followUp?.role, 'follow-up', JSON.stringify(followUp))
  const third = await c.onLeak(leak()).written
  assert.equal(third.skipped, 'cooldown')
})

test('a declined follow-up ends the pair and says so, for the report without one', async (t) => {
  const { c, noPair } = capture(t, { snapshotMaxPauseMs: Infinity, followUpGrowthBytes: 1, intervalMs: 1 })
  const baseline = await c.onLeak(leak()).written
  await new Promise((resolve) => setTimeout(resolve, 3 * baseline.durationMs + 50))
  // Grown past what maxDiskBytes (4 GiB) can hold beside the baseline.
  const followUp = await c.onLeak(leak({ current: floor() + 4 * 1024 * MiB })).written
  assert.equal(followUp.skipped, 'disk-budget', JSON.stringify(followUp))
  assert.deepStrictEqual(noPair.map((s) => [s.skipped, s.reason]), [['disk-budget', 'follow-up']])
  // The pair is over: the next leak starts another, after the cooldown.
  assert.equal((await c.onLeak(leak()).written).skipped, 'cooldown')
})

/** The first event of `type`, waiting up to 60 s for it. */
async function waitFor(events, type) {
  const deadline = Date.now() + 60_000
  for (;;) {
    const found = events.find((e) => e.type === type)
    if (found !== undefined || Date.now() > deadline) return found
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

test('a pause budget of 0, below 0, NaN or not a number is refused with a coded error', () => {
  for (const bad of [0, -1, NaN, -Infinity]) {
    assert.throws(() => watch({ snapshotMaxPauseMs: bad }), (err) => {
      assert.equal(err.code, 'ERR_LEAKPROOF_INVALID_OPTION')
      assert.ok(err instanceof RangeError)
      assert.match(err.message, /^watch\(\): options\.snapshotMaxPauseMs must be a number of ms > 0/)
      return true
    })
  }
  assert.throws(() => watch({ snapshotMaxPauseMs: '2000' }), { code: 'ERR_LEAKPROOF_INVALID_OPTION', name: 'TypeError' })
  assert.equal(resolveOptions({ snapshotMaxPauseMs: Infinity }).snapshotMaxPauseMs, Infinity)
  assert.equal(resolveOptions({}).snapshotMaxPauseMs, 2000)
})

test('LEAKPROOF_SNAPSHOT_MAX_PAUSE_MS sets the budget; a bad value keeps the default and says so', () => {
  assert.equal(configFromEnv({ LEAKPROOF_SNAPSHOT_MAX_PAUSE_MS: '5000' }).options.snapshotMaxPauseMs, 5000)
  for (const bad of ['0', '-5', 'NaN', 'two seconds']) {
    const { options, problems } = configFromEnv({ LEAKPROOF_SNAPSHOT_MAX_PAUSE_MS: bad })
    assert.equal(options.snapshotMaxPauseMs, undefined)
    assert.equal(problems.length, 1)
    assert.match(problems[0], /ignoring LEAKPROOF_SNAPSHOT_MAX_PAUSE_MS=.*using the default, 2000/)
  }
})

/** Mounts a tmpfs of `bytes` (root only); returns its path, or null where mounting is not allowed. */
function mountTmpfs(t, bytes) {
  if (!isRoot || process.platform !== 'linux') return null
  const dir = tempDir(t, 'capture')
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', dir], { stdio: 'ignore' })
    return dir
  } catch {
    return null
  }
}

test('a nearly full disk declines the snapshot before writing a byte', { skip: !isRoot && 'needs root to mount a tmpfs' }, async (t) => {
  const predicted = new SnapshotCost().predict(floor())
  const dir = mountTmpfs(t, Math.ceil(predicted.bytes * 1.1))
  if (dir === null) return t.skip('mounting is not allowed here')
  try {
    const store = new SnapshotStore({ dir, maxSnapshots: 3, maxDiskBytes: 2 ** 40, cooldownMs: 0, memoryFactor: 1 })
    const result = await store.capture('leak', { heapUsed: floor(), predicted, maxPauseMs: Infinity })
    assert.equal(result.skipped, 'disk-full', JSON.stringify(result))
    assert.deepStrictEqual(fs.readdirSync(dir), [])
  } finally {
    execFileSync('umount', [dir], { stdio: 'ignore' })
  }
})

test('a process killed while writing leaves no snapshot visible, and the next writer frees its space', async (t) => {
  const dir = tempDir(t, 'capture')
  const child = spawn(process.execPath, [path.join(__dirname, 'fixtures', 'capture-killed.js'), dir], { stdio: 'ignore' })
  const deadline = Date.now() + 60_000
  let temp
  while (temp === undefined && Date.now() < deadline) {
    temp = fs.readdirSync(dir).find((name) => name.endsWith('.tmp') && fs.statSync(path.join(dir, name)).size > 0)
    if (temp === undefined) await new Promise((resolve) => setTimeout(resolve, 20))
  }
  assert.ok(temp, 'the child started writing')
  child.kill('SIGKILL')
  await once(child, 'exit')
  assert.deepStrictEqual(fs.readdirSync(dir).filter((name) => !name.startsWith('.')), [])
  const store = new SnapshotStore({ dir, maxSnapshots: 3, maxDiskBytes: 2 ** 40, cooldownMs: 0, memoryFactor: 1 })
  const heapUsed = floor()
  const written = await store.capture('leak', { heapUsed, predicted: new SnapshotCost().predict(heapUsed), maxPauseMs: Infinity })
  assert.deepStrictEqual(fs.readdirSync(dir), [path.basename(written.path)])
})

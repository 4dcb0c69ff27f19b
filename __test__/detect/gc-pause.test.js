'use strict'

// The watcher never stops the service over 250 ms for a GC of its own (issue 67): an atomic
// GC's pause is predicted from the heap and this process's measured ones, and where it would
// not fit, floors come from incremental GCs that V8 is never asked to finish at once.
const test = require('node:test')
const assert = require('node:assert/strict')
const { setTimeout: sleep } = require('node:timers/promises')
const { AtomicPauses, FullGcPauses, OldSpaceBursts, MAX_FORCED_PAUSE_MS } = require('../../lib/detect/gc-pause')
const { ForcedGc, exposedGc } = require('../../lib/detect/forced-gc')
const { Floors } = require('../../lib/detect/floors')
const { resolveOptions } = require('../../lib/watch/options')

const MB = 1e6

test('an atomic GC is predicted at 2 ms a MB until one is measured, then by the slowest of the newest three, with a margin', () => {
  const pauses = new AtomicPauses()
  assert.equal(MAX_FORCED_PAUSE_MS, 250)
  assert.ok(pauses.fit(100 * MB), 'a 100 MB heap: 200 ms predicted')
  assert.ok(!pauses.fit(200 * MB), 'a 200 MB heap: 400 ms predicted')
  pauses.record(30, 60 * MB) // 0.5 ms a MB, taken as 0.75
  assert.equal(Math.round(pauses.predictMs(300 * MB)), 225)
  assert.ok(pauses.fit(300 * MB))
  assert.ok(!pauses.fit(400 * MB))
  // One slow GC governs until three newer ones have been measured.
  pauses.record(500, 200 * MB) // 2.5 ms a MB
  pauses.record(10, 100 * MB)
  pauses.record(10, 100 * MB)
  assert.ok(!pauses.fit(100 * MB), 'the slow one is among the newest three')
  pauses.record(10, 100 * MB)
  assert.ok(pauses.fit(100 * MB), 'it is no longer')
  pauses.record(0, 0) // a heap of nothing teaches nothing
  assert.ok(pauses.fit(100 * MB))
})

test('V8 profiles the pause of a full GC; none is counted for a scavenge', () => {
  const gc = exposedGc()
  const pauses = new FullGcPauses()
  const kept = Array.from({ length: 200_000 }, (_, i) => ({ i }))
  pauses.start()
  const started = performance.now()
  gc()
  const wall = performance.now() - started
  const felt = pauses.stop()
  assert.ok(felt > 0 && felt <= wall + 1, `${felt} ms profiled, ${wall} ms taken`)
  pauses.start()
  gc({ type: 'minor' })
  assert.equal(pauses.stop(), 0)
  assert.equal(pauses.stop(), null, 'stopped twice: nothing counted')
  assert.equal(kept.length, 200_000)
})

test('a burst of growth of the old generation is told from an interval without one', () => {
  const v8 = require('node:v8')
  const bursts = new OldSpaceBursts()
  bursts.read()
  assert.equal(bursts.burst, false, 'nothing grew')
  // Arrays of this size are allocated in V8's young large-object space, and promoted by the next two scavenges.
  const oldBytes = v8.getHeapSpaceStatistics().filter((s) => s.space_name === 'old_space' || s.space_name === 'large_object_space').reduce((sum, s) => sum + s.space_used_size, 0)
  const kept = Array.from({ length: Math.ceil((0.2 * oldBytes) / 400_000) }, () => new Array(50_000).fill(1.5))
  const gc = exposedGc()
  gc({ type: 'minor' })
  gc({ type: 'minor' })
  bursts.read()
  assert.equal(bursts.burst, true, `${kept.length} arrays of 400 KB kept, against ${oldBytes} bytes of old objects`)
  bursts.read()
  assert.equal(bursts.burst, false, 'the next interval grew by nothing')
})

test('where an atomic GC would not fit, the first floors come from incremental GCs, and the budget is charged what the thread felt', async () => {
  let atomicCalls = 0
  const appGc = globalThis.gc
  globalThis.gc = () => atomicCalls++ // what the watcher would call for an atomic GC
  const options = resolveOptions({ intervalMs: 1_000 })
  const floors = new Floors(options.intervalMs)
  const forced = new ForcedGc(options, {
    floors,
    floorSpacingMs: () => 0,
    urgentGrowth: () => false,
    onError: (err) => assert.fail(err),
    atomicPauses: new AtomicPauses(0.001), // no heap fits
  })
  try {
    forced.tick()
    assert.equal(forced.count, 1, 'a full GC requested for the first floor')
    // At V8's pace: marking starts about 10 s after the request.
    for (let i = 0; i < 600 && !floors.pending; i++) await sleep(50)
    const floor = floors.take()
    assert.ok(floor !== null, 'the incremental GC brought a floor')
    assert.equal(floor.forced.reason, 'first-floors')
    assert.equal(floor.forced.atomic, false)
    assert.equal(atomicCalls, 0, 'gc() was never called')
    assert.ok(floor.forced.ms >= 1_000, `the request took ${floor.forced.ms} ms: V8's pace, not an eager one`)
    assert.ok(floor.forced.pauseMs < floor.forced.ms, `${floor.forced.pauseMs} ms felt of ${floor.forced.ms} ms`)
    assert.equal(forced.pauseMs, floor.forced.pauseMs, 'the budget is charged the pause')
  } finally {
    forced.stop()
    floors.stop()
    globalThis.gc = appGc
  }
})

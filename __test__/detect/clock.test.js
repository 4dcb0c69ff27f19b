'use strict'

// The watcher's parts read time from the clock they are given (lib/shared/clock.js), so
// behaviour over minutes is tested without waiting for them.
const test = require('node:test')
const assert = require('node:assert/strict')
const { setTimeout: sleep } = require('node:timers/promises')
const { resolveOptions } = require('../../lib/watch/options')
const { Floors } = require('../../lib/detect/floors')
const { ForcedGc } = require('../../lib/detect/forced-gc')

/** A clock that moves only when told: `advance(ms)`. */
function manualClock(start = Date.parse('2026-11-24T12:00:00Z')) {
  let time = start
  return { now: () => time, monotonic: () => time, advance: (ms) => void (time += ms) }
}

/** Until the forced GC requested at the last tick has noted its floor (an incremental GC resolves later). */
async function forcedGcNoted(floors) {
  for (let i = 0; i < 500 && !floors.pending; i++) await sleep(10)
  assert.ok(floors.pending, 'the forced GC noted its floor')
}

test('the first floors, then a quiet full GC only once forceGcAfterMs has passed on the clock', async () => {
  const clock = manualClock()
  const options = resolveOptions({ intervalMs: 10_000, forceGcAfterMs: 60_000 })
  const floors = new Floors(options.intervalMs, clock)
  const forced = new ForcedGc(options, {
    floors,
    floorSpacingMs: () => 0,
    urgentGrowth: () => false,
    onError: (err) => assert.fail(err),
    clock,
  })
  const interval = async () => {
    forced.tick()
    if (forced.count > counted) await forcedGcNoted(floors)
    counted = forced.count
    const floor = floors.take()
    clock.advance(options.intervalMs)
    return floor
  }
  let counted = 0
  const first = [await interval(), await interval()]
  assert.equal(forced.count, 2, 'a full GC for each of the first two floors')
  assert.deepEqual(first.map((f) => f.forced.reason), ['first-floors', 'first-floors'])
  assert.equal(first[1].time - first[0].time, options.intervalMs, "floors carry the clock's time")
  // 10 s after the second forced GC; no full GC for the next five intervals (50 s)...
  for (let i = 0; i < 5; i++) assert.equal(await interval(), null)
  assert.equal(forced.count, 2)
  // ...and at 60 s without one, a quiet full GC.
  const quiet = await interval()
  assert.equal(forced.count, 3)
  assert.equal(quiet.forced.reason, 'quiet')
  forced.stop()
  floors.stop()
})

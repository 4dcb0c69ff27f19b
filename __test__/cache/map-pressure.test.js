'use strict'

/**
 * Memory pressure (lib/cache/map-pressure.js): when pressure starts and ends, maps that shrink
 * by their own policy and grow back, the process-wide default, the options' checks. The real
 * service under a small heap is __test__/cache/pressure.service.test.js.
 */
const { test } = require('node:test')
const assert = require('node:assert/strict')
const { BoundedMap } = require('../../lib/cache/bounded-map')
const { PressureEpisodes, judgeForWatcher, underPressure, pressureState, RELEASE_GAP } = require('../../lib/cache/map-pressure')

const HOLD = 1000

test('pressure starts at enterShare or on an urgent leak, and ends after its hold once below enterShare - the gap', () => {
  const episodes = new PressureEpisodes(0.8, HOLD)
  assert.equal(episodes.note(0.79, false, 0), null)
  assert.equal(episodes.note(0.8, false, 10), 'start')
  assert.equal(episodes.note(0.25, false, 20), null, 'within the hold, however low (the leak beside the maps let go at once)')
  assert.equal(episodes.note(0.8 - RELEASE_GAP + 0.01, false, 10 + HOLD), null, 'above the gap')
  assert.equal(episodes.note(0.25, false, 10 + HOLD), 'end')
  assert.equal(episodes.count, 1)

  const urgent = new PressureEpisodes(0.8, HOLD)
  assert.equal(urgent.note(0.3, true, 0), 'start')
  assert.equal(urgent.note(0.3, true, HOLD), null, 'a new urgent leak restarts the hold')
  assert.equal(urgent.note(0.3, false, 2 * HOLD - 1), null)
  assert.equal(urgent.note(0.3, false, 2 * HOLD), 'end')
})

test('while a leak elsewhere keeps memory up the maps stay small; pressure that comes back soon doubles the hold', () => {
  const episodes = new PressureEpisodes(0.8, HOLD)
  episodes.note(0.85, false, 0)
  for (let t = 100; t < 20 * HOLD; t += 100) assert.equal(episodes.note(0.8 - RELEASE_GAP + 0.01, false, t), null)
  assert.equal(episodes.note(0.5, false, 20 * HOLD), 'end')
  assert.equal(episodes.note(0.85, false, 20 * HOLD + 100), 'start', 'back within two holds')
  assert.equal(episodes.note(0.3, false, 20 * HOLD + 100 + HOLD), null, 'the hold is now twice as long')
  assert.equal(episodes.note(0.3, false, 20 * HOLD + 100 + 2 * HOLD), 'end')
  assert.equal(episodes.note(0.85, false, 30 * HOLD), 'start', 'long after: back to one hold')
  assert.equal(episodes.note(0.3, false, 31 * HOLD), 'end')
})

test('maps that opted in shrink by their own policy and grow back; the others keep their bounds', (t) => {
  const judge = judgeForWatcher({ enterShare: 0.8, holdMs: HOLD, shrinkMaps: false })
  t.after(() => judge.stop())
  const evicted = []
  const lru = new BoundedMap({ max: 100, name: 'lru', shrinkUnderPressure: true, onEvict: (value, key, reason) => evicted.push([key, reason]) })
  const fifo = new BoundedMap({ max: 100, policy: 's3-fifo', shrinkUnderPressure: 0.25 })
  const bytes = new BoundedMap({ maxBytes: 1000, sizeOf: () => 10, shrinkUnderPressure: 0.5 })
  const other = new BoundedMap({ max: 100, name: 'other' })
  for (let i = 0; i < 100; i++) [lru, fifo, bytes, other].forEach((m) => m.set(i, i))
  for (let i = 90; i < 100; i++) [lru, fifo].forEach((m) => m.get(i))

  const change = judge.note({ usage: 0.9, urgent: false, reason: 'heap' }, 0)
  assert.equal(change.state, 'shrink')
  assert.deepEqual(change.maps.map((m) => [m.name, m.keepShare, m.size, m.evicted]), [['lru', 0.5, 50, 50], [null, 0.25, 25, 75], [null, 0.5, 50, 50]])
  assert.ok(underPressure())
  assert.deepEqual(pressureState(), { underPressure: true, episodes: 1 })
  assert.deepEqual([lru.size, fifo.size, bytes.size, bytes.stats().bytes, other.size], [50, 25, 50, 500, 100])
  assert.deepEqual([lru.max, lru.stats().boundShare, other.stats().boundShare], [100, 0.5, 1], 'max is the bound as set; boundShare says the share in force')
  assert.deepEqual(evicted.slice(0, 3), [[0, 'evict'], [1, 'evict'], [2, 'evict']], 'LRU evicts its least recently used, through onEvict')
  for (let i = 90; i < 100; i++) assert.ok(lru.has(i) && fifo.has(i), `the entries in use stay: ${i}`)

  for (let i = 100; i < 200; i++) [lru, fifo, bytes].forEach((m) => m.set(i, i))
  assert.deepEqual([lru.size, fifo.size, bytes.size], [50, 25, 50], 'sets stay within the share while pressure lasts')
  const made = new BoundedMap({ max: 40, shrinkUnderPressure: true })
  for (let i = 0; i < 40; i++) made.set(i, i)
  assert.equal(made.size, 20, 'a map made under pressure starts small')

  assert.equal(judge.note({ usage: 0.5, urgent: false, reason: 'heap' }, 10), null)
  const restore = judge.note({ usage: 0.3, urgent: false, reason: 'heap' }, HOLD)
  assert.equal(restore.state, 'restore')
  for (let i = 200; i < 400; i++) [lru, fifo, bytes, made].forEach((m) => m.set(i, i))
  assert.deepEqual([lru.size, fifo.size, bytes.size, made.size, lru.stats().boundShare], [100, 100, 100, 40, 1], 'back to the whole bounds')
})

test('the watcher\'s shrinkMaps is the default of maps that do not say; false in a map wins; stop() restores', () => {
  const judge = judgeForWatcher({ enterShare: 0.8, holdMs: HOLD, shrinkMaps: 0.1 })
  const follows = new BoundedMap({ max: 100 })
  const refuses = new BoundedMap({ max: 100, shrinkUnderPressure: false })
  for (let i = 0; i < 100; i++) [follows, refuses].forEach((m) => m.set(i, i))
  judge.note({ usage: 1, urgent: false, reason: 'rss' }, 0)
  assert.deepEqual([follows.size, refuses.size], [10, 100])
  judge.stop()
  assert.equal(underPressure(), false)
  assert.equal(follows.stats().boundShare, 1, 'stop() gives the maps their bounds back')
  const after = new BoundedMap({ max: 10 })
  const stopped = judgeForWatcher({ enterShare: 0.8, holdMs: HOLD, shrinkMaps: false })
  stopped.note({ usage: 1, urgent: false, reason: 'heap' }, 0)
  assert.equal(after.stats().boundShare, 1, 'the default ended with its watcher')
  stopped.stop()
})

test('an onEvict that throws while a map shrinks is a warning; the other maps still shrink', async (t) => {
  const judge = judgeForWatcher({ enterShare: 0.8, holdMs: HOLD, shrinkMaps: false })
  t.after(() => judge.stop())
  const throwing = new BoundedMap({ max: 10, name: 'throws', shrinkUnderPressure: true, onEvict: () => { throw new Error('boom') } })
  const fine = new BoundedMap({ max: 10, shrinkUnderPressure: true })
  for (let i = 0; i < 10; i++) [throwing, fine].forEach((m) => m.set(i, i))
  const warnings = []
  const onWarning = (w) => warnings.push(w)
  process.on('warning', onWarning)
  t.after(() => process.off('warning', onWarning))
  judge.note({ usage: 0.95, urgent: false, reason: 'heap' }, 0)
  await new Promise((resolve) => setImmediate(resolve))
  assert.deepEqual([throwing.size, fine.size], [5, 5])
  assert.ok(warnings.some((w) => w.code === 'LEAKPROOF_MEMORY_PRESSURE' && /throws.*boom/.test(w.message)), warnings.map((w) => w.message).join('\n'))
  assert.ok(warnings.some((w) => w.code === 'LEAKPROOF_MEMORY_PRESSURE' && /\d+ BoundedMap\(s\) now hold at most their keep share/.test(w.message)))
})

test('shrinkUnderPressure takes a boolean or a share in (0, 1); anything else is a coded error', () => {
  for (const bad of [0, 1, 1.5, -0.1, 'yes', null, NaN]) {
    assert.throws(() => new BoundedMap({ max: 1, shrinkUnderPressure: bad }), { code: 'ERR_LEAKPROOF_INVALID_OPTION', message: /shrinkUnderPressure/ }, String(bad))
  }
  for (const good of [true, false, 0.3]) new BoundedMap({ max: 1, shrinkUnderPressure: good })
})

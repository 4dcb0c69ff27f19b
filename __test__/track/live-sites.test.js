'use strict'

// liveSites(): intervals never cleared, timeouts, promises never settled and listeners, by
// creation site; growth between two readings; nothing of ours left once untracked.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const timers = require('node:timers')
const { promisify } = require('node:util')
const { EventEmitter } = require('node:events')
const { trackTimers, trackPromises, trackEmitter, liveSites, compareLiveSites, topGrowingSites } = require('../..')
const { GrowingSites } = require('../../lib/track/live-sites')
const { lineOf } = require('../support/listener-helpers')

const at = (marker) => new RegExp(`^${__filename}:${lineOf(marker)}:\\d+$`)
const tick = () => new Promise((resolve) => setImmediate(resolve))

test('live intervals and timeouts by site; cleared and fired ones drop out', async () => {
  const originals = [globalThis.setTimeout, globalThis.setInterval, timers.setTimeout, timers.setInterval]
  const tracker = trackTimers()
  const intervals = []
  try {
    assert.equal(globalThis.setTimeout, timers.setTimeout, 'one stand-in for both')
    for (let i = 0; i < 3; i++) intervals.push(setInterval(() => {}, 60_000)) // INTERVAL
    const moduleInterval = timers.setInterval(() => {}, 60_000) // MODULE-INTERVAL
    intervals.push(moduleInterval)
    const slow = setTimeout(() => {}, 60_000) // TIMEOUT
    setTimeout(() => {}, 1) // SHORT
    assert.equal(await promisify(setTimeout)(1, 'v'), 'v', 'promisify still finds the custom form')
    await new Promise((resolve) => setTimeout(resolve, 5))
    const first = liveSites()
    assert.deepEqual(first.intervals.map((g) => g.count), [3, 1])
    assert.match(first.intervals[0].site, at('INTERVAL'))
    assert.match(first.intervals[1].site, at('MODULE-INTERVAL'))
    assert.equal(first.timeouts.length, 1, 'fired timeouts are gone')
    assert.match(first.timeouts[0].site, at('TIMEOUT'))
    clearInterval(intervals.pop())
    clearTimeout(slow)
    const second = liveSites()
    assert.deepEqual(second.intervals.map((g) => g.count), [3])
    assert.deepEqual(second.timeouts, [])
  } finally {
    for (const interval of intervals) clearInterval(interval)
    tracker.untrack()
  }
  assert.deepEqual([globalThis.setTimeout, globalThis.setInterval, timers.setTimeout, timers.setInterval], originals)
  assert.deepEqual(liveSites().intervals, [])
})

test('pending promises by site; settled ones drop out; untrack stops recording', async () => {
  const tracker = trackPromises()
  let release
  try {
    const stuck = []
    for (let i = 0; i < 4; i++) stuck.push(new Promise(() => {})) // NEVER
    const later = new Promise((resolve) => { release = resolve }) // LATER
    await Promise.resolve()
    const before = liveSites()
    const never = before.promises.find((g) => at('NEVER').test(g.site))
    assert.equal(never.count, 4)
    assert.ok(before.promises.some((g) => at('LATER').test(g.site)))
    release()
    await later
    const after = liveSites()
    assert.ok(!after.promises.some((g) => at('LATER').test(g.site)), 'settled')
    assert.equal(stuck.length, 4)
  } finally {
    tracker.untrack()
  }
  const untracked = new Promise(() => {})
  assert.deepEqual(liveSites().promises, [])
  assert.ok(untracked instanceof Promise)
})

test('compareLiveSites and topGrowingSites rank what grew', async () => {
  const bus = trackEmitter(new EventEmitter(), { name: 'bus', threshold: 1000 })
  const tracker = trackTimers()
  const intervals = []
  try {
    const before = liveSites()
    for (let i = 0; i < 5; i++) bus.on('job', () => {}) // GROWS
    for (let i = 0; i < 2; i++) intervals.push(setInterval(() => {}, 60_000)) // POLL
    const after = liveSites()
    const growth = compareLiveSites(before, after)
    assert.deepEqual(growth.map((g) => [g.kind, g.growth]), [['listener', 5], ['interval', 2]])
    assert.match(growth[0].site, at('GROWS'))
    assert.equal(growth[0].emitter, 'bus')
    assert.equal(growth[0].event, 'job')
    assert.equal(growth[0].emitters, 1)
    assert.match(growth[1].site, at('POLL'))
    assert.deepEqual(compareLiveSites(after, before), [], 'shrinking is no growth')

    assert.equal(topGrowingSites(1).length, 1)
    bus.on('job', () => {}) // GROWS-AGAIN
    const [next] = topGrowingSites()
    assert.equal(next.growth, 1)
    assert.match(next.site, at('GROWS-AGAIN'))
    assert.throws(() => topGrowingSites(0), { code: 'ERR_LEAKPROOF_INVALID_OPTION' })
  } finally {
    for (const interval of intervals) clearInterval(interval)
    tracker.untrack()
  }
  await tick()
})

test('each GrowingSites keeps its own baseline: topGrowingSites() calls do not move it', async () => {
  const tracker = trackTimers()
  const intervals = []
  try {
    const mine = new GrowingSites()
    mine.top(10)
    topGrowingSites()
    for (let i = 0; i < 2; i++) intervals.push(setInterval(() => {}, 60_000)) // MINE
    assert.equal(topGrowingSites().length, 1, 'the public baseline sees the growth')
    const grown = mine.top(10)
    assert.deepEqual(grown.map((g) => [g.kind, g.growth]), [['interval', 2]])
    assert.match(grown[0].site, at('MINE'))
    assert.deepEqual(mine.top(10), [], 'and then counts from its own last call')
  } finally {
    for (const interval of intervals) clearInterval(interval)
    tracker.untrack()
  }
  await tick()
})

test("leakproof's own timers are named by the app line that caused them, not by a file of leakproof's", () => {
  const tracker = trackTimers()
  try {
    const { BoundedMap } = require('../..')
    const map = new BoundedMap({ max: 10, ttl: 60_000 })
    map.set('a', 1) // CACHE-TIMER
    const sites = liveSites().timeouts.map((g) => g.site)
    assert.ok(sites.length > 0, 'the map armed its expiry timer')
    for (const site of sites) assert.match(site, at('CACHE-TIMER'))
    map.clear()
  } finally {
    tracker.untrack()
  }
})

test('census() and compareCensus(), the former names, do what liveSites() and compareLiveSites() do and warn once each', async () => {
  const { census, compareCensus } = require('../..')
  const warnings = []
  const onWarning = (warning) => warnings.push(warning)
  process.on('warning', onWarning)
  const tracker = trackTimers()
  const interval = setInterval(() => {}, 60_000) // FORMER-NAME
  try {
    const nothing = { time: 0, listeners: [], intervals: [], timeouts: [], promises: [] }
    const [former, again, current] = [census(), census(), liveSites()]
    assert.deepEqual([former.intervals, again.intervals], [current.intervals, current.intervals])
    assert.match(former.intervals[0].site, at('FORMER-NAME'))
    assert.deepEqual(compareCensus(nothing, former), compareLiveSites(nothing, current))
    compareCensus(nothing, former)
    await tick()
  } finally {
    clearInterval(interval)
    tracker.untrack()
    process.off('warning', onWarning)
  }
  const ours = warnings.filter((w) => w.code === 'LEAKPROOF_DEPRECATED').map((w) => [w.name, w.message])
  assert.deepEqual(ours, [
    ['DeprecationWarning', 'leakproof: census() is deprecated: it is liveSites() now, and does the same'],
    ['DeprecationWarning', 'leakproof: compareCensus() is deprecated: it is compareLiveSites() now, and does the same'],
  ])
})

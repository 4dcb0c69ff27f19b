'use strict'

// When listener-leak reports come: a site is reported when its listeners on one event pass
// the threshold, then each time they grow by half again over the count last reported, however
// the event's listeners came and went in between.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const { EventEmitter } = require('node:events')
const { trackEmitter, listenerLeaks } = require('../..')
const { trackedState } = require('../../lib/track/listener-table')
const { lineOf } = require('../support/listener-helpers')
const { rng } = require('../support/helpers')

/** Calls `body`, then returns the listener-leak reports on `emitter` (delivered on the next tick). */
async function reportsOf(emitter, body) {
  const leaks = []
  const onLeak = (leak) => {
    if (leak.target === emitter) leaks.push(leak)
  }
  listenerLeaks.on('listener-leak', onLeak)
  try {
    body()
    await new Promise((resolve) => setImmediate(resolve))
  } finally {
    listenerLeaks.off('listener-leak', onLeak)
  }
  return leaks
}

const byValue = (a, b) => a - b

/** Sorted per-site counts the bucket of `x` keeps, or null while it keeps none. */
function keptCounts(bus) {
  const bucket = trackedState(bus).buckets.get('x')
  if (bucket === undefined || bucket.counts === null) return null
  return [...bucket.counts.values()].filter((n) => n !== 0).sort(byValue)
}

test('after a removal, the next report still comes at half again over the last one', async () => {
  const bus = trackEmitter(new EventEmitter(), { threshold: 10 })
  bus.setMaxListeners(0)
  const fns = []
  const add = (until) => {
    while (fns.length < until) {
      const fn = () => {}
      fns.push(fn)
      bus.on('x', fn) // CHURN
    }
  }
  const leaks = await reportsOf(bus, () => {
    add(11)
    for (const fn of fns.splice(8)) bus.off('x', fn)
    add(24)
  })
  // 11 passes the threshold of 10: reported. Half again over 11 is 16.5, so the 17th listener
  // is the next report, whatever came and went before; half again over 17 is 25.5, so 24
  // listeners bring no third one.
  assert.deepEqual(leaks.map((l) => [l.count, l.growth]), [[11, 11], [17, 6]])
  assert.match(leaks[1].site, new RegExp(`:${lineOf('CHURN')}:\\d+$`))
})

test('a listener removed while the per-site counts are kept is uncounted from its own site', () => {
  const bus = trackEmitter(new EventEmitter(), { threshold: 10 })
  bus.setMaxListeners(0)
  const fns = Array.from({ length: 11 }, () => () => {})
  for (const fn of fns) bus.on('x', fn)
  for (const fn of fns.splice(8)) bus.off('x', fn)
  assert.deepEqual(keptCounts(bus), [8], 'above half the threshold, the counts are kept')
  const other = () => {}
  bus.on('x', other)
  bus.off('x', other)
  assert.deepEqual(keptCounts(bus), [8])
})

/** The reports the rule gives for `steps` ([site, +1 or -1] each) at `threshold`: [site, count]. */
function expectedReports(steps, threshold) {
  const live = [0, 0]
  const reportedAt = [0, 0]
  const out = []
  for (const [site, delta] of steps) {
    live[site] += delta
    if (delta < 0) continue
    const due = reportedAt[site] === 0 ? live[site] > threshold : live[site] >= reportedAt[site] * 1.5
    if (!due) continue
    reportedAt[site] = live[site]
    out.push([site, live[site]])
  }
  return out
}

test('reports follow the rule through random churn of two sites, and the kept counts stay exact', async () => {
  const threshold = 6
  const random = rng(0x11571)
  const bus = trackEmitter(new EventEmitter(), { threshold })
  bus.setMaxListeners(0)
  const held = [[], []]
  const steps = []
  const addA = (fn) => bus.on('x', fn) // MODEL-A
  const addB = (fn) => bus.on('x', fn) // MODEL-B
  const add = [addA, addB]
  const step = (site, adding) => {
    if (adding) {
      const fn = () => {}
      held[site].push(fn)
      add[site](fn)
    } else {
      bus.off('x', held[site].splice(random.int(held[site].length), 1)[0])
    }
    steps.push([site, adding ? 1 : -1])
  }
  const leaks = await reportsOf(bus, () => {
    // The event's count sweeps to random targets: half of them near the threshold, so it
    // turns back between the threshold and its half; the others ever higher, so that sites
    // keep reaching their next report (which a site only gets by growing half again).
    for (let round = 0; round < 400; round++) {
      const target = 1 + random.int(random() < 0.5 ? 2 * threshold : 8 * threshold + round)
      while (held[0].length + held[1].length !== target) {
        const adding = held[0].length + held[1].length < target
        step(adding ? random.int(2) : random.pick([0, 1].filter((site) => held[site].length > 0)), adding)
        const kept = keptCounts(bus)
        if (kept !== null) assert.deepEqual(kept, held.map((fns) => fns.length).filter((n) => n > 0).sort(byValue))
      }
    }
  })
  const lines = [lineOf('MODEL-A'), lineOf('MODEL-B')]
  const siteOf = (leak) => lines.findIndex((line) => new RegExp(`:${line}:\\d+$`).test(leak.site))
  const expected = expectedReports(steps, threshold)
  assert.ok(expected.length >= 6, `the walk reaches several reports (${expected.length})`)
  assert.deepEqual(leaks.map((leak) => [siteOf(leak), leak.count]), expected)
})

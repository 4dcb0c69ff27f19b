'use strict'

// cachesThrashing(): real BoundedMaps driven through read-through workloads, one batch of
// lookups per interval, with the clock passed in by the test. The rule and its constants
// are in lib/cache/registry.js; the counts of calls below follow from them (3 recent
// intervals, 12 reference intervals, 3 full calls, 100 lookups).

const test = require('node:test')
const assert = require('node:assert/strict')
const { execFileSync } = require('node:child_process')
const path = require('node:path')
const { BoundedMap } = require('../../lib/cache/bounded-map')
const { cachesThrashing } = require('../../lib/cache/registry')
const { rng } = require('../support/helpers')

const INTERVAL_MS = 10_000
const LOOKUPS_PER_INTERVAL = 500
let clock = Date.UTC(2026, 10, 22)

/** `count` read-through lookups of keys drawn uniformly from `workingSet` keys (set on a miss). */
function readThrough(map, rand, workingSet, count = LOOKUPS_PER_INTERVAL, value = (k) => k) {
  for (let i = 0; i < count; i++) {
    const key = 'k' + rand.int(workingSet)
    if (map.get(key) === undefined) map.set(key, value(key))
  }
}

/**
 * Runs `intervals` intervals of `work`, calling cachesThrashing at the end of each as the
 * watcher would, and appends to `log`: in `calls`, each call's time (`at`) and the stats
 * of `maps` then; in `reports`, the reports about `maps` (other tests' maps are ignored),
 * each as `{ at, report }`.
 */
function drive(maps, intervals, work, log = { reports: [], calls: [] }) {
  for (let i = 0; i < intervals; i++) {
    work()
    clock += INTERVAL_MS
    log.calls.push({ at: clock, stats: maps.map((m) => m.stats()) })
    for (const report of cachesThrashing(clock)) {
      if (maps.some((m) => m.name === report.name)) log.reports.push({ at: clock, report })
    }
  }
  return log
}

/** The time of the first of the consecutive calls, up to call `index`, that found map `m` at its `max`. */
function fullSince(log, index, max, m = 0) {
  let first = index
  while (first > 0 && log.calls[first - 1].stats[m].size >= max) first--
  return log.calls[first].at
}

/** Hit ratio from the stats of two calls (`from` earlier). */
function ratioBetween(from, to) {
  return (to.hits - from.hits) / (to.hits + to.misses - from.hits - from.misses)
}

test('a map whose working set outgrows it is reported once, with its numbers', () => {
  const rand = rng(1)
  const map = new BoundedMap({ max: 100, name: 'thrash-grows' })
  // Fits (80 keys for 100 slots). A few lookups of a key that is never cached, more each
  // interval, make every interval's ratio different, so the periods' bounds show.
  let absent = 0
  const log = drive([map], 15, () => {
    readThrough(map, rand, 80)
    absent++
    for (let i = 0; i < absent; i++) map.get('absent')
  })
  const start = log.calls.length
  drive([map], 20, () => readThrough(map, rand, 400), log) // a quarter of it fits
  assert.equal(log.reports.length, 1, JSON.stringify(log.reports))
  const [{ at, report }] = log.reports
  // Full from the first interval of the larger working set; reported after three full calls.
  const firstFull = log.calls[start]
  assert.equal(firstFull.stats[0].size, 100)
  assert.equal(at, log.calls[start + 2].at)
  const calls = log.calls.map((c) => c.stats[0])
  const now = start + 2
  assert.deepEqual(
    report,
    {
      name: 'thrash-grows',
      size: 100,
      max: 100,
      bytes: 0,
      maxBytes: null,
      hitRatio: ratioBetween(calls[now - 3], calls[now]),
      earlierHitRatio: ratioBetween(calls[now - 15], calls[now - 3]),
      evictions: calls[now].evictions - calls[start - 1].evictions,
      since: firstFull.at,
    },
  )
  assert.ok(report.hitRatio < 0.4 && report.earlierHitRatio > 0.95, JSON.stringify(report))
  assert.ok(report.evictions > 1000, JSON.stringify(report))
  assert.deepEqual(JSON.parse(JSON.stringify(report)), report)
})

test('a map bounded in bytes is full from 95% of maxBytes, and reports max as null', () => {
  const rand = rng(2)
  // 100 to 198 bytes a value (16 + 2 × length), so the map stops just short of maxBytes.
  const map = new BoundedMap({ maxBytes: 10_000, name: 'thrash-bytes' })
  const value = (key) => 'v'.repeat(42 + (Number(key.slice(1)) % 50))
  const log = drive([map], 15, () => readThrough(map, rand, 60, LOOKUPS_PER_INTERVAL, value))
  drive([map], 10, () => readThrough(map, rand, 400, LOOKUPS_PER_INTERVAL, value), log)
  assert.equal(log.reports.length, 1, JSON.stringify(log.reports))
  const [{ report }] = log.reports
  assert.equal(report.max, null)
  assert.equal(report.maxBytes, 10_000)
  assert.ok(report.bytes >= 9_500 && report.bytes < 10_000, JSON.stringify(report))
})

test('a full map whose misses are not cached, so it evicts nothing, is not reported', () => {
  const rand = rng(7)
  const map = new BoundedMap({ max: 100, name: 'thrash-no-evictions' })
  const log = drive([map], 15, () => readThrough(map, rand, 100))
  // Now most lookups are for keys that are looked up but never set.
  drive([map], 20, () => {
    for (let i = 0; i < LOOKUPS_PER_INTERVAL; i++) map.get('k' + rand.int(400))
  }, log)
  assert.deepEqual(log.reports, [])
  const last = log.calls.at(-1).stats[0]
  assert.equal(last.size, 100)
  assert.ok(ratioBetween(log.calls.at(-4).stats[0], last) < 0.4, JSON.stringify(last))
})

test('a full map whose hit ratio stays high, stays low, or falls by less than half, is not reported', () => {
  const rand = rng(3)
  const high = new BoundedMap({ max: 100, name: 'thrash-steady-high' })
  const low = new BoundedMap({ max: 100, name: 'thrash-steady-low' }) // always too small
  const worse = new BoundedMap({ max: 100, name: 'thrash-worse' })
  const maps = [high, low, worse]
  const interval = (worseKeys) => () => {
    readThrough(high, rand, 105)
    readThrough(low, rand, 400)
    readThrough(worse, rand, worseKeys)
  }
  const log = drive(maps, 20, interval(100))
  drive(maps, 20, interval(160), log) // worse: from ~1 to ~0.63
  assert.deepEqual(log.reports, [])
  const last = log.calls.at(-1).stats
  assert.deepEqual(last.map((s) => s.size), [100, 100, 100])
  assert.ok(last[0].hitRatio > 0.9 && last[1].hitRatio < 0.3, JSON.stringify(last))
  assert.ok(last[0].evictions > 0 && last[1].evictions > 5000, JSON.stringify(last))
  const worseRatio = ratioBetween(log.calls.at(-4).stats[2], last[2])
  assert.ok(worseRatio > 0.55 && worseRatio < 0.7, `worse: ${worseRatio}`)
})

test('a full map that is barely used, or was barely used before, is not reported', () => {
  const rand = rng(4)
  const map = new BoundedMap({ max: 100, name: 'thrash-idle' })
  const log = drive([map], 15, () => readThrough(map, rand, 100))
  // 30 lookups an interval, every one a miss that evicts: 90 in the recent period.
  let fresh = 0
  drive([map], 20, () => {
    for (let i = 0; i < 30; i++) if (map.get(fresh) === undefined) map.set(fresh++, 0)
  }, log)
  drive([map], 20, () => {}, log) // then nothing at all
  // Filled by sets, two lookups an interval (hits), then busy with four times as many keys.
  const young = new BoundedMap({ max: 100, name: 'thrash-young' })
  for (let i = 0; i < 100; i++) young.set('k' + i, i)
  drive([map, young], 15, () => readThrough(young, rand, 100, 2), log)
  drive([map, young], 20, () => readThrough(young, rand, 400), log)
  assert.deepEqual(log.reports, [])
  const [idle, busy] = log.calls.at(-1).stats
  assert.equal(idle.size, 100)
  assert.ok(idle.evictions >= 600, JSON.stringify(idle))
  assert.ok(busy.size === 100 && busy.hitRatio < 0.4 && busy.evictions > 5000, JSON.stringify(busy))
  // Before, young's lookups all hit: a perfect ratio, but over too few lookups to count.
  assert.equal(log.calls.at(-21).stats[1].hitRatio, 1)
})

test('an unnamed map is not judged, and a map that is not full when judged is not reported', () => {
  const rand = rng(5)
  const named = new BoundedMap({ max: 100, name: 'thrash-twin' })
  const unnamed = new BoundedMap({ max: 100 })
  const roomy = new BoundedMap({ max: 100_000, name: 'thrash-roomy' })
  const trimmed = new BoundedMap({ max: 100, name: 'thrash-trimmed' })
  const log = drive([named, unnamed, roomy, trimmed], 15, () => {
    for (const map of [named, unnamed, roomy, trimmed]) readThrough(map, rand, 100)
  })
  let fresh = 0
  drive([named, unnamed, roomy, trimmed], 15, () => {
    for (const map of [named, unnamed, trimmed]) readThrough(map, rand, 400)
    // Keys never seen before: every lookup misses, but the map has room for them all.
    for (let i = 0; i < LOOKUPS_PER_INTERVAL; i++) if (roomy.get(fresh) === undefined) roomy.set(fresh++, 0)
    // Thrashes like its twin, but a few entries are deleted before each judgement.
    for (let i = 0; i < 400 && trimmed.size > 95; i++) trimmed.delete('k' + i)
  }, log)
  assert.deepEqual(log.reports.map((r) => r.report.name), ['thrash-twin'])
  const last = log.calls.at(-1).stats
  const recent = (m) => ratioBetween(log.calls.at(-4).stats[m], last[m])
  assert.ok(recent(1) < 0.4 && last[1].size === 100, JSON.stringify(last[1]))
  assert.ok(recent(2) === 0 && last[2].size > 7_000 && last[2].size < 100_000, JSON.stringify(last[2]))
  assert.ok(recent(3) < 0.4 && last[3].size === 95 && last[3].evictions > 5000, JSON.stringify(last[3]))
})

test('a map is reported only on the third consecutive call that finds it full', () => {
  const rand = rng(8)
  const map = new BoundedMap({ max: 1000, name: 'thrash-filling' })
  const log = drive([map], 15, () => readThrough(map, rand, 50))
  const start = log.calls.length
  // 500 keys never seen before each interval: it misses at once, fills on the second call.
  let fresh = 0
  drive([map], 5, () => {
    for (let i = 0; i < LOOKUPS_PER_INTERVAL; i++) if (map.get(fresh) === undefined) map.set(fresh++, 0)
  }, log)
  assert.deepEqual(log.calls.slice(start).map((c) => c.stats[0].size), [550, 1000, 1000, 1000, 1000])
  // On the second full call all else already holds: no hits in the recent period, evictions.
  assert.ok(log.calls[start + 2].stats[0].evictions - log.calls[start - 1].stats[0].evictions >= 375)
  assert.deepEqual(
    log.reports.map((r) => [r.at, r.report.since, r.report.evictions, r.report.hitRatio]),
    [[log.calls[start + 3].at, log.calls[start + 1].at, 1050, 0]],
  )
})

test('after its hit ratio recovers, a map that collapses again is reported again', () => {
  const rand = rng(6)
  const map = new BoundedMap({ max: 100, name: 'thrash-twice' })
  const fits = () => readThrough(map, rand, 100)
  const outgrown = () => readThrough(map, rand, 400)
  const log = drive([map], 15, fits)
  const first = log.calls.length
  drive([map], 10, outgrown, log)
  // Two thirds of the earlier ratio is not a recovery: collapsing from it is the same episode.
  const partial = log.calls.length
  drive([map], 15, () => readThrough(map, rand, 150), log)
  drive([map], 5, outgrown, log)
  drive([map], 15, fits, log)
  const second = log.calls.length
  drive([map], 10, outgrown, log)
  // Already full, so reported as soon as the recent ratio is below half the earlier one.
  const at = log.reports.map((r) => log.calls.findIndex((c) => c.at === r.at))
  assert.equal(at.length, 2, JSON.stringify(log.reports))
  assert.ok(at[0] >= first && at[0] < first + 3, `first report at call ${at[0]}`)
  assert.ok(at[1] >= second && at[1] < second + 3, `second report at call ${at[1]}`)
  // Full from before the first report on: what ended the episode was the recovered ratio.
  assert.ok(log.calls.slice(at[0]).every((c) => c.stats[0].size === 100))
  // The recent ratio on the last call before `end`.
  const ratio = (end) => ratioBetween(log.calls[end - 4].stats[0], log.calls[end - 1].stats[0])
  const partly = ratio(partial + 15)
  assert.ok(partly > 0.6 && partly < 0.7, `partly recovered: ${partly}`)
  assert.ok(ratio(second) > 0.9, `recovered: ${ratio(second)}`)
  const since = fullSince(log, at[0], 100)
  assert.deepEqual(log.reports.map((r) => r.report.since), [since, since])
})

test('a map that stops being full ends the episode: thrashing again once full, it is reported again', () => {
  const rand = rng(9)
  const map = new BoundedMap({ max: 100, name: 'thrash-cleared' })
  const log = drive([map], 15, () => readThrough(map, rand, 100))
  const start = log.calls.length
  drive([map], 3, () => readThrough(map, rand, 400), log)
  drive([map], 1, () => {
    readThrough(map, rand, 400)
    map.clear()
  }, log)
  drive([map], 6, () => readThrough(map, rand, 400), log)
  assert.equal(log.calls[start + 3].stats[0].size, 0)
  // Still far below the ratio of the first fifteen intervals, which the reference period holds.
  assert.deepEqual(
    log.reports.map((r) => r.report.since),
    [fullSince(log, start, 100), log.calls[start + 4].at],
  )
  assert.equal(log.reports[1].at, log.calls[start + 6].at)
})

test('a map that was judged can still be garbage collected', () => {
  const fixture = path.join(__dirname, 'fixtures', 'thrash-gc.js')
  const out = execFileSync(process.execPath, ['--expose-gc', fixture], { encoding: 'utf8', timeout: 60_000 })
  const result = JSON.parse(out)
  assert.deepEqual(result.reported, ['thrash-collected'])
  assert.equal(result.collected, true)
  assert.deepEqual(result.after, [])
  assert.deepEqual(result.named, [])
})

test('mapsFilling: a map at its byte bound is full, however many entries it holds', () => {
  const { mapsFilling } = require('../../lib/cache/registry')
  const bytesOnly = new BoundedMap({ maxBytes: 1000, sizeOf: (v) => v.length })
  const both = new BoundedMap({ max: 1000, maxBytes: 1000, sizeOf: (v) => v.length })
  for (const map of [bytesOnly, both]) for (let i = 0; i < 10; i++) map.set(i, 'x'.repeat(100))
  mapsFilling() // records sizes
  // Still at the byte bound, with more (smaller) entries: the growth is bounded, not filling.
  for (const map of [bytesOnly, both]) for (let i = 10; i < 30; i++) map.set(i, 'x'.repeat(20))
  assert.equal(bytesOnly.size > 10 && both.size > 10, true)
  assert.equal(mapsFilling(), 0)
  const roomy = new BoundedMap({ maxBytes: 10_000, sizeOf: (v) => v.length })
  mapsFilling()
  roomy.set('a', 'x')
  assert.equal(mapsFilling(), 1)
})

'use strict'

// Big heaps (issue 67): three search services with a catalog of about 1 GB of heap each,
// started as a user starts one (`node -r leakproof/register app.js`, only LEAKPROOF_LOG set:
// no `dir`, so no snapshot, and the census names the holder), under loopback load from
// processes of their own (250 requests a second each, nine in ten to the query route), all
// three at once:
// - a fast leak, every query kept (~2.2 KB each, about 0.5 MB/s): reported within 3 minutes
//   of the load's start, its holder named by the census;
// - a slow leak (~580 B a query, about 130 KB/s): within 10 minutes, its holder named;
// - a healthy service: a result cache that fills ever slower and levels off, and batch work
//   that swings the heap by about 100 MB every 2.5 minutes: no leak reported while the
//   others run.
// In all three, the service's own loop probe (loop-probe.js) sees no stop over 250 ms of
// leakproof's from the catalog's load to the end: none outside GCs (the census' slices, the
// watcher's own work), and none in a GC leakproof asked for. An atomic gc() of such a heap
// stopped a service for 1.5-3.4 s, which is why floors there come from incremental GCs
// (docs/watch.md, "Big heaps"). V8's own GCs are reported, not judged: its first full GC
// after a catalog was built, beside another service building its own on the same two cores,
// stopped one service 563 ms with no GC of leakproof's under way. On Node 24 only, what
// services run (LEAKPROOF_SERVICE_TESTS=1 runs it on any version).
//
// Run by hand, not in CI: BIG_HEAP_TESTS=1 npm run test:production -- __test__/production/big-heap.test.js
// (about 6 minutes, 4 GB of memory, nothing else running). Three 1 GB heaps on two cores do
// not always hold it: in 2 of its last 4 runs one service's first forced GC ended in a
// 583-647 ms stop, V8 marking in the atomic end while the other two services marked.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { events } = require('./helpers')
const { startService, finishService, killService, stopsOverLimit, longestStop, bigHeapSkip, MAX_STOP_MS, MINUTE } = require('./big-heap-services')

const MB = 1e6
/** The holder must be named this long after the leak event at most: the census of a heap of millions of objects. */
const HOLDER_WITHIN_MS = 4 * MINUTE
const POLL_MS = 2000
/**
 * The services start this far apart, a third of the watcher's interval: services on machines
 * of their own are not in step, and three 1 GB heaps marked at the same moment on two cores
 * (their first forced GCs, due at the same tick) made V8 do the marking in their atomic ends.
 */
const START_APART_MS = 3_333

const SERVICES = [
  { name: 'fast leak', config: { mode: 'leak', entryBytes: 2200 }, leakWithinMs: 3 * MINUTE, rate: [300_000, 800_000] },
  { name: 'slow leak', config: { mode: 'leak', entryBytes: 580 }, leakWithinMs: 10 * MINUTE, rate: [80_000, 200_000] },
  { name: 'healthy', config: { mode: 'healthy' } },
]

const skip = bigHeapSkip('about 6 minutes, 4 GB of memory')

/** What a service's log and probe say, for the diagnostics. */
function summary(s) {
  const all = events(s.log)
  const floors = all.filter((e) => e.type === 'sample')
  const { longest, gcsNear } = longestStop(s)
  const forced = floors.filter((f) => f.forcedGc)
  return [
    `${s.name}: floors ${floors.map((f) => Math.round(f.heapUsed / MB)).join(' ')} MB`,
    `forced GCs ${forced.length}, longest pause ${Math.max(0, ...forced.map((f) => f.gcPauseMs)).toFixed(0)} ms, longest request-to-floor ${Math.max(0, ...forced.map((f) => f.gcDurationMs)).toFixed(0)} ms`,
    `leak ${s.leak ? `${Math.round((s.leak.time - s.loadStartedAt) / 1000)} s after the load's start, ${s.leak.test} test, ${Math.round(s.leak.slopeBytesPerSec / 1000)} KB/s` : 'none'}`,
    `holder ${s.report ? `${Math.round((s.report.time - s.leak.time) / 1000)} s after the leak: ${s.report.suspects[0]?.holder.description} (${s.report.evidence}; passes ${s.report.census?.passes.map((p) => `${p.cost.cpuMs} ms CPU in ${p.cost.slices} slices, longest ${p.cost.longestSliceMs} ms`).join(', ')})` : 'none'}`,
    `longest stop since the catalog was loaded ${longest[1]} ms, ${longest[2]}'s (GCs then: ${JSON.stringify(gcsNear)}); kept ${s.stats.leaked} queries, cached ${s.stats.cached}`,
  ].join('; ')
}

test('services with a 1 GB heap: a fast and a slow leak reported and their holders named, a healthy one quiet, none stopped over 250 ms', { skip, timeout: 20 * MINUTE }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leakproof-big-heap-'))
  const services = await Promise.all(SERVICES.map((spec, i) => new Promise((resolve) => setTimeout(resolve, i * START_APART_MS)).then(() => startService(spec, dir))))
  const leaking = services.filter((s) => s.leakWithinMs !== undefined)
  const healthy = services.find((s) => s.leakWithinMs === undefined)
  try {
    // Each leaking service runs until its holder is named or its time is up; the healthy one as long as the last.
    while (leaking.some((s) => s.stats === null)) {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS))
      for (const s of leaking.filter((one) => one.stats === null)) {
        const all = events(s.log)
        s.leak ??= all.find((e) => e.type === 'leak' && e.kind === 'heap') ?? null
        s.report ??= all.find((e) => e.type === 'report') ?? null
        const deadline = s.leak === null ? s.loadStartedAt + s.leakWithinMs : s.leak.time + HOLDER_WITHIN_MS
        if (s.report !== null || Date.now() > deadline) await finishService(s)
      }
    }
    await finishService(healthy)
    for (const s of services) t.diagnostic(summary(s))

    for (const s of leaking) {
      const rate = ((s.stats.leaked * s.config.entryBytes) / (s.finishedAt - s.loadStartedAt)) * 1000
      assert.ok(s.leak, `${s.name}: no leak reported within ${s.leakWithinMs / 1000} s of the load's start: ${summary(s)}`)
      assert.ok(s.leak.time - s.loadStartedAt <= s.leakWithinMs, `${s.name}: reported ${Math.round((s.leak.time - s.loadStartedAt) / 1000)} s after the load's start`)
      assert.ok(s.leak.slopeBytesPerSec >= s.rate[0] && s.leak.slopeBytesPerSec <= s.rate[1], `${s.name}: ${Math.round(s.leak.slopeBytesPerSec / 1000)} KB/s reported (about ${Math.round(rate / 1000)} KB/s kept)`)
      assert.ok(s.report, `${s.name}: no holder within ${HOLDER_WITHIN_MS / 1000} s of the leak: ${summary(s)}`)
      assert.equal(s.report.evidence, 'census')
      assert.match(s.report.suspects[0].holder.description, /^recentSearches \(Array\), a module-level variable of .*big-heap-service\.js$/, summary(s))
    }
    assert.deepEqual(events(healthy.log).filter((e) => e.type === 'leak'), [], `healthy: ${summary(healthy)}`)
    for (const s of services) {
      assert.deepEqual(stopsOverLimit(s), [], `${s.name}: stops over ${MAX_STOP_MS} ms of leakproof's ([endedAt, ms]): ${summary(s)}`)
    }
  } finally {
    for (const s of services) killService(s)
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

'use strict'

// The detector on real services: leaking and healthy child processes serving http on
// 127.0.0.1 under load from inside the process, each for a bounded time.

const test = require('node:test')
const assert = require('node:assert/strict')
const { execFile } = require('node:child_process')
const path = require('node:path')

const SERVICE = path.join(__dirname, '..', 'support', 'fixtures', 'leaking-service.js')
// The service's watcher settings (support/fixtures/fast-watch.js).
const { FAST_WATCH } = require('../support/fixtures/fast-watch')

/**
 * Runs the service with `leak` (support/fixtures/leaking-service.js) for `durationMs`, or 3 s
 * past its first `leak` event; resolves with its events.
 */
function runService(scenario, durationMs) {
  return new Promise((resolve, reject) => {
    const args = [SERVICE, JSON.stringify({ leak: scenario, durationMs, until: 'leak', done: true })]
    execFile(process.execPath, args, { timeout: durationMs + 30_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`${scenario}: ${err.message}\n${stderr}`))
      resolve(stdout.trim().split('\n').map((line) => JSON.parse(line)))
    })
  })
}

const leaks = (events) => events.filter((e) => e.type === 'leak')

test('a heap leak is found as kind "heap", with its rate and a projection to the heap limit', async () => {
  const events = await runService('sessions', 30_000)
  const heap = leaks(events).filter((e) => e.kind === 'heap')
  assert.ok(heap.length > 0, JSON.stringify(leaks(events)))
  const [first] = heap
  assert.ok(first.slopeBytesPerSec > 64 * 1024)
  // The trend test asks for 0.999; the step tests (this leak reaches the heap limit within
  // hours: fast, or within minutes: urgent) judge five or more floors that each rose, which
  // Mann–Kendall puts at 0.98 at least. The event says which test spoke.
  assert.ok(['urgent', 'fast', 'trend'].includes(first.test), JSON.stringify(first))
  assert.ok(first.confidence >= (first.test === 'trend' ? 0.999 : 0.98), JSON.stringify(first))
  const withinHours = first.projectedLimitAt - first.time <= 8 * 3_600_000
  if (first.test === 'fast') assert.ok(withinHours, JSON.stringify(first))
  if (first.test === 'urgent') assert.equal(first.urgent, true, JSON.stringify(first))
  assert.ok(first.limit > first.current)
  assert.ok(first.projectedLimitAt > first.time)
  assert.ok(first.since < first.time)
  // A fast leak is shown by the window of every floor (docs/watch.md, "Slow leaks").
  assert.equal(first.scale, 'minutes', JSON.stringify(first))
  assert.ok(first.scaleSpanMs > 0)
  assert.equal(first.pid > 0 && typeof first.threadId, 'number')
  assert.ok(!leaks(events).some((e) => e.kind === 'external'), 'a heap leak is not an external one')
  // Repeated only when worse: far fewer reports than samples.
  assert.ok(heap.length < events.filter((e) => e.type === 'sample').length / 4)
})

test('a Buffer leak is found as kind "external"', async () => {
  const events = await runService('buffers', 30_000)
  assert.ok(leaks(events).some((e) => e.kind === 'external'), JSON.stringify(leaks(events)))
})

test('a healthy GC sawtooth never raises a leak', async () => {
  const events = await runService('sawtooth', 10_000)
  assert.deepStrictEqual(leaks(events), [])
  // Enough floors for windows to be judged and confirmed: minPoints (8) and two more.
  // (Each forced full GC is incremental and charged to the budget until it is done, so
  // there are fewer floors than intervals in a service that allocates this fast.)
  assert.ok(events.filter((e) => e.type === 'sample').length >= 10)
})

test('a cache that warms up to its capacity and then stays flat never raises a leak', async () => {
  const events = await runService('warm-cache', 10_000)
  assert.deepStrictEqual(leaks(events), [])
  // And a leak could have been raised: the detector had a window to judge, minPoints floors
  // spanning minDurationMs, all past its warm-up (which starts before the first floor) and
  // after the last floor taken while the cache was filling (that floor restarts the window).
  const samples = events.filter((e) => e.type === 'sample')
  assert.ok(samples.length > 0, 'the watcher took floors')
  const warm = samples[0].time + FAST_WATCH.warmupMs
  const lastFilling = samples.findLast((s) => s.cachesFilling)?.time ?? -Infinity
  const judged = samples.filter((s) => s.time >= warm && s.time > lastFilling)
  const said = `${judged.length} of ${samples.length} floors past the warm-up and the filling`
  assert.ok(judged.length >= FAST_WATCH.minPoints, said)
  assert.ok(judged.at(-1).time - judged[0].time >= FAST_WATCH.minDurationMs, said)
})

'use strict'

// Fast leaks at production defaults, in a real Express service started as a user starts it
// (see express-service.js): under saturating load, reported within about a minute of its
// start and the baseline written; and a leak of about 0.5 MB/s from the first request,
// reported about a minute after it (the warm-up ends once the service serves at a level rate). On Node 24 only, what services run
// (LEAKPROOF_SERVICE_TESTS=1 runs it on any version). It judges a minute of detection under
// its own saturating load, so scripts/test-production.js never runs it beside another file
// that saturates the machine.

const { describe, test } = require('node:test')
const assert = require('node:assert/strict')
const { Service, MiB, DEFAULT_MAX_DISK_BYTES, TEST_TIMEOUT_MS, skip, mb, seconds, ofType, heapLeaks } = require('./express-service')

describe('a real Express service leaking fast under saturating load, watched at production defaults', { skip }, () => {
  test('a fast leak under saturating load: reported within about a minute of its start, and the baseline written', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    // A minute of requests that keep nothing (past the watcher's warm-up), then ~2.4 KB kept
    // per /items request as fast as the service answers, capped at 2,800 requests a second
    // (~6 MB/s): faster, the heap at the baseline would outgrow the default disk budget.
    const warmupMs = 60_000
    const service = await Service.start(t, { entryBytes: 2200, load: { connections: 8, perSecond: 2800, warmupMs } })
    await service.waitFor(() => service.leakStartedAt !== null, service.startedAt + warmupMs + 30_000)
    const { leakStartedAt } = service
    assert.ok(leakStartedAt !== null, 'the load reached its leaking phase')
    const leakSeen = (ev) => heapLeaks(ev).some((e) => e.time >= leakStartedAt)
    const events = await service.waitFor(
      (ev) => (leakSeen(ev) && ofType(ev, 'snapshot').length + ofType(ev, 'snapshot-skipped').length > 0) ||
        (!leakSeen(ev) && Date.now() > leakStartedAt + 100_000),
      leakStartedAt + 240_000,
    )
    const firstPause = Math.min(...[...ofType(events, 'snapshot'), ...ofType(events, 'snapshot-skipped')].map((e) => e.time))
    const rate = service.growthRate(leakStartedAt, firstPause)
    await service.stop()
    const leak = heapLeaks(events).find((e) => e.time >= leakStartedAt)
    const baseline = ofType(events, 'snapshot').find((e) => e.role === 'baseline')
    t.diagnostic(`heap growth ${mb(rate)}/s; leak ${leak ? `${seconds(leak.time - leakStartedAt)} after the leak began, ${mb(leak.current)} heap, urgent ${leak.urgent}, by the ${leak.test} test` : 'none'}`)
    t.diagnostic(`baseline ${baseline ? `${mb(baseline.bytes)} in ${baseline.durationMs} ms, predicted ${JSON.stringify(baseline.predicted)}, ${baseline.overBudgetBecause}` : 'none'}`)
    t.diagnostic(`skipped ${JSON.stringify(ofType(events, 'snapshot-skipped'))}`)

    assert.ok(rate >= 5 * MiB, `the load made the heap grow ${mb(rate)}/s only: this machine did not run the scenario`)
    assert.ok(leak, `no heap leak reported ${seconds(Date.now() - leakStartedAt)} after the leak began: ${JSON.stringify(events)}`)
    assert.ok(leak.time - leakStartedAt <= 75_000, `the leak was reported ${seconds(leak.time - leakStartedAt)} after it began`)
    assert.ok(baseline, `no baseline written: ${JSON.stringify(events)}`)
    assert.ok(baseline.bytes <= DEFAULT_MAX_DISK_BYTES)
    assert.ok(baseline.writer === 'child' || baseline.overBudgetBecause, 'a child wrote it, or the pause is taken because the process is about to die, and the event says so')
  })
})

describe('a real Express service leaking from its first request, watched at production defaults', { skip }, () => {
  test('a leak of about 0.5 MB/s from the first request: reported within about a minute of it, before the 60 s warmupMs would allow', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    // 1,000 requests a second from the start, nine in ten to /items keeping ~500 B each; the
    // warm-up ends once three floors served at a level rate (30 s in), and the fast test then
    // judges six rising floors.
    const service = await Service.start(t, { entryBytes: 500, load: { connections: 8, perSecond: 1000, warmupMs: 0 } })
    await service.waitFor(() => service.leakStartedAt !== null, service.startedAt + 30_000)
    const { leakStartedAt } = service
    assert.ok(leakStartedAt !== null, 'the load started')
    const events = await service.waitFor((ev) => heapLeaks(ev).length > 0, leakStartedAt + 150_000)
    const rate = service.growthRate(leakStartedAt)
    await service.stop()
    const [leak] = heapLeaks(events)
    t.diagnostic(`heap growth ${mb(rate)}/s; leak ${leak ? `${seconds(leak.time - leakStartedAt)} after the first request, ${mb(leak.current)} heap, ${(leak.slopeBytesPerSec / 1e6).toFixed(2)} MB/s, urgent ${leak.urgent}, by the ${leak.test} test` : 'none'}`)

    assert.ok(rate >= 0.25e6 && rate <= 2e6, `the heap grew ${mb(rate)}/s: this machine did not run the scenario`)
    assert.ok(leak, `no heap leak reported ${seconds(Date.now() - leakStartedAt)} after the first request: ${JSON.stringify(events)}`)
    // The sixth floor 10 s apart, a few seconds after the first request; the trend test alone
    // took 90-100 s (three floors after the 60 s warm-up).
    assert.ok(leak.time - leakStartedAt <= 80_000, `the leak was reported ${seconds(leak.time - leakStartedAt)} after the first request`)
    assert.equal(leak.urgent, false, 'hours from the heap limit')
  })
})

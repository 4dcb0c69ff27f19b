'use strict'

/**
 * Memory pressure in a real service (support/fixtures/pressure-service.js under
 * `--max-old-space-size=96` and `-r leakproof/register`, `LEAKPROOF_SHRINK_MAPS` the
 * process-wide default): its BoundedMap fills, a leak elsewhere pushes the heap towards the
 * limit; the map shrinks, and once the leak is let go the map grows back and its hit ratio
 * recovers, without shrinking again. How much longer the service lives with the leak is
 * measured by bench/pressure.js (where V8 gives up near its limit varies by ~15 MiB from run
 * to run: a comparison of one run each is no test).
 */
const { test } = require('node:test')
const assert = require('node:assert/strict')
const { setTimeout } = require('node:timers/promises')
const { HEAP_MB, PAGES, LEAK_PAUSE_MS, startService, ask, browse, warm } = require('../support/pressure-client')
const { rng } = require('../support/helpers')

/** The longest the test waits for the map to shrink, or to be let grow back. */
const WAIT_MS = 60_000

test('once the leak is let go the map grows back and its hit ratio recovers, without shrinking again', { timeout: 4 * WAIT_MS }, async (t) => {
  const service = await startService({ shrink: true, later: (fn) => t.after(fn) })
  const random = rng(11)
  const before = await warm(service.port, random)
  let leakedMb = 0
  while (!service.events().some((e) => e.type === 'memory-pressure' && e.state === 'shrink')) {
    leakedMb = Number(await ask(service.port, '/leak', 'POST'))
    assert.ok(leakedMb > 0 && leakedMb < HEAP_MB, `no shrink before ${leakedMb} MiB of leak`)
    await browse(service.port, 40, random)
    await setTimeout(LEAK_PAUSE_MS)
  }
  const shrunk = JSON.parse(await ask(service.port, '/stats'))
  assert.equal(shrunk.boundShare, 0.5)
  assert.ok(shrunk.size <= PAGES / 2, `the map holds half its bound: ${shrunk.size}`)
  const during = (await browse(service.port, 2000, random)) / 2000
  assert.ok(during < 0.8 * before, `fewer hits while small: ${during} against ${before}`)

  assert.equal(await ask(service.port, '/release', 'POST'), 'released')
  const releasedAt = Date.now()
  while (!service.events().some((e) => e.type === 'memory-pressure' && e.state === 'restore')) {
    assert.notEqual(await browse(service.port, 200, random), null, 'the service lives')
    assert.ok(Date.now() - releasedAt < WAIT_MS, `no restore within ${WAIT_MS} ms of the leak's release: ${JSON.stringify(service.events().filter((e) => e.type === 'memory-pressure'))}`)
  }
  // Back to the whole bound: every page set again stays, and the ratio comes back.
  await warm(service.port, random)
  const after = (await browse(service.port, 2000, random)) / 2000
  const restored = JSON.parse(await ask(service.port, '/stats'))
  t.diagnostic(`hit ratio ${before.toFixed(3)} warm, ${during.toFixed(3)} under pressure (${leakedMb} MiB leaked), ${after.toFixed(3)} after; ${restored.size} pages held again`)
  assert.equal(restored.boundShare, 1)
  assert.equal(restored.size, PAGES, 'grew back to its bound')
  assert.ok(after > 0.95, `the hit ratio recovered: ${after}`)
  const changes = service.events().filter((e) => e.type === 'memory-pressure').map((e) => e.state)
  assert.deepEqual(changes, ['shrink', 'restore'], 'one shrink, one restore: no loop')
  assert.equal(service.child.exitCode, null, 'no crash')
})

'use strict'

const test = require('node:test')
const assert = require('node:assert/strict')
const v8 = require('node:v8')
const vm = require('node:vm')
const { setTimeout: delay, setImmediate: nextTurn } = require('node:timers/promises')
const { PerformanceObserver, constants } = require('node:perf_hooks')
const { FullGcSentinel } = require('../../lib/detect/full-gc-sentinel')

v8.setFlagsFromString('--expose-gc')
const gc = vm.runInNewContext('gc')

/** Counts the full GCs V8 reports, to check the sentinel against. */
function observeFullGcs() {
  const seen = { count: 0 }
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if ((entry.detail?.kind ?? entry.kind) === constants.NODE_PERFORMANCE_GC_MAJOR) seen.count++
    }
  })
  observer.observe({ entryTypes: ['gc'] })
  return { seen, stop: () => observer.disconnect() }
}

test('full GCs are reported, scavenges never, and nothing after stop()', async () => {
  const oracle = observeFullGcs()
  let reported = 0
  const sentinel = new FullGcSentinel(() => reported++)
  // Short-lived garbage only: hundreds of scavenges, which must never pass for a full GC.
  let sink
  for (let round = 0; round < 300; round++) {
    for (let i = 0; i < 20_000; i++) sink = { i, s: `x${i}` }
    if (round === 100) sentinel.aged()
    await nextTurn()
  }
  assert.ok(sink)
  await delay(20)
  assert.ok(reported <= oracle.seen.count, `${reported} reported, ${oracle.seen.count} full GCs`)
  // Full GCs, each followed by a turn for the callback: each one reclaims the sentinel
  // watched, and the one held meanwhile is watched next.
  const before = reported
  for (let k = 0; k < 8; k++) {
    gc()
    await delay(10)
  }
  assert.ok(reported >= before + 6, `${reported - before} of 8 full GCs reported`)
  assert.ok(reported <= oracle.seen.count, `${reported} reported, ${oracle.seen.count} full GCs`)
  sentinel.stop()
  const atStop = reported
  for (let k = 0; k < 4; k++) {
    gc()
    await delay(10)
  }
  assert.equal(reported, atStop)
  oracle.stop()
})

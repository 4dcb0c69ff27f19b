'use strict'

// trackEmitter on real EventEmitters, EventTargets and AbortSignals: sites, every removal
// path, leak reports, and node's own emitter semantics left intact.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const { EventEmitter, once } = require('node:events')
const { trackEmitter, untrackEmitter, listenerSites, listenerLeaks } = require('../..')
const { lineOf, nextLeaks } = require('../support/listener-helpers')

const at = (marker) => new RegExp(`^${__filename}:${lineOf(marker)}:\\d+$`)
const count = (emitter, event) => listenerSites(emitter)
  .filter((s) => s.event === event)
  .reduce((sum, s) => sum + s.count, 0)

test('each listener is attributed to the line that added it', () => {
  const bus = trackEmitter(new EventEmitter())
  for (let i = 0; i < 3; i++) bus.on('tick', () => i) // SITE-A
  bus.once('tick', () => {}) // SITE-B
  const sites = listenerSites(bus)
  assert.equal(sites.length, 2)
  assert.deepEqual(sites.map((s) => [s.event, s.count]), [['tick', 3], ['tick', 1]])
  assert.match(sites[0].site, new RegExp(`^${__filename}:${lineOf('SITE-A')}:\\d+$`))
  assert.match(sites[1].site, new RegExp(`^${__filename}:${lineOf('SITE-B')}:\\d+$`))
})

test('every EventEmitter removal path uncounts', () => {
  const bus = trackEmitter(new EventEmitter())
  const a = () => {}
  const b = () => {}
  bus.on('x', a).on('x', b).prependListener('x', a)
  assert.equal(count(bus, 'x'), 3)
  bus.off('x', a)
  assert.equal(count(bus, 'x'), 2)
  bus.removeListener('x', b)
  assert.equal(count(bus, 'x'), 1)
  bus.once('x', b)
  bus.emit('x')
  assert.equal(count(bus, 'x'), 1, 'the once listener fired and is gone')
  bus.prependOnceListener('x', b)
  bus.removeListener('x', b) // removes the once wrapper by its listener
  assert.equal(count(bus, 'x'), 1)
  bus.on('y', a).on('y', b)
  bus.removeAllListeners('x')
  assert.equal(count(bus, 'x'), 0)
  assert.equal(count(bus, 'y'), 2)
  bus.on('removeListener', () => {}) // makes removeAllListeners() go through removeListener
  bus.removeAllListeners()
  assert.deepEqual(listenerSites(bus), [])
})

test('every EventTarget removal path uncounts, duplicates are not counted', () => {
  const target = trackEmitter(new EventTarget())
  const a = () => {}
  const handler = { handleEvent() {} }
  target.addEventListener('x', a)
  target.addEventListener('x', a) // duplicate: ignored by the target
  target.addEventListener('x', a, true) // capture is another listener
  target.addEventListener('x', handler)
  assert.equal(count(target, 'x'), 3)
  target.removeEventListener('x', a)
  target.removeEventListener('x', a, { capture: true })
  target.removeEventListener('x', handler)
  assert.equal(count(target, 'x'), 0)

  target.addEventListener('x', a, { once: true })
  target.dispatchEvent(new Event('x'))
  assert.equal(count(target, 'x'), 0, '{ once: true } fired')

  const controller = new AbortController()
  target.addEventListener('x', a, { signal: controller.signal })
  target.addEventListener('x', () => {}, { signal: controller.signal })
  assert.equal(count(target, 'x'), 2)
  controller.abort()
  assert.equal(count(target, 'x'), 0, 'the signal aborted')
  target.addEventListener('x', a, { signal: controller.signal })
  assert.equal(count(target, 'x'), 0, 'an aborted signal adds nothing')
})

test('an AbortSignal reused for every call leaks abort listeners at the caller', async () => {
  const signal = trackEmitter(AbortSignal.timeout(60_000), { name: 'shutdown', threshold: 4 })
  const reports = nextLeaks(1)
  const target = new EventTarget()
  for (let i = 0; i < 5; i++) target.addEventListener('job', () => {}, { signal }) // SITE-C
  const [leak] = await reports
  assert.equal(leak.emitter, 'shutdown')
  assert.equal(leak.event, 'abort')
  assert.equal(leak.count, 5)
  assert.match(leak.site, new RegExp(`^${__filename}:${lineOf('SITE-C')}:\\d+$`))
})

test("sites: 'growth' takes a stack only for a listener that raises its event to a new peak", () => {
  const bus = trackEmitter(new EventEmitter(), { sites: 'growth' })
  const fns = Array.from({ length: 4 }, () => () => {})
  for (const fn of fns) bus.on('x', fn) // PEAK
  bus.off('x', fns[3])
  bus.on('x', fns[3]) // churn back to the peak: no stack
  assert.deepEqual(listenerSites(bus).map((s) => s.count), [3])
  for (const fn of fns.slice(1)) bus.off('x', fn) // the count halves: the peak falls back
  bus.on('x', fns[1]) // AFTER-HALVING
  const sites = listenerSites(bus).map((s) => s.site).sort()
  assert.equal(sites.length, 2)
  assert.match(sites.find((s) => s.includes(`:${lineOf('PEAK')}:`)), at('PEAK'))
  assert.match(sites.find((s) => s.includes(`:${lineOf('AFTER-HALVING')}:`)), at('AFTER-HALVING'))
  assert.equal(bus.listenerCount('x'), 2)
})

test('listener-leak when a site passes the threshold, again at each half again, with setMaxListeners(0)', async () => {
  const bus = trackEmitter(new EventEmitter(), { name: 'bus', threshold: 4 })
  bus.setMaxListeners(0)
  const warnings = []
  const onWarning = (w) => warnings.push(w)
  process.on('warning', onWarning)
  const reports = nextLeaks(3)
  for (let i = 0; i < 14; i++) bus.on('data', () => {}) // SITE-D
  bus.on('data', () => {}) // another site, below the threshold
  const leaks = await reports
  process.off('warning', onWarning)
  assert.deepEqual(leaks.map((l) => [l.count, l.growth]), [[5, 5], [8, 3], [12, 4]])
  for (const leak of leaks) {
    assert.equal(leak.emitter, 'bus')
    assert.equal(leak.event, 'data')
    assert.equal(leak.target, bus)
    assert.match(leak.site, new RegExp(`:${lineOf('SITE-D')}:\\d+$`))
  }
  assert.deepEqual(warnings, [], 'neither node nor leakproof warned: a handler was attached')
})

test('a site that shrinks below its last report is not reported again until it grows past it', async () => {
  const bus = trackEmitter(new EventEmitter(), { threshold: 2 })
  const fns = Array.from({ length: 3 }, () => () => {})
  const first = nextLeaks(1)
  for (const fn of fns) bus.on('x', fn)
  assert.equal((await first)[0].count, 3)
  let reported = 0
  const onLeak = () => reported++
  listenerLeaks.on('listener-leak', onLeak)
  bus.off('x', fns[0])
  bus.on('x', fns[0])
  await new Promise((resolve) => setImmediate(resolve))
  listenerLeaks.off('listener-leak', onLeak)
  assert.equal(reported, 0)
})

test('with no listener-leak handler the report is a process warning', async () => {
  const bus = trackEmitter(new EventEmitter(), { name: 'quiet', threshold: 1 })
  const warned = once(process, 'warning')
  for (let i = 0; i < 2; i++) bus.on('x', () => {})
  const [warning] = await warned
  assert.equal(warning.code, 'LEAKPROOF_LISTENER_LEAK')
  assert.match(warning.message, /^2 x listeners on quiet were added at .*listeners\.emitter\.test\.js:\d+:\d+/)
})

test("node's emitter semantics are untouched", () => {
  const bus = trackEmitter(new EventEmitter())
  const calls = []
  const sym = Symbol('event')
  bus.on(sym, () => calls.push('sym'))
  bus.on('e', () => calls.push(1))
  bus.prependListener('e', () => calls.push(0))
  bus.once('e', () => calls.push('once'))
  const selfRemoving = () => {
    calls.push('self')
    bus.off('e', selfRemoving)
  }
  bus.on('e', selfRemoving)
  bus.on('e', () => calls.push(2))
  assert.equal(bus.listenerCount('e'), 5)
  const raw = bus.rawListeners('e')
  assert.equal(raw[2].listener !== undefined, true, 'rawListeners keeps the once wrapper')
  assert.equal(bus.listeners('e').length, 5)
  bus.emit('e')
  bus.emit('e')
  bus.emit(sym)
  assert.deepEqual(calls, [0, 1, 'once', 'self', 2, 0, 1, 2, 'sym'])
  assert.throws(() => bus.emit('error', new Error('boom')), /boom/)
  assert.throws(() => bus.on('e', 'not a function'), { code: 'ERR_INVALID_ARG_TYPE' })
  assert.equal(count(bus, 'e'), 3)
  assert.deepEqual(Object.keys(bus).sort(), ['_events', '_eventsCount', '_maxListeners'].sort())
})

test('untrackEmitter leaves the instance as it was', () => {
  const bus = new EventEmitter()
  const before = Reflect.ownKeys(bus)
  trackEmitter(bus)
  bus.on('x', () => {})
  untrackEmitter(bus)
  assert.deepEqual(Reflect.ownKeys(bus), before)
  assert.equal(bus.on, EventEmitter.prototype.on)
  assert.deepEqual(listenerSites(bus), [])
  assert.equal(bus.listenerCount('x'), 1)
})

test('options and arguments are checked', () => {
  assert.throws(() => trackEmitter({}), { code: 'ERR_LEAKPROOF_INVALID_ARGUMENT' })
  assert.throws(() => trackEmitter(new EventEmitter(), { treshold: 3 }), { code: 'ERR_LEAKPROOF_UNKNOWN_OPTION' })
  assert.throws(() => trackEmitter(new EventEmitter(), { threshold: 0 }), RangeError)
  assert.throws(() => trackEmitter(new EventEmitter(), { captureFrom: 1.5 }), { code: 'ERR_LEAKPROOF_INVALID_OPTION' })
  assert.throws(() => trackEmitter(new EventEmitter(), { name: 3 }), TypeError)
  assert.throws(() => trackEmitter(new EventEmitter(), { sites: 'some' }), { code: 'ERR_LEAKPROOF_INVALID_OPTION' })
})

'use strict'

const test = require('node:test')
const assert = require('node:assert/strict')
const { BoundedMap } = require('../..')

function throwsCoded(fn, Ctor, code, mentions) {
  assert.throws(fn, (err) => {
    assert.ok(err instanceof Ctor, `${err.name}: ${err.message}`)
    assert.equal(err.code, code)
    if (mentions) assert.match(err.message, mentions)
    return true
  })
}

test('an unbounded BoundedMap is refused', () => {
  throwsCoded(() => new BoundedMap({}), TypeError, 'ERR_LEAKPROOF_UNBOUNDED')
  throwsCoded(() => new BoundedMap({ policy: 'lru' }), TypeError, 'ERR_LEAKPROOF_UNBOUNDED')
  throwsCoded(() => new BoundedMap(), TypeError, 'ERR_LEAKPROOF_INVALID_OPTION')
  throwsCoded(() => new BoundedMap(null), TypeError, 'ERR_LEAKPROOF_INVALID_OPTION')
  throwsCoded(() => new BoundedMap(100), TypeError, 'ERR_LEAKPROOF_INVALID_OPTION')
})

test('bad counts, byte budgets and durations name the option', () => {
  for (const option of ['max', 'maxBytes', 'ttl']) {
    for (const bad of [0, -1, NaN, Infinity, -Infinity]) {
      throwsCoded(() => new BoundedMap({ [option]: bad }), RangeError, 'ERR_LEAKPROOF_INVALID_OPTION', new RegExp(`options\\.${option}`))
    }
    for (const bad of ['10', null, true, {}, 10n]) {
      throwsCoded(() => new BoundedMap({ [option]: bad }), TypeError, 'ERR_LEAKPROOF_INVALID_OPTION', new RegExp(`options\\.${option}`))
    }
  }
  throwsCoded(() => new BoundedMap({ max: 1.5 }), RangeError, 'ERR_LEAKPROOF_INVALID_OPTION', /options\.max.*1\.5/)
  throwsCoded(() => new BoundedMap({ max: 2 ** 60 }), RangeError, 'ERR_LEAKPROOF_INVALID_OPTION')
  // A fractional byte budget or TTL is meaningful.
  assert.ok(new BoundedMap({ maxBytes: 10.5, ttl: 0.5 }))
})

test('bad functions, policies, names and unknown options', () => {
  throwsCoded(() => new BoundedMap({ max: 1, onEvict: 'x' }), TypeError, 'ERR_LEAKPROOF_INVALID_OPTION', /onEvict/)
  throwsCoded(() => new BoundedMap({ maxBytes: 1, sizeOf: 1 }), TypeError, 'ERR_LEAKPROOF_INVALID_OPTION', /sizeOf/)
  throwsCoded(() => new BoundedMap({ max: 1, sizeOf: () => 1 }), TypeError, 'ERR_LEAKPROOF_INVALID_OPTION', /sizeOf needs/)
  throwsCoded(() => new BoundedMap({ max: 1, now: 5 }), TypeError, 'ERR_LEAKPROOF_INVALID_OPTION', /now/)
  throwsCoded(() => new BoundedMap({ max: 1, policy: 'lfu' }), RangeError, 'ERR_LEAKPROOF_INVALID_OPTION', /policy/)
  throwsCoded(() => new BoundedMap({ max: 1, name: '' }), TypeError, 'ERR_LEAKPROOF_INVALID_OPTION', /name/)
  throwsCoded(() => new BoundedMap({ max: 1, name: 7 }), TypeError, 'ERR_LEAKPROOF_INVALID_OPTION', /name/)
  throwsCoded(() => new BoundedMap({ maxSize: 10 }), TypeError, 'ERR_LEAKPROOF_UNKNOWN_OPTION', /maxSize/)
})

test('bad per-entry ttl is refused before anything changes', () => {
  const map = new BoundedMap({ max: 5 })
  map.set('k', 1)
  for (const bad of [0, -5, NaN]) {
    throwsCoded(() => map.set('k', 2, { ttl: bad }), RangeError, 'ERR_LEAKPROOF_INVALID_OPTION', /ttl/)
  }
  throwsCoded(() => map.set('k', 2, { ttl: '5' }), TypeError, 'ERR_LEAKPROOF_INVALID_OPTION')
  throwsCoded(() => map.set('k', 2, { tll: 5 }), TypeError, 'ERR_LEAKPROOF_UNKNOWN_OPTION')
  throwsCoded(() => map.set('k', 2, 5), TypeError, 'ERR_LEAKPROOF_INVALID_OPTION')
  assert.equal(map.get('k'), 1)
})

test('a map bounded only by ttl is allowed, with one warning', async () => {
  const warnings = []
  const onWarning = (w) => warnings.push(w)
  process.on('warning', onWarning)
  new BoundedMap({ ttl: 1000 })
  new BoundedMap({ ttl: 1000 })
  await new Promise((resolve) => setImmediate(resolve))
  process.off('warning', onWarning)
  assert.deepStrictEqual(warnings.map((w) => w.code), ['LEAKPROOF_TTL_ONLY'])
})

test('onEvict: every reason, called after the map is consistent', () => {
  const log = []
  let map
  const onEvict = (value, key, reason) => log.push([key, value, reason, map.has(key), map.size])
  map = new BoundedMap({ max: 2, onEvict })
  map.set('a', 1).set('b', 2)
  map.set('a', 10) // reason 'set' with the old value
  map.set('a', 10) // same value: not an eviction
  map.set('c', 3) // evicts 'b', the least recently used
  map.delete('a')
  map.set('d', 4)
  map.clear()
  assert.deepStrictEqual(log, [
    ['a', 1, 'set', true, 2],
    ['b', 2, 'evict', false, 2],
    ['a', 10, 'delete', false, 1],
    ['c', 3, 'clear', false, 0],
    ['d', 4, 'clear', false, 0],
  ])
})

test('onEvict may change the map; a throwing onEvict loses no other callback', () => {
  const seen = []
  const map = new BoundedMap({
    max: 2,
    onEvict: (v, k, reason) => {
      seen.push(k)
      if (k === 'a') map.set('again', 1) // re-entrant: evicts in turn
      if (reason === 'clear' && k === 'x') throw new Error('boom')
    },
  })
  map.set('a', 1).set('b', 2).set('c', 3)
  assert.equal(map.size, 2)
  assert.ok(map.has('again'))
  map.clear()
  map.set('x', 1).set('y', 2)
  assert.throws(() => map.clear(), /boom/)
  assert.equal(map.size, 0)
  assert.deepStrictEqual(seen.slice(-2), ['x', 'y'])
  map.set('z', 1)
  assert.equal(map.get('z'), 1)
})

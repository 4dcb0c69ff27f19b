'use strict'

const test = require('node:test')
const assert = require('node:assert/strict')
const { BoundedMap } = require('../..')
const { rng } = require('../support/helpers')

test('default sizeOf is exact for binary data and an estimate for strings', () => {
  const map = new BoundedMap({ maxBytes: 1e6 })
  map.set('buf', Buffer.alloc(100))
  map.set('f64', new Float64Array(10))
  map.set('ab', new ArrayBuffer(7))
  map.set('dv', new DataView(new ArrayBuffer(9)))
  assert.equal(map.stats().bytes, 100 + 80 + 7 + 9)
  map.set('str', 'hello')
  assert.equal(map.stats().bytes, 196 + 16 + 2 * 5)
  assert.throws(() => map.set('obj', { a: 1 }), { name: 'TypeError', code: 'ERR_LEAKPROOF_SIZEOF_REQUIRED' })
  assert.equal(map.has('obj'), false)
})

for (const policy of ['lru', 's3-fifo']) {
  test(`${policy}: bytes stay within maxBytes and match the sum of live sizes`, () => {
    for (let seed = 1; seed <= 20; seed++) {
      const rand = rng(seed)
      const maxBytes = 100 + rand.int(1000)
      const map = new BoundedMap({ maxBytes, policy, sizeOf: (v) => v.n })
      for (let step = 0; step < 1000; step++) {
        const key = rand.int(60)
        const op = rand.int(10)
        if (op < 6) map.set(key, { n: rand.int(maxBytes / 5) })
        else if (op < 8) map.get(key)
        else map.delete(key)
        const live = [...map.values()].reduce((sum, v) => sum + v.n, 0)
        assert.equal(map.stats().bytes, live, `seed ${seed} step ${step}`)
        assert.ok(live <= maxBytes)
      }
    }
  })
}

test('an update that grows an entry evicts others, never the entry itself', () => {
  for (const policy of ['lru', 's3-fifo', 'tinylfu']) {
    const map = new BoundedMap({ maxBytes: 100, policy })
    for (let i = 0; i < 10; i++) map.set(i, Buffer.alloc(10))
    map.set(0, Buffer.alloc(95))
    assert.equal(map.get(0).length, 95, policy)
    assert.equal(map.size, 1, policy)
    assert.equal(map.stats().bytes, 95)
  }
})

test('an update that grows the only entry of the main queue evicts from probation (it looped forever before)', () => {
  for (const policy of ['s3-fifo', 'tinylfu']) {
    const map = new BoundedMap({ maxBytes: 1000, policy, sizeOf: (v) => v })
    map.set('main', 500)
    map.get('main')
    map.set('x', 400)
    map.set('y', 300) // probation is full: 'main' (hit) moves to main, 'x' leaves
    map.set('small', 10)
    map.set('main', 995) // 'main' is alone in main, 'y' and 'small' are in probation, under its share
    assert.deepEqual([...map.keys()], ['main'], policy)
    assert.equal(map.stats().bytes, 995, policy)
  }
})

test('an entry larger than maxBytes is not stored, replaces nothing silently, and is counted', () => {
  const events = []
  const map = new BoundedMap({ maxBytes: 50, onEvict: (v, k, r) => events.push([k, v.length, r]) })
  map.set('a', Buffer.alloc(10))
  map.set('a', Buffer.alloc(51))
  map.set('b', Buffer.alloc(1000))
  assert.equal(map.has('a'), false)
  assert.equal(map.has('b'), false)
  assert.deepStrictEqual(events, [['a', 10, 'set'], ['a', 51, 'too-large'], ['b', 1000, 'too-large']])
  assert.equal(map.stats().rejected, 2)
  assert.equal(map.stats().bytes, 0)
})

test('a bad sizeOf result throws a coded error and leaves the map unchanged', () => {
  for (const bad of [-1, NaN, Infinity, '10', null, undefined, 10n]) {
    const map = new BoundedMap({ maxBytes: 100, sizeOf: (v) => v })
    map.set('k', 5)
    assert.throws(() => map.set('k', bad), (err) => {
      assert.ok(err instanceof TypeError || err instanceof RangeError)
      assert.equal(err.code, 'ERR_LEAKPROOF_INVALID_SIZE')
      return true
    }, String(bad))
    assert.equal(map.get('k'), 5)
    assert.equal(map.stats().bytes, 5)
  }
})

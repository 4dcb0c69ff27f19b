'use strict'

const test = require('node:test')
const assert = require('node:assert/strict')
const { setTimeout: sleep } = require('node:timers/promises')
const { BoundedMap } = require('../..')

/** A clock the test moves by hand. */
function manualClock() {
  let t = 1000
  const now = () => t
  now.advance = (ms) => { t += ms }
  return now
}

for (const policy of ['lru', 's3-fifo', 'tinylfu']) {
  test(`${policy}: expired entries are never returned, and are freed with reason 'expire'`, () => {
    const now = manualClock()
    const reasons = []
    const map = new BoundedMap({ ttl: 100, max: 10, policy, now, onEvict: (v, k, r) => reasons.push([k, r]) })
    map.set('a', 1)
    now.advance(50)
    map.set('b', 2)
    assert.equal(map.getRemainingTTL('a'), 50)
    assert.equal(map.getRemainingTTL('b'), 100)
    now.advance(50)
    // 'a' is exactly at its expiry time: gone. 'b' has 50 ms left.
    assert.equal(map.has('a'), false)
    assert.equal(map.peek('a'), undefined)
    assert.deepStrictEqual([...map.keys()], ['b'])
    assert.equal(map.get('a'), undefined)
    assert.deepStrictEqual(reasons, [['a', 'expire']])
    assert.equal(map.get('b'), 2)
    now.advance(50)
    assert.deepStrictEqual([...map], [])
    let called = 0
    map.forEach(() => called++)
    assert.equal(called, 0)
    assert.equal(map.delete('b'), false, 'an expired entry is not there to delete')
    assert.deepStrictEqual(reasons, [['a', 'expire'], ['b', 'expire']])
    assert.equal(map.stats().expirations, 2)
    assert.equal(map.size, 0)
  })
}

test('per-entry ttl overrides the default; Infinity never expires; set refreshes', () => {
  const now = manualClock()
  const map = new BoundedMap({ ttl: 100, max: 10, now })
  map.set('short', 1, { ttl: 10 })
  map.set('forever', 2, { ttl: Infinity })
  map.set('default', 3)
  assert.equal(map.getRemainingTTL('forever'), Infinity)
  assert.equal(map.getRemainingTTL('missing'), 0)
  now.advance(10)
  assert.equal(map.has('short'), false)
  now.advance(80)
  map.set('default', 4) // refreshes the TTL
  now.advance(50)
  assert.equal(map.get('default'), 4)
  now.advance(1e9)
  assert.equal(map.get('forever'), 2)
  const plain = new BoundedMap({ max: 10, now })
  plain.set('x', 1, { ttl: 5 })
  plain.set('y', 1)
  assert.equal(plain.getRemainingTTL('y'), Infinity)
  now.advance(5)
  assert.equal(plain.has('x'), false)
  assert.equal(plain.has('y'), true)
})

test('purgeStale frees every expired entry at once and reports how many', () => {
  const now = manualClock()
  const map = new BoundedMap({ ttl: 100, max: 100, now })
  for (let i = 0; i < 50; i++) map.set(i, i, { ttl: 10 + i })
  for (let i = 0; i < 10; i++) map.set(i, i) // re-set: new expiry, the old heap entries go stale
  now.advance(40)
  // Key i expires at 1010 + i; now is 1040: keys 10..30 are past their TTL.
  assert.equal(map.purgeStale(), 21)
  assert.equal(map.size, 29)
  assert.equal(map.purgeStale(), 0)
})

test('the expiry timer frees entries without any access, and does not keep the process alive', async () => {
  const map = new BoundedMap({ ttl: 20, max: 1000 })
  for (let i = 0; i < 100; i++) map.set(i, Buffer.alloc(10))
  assert.equal(map.size, 100)
  for (let waited = 0; map.size > 0 && waited < 2000; waited += 10) await sleep(10)
  assert.equal(map.size, 0)
  assert.equal(map.stats().expirations, 100)
})

test('many re-sets of the same keys keep the expiry heap bounded (no unbounded growth)', () => {
  const now = manualClock()
  const map = new BoundedMap({ ttl: 1000, max: 10, now })
  for (let i = 0; i < 200_000; i++) {
    map.set(i % 10, i)
    now.advance(0.01)
  }
  assert.equal(map.size, 10)
  now.advance(1000)
  assert.equal(map.purgeStale(), 10)
})

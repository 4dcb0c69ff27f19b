'use strict'

// The key hash of the tinylfu policy's sketch: equal keys (as a Map sees them) hash alike,
// and the keys services use spread.

const test = require('node:test')
const assert = require('node:assert/strict')
const { keyHash } = require('../../lib/cache/key-hash')

test('keyHash: keys a Map holds as one hash as one', () => {
  const built = ['us', 'er:', String(42)].join('')
  assert.equal(keyHash(built), keyHash('user:42'))
  assert.equal(keyHash(-0), keyHash(0))
  assert.equal(keyHash(NaN), keyHash(Number('x')))
  assert.equal(keyHash(Symbol.for('shared')), keyHash(Symbol.for('shared')))
  const object = {}
  assert.equal(keyHash(object), keyHash(object))
  for (const key of ['', 'a', 'ab', 'abc', 'x'.repeat(1001), 12, 1.5, 2n ** 70n, null, undefined, true]) {
    assert.equal(keyHash(key), keyHash(key))
    assert.ok(Number.isInteger(keyHash(key)) && keyHash(key) === (keyHash(key) | 0), `an int32 for ${String(key)}`)
  }
})

test('keyHash: different keys of the shapes services use rarely share a hash', () => {
  const families = [
    (i) => `/users/${i}/profile`, // differ in the middle
    (i) => `session:${i.toString(16).padStart(32, '0')}`, // differ at the end of a long key
    (i) => String(i).padStart(7 + (i % 2), '-'), // odd and even lengths, differing in the last character
    (i) => i, // integers
    (i) => i + 0.5,
    (i) => ({ id: i }), // objects, by identity
    (i) => Symbol(String(i)),
  ]
  for (const keyOf of families) {
    const hashes = new Set()
    for (let i = 0; i < 10_000; i++) hashes.add(keyHash(keyOf(i)))
    // 10,000 random 32-bit values collide about 0.01 times; allow a few.
    assert.ok(hashes.size >= 9_995, `${keyOf(1).toString()}: ${hashes.size} hashes for 10,000 keys`)
  }
  // Apart from each other too: a number, its string, an object, the constants.
  assert.equal(new Set([keyHash(1), keyHash('1'), keyHash({}), keyHash(true), keyHash(null), keyHash(undefined)]).size, 6)
})

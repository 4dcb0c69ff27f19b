'use strict'

/** Shared pieces of the tests: a seeded random source and a pool of keys of every kind. */

/** Mulberry32: a small seeded PRNG, so a failing sequence can be replayed from its seed. */
function rng(seed) {
  let a = seed >>> 0
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  next.int = (n) => Math.floor(next() * n)
  next.pick = (list) => list[next.int(list.length)]
  return next
}

/** Keys of every kind Map distinguishes, including the SameValueZero corner cases. */
function keyPool() {
  const obj = { o: 1 }
  const fn = () => {}
  const sym = Symbol('s')
  return [
    'a', 'b', '', '0', 0, -0, 1, 1.5, NaN, Infinity, -Infinity, 10n, true, false,
    null, undefined, obj, { o: 1 }, fn, sym, [], new Date(0),
  ]
}

module.exports = { rng, keyPool }

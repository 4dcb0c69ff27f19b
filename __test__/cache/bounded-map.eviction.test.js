'use strict'

// Eviction order against naive models written for clarity, not speed.

const test = require('node:test')
const assert = require('node:assert/strict')
const { BoundedMap } = require('../..')
const { rng } = require('../support/helpers')
const { keyHash } = require('../../lib/cache/key-hash')

/** LRU as an array ordered least recently used first. */
class NaiveLru {
  constructor(max) { this.max = max; this.order = []; this.values = new Map(); this.evicted = [] }
  touch(k) { this.order.splice(this.order.indexOf(k), 1); this.order.push(k) }
  get(k) { if (!this.values.has(k)) return undefined; this.touch(k); return this.values.get(k) }
  set(k, v) {
    if (this.values.has(k)) { this.touch(k); this.values.set(k, v); return }
    if (this.order.length === this.max) { const old = this.order.shift(); this.values.delete(old); this.evicted.push(old) }
    this.order.push(k); this.values.set(k, v)
  }
  delete(k) { if (!this.values.delete(k)) return false; this.order.splice(this.order.indexOf(k), 1); return true }
}

test('lru: evicts in the same order as a naive LRU, and peek/has do not refresh', () => {
  for (let seed = 1; seed <= 30; seed++) {
    const rand = rng(seed)
    const max = 1 + rand.int(12)
    const evicted = []
    const map = new BoundedMap({ max, onEvict: (v, k, reason) => reason === 'evict' && evicted.push(k) })
    const model = new NaiveLru(max)
    for (let step = 0; step < 500; step++) {
      const key = rand.int(max * 3)
      const op = rand.int(10)
      if (op < 4) { map.set(key, step); model.set(key, step) }
      else if (op < 8) assert.equal(map.get(key), model.get(key))
      else if (op < 9) assert.equal(map.delete(key), model.delete(key))
      else { map.peek(key); map.has(key) }
      assert.deepStrictEqual(evicted, model.evicted, `seed ${seed} step ${step}`)
      assert.equal(map.size, model.order.length)
    }
    assert.deepStrictEqual([...map.keys()].sort((a, b) => a - b), [...model.order].sort((a, b) => a - b))
  }
})

/**
 * S3-FIFO as arrays: probation queue `small` (5% of max), `main`, 2-bit counters kept on
 * promotion, and ghosts: the keys of the last `round(0.25 * 0.95 * max)` evictions from
 * probation, minus those that came back since.
 */
class NaiveS3Fifo {
  constructor(max) {
    this.max = max; this.small = []; this.main = []; this.ghostLog = []
    this.ghostLimit = Math.round(0.25 * 0.95 * max)
    this.freq = new Map(); this.values = new Map(); this.evicted = []
  }
  hit(k) { this.freq.set(k, Math.min(3, this.freq.get(k) + 1)) }
  get(k) { if (!this.values.has(k)) return undefined; this.hit(k); return this.values.get(k) }
  set(k, v) {
    if (this.values.has(k)) { this.values.set(k, v); this.hit(k); return }
    const gi = this.ghostLog.findIndex((g) => Object.is(g?.key, k))
    if (gi >= 0) this.ghostLog[gi] = null
    if (this.values.size === this.max) this.evict()
    if (gi >= 0) this.main.push(k); else this.small.push(k)
    this.freq.set(k, 0); this.values.set(k, v)
  }
  evict() {
    for (;;) {
      if (this.small.length > 0 && (this.small.length >= 0.05 * this.max || this.main.length === 0)) {
        const k = this.small.shift()
        if (this.freq.get(k) > 0) { this.main.push(k); continue }
        if (this.ghostLimit >= 1) {
          this.ghostLog.push({ key: k })
          if (this.ghostLog.length > this.ghostLimit) this.ghostLog.shift()
        }
        this.drop(k); return
      }
      const k = this.main.shift()
      if (this.freq.get(k) > 0) { this.freq.set(k, this.freq.get(k) - 1); this.main.push(k); continue }
      this.drop(k); return
    }
  }
  drop(k) { this.values.delete(k); this.freq.delete(k); this.evicted.push(k) }
  delete(k) {
    if (!this.values.delete(k)) return false
    this.small = this.small.filter((x) => x !== k); this.main = this.main.filter((x) => x !== k)
    this.freq.delete(k); return true
  }
}

/**
 * Drives `policy` and its naive `Model` with the same operations (half sets, four tenths
 * gets, a tenth deletes), seed by seed, and asserts the same evictions after each: a map of up
 * to `maxUpTo` entries, `steps` operations, keys from `keyOf(rand, max)`.
 */
function assertEvictsAsModel({ policy, Model, seeds, maxUpTo, steps, keyOf }) {
  for (let seed = 1; seed <= seeds; seed++) {
    const rand = rng(seed)
    const max = 1 + rand.int(maxUpTo)
    const evicted = []
    const map = new BoundedMap({ max, policy, onEvict: (v, k, r) => r === 'evict' && evicted.push(k) })
    const model = new Model(max)
    for (let step = 0; step < steps; step++) {
      const key = keyOf(rand, max)
      const op = rand.int(10)
      if (op < 5) { map.set(key, step); model.set(key, step) }
      else if (op < 9) assert.equal(map.get(key), model.get(key))
      else assert.equal(map.delete(key), model.delete(key))
      assert.deepStrictEqual(evicted, model.evicted, `seed ${seed} step ${step}`)
    }
  }
}

test('s3-fifo: evicts in the same order as a naive S3-FIFO model', () => {
  // Skewed keys so that some are reused, ghosts are hit, and promotions happen.
  const keyOf = (rand, max) => Math.floor(Math.pow(rand(), 2) * max * 4)
  assertEvictsAsModel({ policy: 's3-fifo', Model: NaiveS3Fifo, seeds: 40, maxUpTo: 40, steps: 1500, keyOf })
})

test('s3-fifo: one-time scans do not flush the reused entries', () => {
  const map = new BoundedMap({ max: 100, policy: 's3-fifo' })
  const hot = Array.from({ length: 50 }, (_, i) => `hot${i}`)
  for (let round = 0; round < 5; round++) for (const k of hot) if (map.get(k) === undefined) map.set(k, 1)
  for (let i = 0; i < 10_000; i++) map.set(`scan${i}`, 1)
  assert.equal(hot.filter((k) => map.has(k)).length, 50)
  const lru = new BoundedMap({ max: 100 })
  for (const k of hot) lru.set(k, 1)
  for (let i = 0; i < 10_000; i++) lru.set(`scan${i}`, 1)
  assert.equal(hot.filter((k) => lru.has(k)).length, 0)
})

/**
 * The frequency sketch as plain arrays of 4-bit counters: the same geometry as
 * lib/cache/frequency-sketch.js (8 counters an entry in blocks of 16 words of 8 counters, a
 * power of two of blocks; the block from the hash's low bits, and in each quarter of the
 * block one counter, chosen by a byte of a remix of the hash), capped at 15, every counter
 * halved after 10 × entries additions that raised one.
 */
class NaiveSketch {
  constructor(entries) {
    const words = Math.max(16, Math.ceil((entries * 8) / 8))
    this.blocks = 2 ** Math.ceil(Math.log2(words / 16))
    this.counters = new Array(this.blocks * 16 * 8).fill(0)
    this.sampleSize = 10 * Math.max(1, entries)
    this.additions = 0
  }
  indexes(hash) {
    const block = (hash & (this.blocks - 1)) * 16
    let spots = Math.imul(hash ^ (hash >>> 16), 0x45d9f3b)
    spots ^= spots >>> 15
    return [0, 1, 2, 3].map((row) => {
      const byte = (spots >>> (8 * row)) & 0xff
      return (block + 4 * row + (byte & 3)) * 8 + (byte >>> 2 & 7)
    })
  }
  increment(hash) {
    let added = false
    for (const i of this.indexes(hash)) if (this.counters[i] < 15) { this.counters[i]++; added = true }
    if (added && ++this.additions >= this.sampleSize) {
      this.counters = this.counters.map((c) => Math.floor(c / 2))
      this.additions = Math.floor(this.additions / 2)
    }
  }
  frequency(hash) { return Math.min(...this.indexes(hash).map((i) => this.counters[i])) }
}

/**
 * TinyLFU over S3-FIFO's queues, as arrays: probation `small` (5% of max) and `main` with
 * 2-bit counts; a probation key leaving without a hit enters main while main has room (all
 * but probation's share), else only if the sketch counts it more often than main's CLOCK
 * victim, which then leaves. The sketch, made once the map is half full, counts each new key,
 * and each main key with hits as it goes round.
 */
class NaiveTinyLfu {
  constructor(max) { this.max = max; this.small = []; this.main = []; this.freq = new Map(); this.values = new Map(); this.evicted = []; this.sketch = null }
  hit(k) { this.freq.set(k, Math.min(3, this.freq.get(k) + 1)) }
  get(k) { if (!this.values.has(k)) return undefined; this.hit(k); return this.values.get(k) }
  set(k, v) {
    if (this.values.has(k)) { this.values.set(k, v); this.hit(k); return }
    if (this.values.size === this.max) this.evict()
    this.small.push(k); this.freq.set(k, 0); this.values.set(k, v)
    if (this.sketch === null && this.values.size >= this.max / 2) this.sketch = new NaiveSketch(this.max)
    if (this.sketch !== null) this.sketch.increment(keyHash(k))
  }
  mainVictim() {
    for (;;) {
      const k = this.main.shift()
      if (this.freq.get(k) === 0) { this.main.unshift(k); return k }
      this.freq.set(k, this.freq.get(k) - 1); this.sketch?.increment(keyHash(k)); this.main.push(k)
    }
  }
  evict() {
    for (;;) {
      if (this.small.length > 0 && (this.small.length >= 0.05 * this.max || this.main.length === 0)) {
        const k = this.small[0]
        const mainHasRoom = this.main.length < this.max - 0.05 * this.max
        if (this.freq.get(k) > 0 || this.main.length === 0 || mainHasRoom || this.sketch === null) { this.main.push(this.small.shift()); continue }
        const victim = this.mainVictim()
        if (this.sketch.frequency(keyHash(k)) <= this.sketch.frequency(keyHash(victim))) { this.small.shift(); this.drop(k); return }
        this.main.push(this.small.shift()); this.main.splice(this.main.indexOf(victim), 1); this.drop(victim); return
      }
      const k = this.mainVictim()
      this.main.shift(); this.drop(k); return
    }
  }
  drop(k) { this.values.delete(k); this.freq.delete(k); this.evicted.push(k) }
  delete(k) {
    if (!this.values.delete(k)) return false
    this.small = this.small.filter((x) => x !== k); this.main = this.main.filter((x) => x !== k)
    this.freq.delete(k); return true
  }
}

test('tinylfu: evicts in the same order as a naive TinyLFU model', () => {
  // Skewed keys, string and number, so that counts differ, contests go both ways, and the sketch halves.
  const keyOf = (rand, max) => {
    const id = Math.floor(Math.pow(rand(), 2) * max * 4)
    return id % 3 === 0 ? `k${id}` : id
  }
  assertEvictsAsModel({ policy: 'tinylfu', Model: NaiveTinyLfu, seeds: 40, maxUpTo: 60, steps: 3000, keyOf })
})

test('tinylfu: a loop larger than the map keeps a part of it; LRU and S3-FIFO keep none', () => {
  const ratio = (policy) => {
    const map = new BoundedMap({ max: 1000, policy })
    let hits = 0
    for (let pass = 0; pass < 20; pass++) {
      for (let key = 0; key < 1500; key++) {
        if (map.get(key) !== undefined) hits++
        else map.set(key, key)
      }
    }
    return hits / (20 * 1500)
  }
  assert.ok(ratio('tinylfu') > 0.5, `tinylfu: ${ratio('tinylfu')}`)
  assert.equal(ratio('lru'), 0)
  assert.equal(ratio('s3-fifo'), 0)
})

test('stats count hits, misses and evictions', () => {
  const map = new BoundedMap({ max: 2 })
  map.set('a', 1).set('b', 2).set('c', 3)
  map.get('a')
  map.get('c')
  map.get('c')
  assert.deepStrictEqual(map.stats(), {
    size: 2, bytes: 0, hits: 2, misses: 1, evictions: 1, expirations: 0, rejected: 0, hitRatio: 2 / 3, boundShare: 1,
  })
})

test('getOrInsert and getOrInsertComputed count, refresh, evict and expire as get and, on a miss, set do, under every policy', () => {
  for (const policy of ['lru', 's3-fifo', 'tinylfu']) {
    for (let seed = 1; seed <= 10; seed++) {
      const rand = rng(seed)
      let time = 0
      const options = (evicted) => ({ max: 2 + rand.int(10), ttl: 50, policy, now: () => time, onEvict: (v, k, reason) => evicted.push([k, reason]) })
      const upsertEvicted = []
      const upsert = new BoundedMap(options(upsertEvicted))
      const referenceEvicted = []
      const reference = new BoundedMap({ ...options(referenceEvicted), max: upsert.max })
      /** The reference's upsert: a get (a hit, or a miss that frees an expired entry), then a set when nothing was held. */
      const getThenSet = (key, value) => {
        const held = reference.get(key)
        if (held !== undefined || reference.has(key)) return held
        reference.set(key, value)
        return value
      }
      for (let step = 0; step < 600; step++) {
        const key = rand.int(upsert.max * 3)
        time += rand.int(3)
        const where = `${policy} seed ${seed} step ${step}`
        if (rand.int(2) === 0) assert.equal(upsert.getOrInsert(key, step), getThenSet(key, step), where)
        else assert.equal(upsert.getOrInsertComputed(key, () => step), getThenSet(key, step), where)
        assert.deepStrictEqual(upsertEvicted, referenceEvicted, where)
      }
      assert.deepStrictEqual([...upsert], [...reference], `${policy} seed ${seed}`)
      assert.deepStrictEqual(upsert.stats(), reference.stats(), `${policy} seed ${seed}`)
    }
  }
})

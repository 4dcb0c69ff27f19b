'use strict'

/** Deterministic key traces shared by the cache benchmarks (and the W-TinyLFU reference's random admission). */

/** A linear congruential generator: the same numbers on every run. */
function lcg(seed) {
  let state = seed >>> 0
  return () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0
    return state / 4294967296
  }
}

/** `count` ranks in [0, n) drawn from Zipf(s) (rank 0 most popular), seed 42. */
function zipf(n, s, count, seed = 42) {
  const cdf = new Float64Array(n)
  let sum = 0
  for (let i = 0; i < n; i++) {
    sum += 1 / Math.pow(i + 1, s)
    cdf[i] = sum
  }
  const rand = lcg(seed)
  const out = new Uint32Array(count)
  for (let i = 0; i < count; i++) {
    const u = rand() * sum
    let lo = 0
    let hi = n - 1
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (cdf[mid] < u) lo = mid + 1
      else hi = mid
    }
    out[i] = lo
  }
  return out
}

/**
 * Half the requests come from a Zipf(0.9) hot set of `hot` keys, half from one-pass
 * scans of keys never seen again (runs of 1,000), interleaved in blocks.
 */
function scanPlusHot(hot, count) {
  const hotRanks = zipf(hot, 0.9, count, 7)
  const out = new Uint32Array(count)
  let fresh = hot
  for (let i = 0; i < count; i++) {
    const inScan = Math.floor(i / 1000) % 2 === 1
    out[i] = inScan ? fresh++ : hotRanks[i]
  }
  return out
}

/** `count` requests cycling through `length` keys in order: a loop larger than a cache defeats LRU. */
function loop(length, count) {
  return Uint32Array.from({ length: count }, (_, i) => i % length)
}

/**
 * Requests where recency is all: 70% of them uniform among the last `recent` distinct keys
 * asked for, 30% drawn from a Zipf(0.6) pool of a million keys (a new key, mostly). A policy
 * that holds on to old frequent keys loses here.
 */
function recencySkewed(count, { recent = 1000, reuse = 0.7, pool = 1_000_000, seed = 11 } = {}) {
  const fresh = zipf(pool, 0.6, count, seed)
  const rand = lcg(seed * 7 + 3)
  const out = new Uint32Array(count)
  const recency = new Map() // key -> its position in `members`; insertion order: least recent first
  const members = []
  let next = 0
  for (let i = 0; i < count; i++) {
    const key = members.length > 0 && rand() < reuse ? members[Math.floor(rand() * members.length)] : fresh[next++]
    const at = recency.get(key)
    if (at !== undefined) {
      recency.delete(key)
      recency.set(key, at)
    } else if (members.length < recent) {
      recency.set(key, members.length)
      members.push(key)
    } else {
      const [oldest, position] = recency.entries().next().value
      recency.delete(oldest)
      members[position] = key
      recency.set(key, position)
    }
    out[i] = key
  }
  return out
}

module.exports = { zipf, scanPlusHot, loop, recencySkewed, lcg }

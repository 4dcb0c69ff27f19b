'use strict'

/**
 * The caches compared in the benchmarks, each wrapped as { get, set } over one instance
 * bounded to `max` entries. Loaded lazily (quick-lru is ESM-only).
 */
const { BoundedMap } = require('..')

async function loadCaches() {
  const { LRUCache } = require('lru-cache')
  const { LRUCache: MnemonistLRU } = require('mnemonist')
  const { createLRU } = require('lru.min')
  const QuickLRU = (await import('quick-lru')).default
  const wrap = (c) => ({ get: (k) => c.get(k), set: (k, v) => c.set(k, v) })
  return {
    'Map (unbounded)': () => wrap(new Map()),
    'leakproof lru': (max) => wrap(new BoundedMap({ max })),
    'leakproof s3-fifo': (max) => wrap(new BoundedMap({ max, policy: 's3-fifo' })),
    'lru-cache': (max) => wrap(new LRUCache({ max })),
    'quick-lru': (max) => wrap(new QuickLRU({ maxSize: max })),
    'lru.min': (max) => wrap(createLRU({ max })),
    mnemonist: (max) => wrap(new MnemonistLRU(max)),
  }
}

module.exports = { loadCaches }

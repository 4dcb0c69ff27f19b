'use strict'

/**
 * The peers of the benchmarks: the caches, each wrapped as { get, set } over one instance
 * bounded to `max` entries (loaded lazily: quick-lru is ESM-only), with our W-TinyLFU
 * reference (w-tinylfu.js: no npm package implements it), and whether
 * @airbnb/node-memwatch can run here.
 */
const { BoundedMap } = require('..')
const { WTinyLfu } = require('./w-tinylfu')

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
    'leakproof tinylfu': (max) => wrap(new BoundedMap({ max, policy: 'tinylfu' })),
    'W-TinyLFU (reference)': (max) => wrap(new WTinyLfu(max)),
    'lru-cache': (max) => wrap(new LRUCache({ max })),
    'quick-lru': (max) => wrap(new QuickLRU({ maxSize: max })),
    'lru.min': (max) => wrap(createLRU({ max })),
    mnemonist: (max) => wrap(new MnemonistLRU(max)),
  }
}

/**
 * Whether @airbnb/node-memwatch loads in this Node: it is a C++ addon built for one ABI (the
 * Node that ran `npm install`), so under another Node the benches run without it.
 */
function memwatchLoads() {
  try {
    require('@airbnb/node-memwatch')
    return true
  } catch {
    return false
  }
}

module.exports = { loadCaches, memwatchLoads }

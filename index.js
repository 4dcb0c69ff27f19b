'use strict'

/**
 * leakproof: keeps Node services from leaking memory.
 *
 * The JS half lives in `lib/`; the Rust half is the generated `binding.js`
 * (built by `napi build`, see package.json `prepare`).
 */
const binding = require('./binding.js')
const { BoundedMap } = require('./lib/bounded-map')
const { RingBuffer } = require('./lib/ring-buffer')
const { namedMaps } = require('./lib/registry')
const { watch } = require('./lib/watch')
const { analyzeSnapshot, diffSnapshots } = require('./lib/analyze')

module.exports = {
  BoundedMap,
  RingBuffer,
  namedMaps,
  watch,
  systemMemory: binding.systemMemory,
  analyzeSnapshot,
  diffSnapshots,
}

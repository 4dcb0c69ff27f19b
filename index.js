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
const { trackEmitter, untrackEmitter, listenerSites } = require('./lib/track-emitter')
const { trackListeners, trackListenersFromEnv } = require('./lib/track-listeners')
const { listenerLeaks } = require('./lib/listener-leaks')
const { trackTimers } = require('./lib/track-timers')
const { trackPromises } = require('./lib/track-promises')
const { census, compareCensus, topGrowingSites } = require('./lib/census')

module.exports = {
  BoundedMap,
  RingBuffer,
  namedMaps,
  watch,
  systemMemory: binding.systemMemory,
  analyzeSnapshot,
  diffSnapshots,
  trackEmitter,
  untrackEmitter,
  listenerSites,
  trackListeners,
  trackListenersFromEnv,
  listenerLeaks,
  trackTimers,
  trackPromises,
  census,
  compareCensus,
  topGrowingSites,
}

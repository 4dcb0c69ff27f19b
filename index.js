'use strict'

/**
 * leakproof: keeps Node services from leaking memory.
 *
 * The JS half lives in `lib/`; the Rust half is the generated `binding.js`
 * (built by `napi build`, see package.json `prepare`). The native addon is loaded only
 * when a function that needs it is first called: a service that only uses BoundedMap or
 * RingBuffer never pays its memory (loading a native addon costs about 3.5 MB of RSS).
 */
const { BoundedMap } = require('./lib/bounded-map')
const { RingBuffer } = require('./lib/ring-buffer')
const { namedMaps } = require('./lib/registry')
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
  watch: (options) => require('./lib/watch').watch(options),
  systemMemory: () => require('./binding.js').systemMemory(),
  analyzeSnapshot: (file, options) => require('./lib/analyze').analyzeSnapshot(file, options),
  diffSnapshots: (before, after, options) => require('./lib/analyze').diffSnapshots(before, after, options),
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

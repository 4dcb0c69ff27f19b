'use strict'

/**
 * leakproof: keeps Node services from leaking memory.
 *
 * The JS half lives in `lib/`; the Rust half is the native addon, found by `lib/shared/native.js`
 * when a function that needs it is first called: a service that only uses BoundedMap or
 * RingBuffer never loads it, and without a binary for this platform those parts still work.
 *
 * Every export is a plain name in the object below, so that Node's CommonJS export detection
 * sees it: `import { watch } from 'leakproof'` gets this same module, and its state, as
 * `require('leakproof')` does.
 */
const { BoundedMap } = require('./lib/cache/bounded-map')
const { RingBuffer } = require('./lib/cache/ring-buffer')
const { namedMaps } = require('./lib/cache/registry')
const { trackEmitter, untrackEmitter, listenerSites } = require('./lib/track/emitter')
const { trackListeners, trackListenersFromEnv } = require('./lib/track/listeners')
const { listenerLeaks } = require('./lib/track/listener-leaks')
const { trackTimers } = require('./lib/track/timers')
const { trackPromises } = require('./lib/track/promises')
const { liveSites, compareLiveSites, census, compareCensus, topGrowingSites } = require('./lib/track/live-sites')

/** Starts (or returns) this thread's watcher; see `lib/watch/watcher.js`. */
function watch(options) {
  return require('./lib/watch/watcher').watch(options)
}

/** RSS and container memory, `null` where unknown; see `lib/detect/system-memory.js`. */
function systemMemory() {
  return require('./lib/detect/system-memory').systemMemory()
}

/** Classes and largest objects of one snapshot; see `lib/diagnose/analyze.js`. */
function analyzeSnapshot(file, options) {
  return require('./lib/diagnose/analyze').analyzeSnapshot(file, options)
}

/** What one snapshot holds that an earlier one did not; see `lib/diagnose/analyze.js`. */
function diffSnapshots(before, after, options) {
  return require('./lib/diagnose/analyze').diffSnapshots(before, after, options)
}

/** Whether this process should get traffic (false once a restart is due); see `lib/mitigate/readiness.js`. */
function ready() {
  return require('./lib/mitigate/readiness').ready()
}

/** Readiness and why: `{ ready, state, since, kind }`; see `lib/mitigate/readiness.js`. */
function readiness() {
  return require('./lib/mitigate/readiness').readiness()
}

/** Makes a cluster primary coordinate its workers' restarts; see `lib/mitigate/cluster.js`. */
function coordinateRestarts(options) {
  return require('./lib/mitigate/cluster').coordinateRestarts(options)
}

/** The HTML report page of a watcher's directory; see `lib/page/index.js`. */
function writeReportPage(dir, options) {
  return require('./lib/page').writeReportPage(dir, options)
}

/** Deprecated: `writeReportPage()`'s former name; the first call warns (`LEAKPROOF_DEPRECATED`). */
function writeReport(dir, options) {
  return require('./lib/page').writeReport(dir, options)
}

module.exports = {
  BoundedMap,
  RingBuffer,
  namedMaps,
  watch,
  systemMemory,
  analyzeSnapshot,
  diffSnapshots,
  writeReportPage,
  ready,
  readiness,
  coordinateRestarts,
  trackEmitter,
  untrackEmitter,
  listenerSites,
  trackListeners,
  trackListenersFromEnv,
  listenerLeaks,
  trackTimers,
  trackPromises,
  liveSites,
  compareLiveSites,
  topGrowingSites,
  // Deprecated (LEAKPROOF_DEPRECATED): liveSites(), compareLiveSites() and writeReportPage()
  // under their former names.
  census,
  compareCensus,
  writeReport,
}

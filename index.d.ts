/**
 * leakproof: keeps Node services from leaking memory.
 *
 * - `BoundedMap`: a drop-in `Map` bounded by entries, bytes and TTL.
 * - `RingBuffer`: a drop-in for a push-only "recent items" array.
 * - `watch()`: leak detection, safe heap snapshots and growing allocation sites.
 * - `systemMemory()`: RSS and container memory, read by the native addon.
 * - `analyzeSnapshot()` / `diffSnapshots()`: the heap-snapshot analyzer, off the main thread.
 * - `trackEmitter()` / `trackListeners()`: listener leaks with the line that added them;
 *   `trackTimers()`, `trackPromises()` and `liveSites()`: live handles by creation site.
 * - `ready()`, `readiness()`, `coordinateRestarts()`: the restart policy's readiness and its
 *   cluster coordinator (`watch({ restart })`).
 *
 * The manual is in `docs/`, by part: cache.md, watch.md, capture.md, diagnose.md, sites.md,
 * analyze.md, report.md, listeners.md, testing.md, metrics.md, admin-http.md, mitigate.md,
 * errors.md.
 */

// The types live beside each part; every one is exported here, as index.js exports every value.
export * from './lib/detect/types'
export * from './lib/cache/types'
export * from './lib/watch/events'
export * from './lib/watch/types'
export * from './lib/capture/types'
export * from './lib/sites/types'
export * from './lib/diagnose/types'
export * from './lib/track/types'
export * from './lib/page/types'
export * from './lib/mitigate/types'

'use strict'

/**
 * The `sample` event's fields, one shape for every thread that emits one (watcher.js' own
 * floors, thread-watch.js' for a worker watched from the main thread): what a reading did not
 * measure is null (a memory) or none (no forced GC, no load, no filling caches).
 * @param {object} reading
 * @param {number} reading.heapUsed the heap's floor.
 * @param {number | null} reading.heapLimit the heap's limit, where known.
 * @param {number | null} [reading.external] external memory's floor.
 * @param {number | null} [reading.native] the monitor's newest native floor.
 * @param {number | null} [reading.rss] the process' resident memory.
 * @param {number | null} [reading.containerLimit] the container's memory limit.
 * @param {{ reason: string, ms: number, pauseMs: number } | null} [reading.forced] the full GC the watcher forced for this floor.
 * @param {boolean} [reading.cachesFilling] whether BoundedMaps are still filling up.
 * @param {object | null} [reading.load] the service's load since the last floor.
 */
function sampleFields({ heapUsed, heapLimit, external = null, native = null, rss = null, containerLimit = null, forced = null, cachesFilling = false, load = null }) {
  const gc = { forcedGc: forced !== null, forcedGcReason: forced?.reason ?? null, gcDurationMs: forced?.ms ?? 0, gcPauseMs: forced?.pauseMs ?? 0 }
  return { heapUsed, external, native, rss, containerLimit, heapLimit, ...gc, cachesFilling, load }
}

module.exports = { sampleFields }

'use strict'

const { performance } = require('node:perf_hooks')

/**
 * A millisecond clock that is cheap to read on hot paths.
 *
 * `performance.now()` costs more than a whole cache hit. The first read in a
 * millisecond takes the real time; later reads in the same millisecond (or the same
 * synchronous run, since timers cannot fire during one) get the cached value. One unref'd
 * timer clears the cache, so an idle process pays nothing and is never kept alive.
 */
let cached = -1

/** Clears the cached time: the next read takes the real one. */
function forget() {
  cached = -1
}

/** Monotonic milliseconds, at most about 1 ms (or one synchronous run) stale. */
function coarseNow() {
  if (cached < 0) {
    cached = performance.now()
    setTimeout(forget, 1).unref()
  }
  return cached
}

module.exports = { coarseNow }

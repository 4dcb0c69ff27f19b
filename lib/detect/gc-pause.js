'use strict'

const v8 = require('node:v8')

/**
 * The longest the watcher may stop the service for a full GC it asks for, as predicted: a
 * liveness probe with a 1 s timeout has room for four, and a busy service's own GCs stop it
 * for 1-15 ms. An atomic `gc()` of a 1 GB heap stops a service under load for seconds
 * (measured: 1.5-3.4 s); beyond this limit the watcher's floors come from incremental GCs instead.
 */
const MAX_FORCED_PAUSE_MS = 250

/**
 * Milliseconds of an atomic `gc()` per byte of heap in use, before this process has measured
 * one: 2 ms a MB, about the middle of what a 1 GB heap under load took (1.5-3.4 ms a MB) and
 * four times what an idle one took (0.4-0.9 ms a MB, 2 cores). Heaps of up to 125 MB get
 * their first atomic GC; the measurement then takes over.
 */
const PRIOR_MS_PER_BYTE = 2 / 1e6

/**
 * A measured rate is taken as this many times itself: the same heap's `gc()` can take twice
 * as long a minute later (measured: 312, then 617 ms).
 */
const MEASURED_MARGIN = 1.5

/** Measured rates kept: the largest of them counts, so one quick GC does not open the way to a long one. */
const RATES_KEPT = 3

/** V8's GC types whose pauses a forced full GC adds: its marking steps, its atomic end, its weak callbacks; scavenges are the service's own. */
const FULL_GC_TYPES = new Set(['MarkSweepCompact', 'IncrementalMarking', 'ProcessWeakCallbacks'])

/**
 * Predicts how long an atomic full GC (`gc()`) would stop this process, from the heap in use
 * and this process's own measured ones: an atomic GC marks every live object at once, so its
 * pause grows with the heap, at a rate that depends on the heap's shape (many small objects
 * mark slower than a few long strings) and on how busy the machine is.
 */
class AtomicPauses {
  #maxPauseMs
  #rates = [] // ms per byte of the newest atomic GCs measured

  /** @param {number} [maxPauseMs] the longest pause allowed (MAX_FORCED_PAUSE_MS). */
  constructor(maxPauseMs = MAX_FORCED_PAUSE_MS) {
    this.#maxPauseMs = maxPauseMs
  }

  /** The pause an atomic GC would cause with `heapBytes` of old objects, in ms. */
  predictMs(heapBytes) {
    const rate = this.#rates.length === 0 ? PRIOR_MS_PER_BYTE : MEASURED_MARGIN * Math.max(...this.#rates)
    return rate * heapBytes
  }

  /**
   * Whether an atomic GC with `heapBytes` of old objects (now's by default) would stop the
   * process no longer than allowed. Old objects, not the whole heap in use: the young
   * generation's garbage costs a full GC next to nothing, and on Node 24 it can hold 100 MB
   * of a small service's heap.
   */
  fit(heapBytes = oldSpaceInUse()) {
    return this.predictMs(heapBytes) <= this.#maxPauseMs
  }

  /** Notes an atomic GC that took `ms` with `heapBytes` of old objects when it began. */
  record(ms, heapBytes) {
    if (!(heapBytes > 0)) return
    this.#rates.push(ms / heapBytes)
    if (this.#rates.length > RATES_KEPT) this.#rates.shift()
  }
}

/**
 * Growth of the old generation in one interval, as a share of it, past which a burst is under
 * way: a full GC asked for at V8's pace just after a burst does nearly all its marking in its
 * atomic end, so it stops the service far longer than the same GC an interval later (measured
 * on 1 GB services after a batch of 70 MB built in a second: 316-551 ms, 488 ms of a 535 ms
 * pause in the atomic end, against 4-35 ms an interval later and at most 44 ms for V8's own
 * GCs of the same heaps). Steady promotion under load is about 3% an interval (measured).
 */
const BURST_SHARE = 0.05

/** V8's spaces of old objects: what a burst of promotion or of big allocations fills. */
const OLD_SPACES = new Set(['old_space', 'large_object_space'])

/**
 * Tells a burst of growth of the old generation (see BURST_SHARE), read once an interval.
 */
class OldSpaceBursts {
  #last = oldSpaceInUse()
  #burst = false

  /** Whether the newest reading saw a burst. */
  get burst() {
    return this.#burst
  }

  /** Reads the old generation: a burst if it grew by more than BURST_SHARE of itself since the last reading. */
  read() {
    const now = oldSpaceInUse()
    this.#burst = now - this.#last > BURST_SHARE * now
    this.#last = now
  }
}

/** The bytes in use in V8's spaces of old objects now. */
function oldSpaceInUse() {
  return v8.getHeapSpaceStatistics().reduce((bytes, space) => (OLD_SPACES.has(space.space_name) ? bytes + space.space_used_size : bytes), 0)
}

/**
 * Measures the pauses the full GCs that run between `start()` and `stop()` cost the thread,
 * with V8's GC profiler (`v8.GCProfiler`, Node >= 18.15): an incremental GC marks mostly on
 * other threads and in short steps, so the time from its request to its end (most of a second
 * on a 1 GB heap) is not what the service felt (10-40 ms, measured by a 1 ms timer beside it).
 * Scavenges are left out: the service runs them anyway. Where the profiler is missing or
 * fails, `stop()` returns null and the caller counts wall time.
 */
class FullGcPauses {
  #profiler = null

  /** Starts counting. */
  start() {
    this.stop()
    try {
      this.#profiler = new v8.GCProfiler()
      this.#profiler.start()
    } catch {
      this.#profiler = null
    }
  }

  /** Stops counting: the milliseconds full GCs stopped the thread since `start()`, or null when unknown. */
  stop() {
    const profiler = this.#profiler
    if (profiler === null) return null
    this.#profiler = null
    try {
      const { statistics } = profiler.stop()
      return statistics.reduce((ms, gc) => (FULL_GC_TYPES.has(gc.gcType) ? ms + gc.cost / 1000 : ms), 0)
    } catch {
      return null
    }
  }
}

module.exports = { AtomicPauses, FullGcPauses, OldSpaceBursts, oldSpaceInUse, MAX_FORCED_PAUSE_MS }

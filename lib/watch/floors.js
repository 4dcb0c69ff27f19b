'use strict'

const v8 = require('node:v8')

/**
 * Timers run late: a floor the detector wants every `spacing` ms is due this share of an
 * interval early, so that a tick a little ahead of schedule still takes it.
 */
const FLOOR_SLACK_INTERVALS = 0.5

/**
 * The floor of each sampling interval: the lowest heap and external memory seen right
 * after a full GC in it. Between full GCs the heap also holds garbage; right after one it
 * holds only what is alive, so floors that rise interval after interval are what a leak
 * looks like, and what the detector judges. The full GCs are V8's own and those the
 * watcher forces (forced-gc.js), which tag the floor with their reason and duration.
 */
class Floors {
  #intervalMs
  #lowest = null // { time, heap, external }: the lowest seen after a full GC this interval
  #forced = null // { reason, ms } of the forced GC behind this interval's floor
  #lastAt = -Infinity
  #taken = 0

  /** @param {number} intervalMs the sampling interval. */
  constructor(intervalMs) {
    this.#intervalMs = intervalMs
  }

  /** Floors taken so far. */
  get taken() {
    return this.#taken
  }

  /** Whether this interval already has a floor. */
  get pending() {
    return this.#lowest !== null
  }

  /**
   * Notes the heap and external memory now, right after a full GC (`forced`: ours, and
   * why). The floor's time is that of its lowest heap: a leak's floors are judged against
   * the time they were read, not the end of the interval, which can be most of an
   * interval later (at 8 MB/s, 10 s late is 80 MB off the line).
   */
  note(forced = null) {
    const heap = v8.getHeapStatistics().used_heap_size
    const { external } = process.memoryUsage()
    const m = this.#lowest
    if (m === null) this.#lowest = { time: Date.now(), heap, external }
    else {
      if (heap < m.heap) Object.assign(m, { time: Date.now(), heap })
      m.external = Math.min(m.external, external)
    }
    if (forced !== null) this.#forced = forced
  }

  /** Whether a floor is due by `now` when the detector wants one every `spacingMs` (0: none wanted). */
  due(now, spacingMs) {
    return spacingMs > 0 && now - this.#lastAt >= spacingMs - FLOOR_SLACK_INTERVALS * this.#intervalMs
  }

  /**
   * Ends the interval: its floor `{ time, heap, external, forced }` (`time`: when its heap
   * was read; `forced` null when no forced GC was behind it), or null when no full GC ran
   * in it.
   */
  take() {
    const lowest = this.#lowest
    const forced = this.#forced
    this.#lowest = null
    this.#forced = null
    if (lowest === null) return null
    this.#lastAt = lowest.time
    this.#taken++
    return { time: lowest.time, heap: lowest.heap, external: lowest.external, forced }
  }
}

module.exports = { Floors }

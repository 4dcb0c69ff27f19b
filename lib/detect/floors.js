'use strict'

const v8 = require('node:v8')
const { SYSTEM_CLOCK } = require('../shared/clock')

/**
 * Timers run late: a floor the detector wants every `spacing` ms is due this share of an
 * interval early, so that a tick a little ahead of schedule still takes it.
 */
const FLOOR_SLACK_INTERVALS = 0.5

/**
 * V8 frees the memory of the ArrayBuffers a full GC found dead a little after it: its
 * sweeper runs beside the JS thread (100,000 dead Buffers were counted in `arrayBuffers`
 * for 30-40 ms after `gc()` on Node 20, 24 and 26). An interval's ArrayBuffer bytes are
 * read this long after its full GC.
 */
const ARRAY_BUFFERS_SETTLE_MS = 100

/**
 * `external` less `arrayBuffers` (external strings, what addons report to V8) is taken as
 * the smallest of this many recent reads. V8 lowers `external` for the ArrayBuffers a full
 * GC freed only at the next one, so a single read also counts the last GC's dead Buffers
 * (34 MB of them right after `gc()`, measured): the smallest read is the one that counts
 * the fewest.
 */
const EXTERNAL_REST_READS = 8

/**
 * The floor of each sampling interval: the lowest heap and external memory seen right
 * after a full GC in it. Between full GCs the heap also holds garbage; right after one it
 * holds only what is alive, so floors that rise interval after interval are what a leak
 * looks like, and what the detector judges. External memory is the ArrayBuffers' exact
 * bytes once the GC's sweeper freed the dead ones, plus the rest of `external` (see
 * EXTERNAL_REST_READS): `external` alone still counts dead Buffers until the next full GC.
 * The full GCs are V8's own and those the watcher forces (forced-gc.js), which tag the
 * floor with their reason and duration.
 */
class Floors {
  #intervalMs
  #lowest = null // { time, heap, arrayBuffers }: the lowest seen after a full GC this interval
  #settling = null // the timer that reads ArrayBuffers once a full GC's sweeper is done
  #externalRests = [] // the newest reads of external − arrayBuffers
  #forced = null // { reason, ms } of the forced GC behind this interval's floor
  #clock
  #lastAt = -Infinity
  #taken = 0

  /**
   * @param {number} intervalMs the sampling interval.
   * @param {import('../shared/clock').Clock} [clock] what time it is.
   */
  constructor(intervalMs, clock = SYSTEM_CLOCK) {
    this.#intervalMs = intervalMs
    this.#clock = clock
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
   * Notes the heap now, right after a full GC (`forced`: ours, and why), and its external
   * memory once V8 has freed the dead ArrayBuffers. The floor's time is that of its lowest
   * heap: a leak's floors are judged against the time they were read, not the end of the
   * interval, which can be most of an interval later (at 8 MB/s, 10 s late is 80 MB off
   * the line).
   */
  note(forced = null) {
    const heap = v8.getHeapStatistics().used_heap_size
    const m = this.#lowest
    if (m === null) this.#lowest = { time: this.#clock.now(), heap, arrayBuffers: Infinity }
    else if (heap < m.heap) Object.assign(m, { time: this.#clock.now(), heap })
    if (forced !== null) this.#forced = forced
    if (this.#settling === null) {
      this.#settling = setTimeout(() => this.#readExternal(), ARRAY_BUFFERS_SETTLE_MS)
      this.#settling.unref()
    }
  }

  /** Reads the ArrayBuffers' bytes and the rest of `external`, once a full GC's sweeper is done. */
  #readExternal() {
    clearTimeout(this.#settling)
    this.#settling = null
    const { external, arrayBuffers } = process.memoryUsage()
    if (this.#lowest !== null) this.#lowest.arrayBuffers = Math.min(this.#lowest.arrayBuffers, arrayBuffers)
    this.#externalRests.push(Math.max(0, external - arrayBuffers))
    if (this.#externalRests.length > EXTERNAL_REST_READS) this.#externalRests.shift()
  }

  /** Cancels a read still waiting for the sweeper (the watcher stops). */
  stop() {
    clearTimeout(this.#settling)
    this.#settling = null
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
    // A full GC just before the interval's end: read now, rather than leave its floor
    // without external memory.
    if (this.#settling !== null) this.#readExternal()
    const lowest = this.#lowest
    const forced = this.#forced
    this.#lowest = null
    this.#forced = null
    if (lowest === null) return null
    this.#lastAt = lowest.time
    this.#taken++
    const external = lowest.arrayBuffers + Math.min(...this.#externalRests)
    return { time: lowest.time, heap: lowest.heap, external, forced }
  }
}

module.exports = { Floors, ARRAY_BUFFERS_SETTLE_MS }

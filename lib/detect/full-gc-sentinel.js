'use strict'

/**
 * Tells when a full (mark-compact) GC has run, without observing GCs: a PerformanceObserver
 * of 'gc' entries made V8 keep a larger young generation, and so megabytes more heap in a
 * busy http server (docs/benchmarks/detect.md, "watch(): cost on a real http service").
 *
 * A sentinel object is dropped and watched with a FinalizationRegistry; when it is
 * reclaimed, a full GC has run. Only an object in the old generation is sure to be
 * reclaimed by nothing less (V8's scavenges keep registry targets alive anyway, but that is
 * not a promise), so each sentinel is held until it has aged: the first until `aged()` is
 * called (once per sampling interval), the next ones from one full GC to the next, which
 * moves whatever it finds alive in the young generation to the old. The callback runs as a
 * task soon after the GC, like a PerformanceObserver's would.
 */
class FullGcSentinel {
  #onFullGc
  #registry = new FinalizationRegistry(() => this.#reclaimed())
  #aging = {} // the next sentinel, held while it ages
  #watching = false
  #stopped = false

  /** Calls `onFullGc()` after full GCs from the first `aged()` on, until `stop()`. */
  constructor(onFullGc) {
    this.#onFullGc = onFullGc
  }

  /** Says that the sentinel held since the constructor is old enough to be watched. */
  aged() {
    if (!this.#watching && !this.#stopped) this.#watch()
  }

  /** No more calls; a sentinel still registered is left to be reclaimed in silence. */
  stop() {
    this.#stopped = true
  }

  /** Watches the sentinel held meanwhile, and holds a new one. */
  #watch() {
    this.#registry.register(this.#aging, undefined)
    this.#aging = {}
    this.#watching = true
  }

  /** The watched sentinel was reclaimed: a full GC ran. */
  #reclaimed() {
    if (this.#stopped) return
    // The sentinel held meanwhile has just lived through a full GC: it is old.
    this.#watch()
    this.#onFullGc()
  }
}

module.exports = { FullGcSentinel }

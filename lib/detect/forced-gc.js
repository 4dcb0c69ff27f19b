'use strict'

const v8 = require('node:v8')
const vm = require('node:vm')
const { withoutWarningsAbout } = require('../shared/errors')
const { SYSTEM_CLOCK } = require('../shared/clock')
const { nativeBinding } = require('../shared/native')

/**
 * Full GCs forced on suspicion cost this many intervals of credit, and each interval earns
 * one back: at worst one interval in this many, however often suspicion comes back.
 */
const SUSPICION_REFILL_INTERVALS = 10

/** Floors forced from the start while V8 runs no full GC: two, the least suspicion needs. */
const FIRST_FLOORS = 2

/** Floors beyond what the detector needs to judge a window (its `floorsToJudge`), in a run forced on suspicion. */
const SPARE_FLOORS = 4

/**
 * While the detector says the growth it suspects would reach the heap's or the container's
 * limit within its urgent horizon (the binding's URGENT_HORIZON_MS, 15 minutes), forced GCs may take
 * this many times `gcBudget`, and at most URGENT_BUDGET_MAX of each interval: 10% at
 * defaults, one second of each 10 s, enough for an atomic gc() of a heap of a GB or more
 * every interval. Without it, a fast leak starves its own evidence: the bigger the heap,
 * the longer each gc() and the fewer the floors. It lasts only while the suspicion is
 * urgent (a leak reported is no longer suspected), and the suspicion credit still bounds
 * the run.
 */
const URGENT_BUDGET_FACTOR = 10
const URGENT_BUDGET_MAX = 0.25

/**
 * When and how the watcher forces a full GC, so that an interval in which V8 ran none
 * still gets a floor (floors.js). Three reasons, first match wins:
 * - `suspected-growth`: the detector suspects growth and wants a floor by now. An atomic
 *   `gc()`: its floor is exact and comes at once.
 * - `first-floors`: the first two floors of the process, which suspicion needs and a quiet
 *   process would otherwise wait `forceGcAfterMs` for. Atomic too: a leak from the first
 *   request is judged on floors every interval from the first (an incremental one's floor
 *   came an interval later, and the fast test's sixth floor at 70 s instead of 60 s); two
 *   at start cost little, before much code is optimized.
 * - `quiet`: no full GC for `forceGcAfterMs` (a slow leak may not cause one for minutes).
 *   Incremental (`vm.measureMemory` run eagerly), like the full GCs V8 runs itself; its
 *   floor comes with the next interval.
 *
 * Why two kinds: an atomic full GC makes V8 throw away optimized code that embeds objects
 * it finds dead, and optimizing it again costs far more CPU than the pause; an incremental
 * one costs next to nothing, but its floor also holds what was allocated while it marked,
 * and it can take most of a second (docs/benchmarks/detect.md, "watch(): cost on a real http
 * service"). So atomic GCs come only in a bounded run while growth is suspected, paid for
 * with suspicion credit that the intervals earn back slowly.
 *
 * Every forced GC's time, from the request until it is done, is charged to a budget of
 * `gcBudget` of each interval (more while growth is urgent: URGENT_BUDGET_FACTOR): none is
 * forced while the budget is in debt.
 */
class ForcedGc {
  #options
  #floors
  #floorSpacingMs
  #urgentGrowth
  #onError
  #debtMs = 0 // forced GC time not yet paid back by the budget
  #credit
  #forcing = null // the full GC requested and not yet seen through (see #force)
  // Which kinds may be forced (neither with forceGc: false): gc(), exposed when first
  // needed (false where it cannot be), and vm.measureMemory (false once it failed).
  #atomicGc = null
  #incrementalGc = true
  #count = 0
  #totalMs = 0
  #clock
  #lastFullGcAt
  #stopped = false

  /**
   * @param {object} options the watcher's settings.
   * @param {object} parts
   * @param {import('./floors').Floors} parts.floors where the forced GCs' floors are noted.
   * @param {() => number} parts.floorSpacingMs how far apart the detector wants floors (0: no wish).
   * @param {() => boolean} parts.urgentGrowth whether the growth suspected would reach a limit soon.
   * @param {(err: Error) => void} parts.onError a forced GC could not run.
   * @param {import('../shared/clock').Clock} [parts.clock] what time it is.
   */
  constructor(options, { floors, floorSpacingMs, urgentGrowth, onError, clock = SYSTEM_CLOCK }) {
    this.#options = options
    this.#clock = clock
    this.#lastFullGcAt = clock.now()
    this.#floors = floors
    this.#floorSpacingMs = floorSpacingMs
    this.#urgentGrowth = urgentGrowth
    this.#onError = onError
    this.#credit = new SuspicionCredit(options)
    if (!options.forceGc) {
      this.#atomicGc = false
      this.#incrementalGc = false
    }
  }

  /** Full GCs requested so far. */
  get count() {
    return this.#count
  }

  /** Milliseconds spent in forced full GCs so far, each from its request until it was done. */
  get totalMs() {
    return this.#totalMs
  }

  /** No more floors noted nor errors reported. */
  stop() {
    this.#stopped = true
  }

  /** A full GC just ended: true if it was the one forced (its floor noted, if not yet). */
  claimFullGc() {
    this.#lastFullGcAt = this.#clock.now()
    const forcing = this.#forcing
    if (forcing === null || forcing.sentinelSeen) return false
    // The floor is noted now, unless it was when the GC returned.
    forcing.sentinelSeen = true
    if (!forcing.floorNoted) this.#noteFloor(forcing, this.#clock.monotonic() - forcing.startedAt)
    return true
  }

  /**
   * Once per interval, before its floor is taken: the budget earns its share of the
   * interval, and a full GC is forced if one is due and paid for.
   */
  tick() {
    if (this.#forcing?.done) this.#forcing = null
    this.#finishOverdue()
    this.#credit.earn()
    this.#debtMs = Math.max(0, this.#debtMs - this.#budgetShare() * this.#options.intervalMs)
    const reason = this.#due(this.#clock.now())
    if (reason === null || this.#floors.pending || this.#forcing !== null) return
    if (this.#debtMs === 0) this.#force(reason)
  }

  /** The share of an interval forced GCs may take now: more while suspected growth is urgent. */
  #budgetShare() {
    const { gcBudget } = this.#options
    if (!this.#urgentGrowth()) return gcBudget
    return Math.max(gcBudget, Math.min(URGENT_BUDGET_MAX, gcBudget * URGENT_BUDGET_FACTOR))
  }

  /**
   * An incremental GC in a program that allocates faster than V8 marks can go on for many
   * seconds, holding every floor back: after an interval, it is finished with `gc()`.
   */
  #finishOverdue() {
    const forcing = this.#forcing
    if (forcing !== null && this.#atomicGc !== false && this.#clock.monotonic() - forcing.startedAt >= this.#options.intervalMs) {
      this.#runAtomically(forcing)
    }
  }

  /**
   * Why a full GC is due now, or null. Suspicion first: when both are due, the detector
   * needs the exact floor now.
   */
  #due(now) {
    if (this.#atomicGc !== false && this.#credit.available && this.#floors.due(now, this.#floorSpacingMs())) return 'suspected-growth'
    if ((this.#atomicGc !== false || this.#incrementalGc) && this.#floors.taken < FIRST_FLOORS) return 'first-floors'
    if (now - this.#lastFullGcAt >= this.#options.forceGcAfterMs && this.#incrementalGc) return 'quiet'
    return null
  }

  /** Requests a full GC: atomic on suspicion and for the first floors (where gc() runs), incremental otherwise. */
  #force(reason) {
    this.#count++
    this.#lastFullGcAt = this.#clock.now()
    const forcing = { reason, startedAt: this.#clock.monotonic(), floorNoted: false, sentinelSeen: false, done: false }
    this.#forcing = forcing
    if (reason === 'suspected-growth') this.#credit.spend()
    if (reason === 'suspected-growth' || (reason === 'first-floors' && this.#atomicGc !== false)) {
      this.#runAtomically(forcing)
      return
    }
    measureMemoryQuietly().then(
      () => this.#done(forcing),
      (err) => {
        // Not expected on Node >= 18; without it, routine floors come from V8's own GCs.
        this.#incrementalGc = false
        this.#failed(forcing, err)
      },
    )
  }

  /** Runs gc() for `forcing` (and so finishes an incremental GC under way). */
  #runAtomically(forcing) {
    try {
      this.#atomicGc ??= exposedGc()
      this.#atomicGc()
    } catch (err) {
      // A timer callback must not throw into the app: no more atomic GCs, the routine floors go on.
      this.#atomicGc = false
      this.#failed(forcing, err)
      return
    }
    this.#done(forcing)
  }

  /** The forced GC could not run: nothing to charge or note; the app hears of it through `onError`. */
  #failed(forcing, err) {
    forcing.done = true
    if (!this.#stopped) this.#onError(err)
  }

  /** The forced GC is done: its time is charged to the budget, its floor noted if it was not. */
  #done(forcing) {
    if (forcing.done) return
    forcing.done = true
    if (this.#stopped) return
    const ms = this.#clock.monotonic() - forcing.startedAt
    this.#debtMs += ms
    this.#totalMs += ms
    if (!forcing.floorNoted) this.#noteFloor(forcing, ms)
  }

  /** Notes the floor of `forcing`, tagged with its reason and its time so far. */
  #noteFloor(forcing, ms) {
    forcing.floorNoted = true
    this.#floors.note({ reason: forcing.reason, ms })
  }
}

/**
 * Intervals' worth of credit for full GCs forced on suspicion: one costs
 * SUSPICION_REFILL_INTERVALS, each interval earns one, up to a run long enough for the
 * detector to judge a window (minPoints floors spanning minDurationMs: the detector's own
 * count, `floorsToJudge`) and confirm it.
 */
class SuspicionCredit {
  #credit
  #max

  /** @param {{ minPoints: number, minDurationMs: number, intervalMs: number }} options */
  constructor({ minPoints, minDurationMs, intervalMs }) {
    const run = nativeBinding().floorsToJudge(minPoints, minDurationMs, intervalMs) + SPARE_FLOORS
    this.#max = run * SUSPICION_REFILL_INTERVALS
    this.#credit = this.#max
  }

  /** Whether one more full GC on suspicion is paid for. */
  get available() {
    return this.#credit >= SUSPICION_REFILL_INTERVALS
  }

  /** One interval's credit. */
  earn() {
    this.#credit = Math.min(this.#max, this.#credit + 1)
  }

  /** Pays for one full GC on suspicion. */
  spend() {
    this.#credit -= SUSPICION_REFILL_INTERVALS
  }
}

/** A function that runs an atomic full GC, without `--expose-gc` at start-up. */
function exposedGc() {
  if (typeof globalThis.gc === 'function') return globalThis.gc
  v8.setFlagsFromString('--expose-gc')
  return vm.runInNewContext('gc')
}

/**
 * `vm.measureMemory` run eagerly: a full GC, marked incrementally. Node calls it
 * experimental and warns on its first use; the watcher is not the user's code, so that
 * warning is left out (the function has been in Node since 13.10, unchanged).
 */
function measureMemoryQuietly() {
  try {
    return withoutWarningsAbout('vm.measureMemory', () => vm.measureMemory({ mode: 'summary', execution: 'eager' }))
  } catch (err) {
    return Promise.reject(err)
  }
}

/**
 * Resolves after the next full GC: the next one V8 runs by itself, or, when none has come
 * within `maxWaitMs`, one asked for with `measureMemoryQuietly`. Asking at once is not free
 * on a big heap: when V8 is already marking incrementally, an eager request finishes the
 * marking atomically, and on a heap of 250 MB that stopped a service 600-950 ms
 * (docs/benchmarks/capture.md, "Heap snapshots by forked children"). Never rejects.
 */
function afterNextFullGc(maxWaitMs) {
  let timer
  const natural = new Promise((resolve) => {
    try {
      withoutWarningsAbout('vm.measureMemory', () => vm.measureMemory({ mode: 'summary', execution: 'default' })).then(resolve, resolve)
    } catch {
      resolve()
    }
  })
  const asked = new Promise((resolve) => {
    timer = setTimeout(() => measureMemoryQuietly().then(resolve, resolve), maxWaitMs)
    timer.unref()
  })
  return Promise.race([natural, asked]).finally(() => clearTimeout(timer))
}

module.exports = { ForcedGc, afterNextFullGc, exposedGc }

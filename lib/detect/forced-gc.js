'use strict'

const v8 = require('node:v8')
const vm = require('node:vm')
const { withoutWarningsAbout } = require('../shared/errors')
const { SYSTEM_CLOCK } = require('../shared/clock')
const { nativeBinding } = require('../shared/native')
const { AtomicPauses, FullGcPauses, OldSpaceBursts, oldSpaceInUse } = require('./gc-pause')

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
 * defaults, one second of each 10 s, enough for an atomic gc() of the longest allowed
 * (gc-pause.js) every interval. Without it, a fast leak starves its own evidence. It lasts
 * only while the suspicion is urgent (a leak reported is no longer suspected), and the
 * suspicion credit still bounds the run.
 */
const URGENT_BUDGET_FACTOR = 10
const URGENT_BUDGET_MAX = 0.25

/**
 * When and how the watcher forces a full GC, so that an interval in which V8 ran none
 * still gets a floor (floors.js). Three reasons, first match wins:
 * - `suspected-growth`: the detector suspects growth and wants a floor by now. Atomic where
 *   it fits (below): its floor is exact and comes at once.
 * - `first-floors`: the first two floors of the process, which suspicion needs and a quiet
 *   process would otherwise wait `forceGcAfterMs` for. Atomic where it fits too: a leak from
 *   the first request is judged on floors every interval from the first (an incremental
 *   one's floor comes an interval later, which puts the fast test's sixth floor at 70 s
 *   instead of 60 s); two at start cost little, before much code is optimized.
 * - `quiet`: no full GC for `forceGcAfterMs` (a slow leak may not cause one for minutes).
 *   Incremental, like the full GCs V8 runs itself; its floor comes with the next interval.
 *
 * Why two kinds: an atomic full GC makes V8 throw away optimized code that embeds objects
 * it finds dead, and optimizing it again costs far more CPU than the pause; and it stops the
 * service for as long as it marks the whole heap (seconds at 1 GB). An incremental one costs
 * next to nothing on the service's thread, but its floor also holds what was allocated while
 * it marked, and it can take most of a second (docs/benchmarks/detect.md, "watch(): cost on
 * a real http service"). So atomic GCs come only in a bounded run while growth is
 * suspected, paid for with suspicion credit that the intervals earn back slowly, and only
 * where their pause, predicted from the old generation in use and this process's own measured ones,
 * is within MAX_FORCED_PAUSE_MS (gc-pause.js). Where it is not, the same floors come from
 * incremental GCs that V8 is never asked to finish at once: `vm.measureMemory` run eagerly
 * finishes a marking already under way atomically, so on such a heap it runs at V8's own
 * pace (`execution: 'default'`, which starts marking about 10 s after the request).
 *
 * Every forced GC's pause, as the service felt it (gc-pause.js' FullGcPauses: an atomic
 * one's whole time, an incremental one's steps and atomic end), is charged to a budget of
 * `gcBudget` of each interval (more while growth is urgent: URGENT_BUDGET_FACTOR): none is
 * forced while the budget is in debt.
 */
class ForcedGc {
  #options
  #floors
  #floorSpacingMs
  #urgentGrowth
  #onError
  #atomicPauses
  #fullGcPauses = new FullGcPauses()
  #bursts = new OldSpaceBursts()
  #debtMs = 0 // forced GC pauses not yet paid back by the budget
  #credit
  #forcing = null // the full GC requested and not yet seen through (see #force)
  // Which kinds may be forced (neither with forceGc: false): gc(), exposed when first
  // needed (false where it cannot be), and vm.measureMemory (false once it failed).
  #atomicGc = null
  #incrementalGc = true
  #count = 0
  #pauseMs = 0
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
   * @param {import('./gc-pause').AtomicPauses} [parts.atomicPauses] predicts an atomic GC's pause (its own by default).
   */
  constructor(options, { floors, floorSpacingMs, urgentGrowth, onError, clock = SYSTEM_CLOCK, atomicPauses = new AtomicPauses() }) {
    this.#options = options
    this.#clock = clock
    this.#lastFullGcAt = clock.now()
    this.#floors = floors
    this.#floorSpacingMs = floorSpacingMs
    this.#urgentGrowth = urgentGrowth
    this.#onError = onError
    this.#atomicPauses = atomicPauses
    this.#credit = new SuspicionCredit(options)
    if (!options.forceGc) {
      this.#atomicGc = false
      this.#incrementalGc = false
    } else if (atomicPauses.fit()) {
      // gc() comes from a new vm context; made on a big heap, one led V8 to a memory-reducing
      // full GC seconds later (630-750 ms on 1.1 GB). So it is made now, while the heap is
      // small (under the preload, before the service has loaded anything); where it cannot
      // be, the first atomic GC tries again and says why.
      try {
        this.#atomicGc = exposedGc()
      } catch {
        this.#atomicGc = null
      }
    }
  }

  /** Full GCs requested so far. */
  get count() {
    return this.#count
  }

  /** Milliseconds forced full GCs stopped the thread so far (what the budget is charged). */
  get pauseMs() {
    return this.#pauseMs
  }

  /** No more floors noted nor errors reported. */
  stop() {
    this.#stopped = true
    this.#fullGcPauses.stop()
  }

  /** A full GC just ended: true if it was the one forced (its floor noted, if not yet). */
  claimFullGc() {
    this.#lastFullGcAt = this.#clock.now()
    const forcing = this.#forcing
    if (forcing === null || forcing.sentinelSeen) return false
    // The floor is noted now, unless it was when the GC returned.
    forcing.sentinelSeen = true
    if (!forcing.floorNoted) this.#noteFloor(forcing)
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
    this.#bursts.read()
    this.#forceIfDue(0)
  }

  /**
   * Forces a full GC if one is due and none is under way, with at most `debtAllowedMs` of
   * the budget still owed. An interval that has its floor needs no GC now, unless the GC's
   * floor would come in a later one anyway (at V8's pace, about 10 s on): asked for now, it
   * comes an interval sooner. Where an atomic GC would not fit, none is asked for in an
   * interval that saw a burst of growth of the old generation (gc-pause.js' BURST_SHARE):
   * V8 would do the whole marking at once. Unless the growth suspected is urgent: a fast
   * leak is such a burst every interval, and without forced floors it is reported 100 s
   * after it begins rather than 60 s.
   */
  #forceIfDue(debtAllowedMs) {
    const reason = this.#due(this.#clock.now())
    if (reason === null || this.#forcing !== null || this.#debtMs > debtAllowedMs) return
    const fits = this.#atomicPauses.fit()
    if ((this.#floors.pending && fits) || (!fits && this.#bursts.burst && !this.#urgentGrowth())) return
    this.#force(reason)
  }

  /** The share of an interval forced GCs may take now: more while suspected growth is urgent. */
  #budgetShare() {
    const { gcBudget } = this.#options
    if (!this.#urgentGrowth()) return gcBudget
    return Math.max(gcBudget, Math.min(URGENT_BUDGET_MAX, gcBudget * URGENT_BUDGET_FACTOR))
  }

  /**
   * An incremental GC in a program that allocates faster than V8 marks can go on for many
   * seconds, holding every floor back: after an interval, it is finished with `gc()`, where
   * that fits the pause allowed (otherwise V8 finishes it in its own time).
   */
  #finishOverdue() {
    const forcing = this.#forcing
    if (forcing === null || forcing.done || this.#atomicGc === false) return
    if (this.#clock.monotonic() - forcing.startedAt < this.#options.intervalMs) return
    if (this.#atomicPauses.fit()) this.#runAtomically(forcing)
  }

  /**
   * Why a full GC is due now, or null. Suspicion first: when both are due, the detector
   * needs the exact floor now.
   */
  #due(now) {
    const any = this.#atomicGc !== false || this.#incrementalGc
    if (any && this.#credit.available && this.#floors.due(now, this.#floorSpacingMs())) return 'suspected-growth'
    if (any && this.#floors.taken + (this.#floors.pending ? 1 : 0) < FIRST_FLOORS) return 'first-floors'
    if (now - this.#lastFullGcAt >= this.#options.forceGcAfterMs && this.#incrementalGc) return 'quiet'
    return null
  }

  /**
   * Requests a full GC: atomic on suspicion and for the first floors where gc() runs and its
   * pause fits, incremental otherwise (eager where even finishing one at once fits).
   */
  #force(reason) {
    this.#count++
    this.#lastFullGcAt = this.#clock.now()
    const forcing = { reason, startedAt: this.#clock.monotonic(), atomic: false, atV8Pace: false, floorNoted: false, sentinelSeen: false, done: false, ms: null, pauseMs: null }
    this.#forcing = forcing
    if (reason === 'suspected-growth') this.#credit.spend()
    this.#fullGcPauses.start()
    const fits = this.#atomicPauses.fit()
    // Urgent suspected growth (the limit within 15 minutes) gets its exact floor at once
    // whatever the pause, as before the 250 ms rule: at V8's pace, or even asked for eagerly,
    // a 7 MB/s leak was reported 80-100 s after it began rather than 60 s, and the process
    // would die within minutes.
    const urgent = reason === 'suspected-growth' && this.#urgentGrowth()
    if (reason !== 'quiet' && this.#atomicGc !== false && (fits || urgent)) {
      this.#runAtomically(forcing)
      return
    }
    if (!this.#incrementalGc) {
      // Only gc() could run, and its pause would not fit: no floor this time.
      forcing.done = true
      this.#fullGcPauses.stop()
      return
    }
    // While suspected growth is urgent (the limit within 15 minutes), the floor is asked for
    // at once even where an atomic GC would not fit: at V8's pace, a leak of 7 MB/s was
    // reported 100 s after it began rather than 60 s. The pause is then V8's end of a marking
    // it may have begun, still charged to the budget.
    forcing.atV8Pace = !fits && !this.#urgentGrowth()
    measureMemoryQuietly(forcing.atV8Pace ? 'default' : 'eager').then(
      () => this.#done(forcing),
      (err) => {
        // Not expected on Node >= 18; without it, routine floors come from V8's own GCs.
        this.#incrementalGc = false
        this.#failed(forcing, err)
      },
    )
  }

  /** Runs gc() for `forcing` (and so finishes an incremental GC under way); its pause teaches the prediction. */
  #runAtomically(forcing) {
    forcing.atomic = true
    const heapBytes = oldSpaceInUse()
    const startedAt = this.#clock.monotonic()
    try {
      this.#atomicGc ??= exposedGc()
      this.#atomicGc()
    } catch (err) {
      // A timer callback must not throw into the app: no more atomic GCs, the routine floors go on.
      this.#atomicGc = false
      this.#failed(forcing, err)
      return
    }
    this.#atomicPauses.record(this.#clock.monotonic() - startedAt, heapBytes)
    this.#done(forcing)
  }

  /** The forced GC could not run: nothing to charge or note; the app hears of it through `onError`. */
  #failed(forcing, err) {
    forcing.done = true
    this.#fullGcPauses.stop()
    if (!this.#stopped) this.#onError(err)
  }

  /** The forced GC is done: its pause is charged to the budget, its floor noted if it was not. */
  #done(forcing) {
    if (forcing.done) return
    forcing.done = true
    if (this.#stopped) return
    this.#measure(forcing)
    this.#debtMs += forcing.pauseMs
    this.#pauseMs += forcing.pauseMs
    if (!forcing.floorNoted) this.#noteFloor(forcing)
    // A GC at V8's pace took more than an interval, most of it waiting for V8 to start: the
    // next floor still wanted is asked for now rather than at the next tick, so that on a big
    // heap floors come every 12-18 s rather than every two or three intervals. The budget
    // counts what the next tick will pay back.
    if (forcing.atV8Pace) this.#forceIfDue(this.#budgetShare() * this.#options.intervalMs)
  }

  /**
   * How long `forcing` took from its request (`ms`) and stopped the thread (`pauseMs`),
   * once its full GC has ended (it has when its sentinel is reclaimed or its call returns).
   */
  #measure(forcing) {
    if (forcing.ms !== null) return
    forcing.ms = this.#clock.monotonic() - forcing.startedAt
    // gc() stops the thread for all of its time; where the profiler cannot say, so is counted an incremental one.
    const felt = this.#fullGcPauses.stop()
    forcing.pauseMs = forcing.atomic || felt === null ? forcing.ms : Math.min(felt, forcing.ms)
  }

  /** Notes the floor of `forcing`, tagged with its reason, whether it was atomic, and its times. */
  #noteFloor(forcing) {
    forcing.floorNoted = true
    this.#measure(forcing)
    this.#floors.note({ reason: forcing.reason, atomic: forcing.atomic, ms: forcing.ms, pauseMs: forcing.pauseMs })
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
 * `vm.measureMemory`: a full GC, marked incrementally, requested at once (`'eager'`: a
 * marking already under way is finished atomically) or at V8's pace (`'default'`: marking
 * starts about 10 s later, and is never finished at once on our account). Node calls it
 * experimental and warns on its first use; the watcher is not the user's code, so that
 * warning is left out (the function has been in Node since 13.10, unchanged).
 * @param {'eager' | 'default'} [execution]
 */
function measureMemoryQuietly(execution = 'eager') {
  try {
    return withoutWarningsAbout('vm.measureMemory', () => vm.measureMemory({ mode: 'summary', execution }))
  } catch (err) {
    return Promise.reject(err)
  }
}

/**
 * Resolves after the next full GC: the next one V8 runs by itself (or starts at its pace for
 * a `'default'` measurement, about 10 s on), or, when none has come within `maxWaitMs`, one
 * asked for eagerly. Asking at once is not free on a big heap: when V8 is already marking
 * incrementally, an eager request finishes the marking atomically, and on a heap of 250 MB
 * that stopped a service 600-950 ms (docs/benchmarks/capture.md, "Heap snapshots by forked
 * children"); so it is asked only where an atomic GC's predicted pause fits (gc-pause.js).
 * Never rejects.
 */
function afterNextFullGc(maxWaitMs, atomicPauses = new AtomicPauses()) {
  let timer
  const natural = measureMemoryQuietly('default').then(noop, noop)
  if (!atomicPauses.fit()) return natural
  const asked = new Promise((resolve) => {
    timer = setTimeout(() => measureMemoryQuietly().then(resolve, resolve), maxWaitMs)
    timer.unref()
  })
  return Promise.race([natural, asked]).finally(() => clearTimeout(timer))
}

/** Does nothing: a promise's outcome that is not needed. */
function noop() {}

module.exports = { ForcedGc, afterNextFullGc, exposedGc }

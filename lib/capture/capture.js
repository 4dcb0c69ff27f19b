'use strict'

const v8 = require('node:v8')
const errors = require('../shared/errors')
const { SnapshotCost } = require('./snapshot-cost')
const { Reports } = require('../diagnose/reports')
const { nativeStart } = require('../diagnose/native-verdict')
const { Pair } = require('./pair')
const { pauseAllowance } = require('./pause-allowance')
const { SYSTEM_CLOCK } = require('../shared/clock')

/**
 * The longest in-process pause a snapshot near the heap limit may take (unless
 * `snapshotMaxPauseMs` allows more), in ms. Its projection reads only the heap after full
 * GCs, no leak confirmed: a healthy service filling a cache past half its limit may be taken
 * for a dying one, and a liveness probe (three failures 10 s apart, Kubernetes' defaults)
 * outlasts this pause, not the minute a 1 GB heap's snapshot takes. Longer ones go to a child.
 */
const NEAR_LIMIT_MAX_PAUSE_MS = 10_000

/** Why a threshold's snapshot may pause the process past the budget: it is about to die. */
const THRESHOLD_CROSSED = (kind) => `the ${kind} is above its threshold`

/**
 * The heap snapshots the watcher writes when memory goes wrong, and the pairs they form.
 * The first snapshot (on a leak or a threshold crossing) is the baseline; the follow-up
 * comes as soon as a leaking kind of memory (the heap, `external` or native, each by its
 * floors) has grown by `followUpGrowthBytes` since the baseline (enough for the pair's diff
 * to show the growth) and the service has had time to recover from the baseline's pause
 * (the rule is `Pair#followUpDue`, pair.js); the pair becomes a report (reports.js), told how
 * much each leaking kind grew between
 * the two. A threshold's baseline follows the heap. The cooldown spaces pairs, not the two
 * halves of one.
 *
 * Every snapshot's cost is predicted first (snapshot-cost.js); one that would stop the event
 * loop longer than `snapshotMaxPauseMs` is declined with reason `pause`, unless the process
 * is about to die (pause-allowance.js: its heap above `heapThreshold`, RSS above
 * `rssThreshold`, or the leak urgent), when the evidence is worth the pause: a restart loses
 * everything the heap could tell.
 * One snapshot at a time; the store (snapshots.js) writes it only when it is safe to. Used
 * only when the watcher has a `dir` and `snapshots: 'auto'`, for each thread it responds to
 * (its target, lib/watch/leak-targets.js: the watcher's own, or a worker watched from it),
 * which says how its snapshots are written.
 */
class Capture {
  #store
  #target
  #clock
  #afterSnapshot
  #monitor
  #emit
  #onNoPair
  #diagnosedSince
  #diagnosing
  #reports
  #cost = new SnapshotCost()
  #maxPauseMs
  #followUpGrowthBytes
  #intervalMs
  #levels = { heap: null, external: null, native: null, nativeAt: null } // the newest floor of each kind; the heap's is what a snapshot would hold
  #leaking = new Set() // the kinds reported leaking since the current pair's baseline was asked for
  #urgentLeak = null // the newest leak's { projectedLimitAt }, while it is urgent; or the heap's, projected near its limit (onNearLimit)
  #heapAboveThreshold = false // the newest heap floor is above heapThreshold
  #baseline = null // the current pair (pair.js), from its baseline on
  #nativeHolds = 0 // snapshots and diffs under way that move native memory on purpose
  #capturing = false
  #thresholdWaiting = null // a threshold crossed while another snapshot was written: its kind
  #stopped = false
  #requests = 0 // snapshots asked for on demand, for their ids

  /**
   * @param {object} options the watcher's settings.
   * @param {object} parts
   * @param {object} parts.target the thread whose snapshots these are (lib/watch/leak-targets.js):
   *   its snapshot store and how a snapshot of it is written.
   * @param {object} parts.monitor the monitor, told when native floors stop comparing.
   * @param {(type: string, fields: object) => void} parts.emit emits a watcher event.
   * @param {(skipped: object) => void} parts.onNoPair a baseline's follow-up was declined
   *   (its `snapshot-skipped` fields): the pair will bring no report.
   * @param {(time: number) => Promise<object | null>} [parts.diagnosedSince] the newest report
   *   without a pair whose census began at or after `time`, whose holders a pair's report
   *   confirms (once a diagnosis under way is done).
   * @param {() => object | null} [parts.published] the newest report without a pair, whose
   *   holder's label a pair's report keeps where it names the same (reports.js).
   * @param {() => boolean} [parts.diagnosing] whether a diagnosis is under way: a follow-up
   *   waits for it, since its census' queue, in the heap meanwhile, would read as growth.
   * @param {import('../shared/clock').Clock} [parts.clock] what time it is.
   */
  constructor(options, { target, monitor, emit, onNoPair, diagnosedSince = async () => null, published = () => null, diagnosing = () => false, clock = SYSTEM_CLOCK }) {
    this.#diagnosedSince = diagnosedSince
    this.#diagnosing = diagnosing
    this.#clock = clock
    this.#target = target
    this.#store = target.snapshotStore(options, { emit, clock })
    this.#afterSnapshot = options.afterSnapshot ?? null
    this.#monitor = monitor
    this.#emit = emit
    this.#onNoPair = onNoPair
    this.#reports = new Reports(options.top, emit, target.thread === null ? {} : { thread: target.thread }, published)
    this.#maxPauseMs = options.snapshotMaxPauseMs
    this.#followUpGrowthBytes = options.followUpGrowthBytes
    this.#intervalMs = options.intervalMs
  }

  /** No more snapshots, nor reports. */
  stop() {
    this.#stopped = true
    this.#store.stop()
    this.#reports.stop()
  }

  /**
   * A leak of the heap, of external or of native memory: the baseline, or the follow-up when
   * it is due (the kind now counts towards it).
   * @param {{ kind: string, current: number, urgent?: boolean, projectedLimitAt?: number | null }} leak
   *   the event's fields.
   * @returns {{ role: 'baseline' | 'follow-up' | null, written: Promise<object | null> }} `role`:
   *   the snapshot this call started writing, known at once (a baseline's report, the census',
   *   need not wait for it), null when none (one is being written, or the pair's follow-up is
   *   not due yet); `written`: the `snapshot` or `snapshot-skipped` event's fields (`skipped:
   *   'failed'` when writing threw: an `error` event says why), or null when none was tried.
   */
  onLeak(leak) {
    this.#levels = { ...this.#levels, [leak.kind]: leak.current }
    this.#urgentLeak = leak.urgent === true ? { projectedLimitAt: leak.projectedLimitAt ?? null } : null
    const busy = this.#capturing || this.#stopped
    if (this.#pairUnderWay()) {
      this.#baseline.kinds.add(leak.kind)
      this.#baseline.startNativeReadings(this.#clock)
      const followUp = busy ? null : this.#followUpIfDue()
      return { role: followUp === null ? null : 'follow-up', written: Promise.resolve(followUp) }
    }
    this.#leaking.add(leak.kind)
    if (busy) return { role: null, written: Promise.resolve(null) }
    return { role: 'baseline', written: this.#capture(this.#baseline === null ? 'leak' : 'leak-worse') }
  }

  /**
   * A threshold was crossed (`heap`, or `rss` from the monitor): the process is
   * about to die, and its snapshot is worth the pause.
   */
  onThreshold(kind) {
    // A crossing is reported once: one that comes while the leak's baseline is written
    // waits for it rather than being lost, the process being about to die.
    if (this.#capturing) {
      this.#thresholdWaiting = kind
      return null
    }
    return this.#capture('threshold', THRESHOLD_CROSSED(kind))
  }

  /**
   * The heap is projected to pass its threshold soon (near-heap-limit.js' LimitProjection:
   * `{ projectedLimitAt, heapUsed }`): the process is about to die, as with an urgent leak,
   * and its snapshot must be done before it does.
   */
  onNearLimit({ projectedLimitAt, heapUsed }) {
    this.#levels = { ...this.#levels, heap: heapUsed }
    this.#urgentLeak = { projectedLimitAt }
    return this.#capture('near-heap-limit')
  }

  /** How long a snapshot of a heap of `heapUsed` bytes is predicted to take, in ms (a child takes about as long as the in-process pause). */
  snapshotMs(heapUsed) {
    return this.#cost.predict(heapUsed).pauseMs
  }

  /**
   * A snapshot asked for on demand (`by`: `'signal'`, `'http'`, `'api'`): the follow-up of
   * the pair under way, else a new baseline. The operator's request overrides the pause
   * budget (they asked for the pause), not the disk and memory checks; a new baseline waits
   * for the cooldown like any. Written on the next turn of the event loop, so that an HTTP
   * answer goes out before the pause.
   * @returns {{ id: string, role: 'baseline' | 'follow-up', done: Promise<object | null> }}
   *   `done` resolves with the `snapshot` or `snapshot-skipped` fields.
   * @throws coded `SNAPSHOT_IN_PROGRESS` while one is being written, `SNAPSHOT_COOLDOWN`
   *   (with `retryAfterMs`) within the cooldown.
   */
  request(by) {
    if (this.#capturing) {
      throw errors.codedError(Error, errors.CODES.SNAPSHOT_IN_PROGRESS, 'a heap snapshot is being written; ask again when it is done')
    }
    const followUp = this.#pairUnderWay()
    const wait = followUp ? 0 : this.#store.cooldownLeftMs()
    if (wait > 0) {
      const err = errors.codedError(Error, errors.CODES.SNAPSHOT_COOLDOWN, `the last snapshot was written less than cooldownMs ago; the next is allowed in ${wait} ms`)
      err.retryAfterMs = wait
      throw err
    }
    const id = `${process.pid}-${this.#clock.now().toString(36)}-${++this.#requests}`
    // Held from now on: a second request before the write starts is told it is in progress.
    this.#capturing = true
    const done = new Promise((resolve) => setImmediate(() => {
      this.#capturing = false
      resolve(this.#capture(followUp ? 'follow-up' : 'on-demand', null, { id, requestedBy: by }))
    }))
    return { id, role: followUp ? 'follow-up' : 'baseline', done }
  }

  /** Whether a leak now would start a pair's baseline: no pair is under way, and no snapshot is being written. */
  get startsBaseline() {
    return !this.#pairUnderWay() && !this.#capturing && !this.#stopped
  }

  /** Whether a pair's baseline is written and its follow-up not yet. */
  #pairUnderWay() {
    return this.#baseline !== null && !this.#baseline.followedUp
  }

  /** Whether a snapshot is being written (or about to be, on demand). */
  get writing() {
    return this.#capturing
  }

  /** The directory snapshots and reports go to. */
  get dir() {
    return this.#store.dir
  }

  /**
   * New floors (`{ heap, external, native, nativeAt }`: native null until the monitor
   * has one, `nativeAt` when it was taken), and whether the heap is above its threshold: the
   * follow-up, once due (resolves with its fields; null when none is due).
   */
  onFloor(levels, aboveHeapThreshold) {
    this.#levels = levels
    this.#heapAboveThreshold = aboveHeapThreshold
    if (!this.#pairUnderWay()) return null
    this.#baseline.noteNative(levels, this.#intervalMs, this.#clock)
    return this.#followUpIfDue()
  }

  /** The pair's follow-up, once its rule (`Pair#followUpDue`) says it is due; null until then. */
  #followUpIfDue() {
    const state = { now: this.#clock.now(), levels: this.#levels, intervalMs: this.#intervalMs, followUpGrowthBytes: this.#followUpGrowthBytes }
    const grown = this.#baseline.followUpDue({ ...state, diagnosing: this.#diagnosing(), urgent: this.#urgentLeak !== null })
    return grown === null ? null : this.#capture('follow-up', null, null, grown)
  }

  /**
   * Writes a snapshot: the first of a pair is the baseline, the second its follow-up.
   * `demand`: `{ id, requestedBy }` of a snapshot asked for on demand, carried into its event;
   * `grown`: for a follow-up due to growth, how much each kind grew (its report's `leaking`).
   */
  async #capture(reason, crossed = null, demand = null, grown = null) {
    if (this.#capturing || this.#stopped) return null
    this.#capturing = true
    const startedAt = this.#clock.now()
    // For a native pair, the report's end readings: before this snapshot moves memory.
    const nativeEnd = reason === 'follow-up' && this.#baseline?.nativeStart != null ? nativeStart(this.#clock) : null
    // Writing a snapshot takes several times the heap in native memory, and the allocator
    // keeps some of it: no native floors while it writes, and those from before no longer
    // compare with those after.
    let wrote = false
    const onWrite = () => {
      wrote = true
      this.#holdNative()
    }
    try {
      const heapUsed = this.#levels.heap ?? v8.getHeapStatistics().used_heap_size
      const predicted = this.#cost.predict(heapUsed)
      const about = { crossed, demand, heapAboveThreshold: this.#heapAboveThreshold, urgentLeak: this.#urgentLeak }
      const { maxMs: allowedMs, dying, demanded } = pauseAllowance(predicted, about, this.#maxPauseMs, this.#clock.now())
      const followUp = reason === 'follow-up'
      const keep = this.#baseline === null ? [] : [this.#baseline.path]
      // Near the heap limit the process may die within seconds: in-process where its pause is allowed, else a child forked at once.
      const aboutToDie = reason === 'near-heap-limit'
      const maxMs = aboutToDie ? Math.min(allowedMs, Math.max(this.#maxPauseMs, NEAR_LIMIT_MAX_PAUSE_MS)) : allowedMs
      const result = await this.#target.writeSnapshot(this.#store, reason, { heapUsed, predicted, maxPauseMs: maxMs, followUp, keep, onWrite, aboutToDie })
      // A child's snapshot stops this thread only for fork(), a worker's not at all: no budget to go over.
      const inProcess = result.writer !== 'child' && result.writer !== 'worker'
      const overBudget = inProcess ? dying ?? (predicted.pauseMs > this.#maxPauseMs ? demanded : null) : null
      const budget = { pauseBudgetMs: this.#maxPauseMs, ...(overBudget == null ? {} : { overBudgetBecause: overBudget }), ...demand }
      if ('skipped' in result) return this.#skipped({ ...result, ...budget })
      // A child does the work an in-process snapshot would, in about the time it would stop the loop.
      this.#cost.learn(predicted, result.writer === 'child' ? { bytes: result.bytes, durationMs: result.childMs } : result)
      if (wrote) this.#releaseNative()
      wrote = false
      const fields = this.#written({ ...result, ...budget }, heapUsed, { reason, startedAt }, { grown, nativeEnd })
      await this.#handOver(fields)
      return fields
    } catch (err) {
      this.#emit('error', { error: err.message, during: 'snapshot' })
      return { skipped: 'failed', reason, detail: err.message }
    } finally {
      if (wrote) this.#releaseNative()
      this.#capturing = false
      this.#thresholdAfterCapture()
    }
  }

  /** The threshold snapshot that waited for the one just written, if one did. */
  #thresholdAfterCapture() {
    const kind = this.#thresholdWaiting
    this.#thresholdWaiting = null
    // #capture reports its own failures as `error` events.
    if (kind !== null && !this.#stopped) void this.#capture('threshold', THRESHOLD_CROSSED(kind))
  }

  /**
   * Native floors paused while a snapshot or a diff moves native memory on purpose; counted,
   * so that a baseline written while the previous pair is diffed (cooldownMs 0) does not
   * restart them mid-diff.
   */
  #holdNative() {
    if (this.#nativeHolds++ === 0) this.#monitor.pauseNative()
  }

  /** The end of a hold: native floors start again (a new series) when the last one ends. */
  #releaseNative() {
    if (--this.#nativeHolds === 0) this.#monitor.resetNative()
  }

  /**
   * Gives the written snapshot to `afterSnapshot` (an upload, say), awaited: no other
   * snapshot is written, and none deleted for room, until it is done. A hook that fails
   * is an `error` event; the snapshot stays written.
   */
  async #handOver(fields) {
    if (this.#afterSnapshot === null) return
    try {
      await this.#afterSnapshot({ ...fields, dir: this.#store.dir })
    } catch (err) {
      this.#emit('error', { error: err?.message ?? String(err), during: 'afterSnapshot', path: fields.path })
    }
  }

  /**
   * A snapshot was declined: emitted. A declined follow-up ends the pair (a heap that grew
   * too big for it will not shrink back); the next leak starts another, after the cooldown.
   * A declined baseline forgets the kinds that leaked: a later baseline (a threshold's, days
   * on) follows its own.
   */
  #skipped(fields) {
    this.#emit('snapshot-skipped', fields)
    if (fields.reason !== 'follow-up') this.#leaking.clear()
    if (fields.reason === 'follow-up') {
      this.#baseline.followedUp = true
      this.#onNoPair(fields)
    }
    return fields
  }

  /**
   * A snapshot was written: emitted with its role; a follow-up starts the pair's report, with
   * `follow`: `{ grown, nativeEnd }` (how much each kind grew, the native end readings).
   * `taken`: `{ reason, startedAt }`, why it was taken and when its capture began.
   */
  #written(result, heapUsed, { reason, startedAt }, follow) {
    const baseline = this.#baseline
    if (baseline === null || baseline.followedUp) {
      const fields = { ...result, role: 'baseline' }
      this.#emit('snapshot', fields)
      // The heap the snapshot held, exact (V8 collected all garbage for it): floors taken by
      // incremental GCs run high, and a baseline measured by one would hold the follow-up back.
      const baselineHeap = Math.min(heapUsed, result.liveHeapBytes)
      // A baseline taken for a threshold or on demand follows the heap too.
      const kinds = new Set(this.#leaking)
      if (kinds.size === 0 || (reason !== 'leak' && reason !== 'leak-worse')) kinds.add('heap')
      this.#leaking.clear()
      const levels = { heap: baselineHeap, external: this.#levels.external }
      this.#baseline = new Pair({ path: result.path, levels, kinds, startedAt, endedAt: this.#clock.now(), pauseMs: result.durationMs })
      return fields
    }
    const fields = { ...result, role: 'follow-up', baseline: baseline.path }
    this.#emit('snapshot', fields)
    baseline.followedUp = true
    const leaking = follow.grown ?? baseline.grown(this.#levels)
    const native = baseline.nativeStart === null ? null : { start: baseline.nativeStart, end: follow.nativeEnd ?? nativeStart(this.#clock) }
    // The census taken at the leak (begun with the baseline, beside its writer), once done, is
    // what the pair confirms. Diffing the pair holds both snapshots' graphs in native memory
    // for seconds (GBs for big heaps): native floors from meanwhile would read as a native
    // leak, and those from before no longer compare with those after.
    this.#diagnosedSince(baseline.startedAt)
      .then((diagnosed) => {
        if (this.#stopped) return
        this.#holdNative()
        return this.#reports.write(baseline.path, result.path, leaking, native, diagnosed).finally(() => this.#releaseNative())
      })
      .catch((err) => this.#emit('error', { error: err.message, during: 'report' }))
    return fields
  }
}

module.exports = { Capture }

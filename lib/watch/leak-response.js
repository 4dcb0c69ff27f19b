'use strict'

/**
 * The watcher's response to a leak, from its `leak` event to its report: the allocation sites
 * that grow (a heap leak: sites.js, with the sampling profiles heap-profiles.js keeps), a
 * snapshot (capture.js: a pair's baseline, or its follow-up, whose diff is the pair's report),
 * and the report without a pair (diagnosis.js: the holder from the census of reachable
 * collections), which comes within a minute of the leak whatever becomes of the pair.
 *
 * It owns the parts that gather evidence: the diagnosis, the site ranking, and, with a `dir`
 * and `snapshots: 'auto'`, the snapshots and their pairs, the snapshot near the heap limit
 * (capture/near-heap-limit.js) and the snapshots asked for on demand (`snapshot()`,
 * `snapshotSignal`). The watcher (watcher.js) hands it leaks, thresholds, floors and the heap
 * after full GCs; it emits the watcher's events through `emit`.
 *
 * One response per thread whose leaks are answered, its *target* (leak-targets.js): the
 * watcher's own thread, or a worker watched from the main thread (thread-watch.js). The path
 * from a leak to its evidence is the same for both; the target says how its heap is sampled,
 * its census taken and its snapshots written. The process-wide duties (the snapshot near the
 * heap limit, the snapshot signal, sweeping dead writers' files) come with the watcher's own.
 */
const { isMainThread } = require('node:worker_threads')
const errors = require('../shared/errors')
const { Diagnosis, PAIR_PENDING } = require('../diagnose/diagnosis')
const { SiteRanking } = require('../sites/sites')
const { listenForSnapshotSignal } = require('../capture/snapshot-signal')

/**
 * What became of a leak's snapshot, told apart by `kind`:
 * - `'off'`: the watcher takes no snapshots (no `dir`, or `snapshots: 'off'`);
 * - `'busy'`: none was tried: another snapshot is being written (on demand, at a threshold,
 *   near the heap limit), which becomes the pair's baseline (or is its follow-up);
 * - `'not-due'`: none was tried: the pair under way waits for its follow-up;
 * - `'baseline'`: a pair's baseline was written, at `path`; its follow-up comes later;
 * - `'follow-up'`: the pair's follow-up was written: the pair's report follows;
 * - `'skipped'`: declined or failed, `skipped` and `detail` as its `snapshot-skipped` event says.
 * @typedef {{ kind: 'off' } | { kind: 'busy' } | { kind: 'not-due' } | { kind: 'baseline', path: string } | { kind: 'follow-up' }
 *   | { kind: 'skipped', skipped: string, detail: string | null }} LeakSnapshot
 */

/** @typedef {import('../diagnose/diagnosis').NoPair} NoPair */

/** @type {LeakSnapshot} What became of every leak's snapshot in a watcher that takes none. */
const NO_SNAPSHOTS = Object.freeze({ kind: 'off' })

/**
 * `heapSnapshot.detail` of the report a target whose census comes before its baseline
 * (`censusBeforeBaseline`) gets: its census and its snapshot both stop that thread, one at a
 * time, and the census' passes are dropped first (what it made there would be new between
 * the pair's snapshots, where the diff would take it for the leak).
 */
const CENSUS_BEFORE_BASELINE = "the census goes first; the pair's baseline is written once it is done, and the pair's report follows once its follow-up is"

/**
 * The watcher's part that turns a leak into its evidence and its report (see the module doc).
 * One per watcher, made with it; `stop()` ends everything it started.
 */
class LeakResponse {
  #options
  #emit
  #clock
  #target
  #diagnosis // the report of a leak that got no snapshot pair
  #capture = null // snapshots and their pairs' reports, with a dir and snapshots: 'auto'
  #limitProjection = null // leakproof's own snapshot near the heap limit, where V8's is not armed
  #stopListening = null // removes the snapshotSignal listener
  #sites = null // the allocation-site ranking, made with the first heap leak
  #profiles = null // its sampling profiles (heap-profiles.js), made with it
  #lastLeak = null // the newest leak event responded to
  #lastRanking = null // the promise of the newest heap leak's site ranking
  #censusFirst = false // a census before a baseline is under way (#censusThenSnapshot)
  #stopped = false
  /**
   * With snapshots on, what the snapshot near the heap limit came to (`watcher.nearHeapLimit`):
   * `{ armed, writer, dir, reason?, adopted, removed }`; null with snapshots off.
   */
  nearHeapLimit = null

  /**
   * @param {object} options the watcher's settings, checked (options.js).
   * @param {{ target: object, monitor: object, emit: (type: string, fields: object) => object, clock: import('../shared/clock').Clock }} parts
   *   `target`: the thread whose leaks these are (leak-targets.js); `monitor`: the monitor,
   *   told when snapshots move native memory; `emit`: emits a watcher event; `clock`: the
   *   watcher's time.
   */
  constructor(options, { target, monitor, emit, clock }) {
    this.#options = options
    this.#emit = emit
    this.#clock = clock
    this.#target = target
    this.#diagnosis = new Diagnosis(options, { emit, clock, target })
    if (options.snapshots === 'auto' && options.dir !== undefined && target.noSnapshots === null) this.#startSnapshots(options, monitor)
    else if (options.dir !== undefined && isMainThread && target.watcherThread) this.#removeDeadWritersTemps(options.dir)
  }

  /**
   * With a `dir` but no snapshots, the temporary snapshots that writers killed mid-write left in
   * it (an earlier life's, with snapshots on) are removed all the same, on the next turn: they
   * hold the heap's secrets. (A snapshot store does this as it starts: capture/snapshots.js.)
   */
  #removeDeadWritersTemps(dir) {
    setImmediate(() => {
      if (this.#stopped) return
      const { removeDeadWritersTemps, cleanupError } = require('../capture/snapshot-file')
      const { failed } = removeDeadWritersTemps(dir)
      if (failed.length > 0) this.#emit('error', { error: cleanupError(dir, failed).message, during: 'cleanup' })
    }).unref()
  }

  /**
   * The snapshots: the capture of pairs and, for the watcher's own thread, the snapshot near
   * the heap limit and the snapshot signal's listener.
   */
  #startSnapshots(options, monitor) {
    // Loaded only here: a watcher without a dir never loads the snapshot writer.
    const { Capture } = require('../capture/capture')
    this.#capture = new Capture(options, {
      target: this.#target,
      monitor,
      emit: this.#emit,
      onNoPair: (skipped) => this.#diagnose(this.#lastLeak, whyNoPair({ kind: 'skipped', skipped: skipped.skipped, detail: skipped.detail ?? null })),
      diagnosedSince: (time) => this.#diagnosis.latestSince(time),
      published: () => this.#diagnosis.newestReport,
      diagnosing: () => this.#diagnosis.busy,
      clock: this.#clock,
    })
    if (!this.#target.watcherThread) return
    this.#armNearHeapLimit(options)
    if (options.snapshotSignal !== undefined) {
      const refused = (err) => this.#emit('snapshot-skipped', { skipped: refusalReason(err), reason: 'on-demand', requestedBy: 'signal', detail: err.message })
      this.#stopListening = listenForSnapshotSignal(options.snapshotSignal, () => this.snapshot('signal'), refused)
    }
  }

  /**
   * The snapshot near the heap limit (capture/near-heap-limit.js), with `nearHeapLimit`: V8's,
   * armed where Node's diagnostic directory is inside `dir` and it can be written there, else
   * leakproof's own, once the heap is projected to pass `heapThreshold` soon; and the ones an
   * earlier life left in Node's diagnostic directory moved into `dir` (or deleted, partial),
   * each a `heap-limit-snapshot` event once the caller had a turn to listen.
   */
  #armNearHeapLimit(options) {
    const { armNearHeapLimit, adoptNearLimitSnapshots, nearLimitDir, LimitProjection } = require('../capture/near-heap-limit')
    const armed = options.nearHeapLimit ? armNearHeapLimit({ memoryFactor: options.snapshotMemoryFactor, into: options.dir }) : { armed: false, dir: nearLimitDir(), reason: 'nearHeapLimit: false' }
    const writer = armed.armed ? 'v8' : options.nearHeapLimit ? 'leakproof' : null
    if (writer === 'leakproof') this.#limitProjection = new LimitProjection({ share: options.heapThreshold, snapshotMs: (heapUsed) => this.#capture.snapshotMs(heapUsed) })
    // The main thread's watcher adopts them: the threads of one process would race for them.
    const { adopted, removed, failed } = isMainThread ? adoptNearLimitSnapshots(armed.dir, options.dir, this.#clock) : { adopted: [], removed: [], failed: [] }
    this.nearHeapLimit = { ...armed, writer, adopted, removed }
    if (adopted.length + removed.length + failed.length === 0) return
    setImmediate(() => {
      if (this.#stopped) return
      for (const file of adopted) this.#emit('heap-limit-snapshot', { ...file, removed: null })
      for (const { from, why } of removed) this.#emit('heap-limit-snapshot', { path: null, from, bytes: null, writtenAt: null, writerPid: null, removed: why })
      for (const { from, why } of failed) this.#emit('error', { error: `could not move ${from} into ${options.dir}: ${why}`, during: 'near-heap-limit snapshot' })
    }).unref()
  }

  /** Stops everything it started: the snapshot signal's listener, the snapshots, the diagnosis, sampling. */
  stop() {
    this.#stopped = true
    if (this.#stopListening !== null) this.#stopListening()
    this.#capture?.stop()
    this.#diagnosis.stop()
    this.#sites?.stop()
  }

  /** The snapshots, for `status()`: whether they are on, their `dir`, and whether one is being written. */
  snapshotState() {
    const capture = this.#capture
    return { on: capture !== null, dir: capture?.dir ?? null, writing: capture?.writing ?? false }
  }

  /** Whether the heap after each full GC is projected towards the heap limit (leakproof's own snapshot near it). */
  get projectsLimit() {
    return this.#limitProjection !== null
  }

  /**
   * The heap after a full GC (`heapUsed` at `time`, against `limit`): leakproof's own snapshot
   * near the heap limit, once the heap is projected to pass `heapThreshold` soon.
   */
  noteFullGcHeap(time, heapUsed, limit) {
    const near = this.#limitProjection?.note(time, heapUsed, limit) ?? null
    if (near !== null) this.#capture.onNearLimit(near)
  }

  /** An interval's floor, before it is emitted: the diagnosis compares the floors since a leak. */
  noteFloor(floor) {
    this.#diagnosis.noteFloor(floor)
  }

  /**
   * Each kind's newest floor once the interval's sample is emitted (`{ heap, external, native,
   * nativeAt }`), and whether the heap is above `heapThreshold`: the pair's follow-up, once due.
   */
  onLevels(levels, heapAboveThreshold) {
    this.#capture?.onFloor(levels, heapAboveThreshold)
  }

  /**
   * A threshold was crossed (`kind`: `'heap'`, or `'rss'` from the monitor): the process is
   * about to die. For the heap, the sampling profile first, if sampling runs (the cost of one
   * full GC, which the inspector runs before it answers; it says what was allocated and kept
   * since the leak was found); then the snapshot, which may not finish before the process dies.
   */
  async onThreshold(kind) {
    if (kind === 'heap' && this.#sites !== null) await this.#sites.saveProfile('threshold')
    if (this.#capture !== null && !this.#stopped) this.#capture.onThreshold(kind)
  }

  /**
   * A leak of any kind (heap, external, native), its `leak` event emitted: the growing
   * allocation sites (heap), a snapshot, and the report without a pair: the census' holder
   * within a minute of the leak, whatever becomes of the pair (a baseline's follow-up may wait
   * minutes for more growth). The census begins with a baseline, beside its writer (a forked
   * child's takes seconds), and its report says what became of it. When the pair comes, its
   * report says whether it confirms the census' holder. A follow-up written now brings the
   * pair's report at once: no census then.
   */
  async onLeak(leak) {
    this.#lastLeak = leak
    // Ranked whatever becomes of the snapshot: the sites event names the code that grows.
    if (leak.kind === 'heap' && this.#options.sites) this.#lastRanking = this.#rankSites(leak)
    if (this.#capture === null) return this.#diagnose(leak, this.#target.noSnapshots ?? whyNoPair(NO_SNAPSHOTS))
    if (this.#target.censusBeforeBaseline) return this.#censusThenSnapshot(leak)
    const { role, written } = this.#capture.onLeak(leak)
    if (role === 'baseline') return this.#diagnose(leak, written.then((fields) => whyNoPair(leakSnapshot(fields, this.#capture))))
    const snapshot = leakSnapshot(await written, this.#capture)
    // A follow-up: the pair's report follows at once. Busy (a snapshot on demand, at a threshold
    // or near the limit is being written; an operator's `leak` handler asked for one): the census
    // runs beside it, as beside a baseline's forked writer, and names the holder while the
    // pair waits, minutes perhaps, for more growth.
    if (snapshot.kind === 'follow-up') return
    return this.#diagnose(leak, whyNoPair(snapshot))
  }

  /**
   * Takes a heap snapshot now, asked for by an operator (`requestedBy`): see `Watcher#snapshot`.
   * @returns {{ id: string, role: 'baseline' | 'follow-up', done: Promise<object | null> }}
   * @throws coded `WATCHER_STOPPED`, `SNAPSHOTS_OFF`, `SNAPSHOT_IN_PROGRESS`, `SNAPSHOT_COOLDOWN`.
   */
  snapshot(requestedBy) {
    if (this.#stopped) throw errors.codedError(Error, errors.CODES.WATCHER_STOPPED, 'watcher.snapshot(): the watcher is stopped')
    if (this.#capture === null) {
      throw errors.codedError(Error, errors.CODES.SNAPSHOTS_OFF, "watcher.snapshot(): this watcher takes no snapshots: give watch() a dir, and leave snapshots at 'auto'")
    }
    return this.#capture.request(requestedBy)
  }

  /** The newest allocation-sampling profile kept (`watcher.sitesProfile()`), a copy; null before the first. */
  sitesProfile() {
    const newest = this.#profiles?.newest() ?? null
    return newest === null ? null : { ...newest }
  }

  /**
   * The report of `leak` without a snapshot pair, `snapshot` saying why there is none (or that
   * one is under way, PAIR_PENDING), or a promise of it while the baseline is written, with the
   * allocation sites ranked when the leak was reported (a follow-up declined minutes later must
   * not rank afresh: the growth may be over by then).
   * @param {object | null} leak
   * @param {NoPair | Promise<NoPair>} snapshot
   */
  async #diagnose(leak, snapshot) {
    if (this.#stopped || leak === null) return
    const sites = leak.kind === 'heap' ? this.#lastRanking : null
    const profile = () => this.#profiles?.newest()?.profile ?? null
    await this.#diagnosis.diagnose(leak, { snapshot, sites, profile })
  }

  /**
   * `onLeak` for a target whose census and snapshot both stop it (`censusBeforeBaseline`):
   * the report with the census' holder first (one diagnosis at a time), its passes then
   * dropped in the target, then the pair's baseline. No census runs between the pair's
   * snapshots, where what it made would be new in the follow-up: a leak while the pair is
   * under way, or while its census is, counts towards the follow-up only. With `census: false`
   * the report goes beside the baseline, as for the watcher's own thread.
   */
  async #censusThenSnapshot(leak) {
    if (this.#censusFirst) return
    if (!this.#capture.startsBaseline) return this.#capture.onLeak(leak).written
    if (this.#options.census) {
      this.#censusFirst = true
      try {
        await this.#diagnosis.idle()
        await this.#diagnose(leak, { why: PAIR_PENDING, detail: CENSUS_BEFORE_BASELINE })
        await this.#diagnosis.idle()
        await this.#diagnosis.releaseCensus()
      } finally {
        this.#censusFirst = false
      }
      if (this.#stopped) return
    }
    const { role, written } = this.#capture.onLeak(this.#lastLeak)
    if (role === 'baseline' && !this.#options.census) return this.#diagnose(leak, written.then((fields) => whyNoPair(leakSnapshot(fields, this.#capture))))
  }

  /** Ranks the allocation sites that grow in `leak` (one ranking at a time); resolves with the ranking, or null. */
  #rankSites(leak) {
    if (this.#sites === null) {
      const { profiles, sampler } = this.#target.sitesSampling(this.#options, this.#clock)
      this.#profiles = profiles
      this.#sites = new SiteRanking(this.#options, this.#emit, profiles, sampler)
    }
    return this.#sites.rank(leak.slopeBytesPerSec)
  }
}

/**
 * A leak's snapshot as `Capture#onLeak` left it: `written`, the `snapshot` or
 * `snapshot-skipped` event's fields, or null when none was tried (`capture.writing` says why).
 * @param {object | null} written
 * @param {{ writing: boolean }} capture
 * @returns {LeakSnapshot}
 */
function leakSnapshot(written, capture) {
  if (written === null) return { kind: capture.writing ? 'busy' : 'not-due' }
  if ('skipped' in written) return { kind: 'skipped', skipped: written.skipped, detail: written.detail ?? null }
  return written.role === 'follow-up' ? { kind: 'follow-up' } : { kind: 'baseline', path: written.path }
}

/**
 * Why a report has no snapshot pair (Diagnosis' `snapshot`), from what became of its leak's
 * snapshot: a pair under way, snapshots off, or the snapshot skipped (`'pause'`: declined,
 * its pause over the budget).
 * @param {LeakSnapshot} snapshot
 * @returns {NoPair}
 */
function whyNoPair(snapshot) {
  switch (snapshot.kind) {
    case 'off':
      return { why: 'off', detail: null }
    case 'skipped':
      return { why: snapshot.skipped === 'pause' ? 'declined' : snapshot.skipped, detail: snapshot.detail }
    case 'baseline':
      return { why: PAIR_PENDING, detail: `the baseline is written (${snapshot.path}); the pair's report follows once its follow-up is` }
    case 'busy':
      return { why: PAIR_PENDING, detail: "another snapshot (on demand, at a threshold or near the heap limit) was being written at the leak: it is the pair's baseline or its follow-up, and the pair's report follows" }
    default:
      return { why: PAIR_PENDING, detail: 'a snapshot pair is under way; its report follows once its follow-up is written' }
  }
}

/** The `skipped` reason of an on-demand request refused before any work. */
function refusalReason(err) {
  return err.code === errors.CODES.SNAPSHOT_COOLDOWN ? 'cooldown' : 'in-progress'
}

module.exports = { LeakResponse }

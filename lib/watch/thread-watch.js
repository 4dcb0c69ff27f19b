'use strict'

/**
 * One worker thread watched from the main thread (threads.js): its heap read each interval
 * by the inspector (`Runtime.getHeapUsage`, no JavaScript run there), its floors judged by a
 * detector of its own (the same Rust statistics as the main thread's, on a thread of their
 * own), its leak reported with the worker it is in, and its holder named by a census taken in
 * the worker (worker-census.js) at once, and by a pair of the worker's own heap snapshots,
 * diffed as the main thread's pairs are (lib/diagnose/reports.js), where they fit. The worker
 * writes each one itself (`v8.writeHeapSnapshot()` evaluated there): it stops for it, the main
 * thread does not.
 * (`worker.getHeapSnapshot()` would not do: the worker takes the snapshot, but the main
 * thread serializes it, measured stopping it for 0.2-1 s on a 40-80 MB worker heap.)
 *
 * A floor is the heap after a full GC, and the main thread sees none of a worker's. Its floor
 * here is the lowest of its last FLOOR_READINGS readings: V8's own GCs run as the worker
 * allocates, so a worker that keeps what it allocates has its lowest readings rise, while a
 * worker at rest holds a steady heap. No GC is forced in a worker: forced from the main
 * thread, amid a pool's workers starting and ending (piscina's idle timeout), they left a
 * task of the pool unanswered in 5 runs of 15 (a healthy pool, Node 20).
 */
const { newNativeMonitor } = require('./native-monitor')
const { SnapshotCost } = require('../capture/snapshot-cost')
const { Reports } = require('../diagnose/reports')
const { SiteRanking, SiteProfiler } = require('../sites/sites')
const { HeapProfiles } = require('../sites/heap-profiles')
const { Diagnosis, PAIR_PENDING } = require('../diagnose/diagnosis')
const { WorkerCensus } = require('./worker-census')

/** A follow-up is due this long after its baseline once the heap grew FOLLOW_UP_MIN_BYTES (else at `followUpGrowthBytes`). */
const FOLLOW_UP_AFTER_MS = 30_000
const FOLLOW_UP_MIN_BYTES = 1024 * 1024
/** The floor is the lowest of this many readings, one per interval. */
const FLOOR_READINGS = 3
/** A worker's own watcher counts as running while it said so this many intervals ago at most. */
const SELF_WATCH_INTERVALS = 3
/** How long a worker may take to answer a sampling call: it answers once a snapshot it writes, or its task, is done. */
const PROFILE_TIMEOUT_MS = 60_000


class ThreadWatch {
  #options
  #info
  #emit
  #evaluate
  #noEvaluation
  #usage
  #ownWatcher
  #heapLimit
  #snapshots
  #store = null // the worker's snapshots (snapshots.js), made with its first
  #native
  #reports = null
  #request
  #sites = null // the worker's allocation sites (sites.js), ranked from its first leak on
  #ranking = null // the newest ranking of them, a promise
  #diagnosis = null // the report of a leak without a pair, its holder from a census in the worker; made with the first
  #census = null // that census (worker-census.js), made with the first leak
  #leak = null // the newest leak event
  #diagnosing = null // the diagnosis under way, a promise
  #cost = new SnapshotCost()
  #clock
  #monitor = null // the detector, made with the first floor judged here
  #floor = null // { time, bytes } of the newest floor
  #recent = [] // the newest readings' heaps, FLOOR_READINGS at most
  #reading = null // the newest reading
  #watchedFrom = 'main'
  #baseline = null // { path, heap, endedAt } of the pair under way
  #capturing = false
  #leaking = false
  #stopped = false

  /**
   * @param {object} options the watcher's settings.
   * @param {{ threadId: number, name: string | null, script: string | null, pool: string | null }} info who the worker is.
   * @param {object} parts `emit`, `clock`, `native` (threads.js); `snapshots()` makes the worker's
   *   snapshot store (null without a dir); `usage()`, the worker's heap as
   *   the inspector's `Runtime.getHeapUsage` gives it (no JavaScript runs in the worker for it);
   *   `evaluate(expression, timeoutMs)` in the worker, for its snapshots and census, or null
   *   where none may run there (`noEvaluation` says why: threads.js); `request(method,
   *   params, timeoutMs?)`, any other inspector call to the worker (its allocation sampling); `ownWatcher()`, what
   *   the worker's own watcher last said (`{ time, heapFloor, leaking }`, null if never); `heapLimit`, the old
   *   generation's limit where the worker's `resourceLimits` set it, else null.
   */
  constructor(options, info, { emit, snapshots, clock, native, evaluate, noEvaluation = null, request, usage, ownWatcher, heapLimit }) {
    this.#noEvaluation = noEvaluation
    this.#usage = usage
    this.#request = request
    this.#ownWatcher = ownWatcher
    this.#heapLimit = heapLimit
    this.#options = options
    this.#info = info
    this.#evaluate = evaluate
    this.#snapshots = snapshots
    this.#native = native
    this.#clock = clock
    this.#emit = (type, fields) => emit(type, { threadId: info.threadId, thread: this.#thread(), ...fields })
    // Its reports are made here only while the main thread watches it.
    if (snapshots !== null) this.#reports = new Reports(options.top, this.#emit, { thread: this.#judgedHere() }, () => this.#diagnosis?.newestReport ?? null)
  }

  /** The worker's thread id. */
  get threadId() {
    return this.#info.threadId
  }

  /** The worker's heap, physical bytes, at the newest reading (0 before it). */
  get physicalBytes() {
    return this.#reading?.physical ?? 0
  }

  /** What status() lists of this worker: from its own watcher where it watches itself. */
  status() {
    const heapUsed = this.#reading?.used ?? null
    if (this.#watchedFrom === 'self') {
      const own = this.#ownWatcher()
      return { ...this.#thread(), heapUsed, floorBytes: own?.heapFloor ?? null, leaking: own?.leaking ?? false }
    }
    const trend = this.#monitor?.trends().find((t) => t.kind === 'heap') ?? null
    return { ...this.#thread(), heapUsed, floorBytes: this.#floor?.bytes ?? null, leaking: trend?.leaking ?? false }
  }

  /** The worker exited, or the watcher stopped: its detector stops; a pair under way ends. */
  stop() {
    this.#stopped = true
    this.#diagnosis?.stop()
    this.#census?.stop()
    this.#monitor?.stop()
    this.#store?.stop()
    this.#sites?.stop()
  }

  /** One interval: reads the worker, judges its floor. */
  async sample() {
    if (this.#stopped || this.#capturing) return
    let reading
    try {
      const usage = await this.#usage()
      reading = { used: usage.usedSize, physical: usage.totalSize }
    } catch {
      return // exiting, or busy past the timeout: the next interval asks again
    }
    if (this.#stopped || !(reading.used > 0)) return
    this.#reading = reading
    const now = this.#clock.now()
    const own = this.#ownWatcher()
    this.#watchedFrom = own !== null && now - own.time <= SELF_WATCH_INTERVALS * this.#options.intervalMs ? 'self' : 'main'
    if (this.#watchedFrom === 'self') return
    this.#recent.push(reading.used)
    if (this.#recent.length > FLOOR_READINGS) this.#recent.shift()
    if (this.#recent.length < FLOOR_READINGS) return
    this.#floor = { time: now, bytes: Math.min(...this.#recent) }
    this.#judge(now)
    await this.#followUpIfDue(now)
  }

  /** Who the worker is, as the reports made here say it: judged by the main thread. */
  #judgedHere() {
    return { ...this.#info, watchedFrom: 'main' }
  }

  /** Who the worker is, as events carry it. */
  #thread() {
    return { ...this.#info, watchedFrom: this.#watchedFrom }
  }

  /** A floor: to the detector, and emitted as the worker's `sample`. */
  #judge(time) {
    this.#monitor ??= newNativeMonitor(this.#options, { startedAt: time, warmupEndsWhenServing: false, rssThreshold: Infinity }, (event) => this.#onDetector(event))
    const heap = this.#floor.bytes
    this.#monitor.recordFloor('heap', time, heap, this.#heapLimit, false, null)
    this.#emit('sample', { heapUsed: heap, external: null, native: null, rss: null, containerLimit: null, heapLimit: this.#heapLimit, forcedGc: false, forcedGcReason: null, gcDurationMs: 0, gcPauseMs: 0, cachesFilling: false, load: null })
  }

  /** The detector's verdict: a heap leak in this worker is reported, then its pair begins. */
  #onDetector(event) {
    if (this.#stopped || event.type !== 'leak' || event.kind !== 'heap') return
    this.#emit('leak', event)
    // As the event says it: its report's `leak` has its time, as the main thread's has.
    this.#leak = { time: this.#clock.now(), ...event }
    this.#rankSites(event.slopeBytesPerSec)
    if (this.#leaking) return
    this.#leaking = true
    setImmediate(() => this.#capture('leak'))
  }

  /**
   * Ranks the worker's growing allocation sites (with `sites` on), sampled in the worker by
   * V8's sampling heap profiler through the inspector, which runs no JavaScript there, and
   * emits them as the worker's `sites` event: where no snapshot pair fits (a container), the
   * lines of the worker's code that allocate what it keeps. A ranking under way is joined.
   */
  #rankSites(slopeBytesPerSec) {
    if (!this.#options.sites) return
    this.#sites ??= new SiteRanking(this.#options, this.#emit, new HeapProfiles({ ...this.#options, dir: undefined, clock: this.#clock }), workerSampler(this.#request, this.#usage, this.#info.pool, this.#clock))
    this.#ranking = this.#sites.rank(slopeBytesPerSec)
  }

  /**
   * The report of the newest leak without a pair (`skipped`: the snapshot-skipped reason, or
   * why none was tried; never `'pause'`, which a worker's snapshot is not refused for): its holder from a census taken in the worker (worker-census.js),
   * whose passes stop the worker, not the main thread; its allocation sites where ranked.
   */
  async #diagnose({ skipped, detail }) {
    if (this.#stopped || this.#leak === null) return
    const worker = { info: this.#judgedHere(), census: () => this.#censusOf(), noCensus: this.#noEvaluation }
    this.#diagnosis ??= new Diagnosis(this.#options, { emit: this.#emit, clock: this.#clock, worker })
    this.#diagnosing = this.#diagnosis.diagnose(this.#leak, { snapshot: { why: skipped, detail: detail ?? null }, sites: this.#ranking })
    await this.#diagnosing
  }

  /** The worker's census (worker-census.js), made once. */
  #censusOf() {
    this.#census ??= new WorkerCensus(this.#evaluate)
    return this.#census
  }

  /**
   * The pair's follow-up, once the worker's floor grew by `followUpGrowthBytes` since its
   * baseline, or by FOLLOW_UP_MIN_BYTES once FOLLOW_UP_AFTER_MS went by: the census names the
   * holder meanwhile, and the diff by ids names what is new either way.
   */
  async #followUpIfDue(now) {
    const baseline = this.#baseline
    if (baseline === null || now < baseline.endedAt + this.#options.intervalMs) return
    const grown = this.#floor.bytes - baseline.heap
    const due = grown >= this.#options.followUpGrowthBytes || (now >= baseline.endedAt + FOLLOW_UP_AFTER_MS && grown >= FOLLOW_UP_MIN_BYTES)
    if (due) await this.#capture('follow-up')
  }

  /**
   * A snapshot of the worker's heap, written by the worker (it stops, the main thread does
   * not): the pair's baseline, or its follow-up, whose report then follows.
   */
  async #capture(reason) {
    if (this.#capturing || this.#stopped) return
    if (this.#snapshots === null || this.#evaluate === null) {
      this.#leaking = false
      await this.#diagnose(this.#snapshots === null ? { skipped: 'off', detail: null } : { skipped: 'unsafe-in-worker', detail: this.#noEvaluation })
      return
    }
    this.#store ??= this.#snapshots()
    const followUp = reason === 'follow-up'
    // The census' holder first, as on the main thread (the follow-up may wait minutes for growth,
    // or be declined for memory once the heap grew: a baseline fitted in a 1 GiB container, its
    // follow-up 40 s later did not, and the holder came 61 s after the leak). Before the
    // baseline, and its passes dropped: what it made in the worker (its modules, its records)
    // is not new between the pair's snapshots, where the diff took it for the leak.
    const censusFirst = !followUp && this.#options.census
    if (censusFirst) {
      // One at a time: a declined follow-up's diagnosis may still be taking its passes.
      await this.#diagnosing
      await this.#diagnose({ skipped: PAIR_PENDING, detail: null })
      await this.#census?.release()
      if (this.#stopped) return
    }
    const heapUsed = this.#floor?.bytes ?? this.#reading.used
    const predicted = this.#cost.predict(heapUsed)
    this.#capturing = true
    let liveHeapBytes = heapUsed
    // The worker's snapshot, then its diff here, take native memory of the process's on purpose.
    this.#native.pauseNative()
    try {
      const keep = this.#baseline === null ? [] : [this.#baseline.path]
      const write = async (file) => {
        // Its deadline: ten times the pause predicted, a minute at least (a busy worker finishes its task first).
        const timeoutMs = Math.max(60_000, 10 * predicted.pauseMs)
        liveHeapBytes = (await this.#evaluate(snapshotExpression(file), timeoutMs))?.result?.value ?? heapUsed
      }
      const result = await this.#store.captureThread(reason, { threadId: this.#info.threadId, heapUsed, predicted, followUp, keep, write })
      if (this.#stopped) return
      const budget = { pauseBudgetMs: this.#options.snapshotMaxPauseMs }
      if ('skipped' in result) {
        this.#emit('snapshot-skipped', { ...result, ...budget })
        this.#baseline = null
        if (!censusFirst) this.#diagnose(result)
        return
      }
      this.#cost.learn(predicted, result)
      const written = { ...result, writer: 'worker', liveHeapBytes, ...budget }
      if (!followUp) {
        this.#emit('snapshot', { ...written, role: 'baseline' })
        this.#baseline = { path: result.path, heap: heapUsed, endedAt: this.#clock.now() }
        return
      }
      const baseline = this.#baseline
      this.#baseline = null
      this.#emit('snapshot', { ...written, role: 'follow-up', baseline: baseline.path })
      const leaking = [{ kind: 'heap', sinceBytes: baseline.heap, untilBytes: heapUsed, growthBytes: heapUsed - baseline.heap }]
      await this.#reports.write(baseline.path, result.path, leaking)
    } finally {
      this.#native.resetNative()
      this.#capturing = false
      // The next leak starts another pair.
      if (this.#baseline === null) this.#leaking = false
    }
  }
}

/**
 * The expression that has the worker write its heap snapshot into `file` (created 0600
 * already: V8 writes into it as it is), and give the live heap it held (V8 collects all
 * garbage first).
 */
function snapshotExpression(file) {
  return `(() => {
    const v8 = process.getBuiltinModule('node:v8')
    v8.writeHeapSnapshot(${JSON.stringify(file)})
    return v8.getHeapStatistics().used_heap_size
  })()`
}

/**
 * A SiteRanking's sampler of a worker's heap, over `request` (an inspector call to the
 * worker; it may be writing a snapshot, or busy with a task, first: PROFILE_TIMEOUT_MS). A
 * profile counts a sampled object as live until a GC finds it dead, and no GC can be asked of
 * a blocked worker (the inspector's `HeapProfiler.collectGarbage` waits for its event loop,
 * which piscina never gives back): each profile is read once the worker's own next GC shrank
 * its heap (`usage()` read every GC_POLL_MS), or half a window on. Without that wait, a pool's
 * per-task garbage outranked the leak (piscina's `onMessage` 2.1 MB against the task module's
 * 1.6 MB, in a fresh-clone CI run); with it, once in 6 runs still (5.1 against 4.7 MB), so the
 * pool's own sites with no app frame rank after the worker's code (`pool`: `growingSites`' runtime).
 */
function workerSampler(request, usage, pool, clock) {
  const send = (method, params) => request(method, params, PROFILE_TIMEOUT_MS)
  const afterFullGc = async (profiler, windowMs) => {
    await afterWorkerGc(usage, windowMs / 2)
    return profiler.profile()
  }
  return { profiler: (samplingBytes) => new SiteProfiler(samplingBytes, async () => send, clock), afterFullGc, runtime: pool }
}

/** How often a worker's heap is read while a profile waits for its next GC. */
const GC_POLL_MS = 100

/**
 * Resolves once the worker's used heap fell between two readings (a GC ran there), or after
 * `maxWaitMs` (a timer, as forced-gc.js' `afterNextFullGc` waits: no clock is read), or at
 * once when the worker does not answer (its profile is read all the same).
 */
async function afterWorkerGc(usage, maxWaitMs) {
  let waited = false
  const timer = setTimeout(() => (waited = true), maxWaitMs).unref()
  try {
    let last = (await usage()).usedSize
    while (!waited) {
      await new Promise((resolve) => setTimeout(resolve, GC_POLL_MS).unref())
      const now = (await usage()).usedSize
      if (now < last) return
      last = now
    }
  } catch {
    // Busy past the timeout, or exiting: the profile says so, if anything.
  } finally {
    clearTimeout(timer)
  }
}

module.exports = { ThreadWatch }

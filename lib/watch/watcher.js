'use strict'

const { EventEmitter } = require('node:events')
const fs = require('node:fs')
const path = require('node:path')
const v8 = require('node:v8')
const vm = require('node:vm')
const { threadId } = require('node:worker_threads')
const { nativeBinding } = require('../native')
const errors = require('../errors')
const { mapsFilling } = require('../cache/registry')
const { FullGcSentinel } = require('./full-gc-sentinel')

const MiB = 1024 * 1024

/** Every option of `watch()` with its default. */
const DEFAULTS = Object.freeze({
  intervalMs: 10_000,
  warmupMs: 60_000,
  minDurationMs: 60_000,
  window: 30,
  minPoints: 8,
  minGrowthBytes: 8 * MiB,
  minRateBytesPerSec: 1024,
  confidence: 0.999,
  forceGc: true,
  gcBudget: 0.01,
  forceGcAfterMs: 60_000,
  heapThreshold: 0.85,
  rssThreshold: 0.9,
  snapshots: 'auto',
  dir: undefined,
  maxSnapshots: 4,
  maxDiskBytes: 1024 * MiB,
  cooldownMs: 10 * 60_000,
  snapshotMemoryFactor: 2,
  followUpGrowthBytes: 32 * MiB,
  nearHeapLimit: true,
  beforeSnapshot: undefined,
  afterSnapshot: undefined,
  sites: true,
  sitesWindowMs: undefined,
  sitesSamplingBytes: 512 * 1024,
  top: 5,
})

/**
 * Full GCs forced because the floors hint at growth (see `#tick`) are earned back at one
 * per this many intervals: at worst a tenth of the intervals, however often suspicion
 * comes back.
 */
const SUSPICION_REFILL_INTERVALS = 10

/** Floors the watcher forces from the start when V8 runs no full GC: two, for suspicion. */
const FIRST_FLOORS = 2

/** Sampling windows at most before a `sites` event (which may then say that no site grew). */
const SITES_ATTEMPTS = 3

/**
 * Samples of `sitesSamplingBytes` the top site's growth should hold before it is reported
 * (sooner, it is ranked on what the windows so far saw): V8 counts a sampled allocation as
 * a whole sampling interval, so a site seen once or twice may be chance, such as a live
 * request object of the load.
 */
const SITES_MIN_SAMPLES = 4

/** Checks every option; returns the full settings with defaults filled in. */
function resolveOptions(options = {}) {
  errors.checkOptionsObject('watch()', options, Object.keys(DEFAULTS))
  const o = { ...DEFAULTS }
  for (const [key, value] of Object.entries(options)) if (value !== undefined) o[key] = value
  for (const key of ['intervalMs', 'minDurationMs', 'minRateBytesPerSec', 'minGrowthBytes', 'maxDiskBytes', 'snapshotMemoryFactor', 'followUpGrowthBytes', 'sitesSamplingBytes']) {
    errors.checkPositiveFinite('watch()', `options.${key}`, o[key])
  }
  for (const key of ['window', 'minPoints', 'maxSnapshots', 'top']) errors.checkPositiveInteger('watch()', `options.${key}`, o[key])
  for (const key of ['warmupMs', 'cooldownMs', 'forceGcAfterMs']) {
    if (typeof o[key] !== 'number') throw errors.invalidOptionType('watch()', `options.${key}`, 'a number >= 0', o[key])
    if (!(o[key] >= 0) || o[key] === Infinity) throw errors.invalidOptionRange('watch()', `options.${key}`, 'a finite number >= 0', o[key])
  }
  // Shares of a whole: in (0, 1); a threshold may also be 1 (the limit itself).
  for (const [key, maxIncluded] of [['confidence', false], ['gcBudget', false], ['heapThreshold', true], ['rssThreshold', true]]) {
    const value = o[key]
    if (typeof value !== 'number') throw errors.invalidOptionType('watch()', `options.${key}`, 'a number between 0 and 1', value)
    if (!(value > 0 && (value < 1 || (maxIncluded && value === 1)))) {
      throw errors.invalidOptionRange('watch()', `options.${key}`, 'a number between 0 and 1', value)
    }
  }
  if (o.minPoints < 3) throw errors.invalidOptionRange('watch()', 'options.minPoints', 'an integer >= 3', o.minPoints)
  if (o.window < o.minPoints) throw errors.invalidOptionRange('watch()', 'options.window', `an integer >= minPoints (${o.minPoints})`, o.window)
  for (const key of ['forceGc', 'nearHeapLimit', 'sites']) {
    if (typeof o[key] !== 'boolean') throw errors.invalidOptionType('watch()', `options.${key}`, 'a boolean', o[key])
  }
  if (o.snapshots !== 'auto' && o.snapshots !== 'off') {
    throw errors.invalidOptionRange('watch()', 'options.snapshots', "'auto' or 'off'", o.snapshots)
  }
  if (o.dir !== undefined && (typeof o.dir !== 'string' || o.dir === '')) {
    throw errors.invalidOptionType('watch()', 'options.dir', 'a non-empty path string', o.dir)
  }
  for (const key of ['beforeSnapshot', 'afterSnapshot']) {
    if (o[key] !== undefined) errors.checkFunction('watch()', `options.${key}`, o[key])
  }
  if (o.sitesWindowMs === undefined) o.sitesWindowMs = 2 * o.intervalMs
  errors.checkPositiveFinite('watch()', 'options.sitesWindowMs', o.sitesWindowMs)
  return o
}

let current = null // this thread's watcher

/**
 * Watches this thread's memory for leaks. One watcher per thread: calling `watch()` again
 * returns the running watcher, or throws `ERR_LEAKPROOF_ALREADY_WATCHING` when given options.
 * @param {object} [options] see the README for every option and its default.
 * @returns {Watcher}
 */
function watch(options) {
  if (current !== null) {
    if (options === undefined) return current
    throw errors.codedError(
      Error,
      errors.CODES.ALREADY_WATCHING,
      'watch() is already running in this thread: stop() it first, or call watch() without options to get it',
    )
  }
  current = new Watcher(resolveOptions(options))
  return current
}

/**
 * The leak detector of one thread. Events (each with `time`, `pid`, `threadId`):
 * `sample`, `leak`, `threshold`, `snapshot`, `snapshot-skipped`, `sites`, `error`.
 */
class Watcher extends EventEmitter {
  #options
  #native
  #fullGcs
  #timer
  #gcCostMs = 0 // forced GC time not yet paid back by the budget
  #forcing = null // the full GC requested and not yet seen through (see #forceFullGc)
  // Which forced GCs may be asked for (none with forceGc: false): gc(), exposed when first
  // needed (false where it cannot be), and vm.measureMemory (false once it failed).
  #atomicGc = null
  #incrementalGc = true
  #forcedFloor = null // { reason, ms } of the forced GC behind this interval's floor
  #forcedGcs = 0
  // Intervals' worth of credit for full GCs forced on suspicion: one costs
  // SUSPICION_REFILL_INTERVALS, each interval earns one, up to a run of them.
  #suspicionCredit
  #suspicionCreditMax
  #majorGcsSeen = 0
  #lastFullGcAt = Date.now()
  #lastFloorAt = -Infinity
  #floorsTaken = 0
  #intervalMin = null // lowest { heap, external } seen after a major GC this interval
  #heapAboveThreshold = false
  #fillingSince = null // when BoundedMaps started filling, while they still are
  #store = null
  #baseline = null // { path, heapUsed } of the first snapshot of a leak
  #capturing = false
  #sites = null
  #growingHandles = null // this watcher's own GrowingSites, apart from the app's topGrowingSites()
  #stopped = false
  #startedAt = Date.now()

  /** Use `watch()`. */
  constructor(options) {
    super()
    this.#options = options
    const o = options
    this.#native = new (nativeBinding().NativeWatcher)(
      {
        window: o.window,
        minPoints: o.minPoints,
        warmupMs: o.warmupMs,
        minDurationMs: o.minDurationMs,
        minGrowthBytes: o.minGrowthBytes,
        minRateBytesPerSec: o.minRateBytesPerSec,
        confidence: o.confidence,
        sampleIntervalMs: o.intervalMs,
        rssThreshold: o.rssThreshold,
        startedAt: this.#startedAt,
      },
      (json) => this.#onNativeEvent(json),
    )
    if (!o.forceGc) {
      this.#atomicGc = false
      this.#incrementalGc = false
    }
    // Enough forced floors in a row for the detector to judge a window (minPoints floors
    // spanning minDurationMs) and confirm it, with a few to spare.
    const run = Math.max(o.minPoints, Math.ceil(o.minDurationMs / o.intervalMs) + 1) + 4
    this.#suspicionCreditMax = run * SUSPICION_REFILL_INTERVALS
    this.#suspicionCredit = this.#suspicionCreditMax
    if (o.snapshots === 'auto' && o.dir !== undefined) {
      const { SnapshotStore } = require('./snapshots')
      this.#store = new SnapshotStore({
        dir: o.dir,
        maxSnapshots: o.maxSnapshots,
        maxDiskBytes: o.maxDiskBytes,
        cooldownMs: o.cooldownMs,
        memoryFactor: o.snapshotMemoryFactor,
        beforeSnapshot: o.beforeSnapshot,
        afterSnapshot: o.afterSnapshot,
      })
      if (o.nearHeapLimit) this.nearHeapLimit = armNearHeapLimit()
    }
    this.#fullGcs = new FullGcSentinel(() => this.#onFullGc())
    this.#timer = setInterval(() => this.#tick(), o.intervalMs)
    this.#timer.unref()
  }

  /** The settings in force, defaults filled in. */
  get options() {
    return { ...this.#options }
  }

  /** Counters: floors are taken every `intervalMs`; `forcedGcs` were requested by the watcher. */
  stats() {
    return { forcedGcs: this.#forcedGcs, majorGcsSeen: this.#majorGcsSeen, running: !this.#stopped }
  }

  /** Stops everything the watcher started: the thread, the timer, the GC observer, sampling. */
  stop() {
    if (this.#stopped) return
    this.#stopped = true
    clearInterval(this.#timer)
    this.#fullGcs.stop()
    this.#native.stop()
    if (this.#sites !== null) this.#sites.stop()
    if (current === this) current = null
  }

  #event(type, fields) {
    const event = { type, time: Date.now(), pid: process.pid, threadId, ...fields }
    // An 'error' nobody listens to would throw from EventEmitter and crash the app the
    // watcher is there to protect: it becomes a process warning instead.
    if (type === 'error' && this.listenerCount('error') === 0) {
      errors.warn(errors.WARNINGS.WATCH_ERROR, `leakproof watcher: ${event.during}: ${event.error}`)
      return
    }
    this.emit(type, event)
  }

  #onFullGc() {
    if (this.#stopped) return
    this.#lastFullGcAt = Date.now()
    const forcing = this.#forcing
    if (forcing !== null && !forcing.sentinelSeen) {
      // Ours: its floor is noted now, unless it was when the GC returned.
      forcing.sentinelSeen = true
      if (!forcing.floorNoted) this.#noteForcedFloor(forcing, performance.now() - forcing.startedAt)
      return
    }
    this.#majorGcsSeen++
    this.#noteFloor()
  }

  /** Keeps the lowest heap and external seen after major GCs in this interval. */
  #noteFloor() {
    const heap = v8.getHeapStatistics().used_heap_size
    const { external } = process.memoryUsage()
    const m = this.#intervalMin
    if (m === null) this.#intervalMin = { heap, external }
    else {
      m.heap = Math.min(m.heap, heap)
      m.external = Math.min(m.external, external)
    }
  }

  #tick() {
    if (this.#stopped) return
    if (this.#forcing?.done) this.#forcing = null
    // An incremental GC in a program that allocates faster than V8 marks can go on for many
    // seconds (13.5 s seen in the tests' leaking service), holding every floor back: after
    // an interval, it is finished at once.
    const forcing = this.#forcing
    if (forcing !== null && this.#atomicGc !== false && performance.now() - forcing.startedAt >= this.#options.intervalMs) {
      this.#runAtomically(forcing)
    }
    this.#fullGcs.aged()
    // No full GC in this interval: ask for one ourselves, within the budget, for a clean
    // floor, when none ran for forceGcAfterMs (a slow leak may not cause one for minutes;
    // incremental, its floor comes with the next interval), or sooner while the floors hint
    // at growth (atomic, its floor now): as often as the detector can use floors at that
    // rate (every interval at most), for a run long enough to judge it, earned back slowly.
    this.#suspicionCredit = Math.min(this.#suspicionCreditMax, this.#suspicionCredit + 1)
    const now = Date.now()
    let reason = null
    // Suspicion first: when both are due, the detector needs the exact floor now. Until
    // there are two floors, intervals without one get one (incremental, like the quiet
    // ones): the series starts with the process, and two floors are what suspicion needs,
    // which a quiet process would otherwise wait forceGcAfterMs for.
    if (this.#atomicGc !== false && this.#suspicionCredit >= SUSPICION_REFILL_INTERVALS && this.#floorWanted(now)) reason = 'suspected-growth'
    else if (this.#incrementalGc && this.#floorsTaken < FIRST_FLOORS) reason = 'first-floors'
    else if (now - this.#lastFullGcAt >= this.#options.forceGcAfterMs && this.#incrementalGc) reason = 'quiet'
    if (this.#intervalMin === null && this.#forcing === null && reason !== null) {
      this.#gcCostMs = Math.max(0, this.#gcCostMs - this.#options.gcBudget * this.#options.intervalMs)
      if (this.#gcCostMs === 0) this.#forceFullGc(reason)
    }
    const floor = this.#intervalMin
    const forced = this.#forcedFloor
    this.#intervalMin = null
    this.#forcedFloor = null
    const stats = v8.getHeapStatistics()
    // Every interval, floor or not, so native memory is never derived from a stale heap
    // size. Physical, not reserved: only touched heap pages are in RSS. ArrayBuffers for
    // where native memory is read from malloc, which holds their bytes.
    const { external, arrayBuffers } = process.memoryUsage()
    this.#native.recordHeapResident(stats.total_physical_size, floor?.external ?? external, arrayBuffers)
    if (floor === null) return
    const time = Date.now()
    this.#lastFloorAt = time
    this.#floorsTaken++
    const limit = stats.heap_size_limit
    // Growth while BoundedMaps are still filling up has a known ceiling: it is set aside
    // (the window restarts), for at most five minimum durations in a row, so that a map
    // too large to ever fill cannot hide a leak beside it for good.
    const filling = this.#cachesFilling(time)
    this.#native.recordFloor('heap', time, floor.heap, limit, filling)
    this.#native.recordFloor('external', time, floor.external, null, filling)
    this.#event('sample', { heapUsed: floor.heap, external: floor.external, heapLimit: limit, forcedGc: forced !== null, forcedGcReason: forced?.reason ?? null, gcDurationMs: forced?.ms ?? 0, cachesFilling: filling })
    this.#checkHeapThreshold(floor.heap, limit)
    if (this.#baseline !== null && floor.heap >= this.#baseline.heapUsed + this.#options.followUpGrowthBytes) {
      this.#capture('follow-up', floor.heap)
    }
  }

  /**
   * Forces a full GC, one of two kinds. The routine one (`quiet`) is V8's memory
   * measurement run eagerly, which marks incrementally like the full GCs V8 runs on its
   * own: cheap, but its floor carries what was allocated while it marked (5-11 MB instead
   * of ~5.5 MB in a service allocating 170 MB/s), and it can take most of a second. While
   * growth is suspected, floors must be exact and come every interval: `gc()`, atomic.
   * An atomic full GC makes V8 throw away optimized code that embeds objects it finds
   * dead: in a busy http server, 21-45 functions of http and streams each time,
   * re-optimized at 0.35-0.6 s of CPU against a 16-36 ms pause (every 10 s: +16-26% CPU
   * per request, against ~1% for the incremental one); the run of them is bounded.
   * The floor is noted when the GC is done (or when the sentinel sees it end, if sooner);
   * the time until then is charged to the budget. An incremental one not done after an
   * interval is finished with `gc()` (see `#tick`).
   */
  #forceFullGc(reason) {
    this.#forcedGcs++
    this.#lastFullGcAt = Date.now()
    const forcing = { reason, startedAt: performance.now(), floorNoted: false, sentinelSeen: false, done: false }
    this.#forcing = forcing
    if (reason === 'suspected-growth') {
      this.#suspicionCredit -= SUSPICION_REFILL_INTERVALS
      this.#runAtomically(forcing)
      return
    }
    measureMemoryQuietly().then(
      () => this.#forcingDone(forcing),
      (err) => {
        // Not expected on Node >= 18; without it, routine floors come from V8's own GCs.
        this.#incrementalGc = false
        this.#forcingFailed(forcing, err)
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
      this.#forcingFailed(forcing, err)
      return
    }
    this.#forcingDone(forcing)
  }

  /** The forced GC could not run: nothing to charge or note; the app hears of it as an `error` event. */
  #forcingFailed(forcing, err) {
    forcing.done = true
    if (!this.#stopped) this.#event('error', { error: err.message, during: 'forcing a full GC' })
  }

  /** The forced GC is done: its time is charged to the budget, its floor noted if it was not. */
  #forcingDone(forcing) {
    if (forcing.done) return
    forcing.done = true
    if (this.#stopped) return
    const ms = performance.now() - forcing.startedAt
    this.#gcCostMs += ms
    if (!forcing.floorNoted) this.#noteForcedFloor(forcing, ms)
  }

  #noteForcedFloor(forcing, ms) {
    forcing.floorNoted = true
    this.#forcedFloor = { reason: forcing.reason, ms }
    this.#noteFloor()
  }

  /** Whether the Rust side, suspecting growth, wants a floor by now (timers run late: half an interval's slack). */
  #floorWanted(now) {
    const spacing = this.#native.wantedFloorSpacingMs
    return spacing > 0 && now - this.#lastFloorAt >= spacing - this.#options.intervalMs / 2
  }

  #cachesFilling(time) {
    if (mapsFilling() === 0) {
      this.#fillingSince = null
      return false
    }
    this.#fillingSince ??= time
    return time - this.#fillingSince < 5 * this.#options.minDurationMs
  }

  #checkHeapThreshold(heapUsed, limit) {
    const above = heapUsed >= this.#options.heapThreshold * limit
    if (above && !this.#heapAboveThreshold) {
      this.#event('threshold', { kind: 'heap', current: heapUsed, limit })
      this.#capture('threshold', heapUsed)
    }
    this.#heapAboveThreshold = above
  }

  #onNativeEvent(json) {
    if (this.#stopped) return
    const { type, ...fields } = JSON.parse(json)
    this.#event(type, fields)
    const heapUsed = v8.getHeapStatistics().used_heap_size
    if (type === 'leak' && fields.kind !== 'native') this.#capture(this.#baseline === null ? 'leak' : 'leak-worse', heapUsed)
    if (type === 'threshold') this.#capture('threshold', heapUsed)
    if (type === 'leak' && fields.kind === 'heap' && this.#options.sites) this.#rankSites()
  }

  /** Writes a snapshot: the first is the baseline, later ones pair with it for a diff. */
  async #capture(reason, heapUsed) {
    if (this.#store === null || this.#capturing || this.#stopped) return
    if (reason === 'follow-up' && this.#baseline?.followedUp) return
    this.#capturing = true
    // Writing a snapshot takes several times the heap in native memory, and the allocator
    // keeps some of it: no native floors while it writes, and those from before no longer
    // compare with those after.
    let wrote = false
    const onWrite = () => {
      wrote = true
      this.#native.pauseNative()
    }
    try {
      const keep = this.#baseline === null ? [] : [this.#baseline.path]
      const result = await this.#store.capture(reason, { heapUsed, keep, onWrite })
      if ('skipped' in result) {
        this.#event('snapshot-skipped', result)
        return
      }
      const role = this.#baseline === null ? 'baseline' : 'follow-up'
      this.#event('snapshot', { ...result, role, ...(role === 'follow-up' ? { baseline: this.#baseline.path } : {}) })
      if (role === 'baseline') this.#baseline = { path: result.path, heapUsed }
      else {
        this.#baseline.followedUp = true
        this.#report(this.#baseline.path, result.path)
      }
    } catch (err) {
      this.#event('error', { error: err.message, during: 'snapshot' })
    } finally {
      if (wrote) this.#native.resetNative()
      this.#capturing = false
    }
  }

  /**
   * Diffs the pair off the main thread, writes the report as JSON beside the snapshots
   * (0600, complete or absent) and emits `report`.
   */
  async #report(baseline, followUp) {
    try {
      // Loaded when first needed: most processes never write a snapshot pair.
      const { diffSnapshots } = require('../analyze')
      const { GrowingSites } = require('../track/census')
      this.#growingHandles ??= new GrowingSites()
      const diff = await diffSnapshots(baseline, followUp, { top: this.#options.top })
      if (this.#stopped) return
      const file = followUp.replace(/\.heapsnapshot$/, '.report.json')
      const report = {
        baseline,
        followUp,
        newCount: diff.newCount,
        newBytes: diff.newBytes,
        suspects: diff.suspects,
        grownCollections: diff.grownCollections,
        newByClass: diff.newByClass,
        // What trackListeners()/trackTimers()/trackPromises() saw grow (empty when off).
        growingHandles: this.#growingHandles.top(this.#options.top),
      }
      const temp = path.join(path.dirname(file), `.${path.basename(file)}.tmp`)
      fs.writeFileSync(temp, JSON.stringify(report, null, 2), { mode: 0o600 })
      fs.renameSync(temp, file)
      this.#event('report', { path: file, ...report })
    } catch (err) {
      if (!this.#stopped) this.#event('error', { error: err.message, during: 'report' })
    }
  }

  /** Samples allocations over windows of `sitesWindowMs` and reports the sites whose live bytes grew. */
  async #rankSites() {
    if (this.#sites !== null) return
    // Loaded when first needed, as ./snapshots: a service that never leaks never pays them.
    const { SiteProfiler, growingSites } = require('./sites')
    const profiler = new SiteProfiler(this.#options.sitesSamplingBytes)
    this.#sites = profiler
    const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms).unref())
    try {
      await profiler.start()
      await wait(this.#options.sitesWindowMs)
      if (this.#stopped) return
      const before = await profiler.liveBySite()
      // A window can see little growth or none (a snapshot blocked the event loop through
      // it): growth since `before` is ranked after each window, until the top site's holds
      // enough samples, for up to SITES_ATTEMPTS windows.
      const enough = SITES_MIN_SAMPLES * this.#options.sitesSamplingBytes
      let sites = []
      let windows = 0
      while (windows < SITES_ATTEMPTS && !(sites[0]?.growthBytes >= enough)) {
        await wait(this.#options.sitesWindowMs)
        if (this.#stopped) return
        windows++
        sites = growingSites(before, await profiler.liveBySite(), this.#options.top)
      }
      this.#event('sites', { windowMs: windows * this.#options.sitesWindowMs, sites })
    } catch (err) {
      if (!this.#stopped) this.#event('error', { error: err.message, during: 'sites' })
    } finally {
      profiler.stop()
      if (this.#sites === profiler) this.#sites = null
    }
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
  const emitWarning = process.emitWarning
  process.emitWarning = function (warning, ...rest) {
    if (String(warning?.message ?? warning).includes('vm.measureMemory')) return
    return emitWarning.call(process, warning, ...rest)
  }
  try {
    return vm.measureMemory({ mode: 'summary', execution: 'eager' })
  } catch (err) {
    return Promise.reject(err)
  } finally {
    process.emitWarning = emitWarning
  }
}

/**
 * Arms V8's snapshot near the heap limit, where Node supports it. Node writes it into
 * its diagnostic directory (`--diagnostic-dir`, else the working directory).
 */
function armNearHeapLimit() {
  if (typeof v8.setHeapSnapshotNearHeapLimit !== 'function') return { armed: false, reason: 'unsupported by this Node' }
  try {
    v8.setHeapSnapshotNearHeapLimit(1)
    const dirFlag = process.execArgv.find((a) => a.startsWith('--diagnostic-dir='))
    return { armed: true, dir: dirFlag ? dirFlag.slice('--diagnostic-dir='.length) : process.cwd() }
  } catch (err) {
    return { armed: false, reason: err.message }
  }
}

module.exports = { watch, Watcher, DEFAULTS, resolveOptions }

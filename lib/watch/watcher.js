'use strict'

/**
 * `watch()`: the leak detector of one thread, and its settings.
 *
 * The `Watcher` coordinates the parts that do the work, each in its own module:
 * - floors.js: the floor of each interval, the lowest heap after a full GC in it;
 * - full-gc-sentinel.js: tells when V8 ran a full GC, without observing GCs;
 * - forced-gc.js: forces a full GC when an interval would have no floor (budget, suspicion
 *   credit, incremental or atomic);
 * - the native watcher (Rust): judges the floors, and the RSS and native memory it reads;
 * - capture.js, snapshot-cost.js, snapshots.js, reports.js: snapshots on a leak or threshold,
 *   within a pause budget unless the process is about to die, and the pair's report;
 * - diagnosis.js: the report of a leak that got no snapshot pair, its holder from the census
 *   of reachable collections (lib/diagnose/census);
 * - sites.js: the allocation sites that grow, after a heap leak; heap-profiles.js keeps the
 *   sampling profiles they were ranked from (`.heapprofile` and pprof files with a dir).
 *
 * Events, each with `type`, `time`, `pid` and `threadId`: `sample` (one per interval with a
 * floor), `leak`, `threshold`, `snapshot`, `snapshot-skipped`, `heap-limit-snapshot` (V8's
 * snapshot an earlier life wrote at its heap limit, moved into `dir`), `report`, `sites`,
 * `cache-thrashing` (a named BoundedMap stays full while its hit ratio collapses; judged
 * every interval, see lib/cache/registry.js), `memory-pressure` (BoundedMaps that shrink
 * under pressure shrank or may grow back: lib/cache/map-pressure.js), `restart-due` and
 * `restart-exit` (with the `restart` option: lib/mitigate/restart.js) and `error` (an `error`
 * nobody listens to becomes a process warning).
 */
const diagnosticsChannel = require('node:diagnostics_channel')
const { EventEmitter } = require('node:events')
const v8 = require('node:v8')
const { threadId, isMainThread, BroadcastChannel } = require('node:worker_threads')
const { processMemory } = require('../detect/system-memory')
const { heapLimit, oldSpaceLimitBytes } = require('../shared/heap-limit')
const errors = require('../shared/errors')
const { mapsFilling, cachesThrashing } = require('../cache/registry')
const { judgeForWatcher } = require('../cache/map-pressure')
const { FullGcSentinel } = require('../detect/full-gc-sentinel')
const { Floors } = require('../detect/floors')
const { LoadMeter } = require('../detect/load')
const { ForcedGc } = require('../detect/forced-gc')
const { Diagnosis, PAIR_PENDING } = require('../diagnose/diagnosis')
const { Tally } = require('./tally')
const { listenForSnapshotSignal } = require('../capture/snapshot-signal')
const { resolveOptions } = require('./options')
const { SYSTEM_CLOCK } = require('../shared/clock')
const { thisThread, OWN_WATCHERS_CHANNEL } = require('./thread-info')
const { newNativeMonitor } = require('./native-monitor')

/** Every event the watcher emits (the module doc says what each means). */
const EVENTS = Object.freeze(['sample', 'leak', 'threshold', 'snapshot', 'snapshot-skipped', 'heap-limit-snapshot', 'report', 'sites', 'cache-thrashing', 'memory-pressure', 'restart-due', 'restart-exit', 'error'])

/**
 * Every event is also published on the `diagnostics_channel` named `leakproof:<type>`, for
 * tools that subscribe without a handle on the watcher (APM agents, loggers). A channel
 * without subscribers costs one property read per event.
 */
const CHANNELS = Object.freeze(Object.fromEntries(EVENTS.map((type) => [type, diagnosticsChannel.channel(`leakproof:${type}`)])))

/**
 * Growth while BoundedMaps are still filling up is set aside for at most this many minimum
 * durations in a row, so that a map too large to ever fill cannot hide a leak beside it for good.
 */
const FILLING_GRACE_DURATIONS = 5

/** Named maps listed in a `memory-pressure` event (all are counted). */
const PRESSURE_MAPS_LISTED = 50

let current = null // this thread's watcher

/** Who this thread is, on every event of a worker's own watcher (null on the main thread; read once its script is known: the preload runs before). */
let ownThread = thisThread()

/** Where a worker's own watcher says, every interval, that it runs, for the main thread's (threads.js). */
let ownWatchers = null

/**
 * Watches this thread's memory for leaks. One watcher per thread: calling `watch()` again
 * returns the running watcher, or throws `ERR_LEAKPROOF_ALREADY_WATCHING` when given options.
 * @param {object} [options] every option and its default: docs/watch.md#options.
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
  // Left at its default, the warm-up of a fast leak ends once the service serves at a level
  // rate; set, it is exactly what was asked (a service whose caches fill for minutes).
  current = new Watcher(resolveOptions(options), { warmupEndsWhenServing: options?.warmupMs === undefined })
  return current
}

/** This thread's running watcher, or null: for readers (metrics) that must not start one. */
function currentWatcher() {
  return current
}

/**
 * The leak detector of one thread. Every interval it takes the floor (forcing a full GC
 * when none ran), hands it to the native detector and emits `sample`; it acts on the
 * detector's `leak` and `threshold` with snapshots and allocation sites. It emits the
 * events listed at the top of this module, and no others.
 */
class Watcher extends EventEmitter {
  #options
  #native
  #fullGcs
  #floors
  #forcedGc
  #capture = null // snapshots and reports, with a dir and snapshots: 'auto'
  #diagnosis // the report of a leak that got no snapshot pair
  #lastLeak = null // the newest heap or external leak event
  #lastRanking = null // the promise of the newest heap leak's site ranking
  #sites = null // the allocation-site ranking, made with the first heap leak
  #profiles = null // its sampling profiles (heap-profiles.js), made with it
  #timer
  #majorGcsSeen = 0
  #heapAboveThreshold = false
  #limitProjection = null // leakproof's own snapshot near the heap limit, where V8's is not armed (near-heap-limit.js)
  #fillingSince = null // when BoundedMaps started filling, while they still are
  #tally = new Tally() // what the events so far said, for status() and metrics
  #lastFloor = null // the newest sampled floor: { time, heap, external }
  #load // the requests and CPU time since the last floor (load.js), measured from the start
  #clock
  #startedAt
  #stopListening = null // removes the snapshotSignal listener
  #restart = null // the restart policy, with the restart option (lib/mitigate/restart.js)
  #oldSpaceLimit // the old generation's limit where set, else null (heap-limit.js)
  #lastUsage = null // the share of its limit the memory used at the newest floor (heap or RSS)
  #pressure // judges memory pressure for the BoundedMaps that shrink under it (map-pressure.js)
  #threads = null // the worker threads, watched from the main thread (threads.js)
  #stopped = false
  /** `#event`, bound once, for the parts that emit through the watcher. */
  #emit = (type, fields) => this.#event(type, fields)

  /**
   * Use `watch()`.
   * @param {object} options the settings, checked (options.js).
   * @param {{ clock?: import('../shared/clock').Clock, warmupEndsWhenServing?: boolean }} [parts] `clock`: what time it is, for every part;
   *   `warmupEndsWhenServing`: the warm-up of growth that would reach a limit within hours ends once the service serves at a level rate (`warmupMs` left at its default).
   */
  constructor(options, { clock = SYSTEM_CLOCK, warmupEndsWhenServing = false } = {}) {
    super()
    this.#options = options
    this.#oldSpaceLimit = oldSpaceLimitBytes()
    this.#clock = clock
    this.#startedAt = clock.now()
    this.#native = newNativeMonitor(options, { startedAt: this.#startedAt, warmupEndsWhenServing }, (event) => this.#onNativeEvent(event))
    this.#floors = new Floors(options.intervalMs, clock)
    this.#forcedGc = new ForcedGc(options, {
      floors: this.#floors,
      floorSpacingMs: () => this.#native.wantedFloorSpacingMs,
      urgentGrowth: () => this.#native.urgentGrowth,
      onError: (err) => this.#emit('error', { error: err.message, during: 'forcing a full GC' }),
      clock,
    })
    this.#diagnosis = new Diagnosis(options, { emit: this.#emit, clock })
    if (options.snapshots === 'auto' && options.dir !== undefined) {
      // Loaded when first needed: a watcher without a dir never writes a snapshot.
      const { Capture } = require('../capture/capture')
      const onNoPair = (skipped) => this.#diagnose(this.#lastLeak, skipped)
      const diagnosedSince = (time) => this.#diagnosis.latestSince(time)
      const diagnosing = () => this.#diagnosis.busy
      this.#capture = new Capture(options, { native: this.#native, emit: this.#emit, onNoPair, diagnosedSince, diagnosing, clock })
      this.#nearHeapLimit(options)
      if (options.snapshotSignal !== undefined) {
        const refused = (err) => this.#emit('snapshot-skipped', { skipped: refusalReason(err), reason: 'on-demand', requestedBy: 'signal', detail: err.message })
        this.#stopListening = listenForSnapshotSignal(options.snapshotSignal, () => this.snapshot('signal'), refused)
      }
    }
    if (options.restart !== null) {
      // Loaded when first needed: a watcher without the policy never sees a server.
      this.#restart = new (require('../mitigate/restart').Restart)(options.restart, { emit: this.#emit, clock })
    }
    if (isMainThread && options.threads) this.#threads = new (require('./threads').WorkerThreads)(options, { emit: this.#emit, clock, native: this.#native })
    // Last of the parts, so that nothing thrown above leaves it subscribed.
    this.#pressure = judgeForWatcher({ enterShare: options.pressureShare, holdMs: options.pressureHoldMs, shrinkMaps: options.shrinkMaps })
    this.#load = new LoadMeter()
    this.#fullGcs = new FullGcSentinel(() => this.#onFullGc())
    this.#timer = setInterval(() => this.#tick(), options.intervalMs)
    this.#timer.unref()
  }

  /** The settings in force, defaults filled in. */
  get options() {
    return { ...this.#options }
  }

  /** Counters: floors are taken every `intervalMs`; `forcedGcs` were requested by the watcher. */
  stats() {
    return { forcedGcs: this.#forcedGc.count, majorGcsSeen: this.#majorGcsSeen, running: !this.#stopped }
  }

  /**
   * The snapshot near the heap limit (capture/near-heap-limit.js), with `nearHeapLimit`: V8's,
   * armed where Node's diagnostic directory is inside `dir` and it can be written there, else
   * leakproof's own, once the heap is projected to pass `heapThreshold` soon; and the ones an
   * earlier life left in Node's diagnostic directory moved into `dir` (or deleted, partial),
   * each a `heap-limit-snapshot` event once the caller had a turn to listen.
   * `watcher.nearHeapLimit` says it all: `{ armed, writer, dir, reason?, adopted, removed }`.
   */
  #nearHeapLimit(options) {
    const { armNearHeapLimit, adoptNearLimitSnapshots, nearLimitDir, LimitProjection } = require('../capture/near-heap-limit')
    const armed = options.nearHeapLimit ? armNearHeapLimit({ memoryFactor: options.snapshotMemoryFactor, into: options.dir }) : { armed: false, dir: nearLimitDir(), reason: 'nearHeapLimit: false' }
    const writer = armed.armed ? 'v8' : options.nearHeapLimit ? 'leakproof' : null
    if (writer === 'leakproof') this.#limitProjection = new LimitProjection({ share: options.heapThreshold, snapshotMs: (heapUsed) => this.#capture.snapshotMs(heapUsed) })
    // The main thread's watcher adopts them: the threads of one process would race for them.
    const { adopted, removed, failed } = isMainThread ? adoptNearLimitSnapshots(armed.dir, options.dir) : { adopted: [], removed: [], failed: [] }
    this.nearHeapLimit = { ...armed, writer, adopted, removed }
    if (adopted.length + removed.length + failed.length === 0) return
    setImmediate(() => {
      if (this.#stopped) return
      for (const file of adopted) this.#emit('heap-limit-snapshot', { ...file, removed: null })
      for (const { from, why } of removed) this.#emit('heap-limit-snapshot', { path: null, from, bytes: null, writtenAt: null, writerPid: null, removed: why })
      for (const { from, why } of failed) this.#emit('error', { error: `could not move ${from} into ${options.dir}: ${why}`, during: 'near-heap-limit snapshot' })
    }).unref()
  }

  /**
   * What the watcher sees and has done, as plain data (JSON-safe; no snapshot content):
   * `running`, `pid`, `threadId`, `startedAt`; `memory`, each kind's newest floor, slope
   * and whether a leak it reported still grows (`[]` after `stop()`); the counts of
   * `Tally#read` (leaks by kind, snapshots by result, reports) and the newest of each;
   * `leakHolders`, the holder named for each kind that leaks now (holder-label.js), and each
   * leaking worker thread's in `threads`;
   * `snapshots` says whether they are on, the `dir`, whether one is being `writing`, and
   * holds their `counts`; `forcedGc` counts the full GCs the watcher forced and their time;
   * `restart` says whether the restart policy is `on`, and `due` is null until a restart is
   * due (then `{ dueAt, kind, limitAt, timeLeftMs }`).
   */
  status() {
    const { snapshots, ...counts } = this.#tally.read()
    const capture = this.#capture
    const memory = this.#stopped ? [] : this.#memoryTrends()
    const leaking = (kind) => memory.some((m) => m.kind === kind && m.leaking)
    return {
      running: !this.#stopped,
      pid: process.pid,
      threadId,
      startedAt: this.#startedAt,
      memory,
      ...counts,
      leakHolders: this.#tally.holders.filter((h) => leaking(h.kind)),
      snapshots: { on: capture !== null, dir: capture?.dir ?? null, writing: capture?.writing ?? false, counts: snapshots },
      forcedGc: { count: this.#forcedGc.count, seconds: this.#forcedGc.totalMs / 1000 },
      restart: { on: this.#restart !== null, due: this.#restart?.status() ?? null },
      threads: (this.#threads?.list() ?? []).map((t) => ({ ...t, holder: t.leaking ? this.#tally.threadHolder(t.threadId) : null })),
    }
  }

  /**
   * Each kind's trend: the newest heap and external floors as sampled here (the Rust
   * thread takes each a moment later), with the slope and `leaking` the thread judged; the
   * native floor as the thread read it.
   */
  #memoryTrends() {
    const trends = this.#native.trends()
    const sampled = this.#lastFloor
    if (sampled === null) return trends
    const judged = (kind, floorBytes) => {
      const trend = trends.find((t) => t.kind === kind)
      return { kind, floorBytes, floorAt: sampled.time, slopeBytesPerSec: trend?.slopeBytesPerSec ?? 0, scale: trend?.scale ?? 'minutes', leaking: trend?.leaking ?? false, limitAt: trend?.limitAt ?? null }
    }
    return [judged('heap', sampled.heap), judged('external', sampled.external), ...trends.filter((t) => t.kind === 'native')]
  }

  /**
   * Takes a heap snapshot now, asked for by an operator (`requestedBy`: who, for the event:
   * `'api'`, `'signal'`, `'http'`): the follow-up of the pair under way, whose report then
   * follows, else a new baseline. It may pause longer than `snapshotMaxPauseMs` (it was
   * asked for), but the disk and memory checks still apply; the `snapshot` or
   * `snapshot-skipped` event carries its `id` and `requestedBy`.
   * @returns {{ id: string, role: 'baseline' | 'follow-up', done: Promise<object | null> }}
   * @throws coded `WATCHER_STOPPED`, `SNAPSHOTS_OFF` (no `dir`, or `snapshots: 'off'`),
   *   `SNAPSHOT_IN_PROGRESS`, `SNAPSHOT_COOLDOWN` (with `retryAfterMs`).
   */
  snapshot(requestedBy = 'api') {
    if (this.#stopped) throw errors.codedError(Error, errors.CODES.WATCHER_STOPPED, 'watcher.snapshot(): the watcher is stopped')
    if (this.#capture === null) {
      throw errors.codedError(Error, errors.CODES.SNAPSHOTS_OFF, "watcher.snapshot(): this watcher takes no snapshots: give watch() a dir, and leave snapshots at 'auto'")
    }
    return this.#capture.request(requestedBy)
  }

  /**
   * The newest report: the last `report` event of this watcher, else the newest report file
   * in its `dir` (one a previous process wrote, say before it was restarted), else null.
   */
  latestReport() {
    const { dir } = this.#options
    return this.#tally.latestReport ?? (dir === undefined ? null : require('../diagnose/reports').newestReportIn(dir))
  }

  /**
   * The newest allocation-sampling profile, or null before the first heap leak's ranking:
   * `{ time, reason, startedAt, samplingIntervalBytes, profile, heapprofile, pprof }`.
   * `reason` is `'leak'` (the profile a `sites` ranking was made from) or `'threshold'`
   * (kept when the heap passed `heapThreshold`); `profile` holds what was sampled since
   * `startedAt` and still lived, as the JSON of a DevTools `.heapprofile`; `heapprofile`
   * and `pprof` are its files (null without a `dir`). Code locations and sizes, no values.
   */
  sitesProfile() {
    const newest = this.#profiles?.newest() ?? null
    return newest === null ? null : { ...newest }
  }

  /** Stops everything the watcher started: the thread, the timer, the GC observer, sampling. */
  stop() {
    if (this.#stopped) return
    this.#stopped = true
    if (this.#stopListening !== null) this.#stopListening()
    clearInterval(this.#timer)
    this.#fullGcs.stop()
    this.#forcedGc.stop()
    this.#floors.stop()
    this.#load.stop()
    this.#native.stop()
    if (this.#capture !== null) this.#capture.stop()
    if (this.#restart !== null) this.#restart.stop()
    this.#threads?.stop()
    this.#diagnosis.stop()
    this.#pressure.stop()
    if (this.#sites !== null) this.#sites.stop()
    if (current === this) current = null
  }

  /** Emits an event of `type` with the fields every event has; returns it. */
  #event(type, fields) {
    const thread = ownThreadInfo()
    const event = { type, time: this.#clock.now(), pid: process.pid, threadId, ...(thread === null ? {} : { thread }), ...fields }
    this.#tally.note(type, event)
    if (this.#restart !== null) this.#restart.note(event)
    if (CHANNELS[type].hasSubscribers) CHANNELS[type].publish(event)
    if (type === 'report') queueMicrotask(() => this.#checkRestart())
    // An 'error' nobody listens to would throw from EventEmitter and crash the app the
    // watcher is there to protect: it becomes a process warning instead.
    if (type === 'error' && this.listenerCount('error') === 0) errors.warn(errors.WARNINGS.WATCH_ERROR, `leakproof watcher: ${event.during}: ${event.error}`)
    else this.emit(type, event)
    return event
  }

  /** A full GC ran: a floor, unless it was the forced one (which notes its own). */
  #onFullGc() {
    if (this.#stopped) return
    if (this.#forcedGc.claimFullGc()) return
    this.#majorGcsSeen++
    this.#floors.note()
    if (this.#limitProjection === null) return
    const stats = v8.getHeapStatistics()
    this.#projectLimit(this.#clock.now(), stats.used_heap_size, heapLimit(stats.heap_size_limit, this.#oldSpaceLimit))
  }

  /** Leakproof's own snapshot near the heap limit, once the heap after a full GC (`heapUsed` at `time`) is projected to pass `heapThreshold` soon. */
  #projectLimit(time, heapUsed, limit) {
    const near = this.#limitProjection.note(time, heapUsed, limit)
    if (near !== null) this.#capture.onNearLimit(near)
  }

  /** Once per interval: a full GC forced if one is due, then the interval's floor, if any. */
  #tick() {
    if (this.#stopped) return
    if (!isMainThread) sayWatching({ time: this.#clock.now(), heapFloor: this.#lastFloor?.heap ?? null, leaking: this.#native.trends().some((t) => t.kind === 'heap' && t.leaking) })
    this.#fullGcs.aged()
    this.#forcedGc.tick()
    const floor = this.#floors.take()
    const stats = v8.getHeapStatistics()
    // Every interval, floor or not, so native memory is never derived from a stale heap
    // size. Physical, not reserved: only touched heap pages are in RSS. ArrayBuffers for
    // where native memory is read from malloc, which holds their bytes.
    const { external, arrayBuffers } = process.memoryUsage()
    // The workers' heaps are in RSS too, not native memory.
    const heaps = stats.total_physical_size + (this.#threads?.heapBytes() ?? 0)
    this.#native.recordHeapResident(heaps, floor?.external ?? external, arrayBuffers)
    if (floor !== null) this.#sample(floor, heapLimit(stats.heap_size_limit, this.#oldSpaceLimit))
    this.#threads?.sample().catch((err) => this.#emit('error', { error: err.message, during: 'watching worker threads' }))
    for (const cache of cachesThrashing(this.#clock.now())) this.#event('cache-thrashing', cache)
  }

  /** One interval's floor: recorded for the detector, emitted as `sample`, checked against the thresholds. */
  #sample(floor, limit) {
    const { time, heap, external, forced } = floor
    this.#lastFloor = { time, heap, external }
    const filling = this.#cachesFilling(time)
    // The watcher's own forced GCs are not the service's work.
    const load = this.#load.take(forced?.ms ?? 0)
    this.#native.recordFloor('heap', time, heap, limit, filling, load)
    this.#native.recordFloor('external', time, external, null, filling, load)
    this.#diagnosis.noteFloor(floor)
    // For the timeline beside the heap: the Rust thread's newest native floor (none until it
    // has one) and RSS against the container's limit. Reading /proc costs tens of µs, once
    // per floor.
    const nativeTrend = this.#native.trends().find((trend) => trend.kind === 'native')
    const native = nativeTrend?.floorBytes ?? null
    const { rss, containerLimit } = processMemory()
    const gc = { forcedGc: forced !== null, forcedGcReason: forced?.reason ?? null, gcDurationMs: forced?.ms ?? 0 }
    this.#event('sample', { heapUsed: heap, external, native, rss, containerLimit, heapLimit: limit, ...gc, cachesFilling: filling, load })
    this.#checkHeapThreshold(heap, limit)
    // The watcher's own full GCs are readings too (V8's are read as they happen).
    if (forced !== null && this.#limitProjection !== null) this.#projectLimit(time, heap, limit)
    const heapShare = heap / limit
    const rssShare = rss !== null && containerLimit !== null ? rss / containerLimit : 0
    this.#lastUsage = Math.max(heapShare, rssShare)
    this.#notePressure({ usage: this.#lastUsage, urgent: false, reason: heapShare >= rssShare ? 'heap' : 'rss' })
    if (this.#capture !== null) this.#capture.onFloor({ heap, external, native, nativeAt: nativeTrend?.floorAt ?? null }, this.#heapAboveThreshold)
    this.#checkRestart()
  }

  /**
   * Whether BoundedMaps are still filling up: growth with a known ceiling, which the
   * detector sets aside (its window restarts), for at most FILLING_GRACE_DURATIONS.
   */
  #cachesFilling(time) {
    if (mapsFilling() === 0) {
      this.#fillingSince = null
      return false
    }
    this.#fillingSince ??= time
    return time - this.#fillingSince < FILLING_GRACE_DURATIONS * this.#options.minDurationMs
  }

  /**
   * One reading for the maps that shrink under memory pressure; emits `memory-pressure` when
   * some shrink or may grow back (fields: `state`, `reason`, `usage`, `maps` (the named ones),
   * `mapsChanged`, `evicted`).
   */
  #notePressure(reading) {
    const change = this.#pressure.note(reading, this.#clock.now())
    // Pressure with no map that shrinks is the threshold's business, not this event's.
    if (change === null || change.maps.length === 0) return
    const { state, maps } = change
    const named = maps.filter((m) => m.name !== null).slice(0, PRESSURE_MAPS_LISTED)
    const evicted = maps.reduce((sum, m) => sum + m.evicted, 0)
    this.#event('memory-pressure', { state, reason: state === 'shrink' ? reading.reason : null, usage: reading.usage, maps: named, mapsChanged: maps.length, evicted })
  }

  /** With the restart policy: whether a restart is due now, by the live trends (after each floor and report). */
  #checkRestart() {
    if (this.#restart !== null && !this.#stopped) this.#restart.check(this.#native.trends())
  }

  /** Emits `threshold` (and captures) when the heap floor crosses `heapThreshold` upwards. */
  #checkHeapThreshold(heapUsed, limit) {
    const above = heapUsed >= this.#options.heapThreshold * limit
    if (above && !this.#heapAboveThreshold) {
      this.#event('threshold', { kind: 'heap', current: heapUsed, limit })
      this.#onHeapThreshold()
    }
    this.#heapAboveThreshold = above
  }

  /**
   * The heap is near its limit: the sampling profile first, if sampling runs (the cost of
   * one full GC, which the inspector runs before it answers; it says what was allocated and
   * kept since the leak was found), then the snapshot, which may not finish before the
   * process dies.
   */
  async #onHeapThreshold() {
    if (this.#sites !== null) await this.#sites.saveProfile('threshold')
    if (this.#capture !== null && !this.#stopped) this.#capture.onThreshold('heap')
  }

  /**
   * An event of the native detector (`leak`, or `threshold` for RSS): emitted, then acted on.
   * @param {import('../../binding').NativeEvent} native
   */
  #onNativeEvent(native) {
    if (this.#stopped) return
    const { type, ...fields } = native
    const event = this.#event(type, fields)
    // Native memory is the process's: every thread's watcher sees one thread's growth, and
    // another thread's snapshot or diff; only the main thread's acts on it.
    if (native.type === 'leak' && (native.kind !== 'native' || isMainThread)) this.#onLeak(event)
    // An urgent leak of any kind: the maps give memory back while the evidence is taken.
    if (native.type === 'leak' && native.urgent === true) this.#notePressure({ usage: this.#lastUsage, urgent: true, reason: 'urgent-leak' })
    if (native.type === 'threshold' && this.#capture !== null) this.#capture.onThreshold(native.kind)
  }

  /**
   * A leak of any kind (heap, external, native): the growing allocation sites (heap), a
   * snapshot, then the report without a pair: the census' holder within a minute of the leak,
   * whatever becomes of the pair (a baseline's follow-up may wait minutes for more growth).
   * When the pair comes, its report says whether it confirms the census' holder. A follow-up
   * written now brings the pair's report at once: no census then, nor while another snapshot
   * is being written.
   */
  async #onLeak(leak) {
    this.#lastLeak = leak
    // Ranked whatever becomes of the snapshot: the sites event names the code that grows.
    if (leak.kind === 'heap' && this.#options.sites) this.#lastRanking = this.#rankSites(leak)
    const result = this.#capture === null ? { skipped: 'off' } : await this.#capture.onLeak(leak)
    if (result !== null && result.role === 'follow-up') return
    // Another snapshot is being written (on demand, at a threshold): no census while its forked
    // child copies the service's memory; the next leak, or a declined follow-up, gets one.
    if (result === null && this.#capture.writing) return
    await this.#diagnose(leak, result === null || 'path' in result ? pairUnderWay(result) : result)
  }

  /**
   * The report of `leak` without a snapshot pair, `skipped` saying why there is none (or that
   * one is under way), with the allocation sites ranked when the leak was reported (a follow-up
   * declined minutes later must not rank afresh: the growth may be over by then).
   */
  async #diagnose(leak, skipped) {
    if (this.#stopped || leak === null) return
    const sites = leak.kind === 'heap' ? this.#lastRanking : null
    const snapshot = skipped.skipped === 'pause' ? 'declined' : skipped.skipped
    const profile = () => this.#profiles?.newest()?.profile ?? null
    await this.#diagnosis.diagnose(leak, { snapshot, detail: skipped.detail, sites, profile })
  }

  /** Ranks the allocation sites that grow in `leak` (one ranking at a time); resolves with the ranking, or null. */
  #rankSites(leak) {
    // Loaded when first needed: a service that never leaks never pays for the inspector.
    if (this.#sites === null) {
      const { maxDiskBytes, maxSnapshots, sitesSamplingBytes } = this.#options
      this.#profiles = new (require('../sites/heap-profiles').HeapProfiles)({ dir: this.#options.dir, maxDiskBytes, maxSnapshots, sitesSamplingBytes })
      this.#sites = new (require('../sites/sites').SiteRanking)(this.#options, this.#emit, this.#profiles)
    }
    return this.#sites.rank(leak.slopeBytesPerSec)
  }
}

/**
 * Why a leak's report comes without a pair while one is under way: `written`, the baseline's
 * `snapshot` fields, or null (a snapshot is being written, or the pair waits for its follow-up).
 */
function pairUnderWay(written) {
  const detail = written === null
    ? 'a snapshot pair is under way; its report follows once its follow-up is written'
    : `the baseline is written (${written.path}); the pair's report follows once its follow-up is`
  return { skipped: PAIR_PENDING, detail }
}

/** The `skipped` reason of an on-demand request refused before any work. */
function refusalReason(err) {
  return err.code === errors.CODES.SNAPSHOT_COOLDOWN ? 'cooldown' : 'in-progress'
}

/** Who this thread is, on its own watcher's events (null on the main thread): read again until its script is known. */
function ownThreadInfo() {
  if (ownThread?.script === null) ownThread = thisThread()
  return ownThread
}

/** A worker's own watcher runs (its interval came at `time`; its heap floor and whether it leaks): the main thread's leaves this worker to it. */
function sayWatching({ time, heapFloor, leaking }) {
  if (ownWatchers === null) {
    ownWatchers = new BroadcastChannel(OWN_WATCHERS_CHANNEL)
    ownWatchers.unref()
  }
  ownWatchers.postMessage({ threadId, time, heapFloor, leaking })
}

module.exports = { watch, currentWatcher, Watcher, EVENTS, CHANNELS }

'use strict'

/**
 * `watch()`: the leak detector of one thread, and its settings.
 *
 * The `Watcher` coordinates the parts that do the work, each in its own module:
 * - floors.js: the floor of each interval, the lowest heap after a full GC in it;
 * - full-gc-sentinel.js: tells when V8 ran a full GC, without observing GCs;
 * - forced-gc.js: forces a full GC when an interval would have no floor (budget, suspicion
 *   credit, incremental or atomic);
 * - load.js: the requests and CPU time each floor comes with;
 * - the native monitor (Rust, native-monitor.js): judges the floors, and the RSS and native
 *   memory it reads;
 * - leak-response.js: everything from a leak to its report: the growing allocation sites,
 *   the snapshots and their pairs' reports (capture.js, within a pause budget unless the
 *   process is about to die), the report without a pair (diagnosis.js, its holder from the
 *   census), and the snapshots near the heap limit and on demand;
 * - watched-caches.js: the BoundedMaps: growth set aside while they fill, memory pressure for
 *   those that shrink under it (lib/cache/map-pressure.js), the ones that thrash;
 * - restart.js (the `restart` option) and threads.js (the worker threads, from the main thread).
 * Every part reads the time from the watcher's clock (lib/shared/clock.js).
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
const { threadId, isMainThread } = require('node:worker_threads')
const { processMemory } = require('../detect/system-memory')
const { heapLimit, oldSpaceLimitBytes } = require('../shared/heap-limit')
const errors = require('../shared/errors')
const { FullGcSentinel } = require('../detect/full-gc-sentinel')
const { Floors } = require('../detect/floors')
const { LoadMeter } = require('../detect/load')
const { ForcedGc } = require('../detect/forced-gc')
const { Tally, DEFAULT_SCALE } = require('./tally')
const { resolveOptions } = require('./options')
const { SYSTEM_CLOCK } = require('../shared/clock')
const { ownThreadInfo, sayWatching } = require('./thread-info')
const { newNativeMonitor } = require('./native-monitor')
const { LeakResponse } = require('./leak-response')
const { watcherThreadTarget } = require('./leak-targets')
const { sampleFields } = require('./sample-event')
const { WatchedCaches } = require('./watched-caches')

/** Every event the watcher emits (the module doc says what each means). */
const EVENTS = Object.freeze(['sample', 'leak', 'threshold', 'snapshot', 'snapshot-skipped', 'heap-limit-snapshot', 'report', 'sites', 'cache-thrashing', 'memory-pressure', 'restart-due', 'restart-exit', 'error'])

/**
 * Every event is also published on the `diagnostics_channel` named `leakproof:<type>`, for
 * tools that subscribe without a handle on the watcher (APM agents, loggers). A channel
 * without subscribers costs one property read per event.
 */
const CHANNELS = Object.freeze(Object.fromEntries(EVENTS.map((type) => [type, diagnosticsChannel.channel(`leakproof:${type}`)])))

let current = null // this thread's watcher

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
  #clock
  #startedAt
  #oldSpaceLimit // the old generation's limit where set, else null (heap-limit.js)
  // The parts, in the order they are made (the constructor):
  #monitor // the monitor: the detector's thread (native-monitor.js)
  #floors // each interval's floor (floors.js)
  #forcedGc // full GCs forced when an interval would have none (forced-gc.js)
  #leakResponse // from a leak to its report: sites, snapshots, the diagnosis (leak-response.js)
  #restart = null // the restart policy, with the restart option (lib/mitigate/restart.js)
  #threads = null // the worker threads, watched from the main thread (threads.js)
  #caches // what it does for this thread's BoundedMaps (watched-caches.js)
  #load // the requests and CPU time since the last floor (load.js), measured from the start
  #fullGcs // tells when V8 ran a full GC (full-gc-sentinel.js)
  #timer // runs #tick every intervalMs
  // What the watcher saw:
  #majorGcsSeen = 0
  #tally = new Tally() // what the events so far said, for status() and metrics
  #lastFloor = null // the newest sampled floor: { time, heap, external }
  #lastUsage = null // the share of its limit the memory used at the newest floor (heap or RSS)
  #stopped = false
  /** `#event`, bound once, for the parts that emit through the watcher. */
  #emit = (type, fields) => this.#event(type, fields)

  /**
   * Use `watch()`. Makes the parts, each given the watcher's clock and, where it emits, `emit`.
   * @param {object} options the settings, checked (options.js).
   * @param {{ clock?: import('../shared/clock').Clock, warmupEndsWhenServing?: boolean }} [parts] `clock`: what time it is, for every part;
   *   `warmupEndsWhenServing`: the warm-up of growth that would reach a limit within hours ends once the service serves at a level rate (`warmupMs` left at its default).
   */
  constructor(options, { clock = SYSTEM_CLOCK, warmupEndsWhenServing = false } = {}) {
    super()
    this.#options = options
    this.#clock = clock
    this.#startedAt = clock.now()
    this.#oldSpaceLimit = oldSpaceLimitBytes()
    const emit = this.#emit
    this.#monitor = newNativeMonitor(options, { startedAt: this.#startedAt, warmupEndsWhenServing }, (event) => this.#onNativeEvent(event))
    this.#floors = new Floors(options.intervalMs, clock)
    this.#forcedGc = new ForcedGc(options, {
      floors: this.#floors,
      floorSpacingMs: () => this.#monitor.wantedFloorSpacingMs,
      urgentGrowth: () => this.#monitor.urgentGrowth,
      onError: (err) => emit('error', { error: err.message, during: 'forcing a full GC' }),
      clock,
    })
    this.#leakResponse = new LeakResponse(options, { target: watcherThreadTarget(clock), monitor: this.#monitor, emit, clock })
    // `watcher.nearHeapLimit`, with snapshots on: what the snapshot near the heap limit came to.
    if (this.#leakResponse.nearHeapLimit !== null) this.nearHeapLimit = this.#leakResponse.nearHeapLimit
    if (options.restart !== null) this.#restart = newRestart(options.restart, { emit, clock })
    if (isMainThread && options.threads) this.#threads = newWorkerThreads(options, { emit, clock, monitor: this.#monitor })
    // Last of the parts, so that nothing thrown above leaves it subscribed.
    this.#caches = new WatchedCaches(options)
    this.#load = new LoadMeter() // real time, not the clock: the CPU time and requests it divides are real
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
   * What the watcher sees and has done, as plain data (JSON-safe; no snapshot content):
   * `running`, `pid`, `threadId`, `startedAt`; `memory`, each kind's newest floor, slope
   * and whether a leak it reported still grows (`[]` after `stop()`); the counts of
   * `Tally#read` (leaks by kind, snapshots by result, reports) and the newest of each;
   * `leakHolders`, the holder named for each kind that leaks now (holder-label.js), and each
   * leaking worker thread's in `threads`;
   * `snapshots` says whether they are on, the `dir`, whether one is being `writing`, and
   * holds their `counts`; `forcedGc` counts the full GCs the watcher forced and the seconds they stopped the thread;
   * `restart` says whether the restart policy is `on`, and `due` is null until a restart is
   * due (then `{ dueAt, kind, limitAt, timeLeftMs }`).
   */
  status() {
    const { snapshots, ...counts } = this.#tally.read()
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
      snapshots: { ...this.#leakResponse.snapshotState(), counts: snapshots },
      forcedGc: { count: this.#forcedGc.count, seconds: this.#forcedGc.pauseMs / 1000 },
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
    const trends = this.#monitor.trends()
    const sampled = this.#lastFloor
    if (sampled === null) return trends
    const judged = (kind, floorBytes) => {
      const trend = trends.find((t) => t.kind === kind)
      return { kind, floorBytes, floorAt: sampled.time, slopeBytesPerSec: trend?.slopeBytesPerSec ?? 0, scale: trend?.scale ?? DEFAULT_SCALE, leaking: trend?.leaking ?? false, limitAt: trend?.limitAt ?? null }
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
    return this.#leakResponse.snapshot(requestedBy)
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
    return this.#leakResponse.sitesProfile()
  }

  /** Stops everything the watcher started: the thread, the timer, the GC observer, sampling. */
  stop() {
    if (this.#stopped) return
    this.#stopped = true
    clearInterval(this.#timer)
    this.#fullGcs.stop()
    this.#forcedGc.stop()
    this.#floors.stop()
    this.#load.stop()
    this.#monitor.stop()
    this.#leakResponse.stop()
    this.#restart?.stop()
    this.#threads?.stop()
    this.#caches.stop()
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
    // The heap is read only where it is projected towards its limit.
    if (!this.#leakResponse.projectsLimit) return
    const stats = v8.getHeapStatistics()
    this.#leakResponse.noteFullGcHeap(this.#clock.now(), stats.used_heap_size, heapLimit(stats.heap_size_limit, this.#oldSpaceLimit))
  }

  /** Once per interval: a full GC forced if one is due, then the interval's floor, if any. */
  #tick() {
    if (this.#stopped) return
    if (!isMainThread) sayWatching({ time: this.#clock.now(), heapFloor: this.#lastFloor?.heap ?? null, leaking: this.#monitor.trends().some((t) => t.kind === 'heap' && t.leaking) })
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
    this.#monitor.recordHeapResident(heaps, floor?.external ?? external, arrayBuffers)
    if (floor !== null) this.#sample(floor, heapLimit(stats.heap_size_limit, this.#oldSpaceLimit))
    this.#threads?.read().catch((err) => this.#emit('error', { error: err.message, during: 'watching worker threads' }))
    for (const cache of this.#caches.thrashing(this.#clock.now())) this.#event('cache-thrashing', cache)
  }

  /** One interval's floor: recorded for the detector, emitted as `sample`, checked against the thresholds. */
  #sample(floor, limit) {
    const { time, heap, external, forced } = floor
    this.#lastFloor = { time, heap, external }
    const filling = this.#caches.filling(time)
    // The watcher's own forced GCs are not the service's work.
    const load = this.#load.take(forced?.pauseMs ?? 0)
    this.#monitor.recordFloor('heap', time, heap, limit, filling, load)
    this.#monitor.recordFloor('external', time, external, null, filling, load)
    this.#leakResponse.noteFloor(floor)
    // For the timeline beside the heap: the Rust thread's newest native floor (none until it
    // has one) and RSS against the container's limit. Reading /proc costs tens of µs, once
    // per floor.
    const nativeTrend = this.#monitor.trends().find((trend) => trend.kind === 'native')
    const native = nativeTrend?.floorBytes ?? null
    const { rss, containerLimit } = processMemory()
    this.#event('sample', sampleFields({ heapUsed: heap, external, native, rss, containerLimit, heapLimit: limit, forced, cachesFilling: filling, load }))
    this.#checkHeapThreshold(heap, limit)
    // The watcher's own full GCs are readings too (V8's are read as they happen).
    if (forced !== null) this.#leakResponse.noteFullGcHeap(time, heap, limit)
    const heapShare = heap / limit
    const rssShare = rss !== null && containerLimit !== null ? rss / containerLimit : 0
    this.#lastUsage = Math.max(heapShare, rssShare)
    this.#notePressure({ usage: this.#lastUsage, urgent: false, reason: heapShare >= rssShare ? 'heap' : 'rss' })
    this.#leakResponse.onLevels({ heap, external, native, nativeAt: nativeTrend?.floorAt ?? null }, this.#monitor.heapAboveThreshold)
    this.#checkRestart()
  }

  /**
   * One reading for the maps that shrink under memory pressure; emits `memory-pressure` when
   * some shrink or may grow back (fields: `state`, `reason`, `usage`, `maps` (the named ones),
   * `mapsChanged`, `evicted`).
   */
  #notePressure(reading) {
    const fields = this.#caches.pressure(reading, this.#clock.now())
    if (fields !== null) this.#event('memory-pressure', fields)
  }

  /** With the restart policy: whether a restart is due now, by the live trends (after each floor and report). */
  #checkRestart() {
    if (this.#restart !== null && !this.#stopped) this.#restart.check(this.#monitor.trends())
  }

  /**
   * Emits `threshold` (and captures) when the heap floor crosses `heapThreshold` upwards: the
   * rule the monitor owns (`crossedHeapThreshold`), which it applies to RSS too.
   */
  #checkHeapThreshold(heapUsed, limit) {
    if (!this.#monitor.crossedHeapThreshold(heapUsed, limit)) return
    this.#event('threshold', { kind: 'heap', current: heapUsed, limit })
    this.#leakResponse.onThreshold('heap')
  }

  /**
   * An event of the native detector (`leak`, or `threshold` for RSS): emitted, then acted on.
   * @param {import('./native-monitor').NativeEvent} native
   */
  #onNativeEvent(native) {
    if (this.#stopped) return
    const { type, ...fields } = native
    const event = this.#event(type, fields)
    // Native memory is the process's: every thread's watcher sees one thread's growth, and
    // another thread's snapshot or diff; only the main thread's acts on it.
    if (native.type === 'leak' && (native.kind !== 'native' || isMainThread)) this.#leakResponse.onLeak(event)
    // An urgent leak of any kind: the maps give memory back while the evidence is taken.
    if (native.type === 'leak' && native.urgent === true) this.#notePressure({ usage: this.#lastUsage, urgent: true, reason: 'urgent-leak' })
    if (native.type === 'threshold') this.#leakResponse.onThreshold(native.kind)
  }
}

/** The restart policy (`restart` option's settings): loaded only with it, a watcher without the policy never loads node:cluster nor sees a server. */
function newRestart(settings, parts) {
  const { Restart } = require('../mitigate/restart')
  return new Restart(settings, parts)
}

/** The worker threads, watched from the main thread: loaded only there with `threads` on, a worker's watcher never loads their inspector sessions and detectors. */
function newWorkerThreads(options, parts) {
  const { WorkerThreads } = require('./threads')
  return new WorkerThreads(options, parts)
}

module.exports = { watch, currentWatcher, Watcher, EVENTS, CHANNELS }

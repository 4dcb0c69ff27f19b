/**
 * leakproof: keeps Node services from leaking memory.
 *
 * - `BoundedMap`: a drop-in `Map` bounded by entries, bytes and TTL.
 * - `RingBuffer`: a drop-in for a push-only "recent items" array.
 * - `watch()`: leak detection, safe heap snapshots and growing allocation sites.
 * - `systemMemory()`: RSS and container memory, read by the native addon.
 * - `analyzeSnapshot()` / `diffSnapshots()`: the heap-snapshot analyzer, off the main thread.
 * - `trackEmitter()` / `trackListeners()`: listener leaks with the line that added them;
 *   `trackTimers()`, `trackPromises()` and `census()`: live handles by creation site.
 *
 * The manual is in `docs/`, by part: cache.md, watch.md, capture.md, diagnose.md, sites.md,
 * analyze.md, report.md, listeners.md, testing.md, metrics.md, admin-http.md, errors.md.
 */
import { EventEmitter } from 'node:events'

/**
 * Memory of this process and its container, as the kernel reports it. A field is null
 * where the platform does not say (not Linux, no cgroup memory controller, no limit set, or
 * no glibc `malloc`).
 */
export interface SystemMemory {
  /** Resident set size of the process, in bytes. */
  rss: number | null
  /** The tightest cgroup memory limit over the process's cgroup and its ancestors, in bytes. */
  containerLimit: number | null
  /** Memory charged to the process's cgroup, in bytes. */
  containerUsage: number | null
  /**
   * Bytes in use from the C library's `malloc` (glibc 2.33 and later, when no other allocator
   * replaced it): native memory without V8's pooled heap pages, which RSS also counts. Also
   * null for a while after a count: glibc walks malloc's free lists under its lock, so the
   * next count waits a thousand times as long as the last one took.
   */
  mallocInUse: number | null
}

/**
 * Reads RSS, the container's memory limit and usage (cgroup v2, v1 fallback) and glibc's
 * `malloc` figures.
 * Throws `ERR_LEAKPROOF_NATIVE_UNAVAILABLE` where the native addon has no binary.
 */
export declare function systemMemory(): SystemMemory

/** Why an entry left a `BoundedMap`, as passed to `onEvict`. */
export type EvictionReason =
  /** Removed by the policy to stay within `max` / `maxBytes`. */
  | 'evict'
  /** Its TTL passed. */
  | 'expire'
  /** Removed by `delete`. */
  | 'delete'
  /** Its value was replaced by `set` (the old value is passed). */
  | 'set'
  /** Removed by `clear`. */
  | 'clear'
  /** Larger than `maxBytes`, so never stored (the rejected value is passed). */
  | 'too-large'

/** Options of `new BoundedMap(options)`. At least one of `max`, `maxBytes`, `ttl` is required. */
export interface BoundedMapOptions<K, V> {
  /** Most entries held; a positive integer. @default unbounded in count */
  max?: number
  /**
   * Most bytes held, as measured by `sizeOf`; a positive number.
   * @default unbounded in bytes
   */
  maxBytes?: number
  /**
   * Size of one entry in bytes; needs `maxBytes`. Must return a finite number >= 0.
   * @default exact `byteLength` for Buffers, typed arrays, DataViews and ArrayBuffers;
   * `16 + 2 * length` for strings; other values need a `sizeOf`.
   */
  sizeOf?: (value: V, key: K) => number
  /**
   * Milliseconds an entry lives after it was last set; `set(k, v, { ttl })` overrides it
   * per entry. A map bounded only by `ttl` warns once (`LEAKPROOF_TTL_ONLY`).
   * @default no expiry
   */
  ttl?: number
  /**
   * `'lru'` evicts the least recently used entry. `'s3-fifo'` is scan-resistant and keeps a
   * higher hit ratio on skewed traffic; reads are cheaper too.
   * @default 'lru'
   */
  policy?: 'lru' | 's3-fifo'
  /**
   * Called once for every value that leaves the map, after the map is consistent again.
   * It may use the map. If it throws, the other calls still happen and the first error is
   * rethrown from the operation that caused them.
   */
  onEvict?: (value: V, key: K, reason: EvictionReason) => void
  /**
   * Lists the map in `namedMaps()`, with its counters. The registry holds maps weakly, so a
   * name never keeps a map alive. See docs/cache.md#namedmaps.
   */
  name?: string
  /**
   * Clock for TTLs, in milliseconds; inject one in tests.
   * @default a monotonic clock read at most about once per millisecond
   */
  now?: () => number
}

/** Per-entry options of `BoundedMap#set`. */
export interface BoundedMapSetOptions {
  /** This entry's TTL in ms, overriding the map's; `Infinity`: never expires. */
  ttl?: number
}

/** Counters of a `BoundedMap` since it was made. */
export interface BoundedMapStats {
  /** Entries held. */
  size: number
  /** Bytes held, as measured by `sizeOf` (0 without `maxBytes`). */
  bytes: number
  /** `get` calls that found a value. */
  hits: number
  /** `get` calls that found none. */
  misses: number
  /** Entries removed to respect `max` / `maxBytes`. */
  evictions: number
  /** Entries freed after their TTL. */
  expirations: number
  /** Values not stored because they were larger than `maxBytes`. */
  rejected: number
  /** `hits / (hits + misses)`, 0 before any `get`. */
  hitRatio: number
}

/**
 * A `Map` that cannot grow without bound. Within its bounds it behaves exactly as `Map`
 * (SameValueZero keys of any type, `undefined` values, live iterators).
 *
 * Iteration is in insertion order like `Map`'s, not in recency order, and skips entries
 * whose TTL has passed. `size` counts such entries until they are freed (by the map's one
 * unref'd timer, shortly after they expire, or by any access); `purgeStale()` frees them now.
 */
export declare class BoundedMap<K = unknown, V = unknown> implements Map<K, V> {
  /**
   * @param options bounds and behaviour; throws `TypeError` (`ERR_LEAKPROOF_UNBOUNDED`) when
   *   no bound is given, and `TypeError`/`RangeError` (`ERR_LEAKPROOF_INVALID_OPTION`,
   *   `ERR_LEAKPROOF_UNKNOWN_OPTION`) naming a bad option.
   * @param entries initial entries, set in order (later ones may evict earlier ones).
   */
  constructor(options: BoundedMapOptions<K, V>, entries?: Iterable<readonly [K, V]> | null)
  /** The name given in the options. */
  readonly name: string | undefined
  /** The most entries held (`Infinity` without a count bound). */
  readonly max: number
  /** The most bytes held (`Infinity` without a byte bound). */
  readonly maxBytes: number
  /** Entries held. */
  readonly size: number
  /** `'BoundedMap'`. */
  readonly [Symbol.toStringTag]: string
  /** The value for `key`; counts a hit or a miss and refreshes the entry for the policy. */
  get(key: K): V | undefined
  /** The value for `key` without counting or refreshing. */
  peek(key: K): V | undefined
  /** Whether `key` is held and not expired. Does not refresh it. */
  has(key: K): boolean
  /**
   * Sets `key`, evicting by policy to stay within bounds. Throws
   * `ERR_LEAKPROOF_SIZEOF_REQUIRED` / `ERR_LEAKPROOF_INVALID_SIZE` when the value cannot be
   * sized; the map is unchanged then.
   */
  set(key: K, value: V, options?: BoundedMapSetOptions): this
  /** Removes `key`; true if it was held and not expired. */
  delete(key: K): boolean
  /** Removes every entry. */
  clear(): void
  /** Calls `callback` for each live entry in insertion order. */
  forEach(callback: (value: V, key: K, map: Map<K, V>) => void, thisArg?: unknown): void
  /** Live `[key, value]` pairs in insertion order. */
  entries(): MapIterator<[K, V]>
  /** Live keys in insertion order. */
  keys(): MapIterator<K>
  /** Live values in insertion order. */
  values(): MapIterator<V>
  /** Same as `entries()`. */
  [Symbol.iterator](): MapIterator<[K, V]>
  /** Milliseconds until `key` expires: `Infinity` without a TTL, 0 when not held. */
  getRemainingTTL(key: K): number
  /** Frees every expired entry now; returns how many. */
  purgeStale(): number
  /** Counters since the map was made. */
  stats(): BoundedMapStats
}

/** Options of `new RingBuffer(capacity, options)`. */
export interface RingBufferOptions<T> {
  /** Called with each item that `push` overwrites. */
  onDrop?: (item: T) => void
}

/**
 * A fixed-capacity FIFO: `push` past `capacity` overwrites the oldest item. Index 0 and
 * iteration start at the oldest item. Nothing is allocated up front.
 */
export declare class RingBuffer<T = unknown> implements Iterable<T> {
  /** @param capacity a positive integer, else `ERR_LEAKPROOF_INVALID_OPTION`. */
  constructor(capacity: number, options?: RingBufferOptions<T>)
  /** Items held. */
  readonly size: number
  /** Same as `size`, for code written against an array. */
  readonly length: number
  /** The most items held. */
  readonly capacity: number
  /** Items overwritten by `push` since construction. */
  readonly dropped: number
  /** `'RingBuffer'`. */
  readonly [Symbol.toStringTag]: string
  /** Appends items as the newest, overwriting the oldest when full; returns the new size. */
  push(...items: T[]): number
  /** Removes and returns the oldest item. */
  shift(): T | undefined
  /** Removes and returns the newest item. */
  pop(): T | undefined
  /** The oldest item, without removing it. */
  peek(): T | undefined
  /** The item at `index` from the oldest, or from the newest when negative (-1 is the newest). */
  at(index: number): T | undefined
  /** The items, oldest first, as a new array. */
  toArray(): T[]
  /** Removes every item (not counted as dropped). */
  clear(): void
  /** Items oldest first. */
  [Symbol.iterator](): IterableIterator<T>
}

/** A named `BoundedMap` that is still alive, with its counters. */
export interface NamedMapStats extends BoundedMapStats {
  /** The map's `name` option. */
  name: string
}

/**
 * The named `BoundedMap`s still alive, each with its `stats()` (the registry holds them
 * weakly). It reports the counters; it does not judge them.
 */
export declare function namedMaps(): NamedMapStats[]

/** Options of `watch()`; every one has a default (docs/watch.md#options). */
export interface WatchOptions {
  /** How often a floor is taken and RSS is read, in ms. @default 10000 */
  intervalMs?: number
  /** No leak is reported before this many ms, and growth must go on after it. @default 60000 */
  warmupMs?: number
  /** A leak's window must span at least this many ms. @default 60000 */
  minDurationMs?: number
  /** Floors kept per kind of memory; thinned rather than slid while they span less than 2 × `minDurationMs`. @default 30 */
  window?: number
  /** Floors needed before judging (>= 3, <= `window`). @default 8 */
  minPoints?: number
  /** Growth over the window needed, in bytes (native memory: 8 MiB at least, whatever this says). @default 8 MiB */
  minGrowthBytes?: number
  /** Slope needed, in bytes per second, on every time scale. @default 512 */
  minRateBytesPerSec?: number
  /** 1 − p of the Mann–Kendall test needed, in (0, 1). @default 0.999 */
  confidence?: number
  /**
   * Let the watcher request full GCs when V8 runs none: for the first two floors, after
   * `forceGcAfterMs` without one, and while the floors hint at growth
   * (docs/watch.md#forced-full-gcs). `false`: floors come from V8's own full GCs only.
   * @default true
   */
  forceGc?: boolean
  /** Share of wall time forced GCs may take, in (0, 1). @default 0.01 */
  gcBudget?: number
  /**
   * A full GC is requested when none has run for this many ms, or sooner while the floors
   * hint at growth (a bounded run of them). @default 60000
   */
  forceGcAfterMs?: number
  /** `threshold` event when the heap floor passes this share of the heap limit. @default 0.85 */
  heapThreshold?: number
  /** `threshold` event when RSS passes this share of the container limit. @default 0.9 */
  rssThreshold?: number
  /** `'off'` never writes snapshots. @default 'auto' */
  snapshots?: 'auto' | 'off'
  /** Where snapshots go; without it, none are written. */
  dir?: string
  /** Snapshot files kept in `dir`. @default 4 */
  maxSnapshots?: number
  /** Bytes kept in `dir`: enough for a pair of snapshots of a 1 GB heap. @default 4 GiB */
  maxDiskBytes?: number
  /** At least this many ms between two pairs of snapshots. @default 600000 */
  cooldownMs?: number
  /**
   * The longest an in-process snapshot may stop the event loop, as predicted; longer ones are
   * declined (`skipped: 'pause'`) unless the process is about to die. `Infinity`: no limit.
   * A snapshot a forked child writes stops the loop only for fork(), and is not judged by it.
   * @default 2000
   */
  snapshotMaxPauseMs?: number
  /**
   * Who writes snapshots: `'fork'`, a forked child of this process while it goes on serving
   * (Linux, main thread; elsewhere in-process, and the event says why), or `'in-process'`,
   * this process within `snapshotMaxPauseMs`. @default 'fork'
   */
  snapshotWriter?: 'fork' | 'in-process'
  /** Free memory needed to write a snapshot, as a multiple of its predicted file size (plus the live heap when a forked child writes it). @default 12 */
  snapshotMemoryFactor?: number
  /** Growth of a leaking kind (heap, external or native, by its floors) after the baseline snapshot that triggers the follow-up. @default 16 MiB */
  followUpGrowthBytes?: number
  /** Arm V8's near-heap-limit snapshot (with `dir`). @default true */
  nearHeapLimit?: boolean
  /** Called (and awaited) before each snapshot, e.g. to leave a load balancer's rotation. */
  beforeSnapshot?: (info: { reason: string; dir: string; predicted: SnapshotCostPrediction }) => unknown
  /**
   * Called after each snapshot is written (and its `snapshot` event emitted), with its
   * result: to upload the file, say. Awaited: no other snapshot is written meanwhile. A
   * hook that throws is an `error` event; the snapshot stays written.
   */
  afterSnapshot?: (info: { reason: string; dir: string } & SnapshotEvent) => unknown
  /**
   * A signal (`'SIGUSR2'`, say) that takes a snapshot on demand: the first a baseline, the
   * next its follow-up and the pair's report. Needs `dir`; main thread only; signals Node or
   * orchestrators use (SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, …) are refused.
   */
  snapshotSignal?: string
  /** Rank growing allocation sites after a heap leak. @default true */
  sites?: boolean
  /**
   * Take a census of reachable collections (passes 10–45 s apart, in slices of a few ms) for a
   * leak that gets no snapshot pair: it names the holder where no snapshot fits. @default true
   */
  census?: boolean
  /** Each sampling window, in ms (up to three, until the top site's growth holds four samples). @default 2 × intervalMs */
  sitesWindowMs?: number
  /** Mean bytes between heap-profiler samples. @default 512 KiB */
  sitesSamplingBytes?: number
  /** Allocation sites, and suspects in a report, listed. @default 5 */
  top?: number
}

/** Fields every watcher event has. */
export interface WatchEventBase {
  /** The event's name. */
  type: string
  /** Epoch milliseconds. */
  time: number
  /** The process. */
  pid: number
  /** The thread (0 for the main thread). */
  threadId: number
}

/** One floor per interval. */
export interface SampleEvent extends WatchEventBase {
  type: 'sample'
  /** The heap floor, in bytes. */
  heapUsed: number
  /** The floor of external memory, in bytes: live Buffers and ArrayBuffers (`arrayBuffers` once V8 freed the dead ones), plus the rest of `external`. */
  external: number
  /** The native thread's newest native-memory floor, in bytes; null until it has one. */
  native: number | null
  /** The process's RSS when the sample was taken, in bytes; null where the platform does not say. */
  rss: number | null
  /** The container's memory limit (cgroup), in bytes; null where there is none. */
  containerLimit: number | null
  heapLimit: number
  /** Whether the watcher requested the GC behind this floor. */
  forcedGc: boolean
  /**
   * Why it did: `first-floors` (none yet for the first two floors; incremental), `quiet`
   * (no full GC for `forceGcAfterMs`; an incremental GC) or
   * `suspected-growth` (the floors hint at growth: an atomic GC, in a bounded run); null
   * if it did not.
   */
  forcedGcReason: 'first-floors' | 'quiet' | 'suspected-growth' | null
  /** Time from the watcher's request until its forced GC was done; 0 if none. */
  gcDurationMs: number
  /** Whether BoundedMaps were still filling up, so growth was recorded but not judged. */
  cachesFilling: boolean
}

/** A leak, new or worse than last reported. */
export interface LeakEvent extends WatchEventBase {
  type: 'leak'
  kind: 'heap' | 'external' | 'native'
  slopeBytesPerSec: number
  confidence: number
  /** Epoch ms of the oldest floor in the window that shows the growth. */
  since: number
  /** The newest floor, in bytes. */
  current: number
  /** The limit this memory runs into, when known. */
  limit: number | null
  /** Epoch ms at which the floor would reach `limit` at this rate. */
  projectedLimitAt: number | null
  /**
   * At this rate the heap limit, or the container's memory limit for RSS, is 15 minutes
   * away or less: such a leak is reported within about a minute of its start.
   */
  urgent: boolean
  /**
   * The time scale whose window showed it: `'minutes'` (every floor kept, a few minutes at
   * the defaults) or a slow scale, a floor of floors per bucket (see docs/watch.md, "Slow
   * leaks"). The rate, projection and urgency are those of that window.
   */
  scale: LeakScale
  /** How long that scale's kept points span, in ms: its nominal window (at the defaults 2 min, 16 min, 64 min, 4.3 h, 24 h), or longer where floors came rarely. */
  scaleSpanMs: number
}

/** The time scales the detector judges, shortest first. */
export type LeakScale = 'minutes' | 'quarter-hour' | 'hour' | 'hours' | 'day'

/** The heap or RSS passed its threshold. */
export interface ThresholdEvent extends WatchEventBase {
  type: 'threshold'
  kind: 'heap' | 'rss'
  current: number
  limit: number
}

/** What a heap snapshot was predicted to cost before it was taken or declined. */
export interface SnapshotCostPrediction {
  /** File size, in bytes. */
  bytes: number
  /** How long it stops the event loop, in ms. */
  pauseMs: number
  /** `'model'` from the heap's statistics; `'learned'` once this process's own snapshots corrected it. */
  basis: 'model' | 'learned'
}

/** The pause budget a snapshot was judged against. */
interface SnapshotBudget {
  predicted: SnapshotCostPrediction
  /** `snapshotMaxPauseMs`. */
  pauseBudgetMs: number
  /** Set when the budget gave way (the process is about to die, or an operator asked): why. */
  overBudgetBecause?: string
  /** A snapshot asked for on demand: its id (as `watcher.snapshot()` returned it)… */
  id?: string
  /** …and who asked: `'api'`, `'signal'`, `'http'`. */
  requestedBy?: string
}

/** Who wrote a snapshot, and what writing it from a child cost. */
interface SnapshotWriter {
  /** `'child'`: a forked child wrote it; `'in-process'`: this process did. */
  writer?: 'child' | 'in-process'
  /** Forks tried (a child that needed a thread fork does not copy is tried again). */
  attempts?: number
  /** How each failed child or fork ended, in words. */
  forkFailures?: string[]
  /** Why this process wrote it itself (another platform, a worker thread, `snapshotWriter: 'in-process'`). */
  forkUnavailable?: string
}

/** A heap snapshot was written. */
export interface SnapshotEvent extends SnapshotBudget, SnapshotWriter {
  path: string
  bytes: number
  /** How long the write stopped the event loop: fork() alone when a child wrote it. */
  durationMs: number
  /** A child's snapshot: when it was forked (epoch ms), how long the child took, and its peak resident memory (pages shared with this process included). */
  forkedAt?: number
  childMs?: number
  childPeakRssBytes?: number
  /** The heap the snapshot holds (V8 collected all garbage first). */
  liveHeapBytes: number
  reason: string
  role?: 'baseline' | 'follow-up'
  /** The baseline this follow-up pairs with. */
  baseline?: string
}

/**
 * A snapshot was not written, and why. `predicted` and `pauseBudgetMs` are missing only on
 * an on-demand request refused before any work (`'in-progress'`, or `'cooldown'` for a signal).
 */
export interface SnapshotSkippedEvent extends WatchEventBase, Partial<SnapshotBudget>, SnapshotWriter {
  type: 'snapshot-skipped'
  skipped:
    | 'cooldown'
    | 'pause'
    | 'dir-not-writable'
    | 'disk-budget'
    | 'disk-full'
    | 'memory'
    | 'write-failed'
    | 'fork-failed'
    | 'child-deadline'
    | 'child-killed'
    | 'cancelled'
    | 'failed'
    | 'in-progress'
  reason: string
  detail?: string
}

/** One memory kind as the detector sees it now (`Watcher#status()`). */
export interface MemoryTrend {
  kind: 'heap' | 'external' | 'native'
  /** The newest floor, in bytes, and when it was taken (epoch ms). */
  floorBytes: number
  floorAt: number
  /** The Theil–Sen slope, in bytes per second, on `scale`. */
  slopeBytesPerSec: number
  /** The time scale of the leak reported, else `'minutes'` (the window of every floor). */
  scale: LeakScale
  /** A leak was reported and the newest floors (of its scale) still rise. */
  leaking: boolean
}

/** What `Watcher#status()` returns: plain, JSON-safe data, no snapshot content. */
export interface WatcherStatus {
  running: boolean
  pid: number
  threadId: number
  startedAt: number
  /** Each kind with floors so far; `[]` after `stop()`. */
  memory: MemoryTrend[]
  /** Leak events so far, by kind. */
  leaks: { heap: number; external: number; native: number }
  snapshots: {
    /** Whether this watcher takes snapshots (a `dir`, and `snapshots: 'auto'`). */
    on: boolean
    dir: string | null
    /** A snapshot is being written, or about to be. */
    writing: boolean
    /** `written`, and one count per `skipped` reason seen. */
    counts: { written: number } & Partial<Record<SnapshotSkippedEvent['skipped'], number>>
  }
  /** Reports emitted so far. */
  reports: number
  lastLeak: LeakEvent | null
  lastSnapshot: (SnapshotEvent & WatchEventBase) | SnapshotSkippedEvent | null
  lastReport: { path: string | null; kind: 'pair' | 'no-snapshot'; time: number } | null
  /** Full GCs the watcher forced, and the seconds they took. */
  forcedGc: { count: number; seconds: number }
}

/** What `Watcher#snapshot()` returns: the write starts on the next turn of the event loop. */
export interface SnapshotRequest {
  id: string
  role: 'baseline' | 'follow-up'
  /** The `snapshot` or `snapshot-skipped` event's fields, once done; null if none was attempted. */
  done: Promise<(SnapshotEvent & WatchEventBase) | SnapshotSkippedEvent | null>
}

/**
 * An allocation site whose live sampled bytes grew. `line` and `column` are where the
 * function starts: the sampling profile counts per function.
 */
export interface AllocationSite {
  functionName: string
  url: string
  line: number
  column: number
  liveBytes: number
  growthBytes: number
  /**
   * Only on a site in a package (`node_modules`) or in Node's internals (`node:`): the
   * package's name (`express-session`, `@opentelemetry/sdk-metrics`), null for `node:`.
   */
  package?: string | null
  /**
   * Only where `package` is: the first frame of the app's own code on the way from the
   * allocation to the caller (not a package's, Node's or leakproof's), by the line its
   * function starts at; of several, the one whose bytes there grew most. Null when none
   * was on the stack (a package's own timer, say).
   */
  appFrame?: { functionName: string; url: string; line: number; column: number } | null
}

/** Growing allocation sites, ranked. */
export interface SitesEvent extends WatchEventBase {
  type: 'sites'
  /** How long the sites were sampled: one to ten `sitesWindowMs` (more for a slower leak). */
  windowMs: number
  sites: AllocationSite[]
  /**
   * The sampling profile the sites were ranked from, with a `dir`: `heapprofile` opens in
   * Chrome DevTools (Memory → Load), `pprof` (gzipped profile.proto) in `go tool pprof` and
   * pprof-based profilers. Absent without a `dir`, or when writing failed (an `error` event).
   */
  profile?: { heapprofile: string; pprof: string }
}

/**
 * An allocation-sampling profile the watcher kept (`watcher.sitesProfile()`): code locations
 * and sizes, no values.
 */
export interface SitesProfile {
  /** When it was taken (ms since the epoch). */
  time: number
  /** `'leak'`: a `sites` ranking was made from it; `'threshold'`: kept when the heap passed `heapThreshold`. */
  reason: 'leak' | 'threshold'
  /** When sampling started (the first heap leak's ranking); the profile holds what was sampled since and still lived. */
  startedAt: number
  /** Mean bytes between samples (`sitesSamplingBytes`). */
  samplingIntervalBytes: number
  /** V8's sampling heap profile: the JSON of a DevTools `.heapprofile`. */
  profile: { head: SamplingProfileNode; samples?: Array<{ size: number; nodeId: number; ordinal: number }> }
  /** Its `.heapprofile` file, or null (no `dir`, or the write failed). */
  heapprofile: string | null
  /** Its gzipped pprof file, or null (no `dir`, or the write failed). */
  pprof: string | null
}

/** A node of a sampling heap profile: a call frame, the bytes sampled in it, its callees. */
export interface SamplingProfileNode {
  callFrame: { functionName: string; scriptId: string; url: string; lineNumber: number; columnNumber: number }
  selfSize: number
  id: number
  children: SamplingProfileNode[]
}

/** The diff of a baseline and follow-up snapshot, also written as JSON at `path`. */
/** A report: of a snapshot pair, or of a leak that got none. */
export type ReportEvent = PairReportEvent | NoSnapshotReportEvent

/** The diff of a snapshot pair (a baseline and its follow-up). */
export interface PairReportEvent extends WatchEventBase {
  type: 'report'
  kind: 'pair'
  path: string
  baseline: string
  followUp: string
  newCount: number
  newBytes: number
  suspects: LeakSuspect[]
  grownCollections: GrownCollection[]
  newByClass: NewObjects[]
  /** Listener, timer and promise sites that grew since the last report (empty unless tracking is on). */
  growingHandles: CensusGrowth[]
  /** How much each kind of memory the pair followed grew between its two snapshots, by their floors. */
  leaking: { kind: 'heap' | 'external' | 'native'; sinceBytes: number; untilBytes: number; growthBytes: number }[]
  /** For a pair that followed a native leak: whether JS objects hold it (else where it is); null otherwise. */
  native: NativeVerdict | null
}

/** Resident bytes of one kind of mapping (`/proc/self/smaps`) that grew. */
export interface GrownMapping {
  /** `malloc-heap`, `anonymous`, `stack`, `addon-code`, `libraries`, `files` or `other`. */
  kind: string
  /** What the kind holds, in words. */
  label: string
  beforeBytes: number
  afterBytes: number
  growthBytes: number
}

/**
 * Whether JS objects hold a native leak's memory and, when none do, what can be known
 * cheaply and what to run next (docs/diagnose.md, "Leaks outside the heap: what each kind's report names").
 */
export interface NativeVerdict {
  /** Native growth compared: the pair's native floors, or the leak's rate over the census' passes. */
  growthBytes: number
  /** Native memory (ArrayBuffers' contents left out) the collection that grew most gained (a pair), or null (the census counts holders, not bytes). */
  heldByJsBytes: number | null
  /** `'not judged'`: nobody looked for holders (no census, `census: false`). */
  verdict: 'held by JS objects' | 'no JS object holds it' | 'not judged'
  /** Growth of what glibc's malloc hands out; null off glibc, under another allocator, or uncounted. */
  mallocGrowthBytes: number | null
  /** The kinds of mapping that grew, most first (empty off Linux). */
  mappings: GrownMapping[]
  /** The native addons (`.node` files) loaded. */
  addons: string[]
  /** When no JS object holds it: what grew, in words. */
  explanation?: string
  /** When no JS object holds it: what to run next, with the command to paste. */
  next?: { what: string; command: string }[]
}

/** A V8 heap space that grew between the floor a leak started from and the newest. */
export interface GrownHeapSpace {
  space: string
  beforeBytes: number
  afterBytes: number
  growthBytes: number
  /** What the space holds, in words. */
  holds: string
}

/** Named BoundedMaps (summed by name) that grew. */
export interface GrownBoundedMap {
  name: string
  /** Maps of this name. */
  maps: number
  sizeBefore: number
  size: number
  bytesBefore: number
  bytes: number
  max: number | null
  maxBytes: number | null
}

/** A collection the census saw grow between two passes, named in the code's words. */
export interface CensusSuspect {
  /** The most common class among its entries (or its own class when they are not objects). */
  name: string
  holder: {
    /** The variable, global or handle the path starts from (`store`, `timers of 1000 ms`). */
    name: string
    /** The collection's class: `Map`, `Set`, `Array`, `Object` (a dictionary), `TimersList`. */
    className: string
    kind: 'module' | 'closure' | 'global' | 'exports' | 'handle' | 'timers'
    /** The script, where V8 named it. */
    file: string | null
    /** For a variable, the function whose scope was read; for timers, the first callback. */
    line: number | null
    column: number | null
    /** One line: `store.sessions (Object), a module-level variable of /srv/app.js`. */
    description: string
  }
  /** The path from the holder's name: `store.sessions`, `bus._events.message`, `users[*]`. */
  readablePath: string
  /** Collections that share the path (the Sets inside one Map of users are one path). */
  collections: number
  /** Entries in the first pass compared (0 when it was under `minEntries`), and in the last. */
  before: number
  after: number
  entriesPerSec: number
  /** Bytes one entry holds: measured (Buffers, held directly or a property down), or the leak's rate over entries gained per second. */
  bytesPerEntry: number | null
  bytesPerEntrySource: 'measured' | 'slope' | null
  /** The native handle the entries hold (`Zlib`, `TCP`, `Hash`), directly or a property down, if any: their memory is outside the heap. */
  memberHandle: string | null
}

/** What one census pass cost. */
export interface CensusCost {
  slices: number
  cpuMs: number
  longestSliceMs: number
  visited: number
  inspectorCalls: number
}

/**
 * The report of a leak that got no snapshot pair (declined for its pause, snapshots off, a
 * write that failed, a declined follow-up): what was learned without one, and what was not
 * looked at and why.
 */
export interface NoSnapshotReportEvent extends WatchEventBase {
  type: 'report'
  kind: 'no-snapshot'
  /** The JSON file in `dir`, or null (no dir, or it could not be written). */
  path: string | null
  /** The leak event's fields. */
  leak: Omit<LeakEvent, 'type' | 'pid' | 'threadId'>
  heapSnapshot: { taken: false; why: string; detail: string | null }
  sites: { windowMs: number; sites: AllocationSite[] } | null
  heapSpaces: { since: number; until: number; grew: GrownHeapSpace[] }
  collections: { boundedMaps: GrownBoundedMap[]; handles: CensusGrowth[] }
  /** What names the holder: the census' grown collections, allocation sites only, or nothing. */
  evidence: 'census' | 'sites' | 'none'
  /** The census' grown collections, most entries gained first, like a pair report's suspects. */
  suspects: CensusSuspect[]
  /** The census passes compared (null with `census: false`), and what they did not reach. */
  census: {
    passes: { time: number; durationMs: number; cost: CensusCost }[]
    since: number
    until: number
    /** The stop taken to name the holders' scripts through the Debugger domain, in ms (0: none). */
    debuggerMs: number
    notReached: { what: string; why: string; count: number }[]
  } | null
  /** For a native leak: whether the census found collections over native handles (else where the memory is); null otherwise. */
  native: NativeVerdict | null
  lookedAt: string[]
  notLookedAt: { what: string; why: string }[]
}

/**
 * A named BoundedMap has just begun thrashing: full for three intervals, still used, evicting,
 * and its hit ratio over the last three intervals below half of what it was in the twelve
 * before (its working set outgrew it). Once per episode; the rule is in docs/watch.md.
 */
export interface CacheThrashingEvent extends WatchEventBase {
  type: 'cache-thrashing'
  /** The map's `name`. */
  name: string
  size: number
  /** Entry bound, or null when unbounded. */
  max: number | null
  bytes: number
  /** Byte bound, or null when unbounded. */
  maxBytes: number | null
  /** Hit ratio over the recent intervals. */
  hitRatio: number
  /** Hit ratio over the intervals before them. */
  earlierHitRatio: number
  /** Evictions since the map became full. */
  evictions: number
  /** When the map became full (epoch ms). */
  since: number
}

/**
 * Something the watcher tried failed; it goes on watching. Without an `error` listener this
 * becomes a process warning (`LEAKPROOF_WATCH_ERROR`), never a crash.
 */
export interface WatchErrorEvent extends WatchEventBase {
  type: 'error'
  during: string
  error: string
}

/** The leak detector of one thread; its events are listed in docs/watch.md#events. */
export declare class Watcher extends EventEmitter {
  /** The settings in force, defaults filled in. */
  readonly options: Required<Omit<WatchOptions, 'dir' | 'beforeSnapshot' | 'afterSnapshot'>> & WatchOptions
  /** Whether V8's near-heap-limit snapshot was armed, and where Node writes it. */
  readonly nearHeapLimit?: { armed: boolean; dir?: string; reason?: string }
  /** Counters. */
  stats(): { forcedGcs: number; majorGcsSeen: number; running: boolean }
  /** What the watcher sees and has done: each kind's floor and trend, counts, the newest events. */
  status(): WatcherStatus
  /**
   * Takes a heap snapshot on demand: the follow-up of the pair under way (its report
   * follows), else a new baseline. May pause past `snapshotMaxPauseMs`; the disk and memory
   * checks still apply. Throws `ERR_LEAKPROOF_SNAPSHOTS_OFF`, `ERR_LEAKPROOF_SNAPSHOT_IN_PROGRESS`,
   * `ERR_LEAKPROOF_SNAPSHOT_COOLDOWN` (with `retryAfterMs`) or `ERR_LEAKPROOF_WATCHER_STOPPED`.
   * @param requestedBy who asked, for the event. @default 'api'
   */
  snapshot(requestedBy?: string): SnapshotRequest
  /** The newest report: this watcher's last, else the newest report file in its `dir`, else null. */
  latestReport(): ReportEvent | null
  /**
   * The newest allocation-sampling profile (of the last heap leak's `sites` ranking, or kept
   * when the heap passed `heapThreshold`), or null before the first. Sampling stays on from
   * the first heap leak until `stop()`.
   */
  sitesProfile(): SitesProfile | null
  /** Stops everything the watcher started. Idempotent. */
  stop(): void
  on(event: 'sample', listener: (e: SampleEvent) => void): this
  on(event: 'leak', listener: (e: LeakEvent) => void): this
  on(event: 'threshold', listener: (e: ThresholdEvent) => void): this
  on(event: 'snapshot', listener: (e: SnapshotEvent & WatchEventBase) => void): this
  on(event: 'snapshot-skipped', listener: (e: SnapshotSkippedEvent) => void): this
  on(event: 'sites', listener: (e: SitesEvent) => void): this
  on(event: 'report', listener: (e: ReportEvent) => void): this
  on(event: 'cache-thrashing', listener: (e: CacheThrashingEvent) => void): this
  on(event: 'error', listener: (e: WatchErrorEvent) => void): this
  on(event: string | symbol, listener: (...args: any[]) => void): this
}

/**
 * Starts watching this thread's memory, or returns the running watcher when called
 * without options. Throws `ERR_LEAKPROOF_ALREADY_WATCHING` when one runs and options are given,
 * and `ERR_LEAKPROOF_NATIVE_UNAVAILABLE` where the native addon has no binary.
 * How it decides, options and events: docs/watch.md.
 */
export declare function watch(options?: WatchOptions): Watcher
/** Where an `analyzeSnapshot` / `diffSnapshots` call is, as passed to `onProgress`. */
export interface AnalyzeProgress {
  /** `'parse'` (reading the file), `'dominators'`, `'paths'` or `'summary'`. */
  phase: 'parse' | 'dominators' | 'paths' | 'summary'
  /** Which snapshot, from 0, when a diff reads several. */
  snapshot: number
  /** Work done in this phase: bytes read for `'parse'`, 0 for the others. */
  done: number
  /** Work in this phase: the file size for `'parse'`, 1 for the others. */
  total: number
}

/** Options of `analyzeSnapshot`. */
export interface AnalyzeSnapshotOptions {
  /**
   * How many of the largest objects, or in a diff of the suspects and grown collections, to
   * report with their paths. @default 10
   */
  top?: number
  /**
   * Called on the main thread as the work advances (about a hundred times while a big file is
   * read, once per later phase). Must not throw.
   */
  onProgress?: (progress: AnalyzeProgress) => void
}

/** Options of `diffSnapshots`. */
export interface DiffSnapshotsOptions extends AnalyzeSnapshotOptions {
  /**
   * A third snapshot, taken after `after`: only objects allocated between `before` and `after`
   * that are still alive in this one count as new, and paths are taken from it.
   */
  stillAliveIn?: string
  /**
   * How objects are matched between the snapshots: `'ids'` by V8 node id (snapshots of one
   * process; refused with `ERR_LEAKPROOF_SNAPSHOT_IDS_MISMATCH` when the ids name other
   * objects), `'paths'` by retainer path (snapshots of different processes of one program, such
   * as forked children), `'auto'` by id when the ids name the same objects, else by path.
   * By path, "new" objects are the net growth of each class. Anything else throws a TypeError
   * with `code` `ERR_LEAKPROOF_INVALID_OPTION`.
   * @default 'auto'
   */
  match?: 'ids' | 'paths' | 'auto'
}

/** Totals of one class of objects (DevTools' Summary view). */
export interface ClassSummary {
  /** DevTools' class name: the constructor for objects; `(closure)`, `(string)`, `(array)`, `(system)`... otherwise. */
  name: string
  /** Objects of the class. */
  count: number
  /** Sum of their own sizes, in bytes. */
  selfSize: number
  /** Sum of their retained sizes, in bytes; an instance inside another of its class counts once. */
  retainedSize: number
}

/**
 * The variable or property that holds an object, named as a person would fix it: found from
 * the object's references (a variable of the program's own modules and closures first), not
 * from its shortest path, which often runs through Node's timers or a server's listeners.
 */
export interface CodeHolder {
  /**
   * What reaches the object in code: `'cache'`, `'stats.requests'`, `'globalThis.leaks'`;
   * `''` when V8 gives the variable no name (the description then says whose scope holds it).
   */
  name: string
  /** The held object's class (`'Map'`), or `function NAME at FILE:LINE:COL`. */
  className: string
  /**
   * `'module'`: a module-level variable; `'closure'`: a variable of a function's scope;
   * `'global'`: a property of the global object; `'property'`: a property of an object whose
   * own holder could not be named.
   */
  kind: 'module' | 'closure' | 'global' | 'property'
  /**
   * For `kind: 'closure'`: the function whose scope holds the variable (`'makeTracker'`), when
   * the snapshot still has the function (V8 frees it once no closure of it is alive and no live
   * code refers to it, as for a factory called once at startup); `'(anonymous)'` for a function
   * without a name. Absent for the other kinds and for a block's scope.
   */
  function?: string
  /**
   * For `kind: 'closure'`: the closure that `line` and `column` locate: a closure of
   * `function` when one is alive, else one created inside the variable's scope (one created
   * directly in it first, then the first in the source). Absent for the other kinds: every
   * function of a module keeps the module's scope alive, and a heap snapshot does not say which
   * of them uses a variable.
   */
  closure?: string
  /** The script of the scope's code: the module's file, or the function's. */
  file?: string
  /** 1-based line of `closure`. */
  line?: number
  /** 1-based column of `closure` (V8 places a function at its parameter list). */
  column?: number
  /**
   * One line: `cache (Map), a module-level variable of /srv/app.js`, or `seen (Map), a
   * variable of makeTracker at /srv/app.js:37:21`.
   */
  description: string
}

/** An object that keeps much memory alive. */
export interface LargestObject {
  /** Class name, or `function NAME at FILE:LINE:COLUMN` for a function. */
  name: string
  /** Heap snapshot node id. */
  id: number
  /** Own size, in bytes. */
  selfSize: number
  /** Bytes that would be freed with it (DevTools' retained size). */
  retainedSize: number
  /** References from the GC roots. */
  distance: number
  /** Shortest path from the GC roots, e.g. `['(GC roots)', 'global', 'cache (Map)', 'table', 'Session']`. */
  retainerPath: string[]
  /**
   * The same path with Node's own machinery (timer lists, listeners, the module loader, the
   * global object) folded into its first step: `(Node internals: timers) → _idleNext (Timeout)
   * → _onTimeout (function … at /srv/app.js:9:30) → context → previous → cache (Map)`.
   */
  readablePath: string[]
  /** The variable or property that holds it, and where in the code; absent if none names it. */
  holder?: CodeHolder
}

/** What `analyzeSnapshot` reports. */
export interface SnapshotSummary {
  /** Heap objects. */
  nodes: number
  /** References. */
  edges: number
  /** Sum of all own sizes, in bytes. */
  totalSize: number
  /** Every class, most retained first. */
  classes: ClassSummary[]
  /** The `top` largest program objects by retained size. */
  largest: LargestObject[]
}

/** Size of one snapshot of a diff. */
export interface SnapshotTotals {
  /** Heap objects. */
  nodes: number
  /** References. */
  edges: number
  /** Sum of all own sizes, in bytes. */
  totalSize: number
}

/** New objects of one class. */
export interface NewObjects {
  /** Class name. */
  name: string
  /** New objects. */
  count: number
  /** Their own sizes, in bytes. */
  bytes: number
  /** Their retained size, in bytes. */
  retainedSize: number
}

/**
 * The object that keeps most of a suspect's new instances alive: the nearest dominator of each
 * instance that is not new itself (for entries of a grown Map, the Map, not its reallocated
 * table).
 */
export interface SuspectHolder {
  /** Its class, or `function NAME at FILE:LINE:COL`. */
  name: string
  /** Its node id. */
  id: number
  /** New instances of the suspect class it holds. */
  instances: number
}

/** A class of new objects that probably leaks, and what holds most of them. */
export interface LeakSuspect extends NewObjects {
  /** Node id of the instance whose path is shown. */
  id: number
  /**
   * Shortest path from the GC roots to `heldBy`, through program variables where possible,
   * then on to the instances it reaches first, the last step counting those at that depth:
   * `… → sessions (Map) → table → Object ×21,000`. Without `heldBy`: the path to the instance
   * retaining the most.
   */
  retainerPath: string[]
  /** What holds the most new instances; absent when they hang from the GC roots directly. */
  heldBy?: SuspectHolder
  /**
   * The same path with Node's own machinery (timer lists, listeners, the module loader, the
   * global object) folded into its first step: `(Node internals: timers) → _idleNext (Timeout)
   * → _onTimeout (function … at /srv/app.js:9:30) → context → previous → cache (Map)`.
   */
  readablePath: string[]
  /** The variable or property holding `heldBy` (else the instance shown), and where in the code; absent if none names it. */
  holder?: CodeHolder
  /**
   * Bytes of native memory the new instances retain: the snapshot's `native` objects (Node's
   * C++ objects such as a zlib stream's `Node / zlib_memory`, and ArrayBuffer contents). Part
   * of `retainedSize`.
   */
  nativeBytes: number
}

/** Native memory of one kind that a grown collection retains. */
export interface NativeMemoryKind {
  /** The snapshot's name for it: `'Node / zlib_memory'`, `'system / JSArrayBufferData'` (ArrayBuffer contents), `'Node / ZlibStream'`. */
  name: string
  /** Objects of the kind. */
  count: number
  /** Their bytes. */
  bytes: number
}

/** A `Map`, `Set`, `Array` or plain object holding more entries than in the first snapshot. */
export interface GrownCollection {
  /** `'Map'`, `'Set'`, `'Array'` or `'Object'`. */
  name: string
  /** Node id, the same in both snapshots. */
  id: number
  /** Entries in the first snapshot (references to heap values; a Map entry counts once). */
  before: number
  /** Entries in the last snapshot. */
  after: number
  /** Retained size in the last snapshot, in bytes. */
  retainedSize: number
  /** Shortest path from the GC roots in the last snapshot. */
  retainerPath: string[]
  /**
   * The same path with Node's own machinery (timer lists, listeners, the module loader, the
   * global object) folded into its first step: `(Node internals: timers) → _idleNext (Timeout)
   * → _onTimeout (function … at /srv/app.js:9:30) → context → previous → cache (Map)`.
   */
  readablePath: string[]
  /** The variable or property that holds it, and where in the code; absent if none names it. */
  holder?: CodeHolder
  /**
   * The most common class of what its entries hold in the last snapshot (of a Map's, the
   * values): `'Gzip'`, `'Buffer'`, `'Session'`, `'(string)'`; null when it holds none.
   */
  memberClass: string | null
  /**
   * Bytes of native memory it retains in the last snapshot: the snapshot's `native` objects
   * (Node's C++ objects such as a zlib stream's `Node / zlib_memory`, and ArrayBuffer
   * contents). Part of `retainedSize`.
   */
  nativeBytes: number
  /**
   * Matched by ids: the part of `nativeBytes` owned by objects (the nearest JavaScript object
   * above the native memory, such as a stream's handle or an ArrayBuffer) that existed in the
   * first snapshot, so `nativeBytes - nativeBytesBefore` is the native memory of new entries.
   * Matched by paths: null.
   */
  nativeBytesBefore: number | null
  /** The (up to 3) kinds of native memory holding the most of `nativeBytes`, most bytes first. */
  nativeKinds: NativeMemoryKind[]
}

/** What `diffSnapshots` reports. */
export interface SnapshotDiff {
  /** Size of each snapshot, in the order given. */
  snapshots: SnapshotTotals[]
  /** New objects (see `diffSnapshots`). */
  newCount: number
  /** Their own sizes, in bytes. */
  newBytes: number
  /** New objects by class, most bytes first. */
  newByClass: NewObjects[]
  /** The `top` program-level classes of new objects by retained size. */
  suspects: LeakSuspect[]
  /**
   * The `top` collections by the bytes their new entries hold (retained size times the share
   * of entries that are new), most first.
   */
  grownCollections: GrownCollection[]
  /**
   * How the snapshots were matched. `'paths'`: `newCount`, `newBytes` and `newByClass` are the
   * net growth of each class, not new objects, and a grown collection's `before`, `after` and
   * `retainedSize` cover every collection with its retainer path (docs/analyze.md).
   */
  matchedBy: 'ids' | 'paths'
}

/**
 * Reads a `.heapsnapshot` on a libuv worker thread (the event loop keeps running) and reports
 * its classes and largest objects. Rejects with `code` `ERR_LEAKPROOF_SNAPSHOT_IO`,
 * `_TRUNCATED`, `_MALFORMED` or `_UNSUPPORTED` and the byte `offset` for bad files, and with
 * `ERR_LEAKPROOF_INVALID_OPTION` / `ERR_LEAKPROOF_UNKNOWN_OPTION` for bad options, and
 * `ERR_LEAKPROOF_NATIVE_UNAVAILABLE` where the native addon has no binary.
 * Output fields and errors: docs/analyze.md.
 */
export declare function analyzeSnapshot(
  file: string,
  options?: AnalyzeSnapshotOptions,
): Promise<SnapshotSummary>

/**
 * Diffs two snapshots off the main thread: objects in `after` that were not in `before`,
 * grouped by class, the likely leaks with the path that holds them, and the collections that
 * grew. Snapshots of one process are matched by node id; by default (`match: 'auto'`) those
 * whose ids name other objects (of two processes, or V8's object ids cleared in between) are
 * matched by retainer path instead, and `matchedBy` says which. Errors as `analyzeSnapshot`,
 * with `err.file` naming the file, and, with `match: 'ids'`,
 * `ERR_LEAKPROOF_SNAPSHOT_IDS_MISMATCH` when the ids of the two snapshots name different
 * objects (closing an inspector session that enabled the HeapProfiler domain clears them).
 */
export declare function diffSnapshots(
  before: string,
  after: string,
  options?: DiffSnapshotsOptions,
): Promise<SnapshotDiff>
/** Anything whose listeners can be tracked. */
export type Emitter = EventEmitter | EventTarget

/** Options of `trackEmitter`. */
export interface TrackEmitterOptions {
  /** The emitter's name in reports. @default its constructor's name, with the address for sockets and servers */
  name?: string
  /**
   * A `listener-leak` is reported when one call site has more than this many listeners on
   * one event of the emitter, then each time that count grows by half again.
   * @default 10 (node's default max listeners)
   */
  threshold?: number
  /**
   * A listener is attributed to its call site (a stack capture: a few microseconds) only
   * when its event then holds at least this many listeners on the emitter; listeners below
   * are counted by node only, and are not in `listenerSites`, the census or reports.
   * `1` attributes every listener.
   * @default 1
   */
  captureFrom?: number
  /**
   * `'all'`: every listener from the `captureFrom`th on gets a stack. `'growth'`: only one
   * that raises its event to a new peak (the peak falls back once the count halves): a leak
   * is growth, and add/remove churn below the peak then costs no stack; listeners re-added
   * below the peak are not attributed.
   * @default 'all'
   */
  sites?: 'growth' | 'all'
}

/** Options of `trackListeners`. */
export interface TrackListenersOptions {
  /** As in `trackEmitter`. @default 10 */
  threshold?: number
  /**
   * As in `trackEmitter`; the default skips the stack of a listener alone on its event,
   * which cannot be a leak and is most of the listeners in a process.
   * @default 2
   */
  captureFrom?: number
  /** As in `trackEmitter`. @default 'growth' */
  sites?: 'growth' | 'all'
}

/** One `listener-leak` report. */
export interface ListenerLeak {
  /** The emitter's name (`name` option, else constructor and address, e.g. `'Socket 10.0.0.5:5432'`). */
  emitter: string
  /** The event name. */
  event: string | symbol
  /** `file:line:column` of the code that added the listeners. */
  site: string
  /** Listeners from this site still attached to this event of this emitter. */
  count: number
  /** Listeners added at this site since its previous report (all of them at the first). */
  growth: number
  /** The emitter itself. */
  target: Emitter
}

/** Events of `listenerLeaks`. */
export interface ListenerLeakEvents {
  'listener-leak': [leak: ListenerLeak]
}

/**
 * Where `listener-leak` reports are emitted, on the tick after the `on()` that made them
 * due. With no `'listener-leak'` handler, each report is a process warning with code
 * `LEAKPROOF_LISTENER_LEAK` instead.
 */
export declare const listenerLeaks: EventEmitter<ListenerLeakEvents>

/** A process-wide tracker. */
export interface Tracker {
  /** Stops tracking: puts back the very functions that were replaced and forgets what was recorded. */
  untrack(): void
}

/** The process-wide listener tracker, with the settings it runs with. */
export interface ListenerTracker extends Tracker {
  /** The `threshold` in use. */
  readonly threshold: number
  /** The `captureFrom` in use. */
  readonly captureFrom: number
  /** The `sites` in use. */
  readonly sites: 'growth' | 'all'
}

/**
 * Tracks the listeners of one EventEmitter or EventTarget by the call site that added them
 * (the first frame outside node internals and leakproof) and reports `listener-leak`s on
 * `listenerLeaks`. Every way of removing a listener uncounts it. Installs non-enumerable
 * stand-ins for the add/remove methods on the instance; `untrackEmitter` removes them.
 * Throws `ERR_LEAKPROOF_INVALID_ARGUMENT` for anything else than an emitter. Returns `emitter`.
 */
export declare function trackEmitter<T extends Emitter>(emitter: T, options?: TrackEmitterOptions): T

/** Stops tracking an emitter given to `trackEmitter`; its own properties are as before. */
export declare function untrackEmitter(emitter: Emitter): void

/** Listeners of one site on one event of a tracked emitter. */
export interface ListenerSite {
  /** The event name. */
  event: string | symbol
  /** `file:line:column`. */
  site: string
  /** Listeners from this site still attached. */
  count: number
}

/** The live listeners of a tracked emitter that have a site, by event and site, most first; `[]` if untracked. */
export declare function listenerSites(emitter: Emitter): ListenerSite[]

/**
 * Tracks every EventEmitter and EventTarget in the process by patching
 * `EventEmitter.prototype` (`on`, `addListener`, `prependListener`, `off`, `removeListener`,
 * `removeAllListeners`; `once` and `prependOnceListener` go through them) and
 * `EventTarget.prototype` (`addEventListener`, `removeEventListener`). While a tracker is
 * active, calling again returns it.
 */
export declare function trackListeners(options?: TrackListenersOptions): ListenerTracker

/**
 * For the register preload: `trackListeners()` when `LEAKPROOF_TRACK_LISTENERS` is `1` or
 * `true` in `env`, else null.
 * @param env @default process.env
 */
export declare function trackListenersFromEnv(env?: NodeJS.ProcessEnv): ListenerTracker | null

/**
 * Tracks `setTimeout` and `setInterval` timers made from now on (on `globalThis` and the
 * `timers` module) by creation site. A stack per timer: meant for diagnosis.
 */
export declare function trackTimers(): Tracker

/**
 * Tracks promises made from now on until they settle, through an async_hooks hook enabled
 * only while tracking. Costly (node's promise hooks and a stack per promise): for diagnosis.
 */
export declare function trackPromises(): Tracker

/** Live listeners from one site on one event, over every emitter that site added to. */
export interface ListenerGroup {
  kind: 'listener'
  /** `file:line:column`. */
  site: string
  /** The event name. */
  event: string | symbol
  /** Listeners alive. */
  count: number
  /** How many emitters hold them. */
  emitters: number
  /** Name of the emitter holding the most. */
  emitter: string
}

/** Live timers, or pending promises, from one site. */
export interface HandleGroup {
  /** `'interval'`: never cleared; `'timeout'`: not fired yet; `'promise'`: not settled. */
  kind: 'interval' | 'timeout' | 'promise'
  /** `file:line:column`. */
  site: string
  /** How many are alive. */
  count: number
}

/** What is alive, by creation site, each list most first. */
export interface Census {
  /** `Date.now()` when it was taken. */
  time: number
  /** Listeners of tracked emitters whose site was captured. */
  listeners: ListenerGroup[]
  /** Intervals never cleared (`trackTimers`). */
  intervals: HandleGroup[]
  /** Timeouts not fired yet (`trackTimers`). */
  timeouts: HandleGroup[]
  /** Promises never settled (`trackPromises`). */
  promises: HandleGroup[]
}

/** Takes a census of what the active trackers recorded. */
export declare function census(): Census

/** One group that grew between two censuses. */
export interface CensusGrowth {
  kind: 'listener' | 'interval' | 'timeout' | 'promise'
  /** `file:line:column`. */
  site: string
  /** For listeners: the event name. */
  event?: string | symbol
  /** For listeners: the emitter holding the most. */
  emitter?: string
  /**
   * For listeners: how many emitters hold them in the later census. One emitter holding
   * many is a listener leak; many emitters holding one each is emitters piling up (or not
   * yet collected: take censuses after a GC to tell).
   */
  emitters?: number
  /** Count in the earlier census. */
  before: number
  /** Count in the later census. */
  after: number
  /** `after - before`, always > 0. */
  growth: number
}

/** The groups that grew from `before` to `after`, most growth first. */
export declare function compareCensus(before: Census, after: Census): CensusGrowth[]

/**
 * The `limit` sites that grew most since the previous call of this function (since tracking
 * started, on the first call). The watcher's reports keep a baseline of their own.
 * @param limit @default 10
 */
export declare function topGrowingSites(limit?: number): CensusGrowth[]

/** What `writeReport` wrote. */
export interface WrittenReport {
  /** The page's absolute path. */
  path: string
  /** Its size in bytes. */
  bytes: number
  /** Processes (pid, thread) drawn on it. */
  processes: number
  /** What the reader of the directory noticed: files skipped, lines unreadable, timelines downsampled. */
  notes: string[]
}

/**
 * Writes one self-contained HTML page of what a watcher left in `dir` (its event log, its
 * reports, the names and sizes of its snapshots): the memory timeline per process, the
 * leaks, the snapshots and the suspects with their holders. Rejects with
 * `ERR_LEAKPROOF_REPORT_DIR` when `dir` is not a readable directory. docs/report.md.
 * @param options `out`: where to write it. @default `<dir>/leakproof-report.html`
 */
export declare function writeReport(dir: string, options?: { out?: string }): Promise<WrittenReport>

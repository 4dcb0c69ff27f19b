// Types of `watch()`: its options, its status and the `Watcher` with every event it emits; index.d.ts exports them all.
import { EventEmitter } from 'node:events'
import type { HeapLimitSnapshotEvent, SnapshotCostPrediction, SnapshotEvent, SnapshotRequest, SnapshotSkippedEvent } from '../capture/types'
import type { ReportEvent } from '../diagnose/types'
import type { SitesEvent, SitesProfile } from '../sites/types'
import type { RestartDueEvent, RestartExitEvent, RestartOptions } from '../mitigate/types'
import type { CacheThrashingEvent, MemoryPressureEvent, LeakEvent, SampleEvent, ThresholdEvent, WatchErrorEvent, WatchEventBase } from './events'
import type * as Binding from '../../binding'

/** Options of `watch()`; every one has a default (docs/watch.md#options). */
export interface WatchOptions {
  /** How often a floor is taken and RSS is read, in ms. @default 10000 */
  intervalMs?: number
  /**
   * No leak is reported before this many ms, and growth must go on after it. Left unset, the
   * warm-up of a leak that would reach the limit within hours ends sooner, once the service
   * serves HTTP at a level rate (docs/watch.md, "Warm-up"). @default 60000
   */
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
  /**
   * The main thread's watcher also watches every worker thread whose own watcher does not run
   * (pools that block their workers between tasks, workers without the preload). @default true
   */
  threads?: boolean
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
  /**
   * Free memory needed to write a snapshot, as a multiple of its predicted file size (plus the live heap when a forked
   * child writes it). Unset, V8's snapshot graph is predicted (6.5 × the predicted file + 64 MiB) and learned from each
   * child's measured peak. @default measured
   */
  snapshotMemoryFactor?: number
  /** Growth of a leaking kind (heap, external or native, by its floors) after the baseline snapshot that triggers the follow-up. @default 16 MiB */
  followUpGrowthBytes?: number
  /**
   * A heap snapshot near the heap limit, into `dir`: V8's own, as the process dies, where Node's
   * diagnostic directory (`--diagnostic-dir`) is inside `dir`; else the watcher's, once the heap
   * is projected to pass `heapThreshold` soon. See `Watcher#nearHeapLimit`. @default true
   */
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
  /**
   * The default of every BoundedMap's `shrinkUnderPressure` on this thread: `true` (half its
   * bounds kept under pressure), a share kept in (0, 1), or `false`. @default false
   */
  shrinkMaps?: boolean | number
  /**
   * Maps that shrink under pressure shrink when the heap floor passes this share of the heap
   * limit, or RSS of the container limit (or a leak is urgent), in (0, 1]. @default 0.7
   */
  pressureShare?: number
  /**
   * The least time maps stay shrunk, in ms; doubled (up to an hour) when pressure comes back
   * within two holds of its end. @default 60000
   */
  pressureHoldMs?: number
  /**
   * Leave gracefully before a leak reaches its limit, once its evidence is written: `true`, or
   * the restart policy's options (docs/mitigate.md). Main thread only. @default off
   */
  restart?: boolean | RestartOptions
}

/**
 * One memory kind as the detector sees it now (`Watcher#status()`): the native thread's trend
 * (`Trend`), but for the heap and `external` the floor (`floorBytes`, `floorAt`) is the
 * newest the watcher sampled (the thread takes each a moment later).
 */
export type MemoryTrend = Binding.Trend

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
  /**
   * For each kind that leaks now, the holder its reports named, as a label the same on every
   * instance running the same code (docs/metrics.md, "The holder"): `holder` its path and class,
   * `site` its file (`''` when none), `share` of the leak it explains (null when not
   * measured), and the newest report that named it (`time`, `path`).
   */
  leakHolders: { kind: 'heap' | 'external' | 'native'; holder: string; site: string; share: number | null; time: number; path: string | null }[]
  /** Full GCs the watcher forced, and the seconds they stopped the thread (what `gcBudget` bounds). */
  forcedGc: { count: number; seconds: number }
  /** Whether the restart policy is on, and the restart due (null until one is). */
  /** `due.timeLeftMs`: the time left now before the limit, by the kind's newest trend. */
  restart: { on: boolean; due: { dueAt: number; kind: string; limitAt: number; timeLeftMs: number } | null }
  /** The worker threads the main thread's watcher sees (empty in a worker, or with `threads: false`): each one's newest heap and floor, and whether it leaks. */
  threads: Array<import('./events').ThreadInfo & {
    heapUsed: number | null
    floorBytes: number | null
    leaking: boolean
    /** While it leaks, the holder its reports named, as in `leakHolders`; else null. */
    holder: Omit<WatcherStatus['leakHolders'][number], 'kind'> | null
  }>
}

/** The leak detector of one thread; its events are listed in docs/watch.md#events. */
export declare class Watcher extends EventEmitter {
  /** The settings in force, defaults filled in. */
  readonly options: Required<Omit<WatchOptions, 'dir' | 'beforeSnapshot' | 'afterSnapshot' | 'restart'>> & Omit<WatchOptions, 'restart'> & { restart: Required<Omit<RestartOptions, 'beforeRestart'>> & Pick<RestartOptions, 'beforeRestart'> | null }
  /**
   * Who writes the snapshot near the heap limit (with `dir` and snapshots on), and what an
   * earlier life left in Node's diagnostic directory: moved into `dir` (`adopted`) or deleted
   * as partial (`removed`).
   */
  readonly nearHeapLimit?: {
    /** Whether V8's writer is armed: only where `dir` (below) is inside the watcher's `dir` and the snapshot of a full heap fits in memory. */
    armed: boolean
    /**
     * `'v8'`: V8 writes it in-process as the process dies, into `dir` (below); `'leakproof'`: the
     * watcher writes it into its `dir` once the heap is projected to pass `heapThreshold` soon
     * (in-process where its pause fits, else by a forked child); null with `nearHeapLimit: false`.
     */
    writer: 'v8' | 'leakproof' | null
    /** Node's diagnostic directory: `--diagnostic-dir`, else the working directory. */
    dir: string
    /** Why V8's writer is not armed: it would write outside `dir` (and how to point it there), `memory: …`, `nearHeapLimit: false`. */
    reason?: string
    adopted: Array<{ path: string; from: string; bytes: number; writtenAt: number; writerPid: number }>
    removed: Array<{ from: string; why: string }>
  }
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
  on(event: 'heap-limit-snapshot', listener: (e: HeapLimitSnapshotEvent) => void): this
  on(event: 'sites', listener: (e: SitesEvent) => void): this
  on(event: 'report', listener: (e: ReportEvent) => void): this
  on(event: 'cache-thrashing', listener: (e: CacheThrashingEvent) => void): this
  on(event: 'memory-pressure', listener: (e: MemoryPressureEvent) => void): this
  on(event: 'restart-due', listener: (e: RestartDueEvent) => void): this
  on(event: 'restart-exit', listener: (e: RestartExitEvent) => void): this
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

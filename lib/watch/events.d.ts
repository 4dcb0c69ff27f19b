// Types of the watcher's detection events, and the fields every watcher event has; index.d.ts exports them all.
// The native detector's events (leak, RSS threshold) are typed by the binding, generated from the Rust (binding.d.ts).
import type * as Binding from '../../binding'

/** Fields every watcher event has. */
export interface WatchEventBase {
  /** The event's name. */
  type: string
  /** Epoch milliseconds. */
  time: number
  /** The process. */
  pid: number
  /** The thread the event is about (0 for the main thread). */
  threadId: number
  /**
   * On the events about a worker thread: who it is, and which watcher judged it (docs/watch.md#worker-threads).
   * Absent on the main thread's own events.
   */
  thread?: ThreadInfo
}

/** A worker thread, as the events and reports about it name it. */
export interface ThreadInfo {
  threadId: number
  /** The `name` it was started with, where Node says (24 and later); else null. */
  name: string | null
  /** The file it runs (a pool's own worker file, for a pool); null where not known. */
  script: string | null
  /** The package that started it (`'piscina'`, `'tinypool'`, `'workerpool'`, …); null for the app's own. */
  pool: string | null
  /** `'self'`: its own watcher (the preload, its event loop running); `'main'`: the main thread's, through the inspector. */
  watchedFrom: 'self' | 'main'
}

/** One floor per interval. */
export interface SampleEvent extends WatchEventBase {
  type: 'sample'
  /** The heap floor, in bytes. */
  heapUsed: number
  /** The floor of external memory, in bytes (null for a worker watched from the main thread, which reads only its heap): live Buffers and ArrayBuffers (`arrayBuffers` once V8 freed the dead ones), plus the rest of `external`. */
  external: number | null
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
   * Why it did: `first-floors` (none yet for the first two floors), `quiet` (no full GC
   * for `forceGcAfterMs`; an incremental GC) or `suspected-growth` (the floors hint at
   * growth, in a bounded run); the first and the last are atomic where the pause predicted
   * fits 250 ms, incremental otherwise; null if it did not.
   */
  forcedGcReason: 'first-floors' | 'quiet' | 'suspected-growth' | null
  /** Time from the watcher's request until its forced GC was done; 0 if none. */
  gcDurationMs: number
  /** Time its forced GC stopped the thread (an incremental one marks mostly beside it): what `gcBudget` counts; 0 if none. */
  gcPauseMs: number
  /** Whether BoundedMaps were still filling up, so growth was recorded but not judged. */
  cachesFilling: boolean
  /**
   * The work since the floor before, which the detector's slow scales weigh (a rise that
   * comes with more load is judged once the load levels off): CPU seconds the thread used a
   * second, and the HTTP requests its servers finished a second (null until it served one).
   * Null when no time passed.
   */
  load: Binding.Load | null
}

/** A leak, new or worse than last reported: the native detector's `Leak`, whose docs are its fields', with the fields every event has. */
export interface LeakEvent extends WatchEventBase, Binding.Leak {
  type: 'leak'
}

/** The time scales the detector judges, shortest first. */
export type LeakScale = Binding.ScaleName

/**
 * The heap or RSS passed its threshold. RSS: the native thread's event (`RssThreshold`),
 * `time` when it read RSS. Heap: decided by the watcher in JS on each floor, with the same
 * fields, `current` the heap floor and `limit` the heap's.
 */
export interface ThresholdEvent extends WatchEventBase, Binding.RssThreshold {
  type: 'threshold'
  kind: 'heap' | 'rss'
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
 * BoundedMaps that shrink under memory pressure shrank (`'shrink'`), or may grow back
 * (`'restore'`). Once per change; the rule is in docs/cache.md#memory-pressure.
 */
export interface MemoryPressureEvent extends WatchEventBase {
  type: 'memory-pressure'
  state: 'shrink' | 'restore'
  /** What brought the pressure (`'heap'`, `'rss'` or `'urgent-leak'`); null for `'restore'`. */
  reason: 'heap' | 'rss' | 'urgent-leak' | null
  /** The share of its limit the memory used at the newest floor (the larger of heap and RSS), null before the first. */
  usage: number | null
  /** The named maps that changed (at most 50): the share of their bounds each keeps under pressure, its size now, and the entries it evicted. */
  maps: Array<{ name: string; keepShare: number; size: number; evicted: number }>
  /** Every map that changed, named or not. */
  mapsChanged: number
  /** Entries evicted, over every map. */
  evicted: number
}

/**
 * Something the watcher tried failed; it goes on watching. Without an `error` listener this
 * becomes a process warning (`LEAKPROOF_WATCH_ERROR`), never a crash.
 */
export interface WatchErrorEvent extends WatchEventBase {
  type: 'error'
  /** What failed: `'snapshot'`, `'report'`, `'diagnosis'`, `'afterSnapshot'`, … */
  during: string
  /** The error's message. */
  error: string
  /** With `during: 'report'`: the error's code (`ERR_LEAKPROOF_SNAPSHOT_TRUNCATED`, `ERR_LEAKPROOF_DIFF_PROCESS`, …), where it has one. */
  code?: string
  /** With `during: 'afterSnapshot'`: the snapshot the hook was given, which stays written. */
  path?: string
}

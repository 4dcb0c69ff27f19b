// Types of the watcher's heap snapshots: their events, predicted costs and requests on demand; index.d.ts exports them all.
import type { WatchEventBase } from '../watch/events'

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
  /** `'child'`: a forked child wrote it; `'in-process'`: this process did; `'worker'`: the worker thread it is of wrote it, asked by the main thread. */
  writer?: 'child' | 'in-process' | 'worker'
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
  /** A child's peak private memory: what it took from the machine (V8's snapshot graph, and the pages either side copied meanwhile). */
  childPeakPrivateBytes?: number
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

/** What `Watcher#snapshot()` returns: the write starts on the next turn of the event loop. */
export interface SnapshotRequest {
  id: string
  role: 'baseline' | 'follow-up'
  /** The `snapshot` or `snapshot-skipped` event's fields, once done; null if none was attempted. */
  done: Promise<(SnapshotEvent & WatchEventBase) | SnapshotSkippedEvent | null>
}

/**
 * V8's snapshot near the heap limit that an earlier life wrote into Node's diagnostic directory
 * (the working directory by default), moved into `dir` as the watcher started; or, partial
 * (its writer killed mid-write), deleted (`path: null`, `removed` says why).
 */
export interface HeapLimitSnapshotEvent extends WatchEventBase {
  type: 'heap-limit-snapshot'
  /** Where it is now, in `dir`: `leakproof-<its time>-<writer pid>-<thread>-near-heap-limit.heapsnapshot`; null when deleted. */
  path: string | null
  /** Where Node wrote it. */
  from: string
  bytes: number | null
  /** When it was written (its modification time, epoch ms). */
  writtenAt: number | null
  /** The process that wrote it, now gone. */
  writerPid: number | null
  /** Why it was deleted instead (`partial: …`); null when moved. */
  removed: string | null
}

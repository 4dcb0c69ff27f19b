// Types of the restart policy (docs/mitigate.md): its options, its events, readiness and the cluster coordinator; index.d.ts exports them all.
import type { WatchEventBase, LeakEvent } from '../watch/events'

/** Options of the restart policy: `watch({ restart: { ... } })` (`restart: true` takes every default). */
export interface RestartOptions {
  /** Restart when a leak that still grows would reach its limit (the heap's, or the container's) within this, in ms (over 0, up to 7 days). @default 900000 (15 min) */
  limitWithinMs?: number
  /** A process never restarts before it has run this long, in ms: restarts of one instance are at least this far apart. @default 300000 (5 min) */
  minIntervalMs?: number
  /** Readiness fails this long (ms) before connections stop being accepted: your probe's period × failure threshold, plus time for the balancer to follow. @default 35000 */
  readinessDelayMs?: number
  /** The longest in-flight requests (or `beforeRestart`) are waited for once connections stop being accepted, in ms (over 0); then the process exits. @default 30000 */
  drainTimeoutMs?: number
  /** The exit code (75, EX_TEMPFAIL). @default 75 */
  exitCode?: number
  /** Under `cluster`, the least time between one worker's exit and the next worker's restart, in ms, unless a worker's limit comes sooner (read by the primary). @default 60000 */
  clusterSpacingMs?: number
  /**
   * Your own shutdown (what leakproof cannot see: HTTP/2 and `net` servers, consumers), run
   * before the HTTP servers it sees stop accepting: awaited until `drainTimeoutMs` (then
   * `signal` aborts). If it throws, an `error` event follows; the servers seen are stopped and
   * drained in every case.
   */
  beforeRestart?: (info: { event: Omit<RestartDueEvent, 'type' | 'pid' | 'threadId'> & { time: number }; deadline: number; signal: AbortSignal }) => unknown
}

/** A restart is due: the process is leaving gracefully (docs/mitigate.md#what-happens-then). */
export interface RestartDueEvent extends WatchEventBase {
  type: 'restart-due'
  /** The leaking kind whose limit is nearest. */
  kind: 'heap' | 'external' | 'native'
  /** Its newest leak event. */
  leak: LeakEvent
  /** When, at its current slope, it reaches the nearest limit (epoch ms). */
  limitAt: number
  timeLeftMs: number
  /** The limit came too near to wait for `minIntervalMs` of uptime (it would have died first). */
  beforeMinInterval: boolean
  /**
   * What was written: paths still on disk. `settled` is false when the limit came too near to
   * wait for a report of this leak.
   */
  evidence: { settled: boolean; reports: string[]; snapshots: string[]; profiles: string[] }
  /** What will happen: `coordinated` when a cluster primary starts a replacement first. */
  plan: { readinessDelayMs: number; drainTimeoutMs: number; exitCode: number; coordinated: boolean }
}

/** The process is about to exit, after its drain. */
export interface RestartExitEvent extends WatchEventBase {
  type: 'restart-exit'
  exitCode: number
  /** What stopped new work: the servers seen, `beforeRestart`, or a cluster primary's disconnect of its workers. */
  stoppedBy: 'servers' | 'beforeRestart' | 'cluster'
  /** What became of `beforeRestart`, or null without one. */
  beforeRestart: 'resolved' | 'threw' | 'deadline' | null
  /** Every connection ended before the deadline (else the rest were closed). */
  drained: boolean
  drainMs: number
  /** A SIGTERM came while leaving (it ended the readiness delay, not the process). */
  sigterm: boolean
  /**
   * The margin it left with: the limit's time by the newest trend of the kind (by the
   * projection it was due on once the trend stopped leaking), the time left to it, the bytes
   * the leak adds in that time at its slope (null once it stopped), and the evidence written
   * since start still on disk (what was written while leaving included), with `lost`, the
   * reports and snapshots `restart-due` listed that are gone (a sampling profile is replaced by
   * the newer ones the process writes).
   */
  margin: {
    limitAt: number
    timeLeftMs: number
    bytesLeft: number | null
    evidence: { reports: string[]; snapshots: string[]; profiles: string[]; lost: string[] }
  }
}

/** What readiness says and why (`readiness()`). */
export interface Readiness {
  ready: boolean
  /** `serving`; `restart-due` (readiness fails, or, in a coordinated cluster worker, waits for its replacement); `draining`. */
  state: 'serving' | 'restart-due' | 'draining'
  /** When the state began (epoch ms); null while serving. */
  since: number | null
  /** The leaking kind that made the restart due; null while serving. */
  kind: string | null
}

/** `true` while this process should get traffic; `false` once a restart is due (docs/mitigate.md#readiness). */
export declare function ready(): boolean

/** Readiness, and why. */
export declare function readiness(): Readiness

/** A cluster primary's restart coordinator. */
export interface RestartCoordinator {
  /** The least time between one worker's exit and the next worker's restart, in ms. */
  spacingMs: number
  /** Workers waiting for their turn. */
  readonly queued: number
  /** The pid of the worker restarting now, or null. */
  readonly restarting: number | null
  /** Stops coordinating. */
  stop(): void
}

/**
 * Makes this cluster primary coordinate its workers' restarts: a replacement first, one at a
 * time, `clusterSpacingMs` apart unless a limit comes sooner (the preload does it when `LEAKPROOF_RESTART` is on). Call it
 * before forking. Throws `ERR_LEAKPROOF_INVALID_ARGUMENT` outside a primary.
 */
export declare function coordinateRestarts(options?: { clusterSpacingMs?: number }): RestartCoordinator

'use strict'

/**
 * When a restart is due: the policy's judgement, from the watcher's events and the detector's
 * live trends, with no side effects (restart.js acts on it).
 *
 * A restart is due when, at once:
 * - a `leak` event of a kind was emitted (never on growth the detector did not report);
 * - that kind's trend still says `leaking` (a cache that levelled off, or growth that
 *   stopped, no longer does);
 * - its `limitAt`, the nearest limit at its current slope, is within `limitWithinMs`;
 * - the process has run `minIntervalMs` (so one instance restarts that rarely at most), or
 *   the limit is so near that waiting longer would leave no time to leave gracefully: a
 *   restart that saves the process from dying at its limit is never too soon (a leak that
 *   fast would end each life anyway, by a crash; the restart ends it gracefully, no more often);
 * - its evidence is settled: a `report` event came after the kind's first leak (not the
 *   census' report while a snapshot pair is under way: the pair's is still to come), or the
 *   limit is that near (the evidence could not be written in time).
 * "That near" is two exits away: the readiness delay (not for a cluster worker whose primary
 * coordinates restarts: it serves on until its turn) and the drain, twice, and 30 s at least.
 * Warm-up needs no rule of its own: the detector reports no leak during it.
 */

const { PAIR_PENDING } = require('../diagnose/diagnosis')

/** Evidence is waited for until the limit is this many exits away (readiness delay + drain). */
const EXITS_OF_MARGIN = 2

/**
 * ... and never closer to the limit than this, in ms: a pair of snapshots and its report of a
 * large heap take about this long, where the exit itself is short.
 */
const LEAST_MARGIN_MS = 30_000

class RestartPolicy {
  #settings
  #clock
  #processStartedAt
  #coordinated
  #firstLeakAt = new Map() // kind → time of its first leak event
  #newestLeak = new Map() // kind → its newest leak event
  #lastReportAt = -Infinity
  #reports = []
  #snapshots = []
  #profiles = []

  /**
   * @param {Record<string, any>} settings the restart options, checked and filled in
   *   (restart-options.js, `resolveRestart`).
   * @param {{ clock: import('../shared/clock').Clock, processStartedAt: number, coordinated?: boolean }} parts
   *   `processStartedAt`: when this process started, in the clock's epoch ms; `coordinated`:
   *   whether it is a cluster worker whose primary coordinates restarts (no readiness delay).
   */
  constructor(settings, { clock, processStartedAt, coordinated = false }) {
    this.#settings = settings
    this.#clock = clock
    this.#processStartedAt = processStartedAt
    this.#coordinated = coordinated
  }

  /** Notes what an emitted event says about leaks and their evidence. */
  note(event) {
    switch (event.type) {
      case 'leak':
        if (!this.#firstLeakAt.has(event.kind)) this.#firstLeakAt.set(event.kind, event.time)
        this.#newestLeak.set(event.kind, event)
        break
      case 'report':
        if (event.heapSnapshot?.why !== PAIR_PENDING) this.#lastReportAt = event.time
        addPaths(this.#reports, [event.path])
        addPaths(this.#snapshots, [event.baseline, event.followUp])
        break
      case 'snapshot':
      case 'heap-limit-snapshot':
        addPaths(this.#snapshots, [event.path])
        break
      case 'sites':
        addPaths(this.#profiles, [event.profile?.heapprofile, event.profile?.pprof])
        break
    }
  }

  /**
   * The restart due now, or null: `{ kind, leak, limitAt, timeLeftMs, beforeMinInterval,
   * evidence }`, where `beforeMinInterval` says the limit came too near to wait for
   * `minIntervalMs`, and `evidence` lists the paths written since start (`reports`,
   * `snapshots`, `profiles`) and whether a report came after the leak (`settled`; false when
   * the limit came too near to wait for one).
   * @param {ReadonlyArray<{ kind: string, leaking: boolean, limitAt?: number | null }>} trends
   */
  due(trends) {
    const now = this.#clock.now()
    const nearest = trends
      .filter((t) => t.leaking && this.#newestLeak.has(t.kind) && typeof t.limitAt === 'number')
      .reduce((a, b) => (a === null || b.limitAt < a.limitAt ? b : a), null)
    if (nearest === null) return null
    const timeLeftMs = Math.max(0, nearest.limitAt - now)
    if (timeLeftMs > this.#settings.limitWithinMs) return null
    const tooNear = timeLeftMs <= this.#lastMomentMs()
    const beforeMinInterval = now - this.#processStartedAt < this.#settings.minIntervalMs
    if (beforeMinInterval && !tooNear) return null
    const settled = this.#lastReportAt >= this.#firstLeakAt.get(nearest.kind)
    if (!settled && !tooNear) return null
    return {
      kind: nearest.kind,
      leak: this.#newestLeak.get(nearest.kind),
      limitAt: nearest.limitAt,
      timeLeftMs,
      beforeMinInterval,
      evidence: { settled, ...this.written() },
    }
  }

  /** The evidence written since start, as noted: `{ reports, snapshots, profiles }` (paths). */
  written() {
    return { reports: [...this.#reports], snapshots: [...this.#snapshots], profiles: [...this.#profiles] }
  }

  /**
   * How near the limit may come while the evidence and `minIntervalMs` are waited for: time
   * for a graceful exit, twice over. A coordinated cluster worker waits no readiness delay.
   */
  #lastMomentMs() {
    const { readinessDelayMs, drainTimeoutMs } = this.#settings
    const exitMs = (this.#coordinated ? 0 : readinessDelayMs) + drainTimeoutMs
    return Math.max(LEAST_MARGIN_MS, EXITS_OF_MARGIN * exitMs)
  }
}

/** Appends each string of `paths` not in `list` yet. */
function addPaths(list, paths) {
  for (const path of paths) if (typeof path === 'string' && !list.includes(path)) list.push(path)
}

module.exports = { RestartPolicy }

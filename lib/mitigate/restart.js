'use strict'

/**
 * The last resort: a graceful restart before a leak reaches its limit, once its evidence is
 * written (docs/mitigate.md). The watcher hands every event it emits to `note()` and asks
 * `check()` after each floor; restart-policy.js says when a restart is due. Then, in order:
 * 1. `restart-due` is emitted (event, diagnostics channel, metric) with the leak and the
 *    evidence's paths;
 * 2. readiness fails (readiness.js), and every response asks its client to close its
 *    connection; under a coordinating cluster primary, the worker instead serves on as before
 *    until its replacement listens;
 * 3. after `readinessDelayMs` (cut short by a SIGTERM), the user's `beforeRestart` runs (a
 *    cluster primary without one disconnects its workers, which drain theirs); then the HTTP
 *    servers leakproof sees stop accepting connections, and in-flight requests are waited for
 *    until `drainTimeoutMs`, whatever the hook did;
 * 4. `restart-exit` is emitted, with the margin really left (time and bytes to the limit by
 *    the newest trend, and the evidence still on disk), and the process exits with `exitCode`.
 * From the moment the restart is due, a SIGTERM no longer kills the process outright (when
 * the app has no SIGTERM listener of its own): it ends the readiness delay, and the drain
 * still finishes within its deadline.
 */
/** node:cluster (its types declare it as a default export, which CommonJS `require` does not see). */
const cluster = /** @type {import('node:cluster').Cluster} */ (/** @type {unknown} */ (require('node:cluster')))
const fs = require('node:fs')
const { RestartPolicy } = require('./restart-policy')
const { HttpServers } = require('./http-servers')
const { setReadiness } = require('./readiness')
const { coordinated, askTurn, leaveCluster } = require('./cluster')
const { untilDeadline } = require('./deadline')

/** One process's restart policy, armed by the watcher when `restart` is on. */
class Restart {
  #settings
  #emit
  #clock
  #policy
  #servers
  #due = null // the restart-due event's fields, once due
  #stopped = false
  #sigterm = null // resolves the readiness delay early
  #sigtermSeen = false
  #turn = null // a cluster worker's turn, while it waits for it (cluster.js's askTurn)
  #trends = [] // the newest trends judged

  /**
   * @param {Record<string, any>} settings the restart options, checked (restart-options.js).
   * @param {{ emit: (type: string, fields: object) => void, clock: import('../shared/clock').Clock }} parts
   */
  constructor(settings, { emit, clock }) {
    this.#settings = settings
    this.#emit = emit
    this.#clock = clock
    this.#servers = new HttpServers(clock)
    this.#policy = new RestartPolicy(settings, { clock, processStartedAt: clock.now() - process.uptime() * 1000, coordinated: coordinated() })
  }

  /** The state for `status()`: null until due, then `{ dueAt, kind, limitAt }`. */
  status() {
    return this.#due === null ? null : { dueAt: this.#due.time, kind: this.#due.kind, limitAt: this.#due.limitAt, timeLeftMs: this.#margin().timeLeftMs }
  }

  /** Notes an event the watcher emitted. */
  note(event) {
    this.#policy.note(event)
  }

  /**
   * Judges the trends now (after each floor, and each report); starts leaving when a restart
   * is due. Once due, a cluster worker waiting for its turn passes its limit's changes on.
   */
  check(trends) {
    if (this.#stopped) return
    this.#trends = trends
    if (this.#due !== null) return this.#limitNearer(trends)
    const due = this.#policy.due(trends)
    if (due === null) return
    const plan = { readinessDelayMs: this.#settings.readinessDelayMs, drainTimeoutMs: this.#settings.drainTimeoutMs, exitCode: this.#settings.exitCode, coordinated: coordinated() }
    const evidence = { ...due.evidence, reports: existing(due.evidence.reports), snapshots: existing(due.evidence.snapshots), profiles: existing(due.evidence.profiles) }
    this.#due = { time: this.#clock.now(), ...due, evidence, plan }
    this.#emit('restart-due', { ...due, evidence, plan })
    this.#leave(this.#due).catch((err) => {
      this.#emit('error', { error: err.message, during: 'restarting' })
      process.exit(this.#settings.exitCode)
    })
  }

  /**
   * Before the restart is due: stops looking (`watcher.stop()`). Once it is due, the process
   * is leaving (its readiness already failed) and goes on leaving.
   */
  stop() {
    if (this.#due !== null) return
    this.#stopped = true
    this.#servers.stop()
  }

  /**
   * Leaves, once the restart is `due`: readiness fails (or, under a coordinating primary, the
   * worker waits for its turn), the readiness delay, the servers stop accepting and drain until
   * `drainTimeoutMs`, then `restart-exit` and the exit.
   */
  async #leave(due) {
    const { readinessDelayMs, drainTimeoutMs, exitCode, beforeRestart } = this.#settings
    process.exitCode = exitCode
    this.#holdSigterm()
    if (due.plan.coordinated) {
      // Serving on as before while others restart: its connections close only once it drains.
      setReadiness('restart-due', { kind: due.kind, ready: true, now: this.#clock.now() })
      this.#turn = askTurn({ kind: due.kind, limitAt: due.limitAt, drainTimeoutMs })
      await this.#untilSigterm(this.#turn.go)
      this.#turn = null
    } else {
      setReadiness('restart-due', { kind: due.kind, now: this.#clock.now() })
      this.#servers.leaving()
      await this.#untilSigterm(new Promise((resolve) => setTimeout(resolve, readinessDelayMs)))
    }
    setReadiness('draining', { kind: due.kind, now: this.#clock.now() })
    const deadline = this.#clock.now() + drainTimeoutMs
    const { stoppedBy, hook } = await this.#stopAccepting(beforeRestart, due, deadline)
    const drained = await this.#servers.drain(deadline)
    const drainMs = drainTimeoutMs - Math.max(0, deadline - this.#clock.now())
    const margin = { ...this.#margin(), evidence: keptEvidence(due.evidence, this.#policy.written()) }
    this.#emit('restart-exit', { exitCode, stoppedBy, beforeRestart: hook, drained, drainMs, sigterm: this.#sigtermSeen, margin })
    leaveCluster(exitCode)
  }

  /**
   * Stops new work: the user's `beforeRestart` (awaited until the deadline), a cluster
   * primary's workers, or else the servers seen (which the caller drains in every case).
   * Returns `{ stoppedBy, hook }`: `hook` is what became of `beforeRestart` (`resolved`,
   * `threw`: the servers are closed after all, `deadline`: its `signal` is aborted), or null.
   */
  async #stopAccepting(beforeRestart, due, deadline) {
    if (beforeRestart !== undefined) {
      const controller = new AbortController()
      const hook = await untilDeadline(Promise.resolve().then(() => beforeRestart({ event: due, deadline, signal: controller.signal })), deadline, this.#clock).then(
        (finished) => (finished ? 'resolved' : 'deadline'),
        (err) => {
          this.#emit('error', { error: err?.message ?? String(err), during: 'beforeRestart (closing the HTTP servers leakproof sees instead)' })
          return 'threw'
        },
      )
      if (hook === 'deadline') controller.abort()
      return { stoppedBy: hook === 'threw' ? 'servers' : 'beforeRestart', hook }
    }
    if (cluster.isPrimary && Object.keys(cluster.workers ?? {}).length > 0) {
      await untilDeadline(new Promise((resolve) => cluster.disconnect(() => resolve(undefined))), deadline, this.#clock)
      return { stoppedBy: 'cluster', hook: null }
    }
    return { stoppedBy: 'servers', hook: null }
  }

  /**
   * What is left now before the due kind's limit: `{ limitAt, timeLeftMs, bytesLeft }`, by its
   * newest trend while it still leaks (else by the projection the restart was due on);
   * `bytesLeft`, what the leak adds at its slope in that time (null once it stopped).
   */
  #margin() {
    const trend = this.#trends.find((t) => t.kind === this.#due.kind && t.leaking && typeof t.limitAt === 'number')
    const limitAt = trend?.limitAt ?? this.#due.limitAt
    const timeLeftMs = Math.max(0, limitAt - this.#clock.now())
    const bytesLeft = trend === undefined ? null : Math.round((trend.slopeBytesPerSec * timeLeftMs) / 1000)
    return { limitAt, timeLeftMs, bytesLeft }
  }

  /** While a cluster worker waits for its turn: tells its primary when its leak's limit comes nearer. */
  #limitNearer(trends) {
    const limitAt = trends.find((t) => t.kind === this.#due.kind && t.leaking)?.limitAt
    if (typeof limitAt === 'number') this.#turn?.limitNearer(limitAt)
  }

  /** Waits for `wait` (the readiness delay, or a cluster worker's turn), or until a SIGTERM. */
  #untilSigterm(wait) {
    return Promise.race([wait, new Promise((resolve) => (this.#sigterm = resolve))])
  }

  /**
   * From now on a SIGTERM ends the readiness delay (or a cluster worker's wait for its turn)
   * instead of the process, unless the app listens for SIGTERM itself (its own shutdown then
   * runs as it would have).
   */
  #holdSigterm() {
    if (process.listenerCount('SIGTERM') > 0) return
    process.on('SIGTERM', () => {
      this.#sigtermSeen = true
      this.#sigterm?.(undefined)
    })
  }
}

/** The paths of `paths` still on disk (older snapshots may have been rotated away). */
function existing(paths) {
  return paths.filter((path) => fs.existsSync(path))
}

/**
 * The evidence at the exit: `{ reports, snapshots, profiles }` written since start (`written`,
 * those of the leaving time included: a snapshot the restart did not wait for) still on disk,
 * and `lost`, the reports and snapshots `restart-due` listed that are gone since. Not the
 * profiles: a newer sampling profile replaces an older one (each holds what was sampled since
 * sampling began and still lives), and the process's own rotation deletes the older.
 */
function keptEvidence(listedWhenDue, written) {
  const kept = { reports: existing(written.reports), snapshots: existing(written.snapshots), profiles: existing(written.profiles) }
  const lost = [...listedWhenDue.reports, ...listedWhenDue.snapshots].filter((path) => !kept.reports.includes(path) && !kept.snapshots.includes(path))
  return { ...kept, lost }
}

module.exports = { Restart }

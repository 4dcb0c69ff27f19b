'use strict'

/**
 * Restarts under `cluster`: the primary starts a leaking worker's replacement before it
 * leaves, and lets one worker restart at a time, at least `clusterSpacingMs` after the
 * last one left, so a leak in every worker never empties the cluster.
 *
 * The protocol, over the cluster's IPC channel (messages carry a `leakproof` field):
 * - the primary, once coordinating, sets `LEAKPROOF_RESTART_COORDINATOR` to its pid in its
 *   environment, which the workers it forks inherit: a worker knows its primary coordinates;
 * - worker → primary `{ leakproof: 'restart-due', kind, limitAt, drainTimeoutMs }` when its
 *   restart is due (`limitAt`: when its leak reaches its limit, epoch ms), and again while it
 *   waits whenever that limit comes nearer;
 * - the primary queues it, nearest limit first, forks a replacement when its turn comes, and
 *   once the replacement listens sends `{ leakproof: 'restart-go' }`; the worker drains and leaves through
 *   `cluster.worker.disconnect()`, so `worker.exitedAfterDisconnect` is true in the
 *   primary's `exit` event (a primary that re-forks every dead worker should check it);
 * - a replacement that exits or does not listen within `REPLACEMENT_TIMEOUT_MS` is given up,
 *   and the leaking worker's turn comes again after the spacing.
 * The spacing gives way to a worker whose limit would come before it could leave: its turn
 * comes at the latest `URGENT_MARGIN_MS` plus its drain before its `limitAt`. One worker still
 * restarts at a time.
 */
/** node:cluster (its types declare it as a default export, which CommonJS `require` does not see). */
const cluster = /** @type {import('node:cluster').Cluster} */ (/** @type {unknown} */ (require('node:cluster')))
const errors = require('../shared/errors')
const { OPTIONS } = require('./restart-options')
const { optionsTable } = require('../shared/options-table')

/** `coordinateRestarts()`'s one option, the restart policy's row for it. */
const COORDINATOR_OPTIONS = optionsTable(OPTIONS.ROWS.filter((row) => row.name === 'clusterSpacingMs'))

/** The variable by which workers know their primary coordinates restarts (its pid). */
const COORDINATOR_VARIABLE = 'LEAKPROOF_RESTART_COORDINATOR'

/** How long a replacement may take to listen, in ms, before it is given up. */
const REPLACEMENT_TIMEOUT_MS = 60_000

/** What a queued worker's turn leaves before its limit, beside its drain: time for its replacement to start, in ms. */
const URGENT_MARGIN_MS = 30_000

let coordinator = null

/**
 * Makes this cluster primary coordinate its workers' restarts (the preload does it when
 * `LEAKPROOF_RESTART` is on). Call it before forking the workers. Called again, it keeps the
 * one coordinator and takes the new spacing.
 * @param {{ clusterSpacingMs?: number }} [options]
 * @returns {{ stop(): void, spacingMs: number, readonly queued: number, readonly restarting: number | null }}
 */
function coordinateRestarts(options = {}) {
  if (!cluster.isPrimary) throw errors.codedError(Error, errors.CODES.INVALID_ARGUMENT, 'coordinateRestarts(): call it in the cluster primary')
  const { clusterSpacingMs } = COORDINATOR_OPTIONS.read('coordinateRestarts()', options)
  if (coordinator === null) coordinator = new Coordinator(clusterSpacingMs)
  else coordinator.spacingMs = clusterSpacingMs
  return coordinator
}

/** The primary's side: a queue of workers due, one restart at a time. */
class Coordinator {
  /** The least time between one worker's exit and the next worker's restart, in ms. */
  spacingMs
  #queue = [] // { worker, latestTurnAt } of workers whose restart is due, most urgent first
  #restarting = null // { worker, replacement }
  #lastLeftAt = -Infinity
  #wake = null
  #onMessage = (worker, message) => {
    if (message?.leakproof !== 'restart-due' || this.#restarting?.worker === worker) return
    // Asked again: the worker's limit came nearer, and with it its latest turn.
    const queued = this.#queue.find((q) => q.worker === worker)
    if (queued === undefined) this.#queue.push({ worker, latestTurnAt: latestTurnAt(message) })
    else queued.latestTurnAt = Math.min(queued.latestTurnAt, latestTurnAt(message))
    this.#next()
  }

  constructor(spacingMs) {
    this.spacingMs = spacingMs
    process.env[COORDINATOR_VARIABLE] = String(process.pid)
    cluster.on('message', this.#onMessage)
  }

  /** Workers waiting for their turn. */
  get queued() {
    return this.#queue.length
  }

  /** The pid of the worker restarting now, or null. */
  get restarting() {
    return this.#restarting?.worker.process.pid ?? null
  }

  /** Stops coordinating: workers forked from now on leave on their own. */
  stop() {
    cluster.off('message', this.#onMessage)
    delete process.env[COORDINATOR_VARIABLE]
    clearTimeout(this.#wake)
    coordinator = null
  }

  /** Starts the next restart when none is under way and the spacing (or the head's limit) allows. */
  #next() {
    if (this.#restarting !== null) return
    this.#queue = this.#queue.filter((q) => !q.worker.isDead()).sort((a, b) => a.latestTurnAt - b.latestTurnAt)
    const head = this.#queue.shift()
    if (head === undefined) return
    const now = Date.now()
    const wait = Math.min(this.#lastLeftAt + this.spacingMs, head.latestTurnAt) - now
    if (wait > 0) {
      this.#queue.unshift(head)
      clearTimeout(this.#wake)
      this.#wake = setTimeout(() => this.#next(), wait)
      this.#wake.unref()
      return
    }
    this.#replace(head)
  }

  /** Forks the queued worker's replacement; tells the worker to go once it listens. */
  #replace(queued) {
    const { worker } = queued
    const replacement = cluster.fork()
    const giveUp = () => {
      replacement.off('listening', listening)
      if (!replacement.isDead()) replacement.kill()
      this.#done(worker)
      if (!worker.isDead()) this.#queue.push(queued)
      this.#next()
    }
    const timer = setTimeout(giveUp, REPLACEMENT_TIMEOUT_MS)
    timer.unref()
    const listening = () => {
      clearTimeout(timer)
      replacement.off('exit', earlyExit)
      const left = () => {
        this.#done(worker)
        this.#next()
      }
      // A worker that died meanwhile (a crash) has its replacement already; one that
      // disconnected is on its way out (sending to it would be an 'error' on the worker).
      if (worker.isDead()) return left()
      worker.once('exit', left)
      if (worker.isConnected()) worker.send({ leakproof: 'restart-go' })
    }
    const earlyExit = () => {
      clearTimeout(timer)
      giveUp()
    }
    replacement.once('listening', listening)
    replacement.once('exit', earlyExit)
    this.#restarting = { worker, replacement }
  }

  #done(worker) {
    if (this.#restarting?.worker !== worker) return
    this.#restarting = null
    this.#lastLeftAt = Date.now()
  }
}

/** The latest a worker's turn may come, from its `restart-due` message (Infinity without a limit). */
function latestTurnAt({ limitAt, drainTimeoutMs }) {
  if (typeof limitAt !== 'number' || !Number.isFinite(limitAt)) return Infinity
  return limitAt - URGENT_MARGIN_MS - (typeof drainTimeoutMs === 'number' && drainTimeoutMs > 0 ? drainTimeoutMs : 0)
}

/** Whether this process is a cluster worker whose primary coordinates restarts. */
function coordinated() {
  return cluster.isWorker && process.env[COORDINATOR_VARIABLE] === String(process.ppid)
}

/**
 * The worker's side: tells the primary its restart is due (`limitAt`: when its leak reaches
 * its limit; `drainTimeoutMs`: how long it may drain). `go` resolves once the primary says go
 * (its replacement listens); meanwhile `limitNearer(limitAt)` tells the primary when the
 * leak's projected limit has come nearer (by a second or more). The IPC channel is not held
 * open meanwhile.
 * @param {{ kind: string, limitAt: number, drainTimeoutMs: number }} due
 * @returns {{ go: Promise<void>, limitNearer(limitAt: number): void }}
 */
function askTurn({ kind, limitAt, drainTimeoutMs }) {
  let latest = limitAt
  // A primary gone (its channel closed) cannot be told: sending would emit an error.
  const tell = () => process.connected && process.send?.({ leakproof: 'restart-due', kind, limitAt: latest, drainTimeoutMs })
  const go = new Promise((resolve) => {
    const onMessage = (message) => {
      if (message?.leakproof !== 'restart-go') return
      process.off('message', onMessage)
      resolve(undefined)
    }
    process.on('message', onMessage)
  })
  process.channel?.unref()
  tell()
  return {
    go,
    limitNearer(at) {
      if (!(at < latest - 1000)) return
      latest = at
      tell()
    },
  }
}

/** Leaves the cluster as a worker that chose to: the primary sees `exitedAfterDisconnect`. */
function leaveCluster(exitCode) {
  const exit = () => process.exit(exitCode)
  if (!cluster.isWorker || !process.connected) return exit()
  const timer = setTimeout(exit, 1000)
  cluster.worker.once('disconnect', () => {
    clearTimeout(timer)
    exit()
  })
  cluster.worker.disconnect()
}

module.exports = { coordinateRestarts, coordinated, askTurn, leaveCluster, COORDINATOR_VARIABLE, URGENT_MARGIN_MS }

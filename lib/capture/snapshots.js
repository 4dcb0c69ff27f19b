'use strict'

/**
 * Where a watcher's heap snapshots are written: `SnapshotStore`, one per directory, decides
 * whether a snapshot may be written now (cooldown, pause, disk and memory) and writes it, by a
 * forked child (child-snapshot.js) or in-process, as a complete file or none (snapshot-file.js);
 * `watcherSnapshotStore` makes the store from `watch()`'s options.
 */
const fs = require('node:fs')
const path = require('node:path')
const v8 = require('node:v8')
const errors = require('../shared/errors')
const { leakproofFiles, budgetedHere, totalBytes, makeRoom } = require('../shared/dir-budget')
const { bytesText } = require('../shared/bytes-text')
const { SYSTEM_CLOCK } = require('../shared/clock')
const { SUFFIXES, watcherFileName, tempName } = require('../shared/file-names')
const { heapWalks } = require('../shared/heap-walks')
const { endsAsCompleteJson, makeTemp, removeDeadWritersTemps, cleanupError, closeLeakedDescriptors } = require('./snapshot-file')
const { writeInChild, forkUnavailable } = require('./child-snapshot')
const { SnapshotMemory, availableMemoryBytes, memoryDetail } = require('./snapshot-memory')

/** Free disk needed, as a multiple of the snapshot's predicted size: the prediction is rough. */
const FREE_DISK_MARGIN = 1.2
/** Why snapshots are written in-process when the settings say so (a choice, not a failure to fork). */
const IN_PROCESS_CHOSEN = 'writer is in-process'
/**
 * Why a snapshot near the heap limit is written in-process where its pause is allowed. There
 * V8 collects the heap again and again, its helper threads always at work: of 12 such deaths
 * measured (a 64 MB heap, Node 20 and 24, roomy and in a 1 GiB cgroup) a forked child wrote
 * none, each still writing when its process died or exiting rather than wait for the threads
 * fork did not copy; written in-process when allowed, all 12 were.
 */
const NEAR_LIMIT_IN_PROCESS = 'the process is about to die at its heap limit, where forked children do not finish'

/**
 * Writes heap snapshots into one directory, safely:
 * - never half a file: written under a hidden temporary name (locked while written:
 *   snapshot-file.js), checked to end as a complete JSON document, then renamed (a reader
 *   sees all of it or nothing);
 * - private: the directory is created 0700 and every file is 0600 (a snapshot holds
 *   every secret in memory);
 * - bounded: at most `maxSnapshots` files and `maxDiskBytes` bytes, oldest deleted first
 *   (never the ones the caller asks to keep), per process: processes sharing the directory
 *   (a cluster's workers) each count their own files and those of processes gone, and never
 *   delete a live sibling's (`budgetedHere`): its pair and its restart's evidence stay whole;
 * - rate-limited by `cooldownMs` (but for a pair's follow-up);
 * - swept: the temporary files of writers killed mid-write are removed as soon as a store
 *   owns the directory, and again before each snapshot (see `#removeOrphans`);
 * - skipped, with a reason, when it would stop the event loop longer than the caller allows,
 *   or when the disk or the memory left is too small for it.
 *
 * With `writer: 'fork'` (where fork can be used, see child-snapshot.js) a forked child writes
 * each snapshot and the process stops only for fork(), so no pause budget applies; when no
 * child manages it, the snapshot is written in-process if its pause fits the budget.
 */
class SnapshotStore {
  #dir
  #maxSnapshots
  #maxDiskBytes
  #cooldownMs
  #memory
  #beforeSnapshot
  #forkUnavailable // why snapshots are written in-process: null when a child writes them
  #child = null // the child writing now, if any
  #stopped = false
  #lastWriteAt = -Infinity
  #sequence = 0
  #orphansRemoved = false
  #orphansTold = new Set() // the leftovers that could not be removed, told once each
  #sweepAgain = null // the timer of the next look at leftovers written too recently to judge
  #onError
  #clock

  /**
   * @param {object} options
   * @param {string} options.dir
   * @param {number} options.maxSnapshots
   * @param {number} options.maxDiskBytes
   * @param {number} options.cooldownMs
   * @param {number} [options.memoryFactor] free memory needed, as a multiple of the predicted file size (a
   *   child's check adds the live heap); unset, the need is predicted and learned (snapshot-memory.js).
   * @param {(info: object) => unknown} [options.beforeSnapshot]
   * @param {'fork' | 'in-process'} [options.writer] who writes: a forked child where it can, or this process.
   * @param {(error: Error, during: string) => void} [options.onError] told of what failed outside a capture
   *   (`during: 'cleanup'`: a leftover temporary file could not be removed). Default: a
   *   `LEAKPROOF_WATCH_ERROR` warning.
   * @param {import('../shared/clock').Clock} [options.clock] what time it is: the cooldown's, the files' names',
   *   a write's pause (`monotonic()`); the system's by default. Leftover files are judged by the
   *   file system's times, which are the system's.
   */
  constructor(options) {
    this.#dir = path.resolve(options.dir)
    this.#clock = options.clock ?? SYSTEM_CLOCK
    this.#maxSnapshots = options.maxSnapshots
    this.#maxDiskBytes = options.maxDiskBytes
    this.#cooldownMs = options.cooldownMs
    this.#memory = new SnapshotMemory({ factor: options.memoryFactor })
    this.#beforeSnapshot = options.beforeSnapshot ?? null
    this.#forkUnavailable = options.writer === 'fork' ? forkUnavailable() : IN_PROCESS_CHOSEN
    this.#onError = options.onError ?? ((error, during) => errors.warn(errors.WARNINGS.WATCH_ERROR, `leakproof watcher: ${during}: ${error.message}`))
    // On the next turn: the watcher starting is not held up, and its caller can listen for
    // errors first. A capture before then sweeps first.
    setImmediate(() => {
      if (!this.#orphansRemoved) this.#removeOrphans()
    })
  }

  /** No more snapshots: a child writing one is killed (its temporary file removed). */
  stop() {
    this.#stopped = true
    clearTimeout(this.#sweepAgain ?? undefined)
    this.#child?.cancel()
  }

  /** The directory snapshots go to. */
  get dir() {
    return this.#dir
  }

  /** Milliseconds until the cooldown lets a snapshot other than a follow-up be written (0: now). */
  cooldownLeftMs(now = this.#clock.now()) {
    return Math.max(0, Math.ceil(this.#cooldownMs - (now - this.#lastWriteAt)))
  }

  /** Our snapshot files in the directory, oldest first, with sizes. */
  list() {
    return leakproofFiles(this.#dir).filter((f) => f.kind === 'snapshot')
  }

  /**
   * Writes one snapshot unless it would be unsafe.
   * @param {string} reason why (e.g. `'leak'`, `'threshold'`, `'follow-up'`), recorded in the result.
   * @param {object} context
   * @param {number} context.heapUsed the live heap the snapshot will hold.
   * @param {{ bytes: number, pauseMs: number }} context.predicted its predicted file size and pause.
   * @param {number} context.maxPauseMs the longest pause allowed (Infinity: any).
   * @param {boolean} [context.followUp] a pair's second half: not held back by the cooldown.
   * @param {string[]} [context.keep] files not to delete for room.
   * @param {() => void} [context.onWrite] called just before V8 starts writing.
   * @param {boolean} [context.aboutToDie] the process is projected to die at its heap limit soon:
   *   written in-process where `maxPauseMs` allows, else by a child forked at once, and once (child-snapshot.js).
   * @returns {Promise<{ path: string, bytes: number, durationMs: number, liveHeapBytes: number, reason: string, predicted: object,
   *     writer?: 'child' | 'in-process', forkedAt?: number, childMs?: number, childPeakRssBytes?: number, attempts?: number,
   *     forkFailures?: string[], forkUnavailable?: string }
   *   | { skipped: string, reason: string, detail?: string, predicted: object, writer?: string, attempts?: number,
   *     forkFailures?: string[], forkUnavailable?: string }>}
   *   `writer: 'child'`: a forked child wrote it, `durationMs` is this process's stop for fork(),
   *   `childMs` the child's time; `forkUnavailable` says why this process wrote it itself.
   */
  async capture(reason, { heapUsed, predicted, maxPauseMs, followUp = false, keep = [], onWrite = () => {}, aboutToDie = false }) {
    const now = this.#clock.now()
    const refused = this.#refusal({ now, heapUsed, predicted, maxPauseMs, followUp, keep })
    if (refused !== null) return { ...skipped(reason, ...refused), predicted }
    const info = { reason, dir: this.#dir, predicted }
    if (this.#beforeSnapshot !== null) await this.#beforeSnapshot(info)
    const names = this.#names(reason, now)
    if (this.#forkUnavailable !== null) return { ...(await this.#writeHere(reason, now, names, onWrite)), predicted, writer: 'in-process', forkUnavailable: this.#forkUnavailable }
    if (aboutToDie && predicted.pauseMs <= maxPauseMs) return { ...this.#write(reason, now, names, onWrite), predicted, writer: 'in-process', forkUnavailable: NEAR_LIMIT_IN_PROCESS }
    const child = await this.#writeInChild(reason, now, names, predicted, aboutToDie)
    if (!('skipped' in child) || child.skipped !== 'fork-failed' || predicted.pauseMs > maxPauseMs) return { ...child, predicted }
    // No child managed it, and the pause fits the budget: in-process, saying why.
    return { ...(await this.#writeHere(reason, now, this.#names(reason, now), onWrite)), predicted, writer: 'in-process', forkFailures: child.forkFailures }
  }

  /**
   * `#write`, once no census pass of this heap is under way (heap-walks.js). (A process about
   * to die at its heap limit calls `#write` at once: a snapshot that shows a pass' frontier is
   * better than none.)
   */
  async #writeHere(reason, now, names, onWrite) {
    const walksMayBegin = await heapWalks.quietForSnapshot()
    try {
      return this.#write(reason, now, names, onWrite)
    } finally {
      walksMayBegin()
    }
  }

  /**
   * Writes one snapshot of a worker thread's heap, which `write(tempPath)` streams into the
   * file (created 0600 first), under the same checks as this thread's but the pause: the
   * worker stops for it, not this thread. Named with the worker's `threadId`; a write that
   * fails or ends short (the worker exited meanwhile) leaves nothing.
   * @param {string} reason why, recorded in the result.
   * @param {{ threadId: number, heapUsed: number, predicted: { bytes: number, pauseMs: number }, followUp?: boolean, keep?: string[],
   *   write: (tempPath: string) => Promise<void> }} job
   * @returns {Promise<{ path: string, bytes: number, durationMs: number, reason: string, predicted: object }
   *   | { skipped: string, reason: string, detail?: string, predicted: object }>} `durationMs`: the worker's write, start to end.
   */
  async captureThread(reason, { threadId: thread, heapUsed, predicted, followUp = false, keep = [], write }) {
    const now = this.#clock.now()
    const refused = this.#refusal({ now, heapUsed, predicted, maxPauseMs: Infinity, followUp, keep, child: false })
    if (refused !== null) return { ...skipped(reason, ...refused), predicted }
    const { finalPath, tempPath } = this.#names(reason, now, thread)
    this.#lastWriteAt = now
    const started = this.#clock.monotonic()
    let temp = null
    try {
      temp = makeTemp(tempPath)
      await write(tempPath)
      if (this.#stopped) throw new Error('the watcher stopped while the worker wrote')
      const bytes = fs.statSync(tempPath).size
      if (!endsAsCompleteJson(tempPath, bytes)) throw new Error('the snapshot was cut short (the worker exited, or the disk is full)')
      fs.renameSync(tempPath, finalPath)
      return { path: finalPath, bytes, durationMs: Math.round(this.#clock.monotonic() - started), reason, predicted }
    } catch (err) {
      if (temp !== null) fs.rmSync(tempPath, { force: true })
      return { ...skipped(reason, 'write-failed', err.message), predicted }
    } finally {
      temp?.close()
    }
  }

  /** The final and temporary names of the next snapshot (of thread `thread`, this one's by default). */
  #names(reason, now, thread = undefined) {
    const name = watcherFileName(now, { sequence: this.#sequence++, reason, suffix: SUFFIXES.snapshot, thread })
    return { finalPath: path.join(this.#dir, name), tempPath: path.join(this.#dir, tempName(name)) }
  }

  /**
   * Has a forked child write the snapshot (child-snapshot.js). The result's `durationMs`
   * is this process's pause, fork()'s; `childMs` the child's time. Counts for the cooldown.
   */
  async #writeInChild(reason, now, { finalPath, tempPath }, predicted, aboutToDie) {
    this.#lastWriteAt = now
    const written = await writeInChild({
      tempPath,
      finalPath,
      predictedPauseMs: predicted.pauseMs,
      aboutToDie,
      clock: this.#clock,
      onChild: (child) => {
        this.#child = child
        if (this.#stopped) child.cancel()
      },
    }).finally(() => {
      this.#child = null
    })
    const tries = { attempts: written.attempts, ...(written.failures.length > 0 ? { forkFailures: written.failures } : {}) }
    if ('skipped' in written) return { ...skipped(reason, written.skipped, written.detail), ...tries }
    const { bytes, liveHeapBytes, forkedAt, stopMs, childMs, childPeakRssBytes, childPeakPrivateBytes } = written
    this.#memory.learn({ fileBytes: bytes, peakPrivateBytes: childPeakPrivateBytes })
    return { path: finalPath, bytes, durationMs: Math.round(stopMs), liveHeapBytes, reason, writer: /** @type {'child'} */ ('child'), forkedAt, childMs, childPeakRssBytes, childPeakPrivateBytes, ...tries }
  }

  /**
   * Why this snapshot must not be written now, as `[why, detail]`, or null once there is
   * room for it (old files deleted, never `keep`'s).
   */
  #refusal({ now, heapUsed, predicted, maxPauseMs, followUp, keep, child = this.#forkUnavailable === null }) {
    if (!followUp && this.cooldownLeftMs(now) > 0) {
      return ['cooldown', `next snapshot allowed in ${this.cooldownLeftMs(now)} ms`]
    }
    try {
      fs.mkdirSync(this.#dir, { recursive: true, mode: 0o700 })
      fs.accessSync(this.#dir, fs.constants.W_OK)
    } catch (err) {
      return ['dir-not-writable', `${this.#dir}: ${err.code ?? err.message}`]
    }
    this.#removeOrphans()
    // A forked child's snapshot stops this process only for fork(); a failed fork falls back
    // to in-process only within the budget (capture()).
    if (this.#forkUnavailable !== null && predicted.pauseMs > maxPauseMs) return ['pause', pauseDetail(heapUsed, predicted, maxPauseMs, this.#forkUnavailable)]
    const estimate = predicted.bytes
    if (estimate > this.#maxDiskBytes) {
      return ['disk-budget', `a snapshot of this heap (${bytesText(heapUsed)} live) would take about ${bytesText(estimate)}; maxDiskBytes is ${bytesText(this.#maxDiskBytes)}`]
    }
    const freeDisk = freeDiskBytes(this.#dir)
    const needed = this.#memory.need({ fileBytes: predicted.bytes, liveHeapBytes: heapUsed, child })
    const freeMemory = availableMemoryBytes()
    if (!(freeMemory >= needed.bytes)) return ['memory', memoryDetail(needed, predicted, heapUsed, freeMemory)]
    if (!this.#makeRoom(estimate, new Set(keep.map((p) => path.resolve(p))))) {
      return ['disk-budget', `the files that must be kept leave no room under maxDiskBytes (${this.#maxDiskBytes})`]
    }
    if (freeDisk !== null && freeDisk < estimate * FREE_DISK_MARGIN) {
      return ['disk-full', `about ${estimate} bytes needed, ${freeDisk} free on the file system`]
    }
    return null
  }

  /**
   * Writes the snapshot under a temporary name, checks it, renames it into place; on
   * failure nothing is left, and the result says why. Counts for the cooldown either way.
   */
  #write(reason, now, { finalPath, tempPath }, onWrite) {
    const started = this.#clock.monotonic()
    let bytes
    let liveHeapBytes
    let temp = null
    onWrite()
    try {
      // Created private and locked before V8 writes into it.
      temp = makeTemp(tempPath)
      v8.writeHeapSnapshot(tempPath)
      // V8 collected all garbage first: the heap now is what the snapshot holds.
      liveHeapBytes = v8.getHeapStatistics().used_heap_size
      fs.chmodSync(tempPath, 0o600)
      bytes = fs.statSync(tempPath).size
      if (!endsAsCompleteJson(tempPath, bytes)) throw new Error('the snapshot was cut short (disk full?)')
      fs.renameSync(tempPath, finalPath)
      temp.close()
    } catch (err) {
      // Not made (it existed): not ours to remove.
      if (temp !== null) fs.rmSync(tempPath, { force: true })
      temp?.close()
      closeLeakedDescriptors(tempPath)
      this.#lastWriteAt = now
      return skipped(reason, 'write-failed', err.message)
    }
    this.#lastWriteAt = now
    return { path: finalPath, bytes, durationMs: Math.round(this.#clock.monotonic() - started), liveHeapBytes, reason }
  }

  /**
   * Deletes the temporary files of writers that died while writing (killed during the pause,
   * say, or as a snapshot started), never one a live writer holds, whatever process or pid
   * namespace it runs in (snapshot-file.js' `removeDeadWritersTemps`). When the store starts
   * (or at its first capture, if sooner), and before each capture: a writer of another pid
   * namespace is told gone only some seconds after its last write, and looked at again then.
   * This process's own are removed as they fail. What cannot be removed is told to `onError`,
   * once a file.
   */
  #removeOrphans() {
    this.#orphansRemoved = true
    const swept = removeDeadWritersTemps(this.#dir)
    if (swept.againInMs !== null && this.#sweepAgain === null && !this.#stopped) {
      this.#sweepAgain = setTimeout(() => {
        this.#sweepAgain = null
        if (!this.#stopped) this.#removeOrphans()
      }, swept.againInMs).unref()
    }
    const failed = swept.failed.filter((name) => !this.#orphansTold.has(name))
    if (failed.length === 0) return
    for (const name of failed) this.#orphansTold.add(name)
    this.#onError(cleanupError(this.#dir, failed), 'cleanup')
  }

  /**
   * Deletes the oldest files (snapshots or profiles, never `keep`'s) until one more snapshot
   * of `estimate` bytes fits; false if it cannot.
   */
  #makeRoom(estimate, keep) {
    const fits = (files) => files.filter((f) => f.kind === 'snapshot').length < this.#maxSnapshots && totalBytes(files) + estimate <= this.#maxDiskBytes
    return makeRoom(leakproofFiles(this.#dir).filter(budgetedHere), fits, (file) => !keep.has(file.path))
  }
}

/**
 * The store of a watcher's snapshots, from `watch()`'s options: `dir`, its budget, cooldown and
 * memory factor; `writer` and `beforeSnapshot` (both the options' by default); failures
 * outside a capture become `error` events through `emit`.
 * @param {object} options the watcher's settings (lib/watch/options.js).
 * @param {{ emit: (type: string, fields: object) => unknown, clock: import('../shared/clock').Clock,
 *   writer?: 'fork' | 'in-process', beforeSnapshot?: (info: object) => unknown }} parts
 */
function watcherSnapshotStore(options, { emit, clock, writer = options.snapshotWriter, beforeSnapshot = options.beforeSnapshot }) {
  return new SnapshotStore({
    clock,
    dir: options.dir,
    maxSnapshots: options.maxSnapshots,
    maxDiskBytes: options.maxDiskBytes,
    cooldownMs: options.cooldownMs,
    memoryFactor: options.snapshotMemoryFactor,
    beforeSnapshot,
    writer,
    onError: (error, during) => emit('error', { error: error.message, during }),
  })
}

/** What a declined snapshot would have cost, and the ways to get one all the same. */
function pauseDetail(heapUsed, predicted, maxPauseMs, forkUnavailable) {
  return (
    `${forkUnavailable === IN_PROCESS_CHOSEN ? '' : `no forked child can write it (${forkUnavailable}), and `}a snapshot of this heap (${bytesText(heapUsed)} live) would stop the event loop for about ${(predicted.pauseMs / 1000).toFixed(1)} s ` +
    `and write about ${bytesText(predicted.bytes)}; snapshotMaxPauseMs is ${maxPauseMs}. To get one: raise snapshotMaxPauseMs ` +
    '(LEAKPROOF_SNAPSHOT_MAX_PAUSE_MS), taking the instance out of rotation in beforeSnapshot, or take one on demand ' +
    'while the instance is drained. The report of this leak comes without one.'
  )
}

/** The result of a capture that wrote nothing: why (`skipped`), for what `reason`, and details. */
function skipped(reason, why, detail) {
  return { skipped: why, reason, detail }
}

/** Free bytes for unprivileged users on the file system of `dir`, or null if unknown. */
function freeDiskBytes(dir) {
  if (typeof fs.statfsSync !== 'function') return null
  try {
    const st = fs.statfsSync(dir)
    return st.bavail * st.bsize
  } catch {
    return null
  }
}

module.exports = { SnapshotStore, watcherSnapshotStore }

'use strict'

const fs = require('node:fs')
const path = require('node:path')
const { threadId } = require('node:worker_threads')
const errors = require('../shared/errors')
const { EVENTS } = require('./watcher')

/**
 * The default size cap of a log file: 64 MiB. A sample line is about 270 bytes, so one
 * process at the default interval (10 s) writes about 2.3 MB a day: the file holds about
 * 28 days of one process, or 3.5 days of eight cluster workers, and the log (the file and
 * its `.1`) up to twice that; small enough for `leakproof report` to read whole.
 */
const DEFAULT_MAX_BYTES = 64 * 1024 * 1024

/** The smallest cap accepted: a few lines. */
const MIN_MAX_BYTES = 4096

/**
 * How much of the cap one writer appends between two looks at the file's size: 1/64.
 * Other processes append too, unseen by this count: with N writers, the file passes the
 * cap by at most about N/64 of it before one of them rotates it.
 */
const CHECK_FRACTION = 64

/** A rotation lock older than this was left by a writer that died while rotating (which takes microseconds). */
const STALE_LOCK_MS = 10_000

/** Checks an event log's size cap: an integer of bytes, `MIN_MAX_BYTES` at least. */
function checkMaxBytes(value) {
  const expected = `an integer of ${MIN_MAX_BYTES} bytes or more`
  if (typeof value !== 'number') throw errors.invalidOptionType('EventLog', 'options.maxBytes', expected, value)
  if (!Number.isSafeInteger(value) || value < MIN_MAX_BYTES) throw errors.invalidOptionRange('EventLog', 'options.maxBytes', expected, value)
  return value
}

/**
 * One JSON line per event appended to `file`, the file rotated to `<file>.1` (replacing an
 * older one) once it reaches `maxBytes`. Several processes and threads may append to one
 * file, each with its own EventLog:
 * - each append opens the path, writes one whole line with O_APPEND and closes it, so lines
 *   never interleave, and a line written during a rotation lands whole in one generation;
 * - the size is looked at (one stat) only when this writer's own byte count says the cap
 *   may be near (`CHECK_FRACTION`), not on every line;
 * - a rotation is a rename (atomic) under a lock file (`<file>.lock`, created exclusively),
 *   after a second look at the size: two writers finding the file full at once rotate it
 *   once, and `.1` is only ever replaced by a full generation.
 * A failing write or rotation is reported once on stderr and logging stops; the app carries on.
 */
class EventLog {
  #file
  #maxBytes
  #untilCheck = 0 // bytes this writer may append before it looks at the size again
  #dirMade = false
  #failed = false

  /**
   * @param {string} file
   * @param {{ maxBytes?: number }} [options] `maxBytes`: the cap, `DEFAULT_MAX_BYTES` unless given
   */
  constructor(file, options = {}) {
    const { maxBytes = DEFAULT_MAX_BYTES } = options
    this.#file = file
    this.#maxBytes = checkMaxBytes(maxBytes)
  }

  /** Appends `event` as one JSON line, rotating the file first if it is full. */
  append(event) {
    if (this.#failed) return
    try {
      // The log usually sits in the watcher's dir, which its first snapshot would create:
      // made here (0700, as the snapshots' dir), so the first lines are not lost.
      if (!this.#dirMade) fs.mkdirSync(path.dirname(this.#file), { recursive: true, mode: 0o700 })
      this.#dirMade = true
      if (this.#untilCheck <= 0) this.#rotateIfFull()
      const line = Buffer.from(JSON.stringify(event) + '\n')
      fs.appendFileSync(this.#file, line, { mode: 0o600 })
      this.#untilCheck -= line.length
    } catch (err) {
      this.#failed = true
      process.stderr.write(`leakproof: cannot write the event log ${this.#file}: ${err.message}; logging stops\n`)
    }
  }

  /** Looks at the file's size: rotates it if full, else sets when to look again. */
  #rotateIfFull() {
    const size = sizeOf(this.#file)
    const step = Math.ceil(this.#maxBytes / CHECK_FRACTION)
    if (size < this.#maxBytes) {
      this.#untilCheck = Math.min(this.#maxBytes - size, step)
      return
    }
    // Another writer rotating now: look again before the next line.
    this.#untilCheck = this.#rotate() ? step : 0
  }

  /** Renames the full file to `<file>.1` under the lock; false if another writer holds it. */
  #rotate() {
    const lock = `${this.#file}.lock`
    if (!takeLock(lock)) return false
    try {
      // Under the lock, look again: another writer may have rotated since our look.
      if (sizeOf(this.#file) >= this.#maxBytes) fs.renameSync(this.#file, `${this.#file}.1`)
    } finally {
      fs.rmSync(lock, { force: true })
    }
    return true
  }
}

/** The size of `file` in bytes; 0 if there is none (yet, or just rotated away). */
function sizeOf(file) {
  return fs.statSync(file, { throwIfNoEntry: false })?.size ?? 0
}

/**
 * Creates the lock file exclusively: true if this writer now holds it. A lock older than
 * `STALE_LOCK_MS` is removed, to be taken at a later look.
 */
function takeLock(lock) {
  try {
    fs.closeSync(fs.openSync(lock, 'wx', 0o600))
    return true
  } catch (err) {
    if (err.code !== 'EEXIST') throw err
  }
  const held = fs.statSync(lock, { throwIfNoEntry: false })
  if (held !== undefined && Date.now() - held.mtimeMs > STALE_LOCK_MS) fs.rmSync(lock, { force: true })
  return false
}

/**
 * Appends every one of the watcher's events (`EVENTS`, `sample` included: `leakproof report`
 * draws its timeline from them) to `eventLog`, an EventLog.
 */
function logEvents(watcher, eventLog) {
  const append = (event) => eventLog.append(event)
  for (const type of EVENTS) watcher.on(type, append)
}

/** Appends each `listener-leak` report to `eventLog`, as a line like the watcher's events. */
function logListenerLeaks(listenerLeaks, eventLog) {
  listenerLeaks.on('listener-leak', (report) => {
    // The emitter itself (`target`) is no JSON: its name is in `emitter`.
    const fields = { ...report }
    delete fields.target
    eventLog.append({ type: 'listener-leak', time: Date.now(), pid: process.pid, threadId, ...fields })
  })
}

module.exports = { EventLog, logEvents, logListenerLeaks, checkMaxBytes, DEFAULT_MAX_BYTES }

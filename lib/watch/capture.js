'use strict'

const v8 = require('node:v8')
const { SnapshotStore } = require('./snapshots')
const { Reports } = require('./reports')

/** Snapshots V8 writes near the heap limit: one, the one that tells what filled it. */
const NEAR_HEAP_LIMIT_SNAPSHOTS = 1

/** The flag that names Node's diagnostic directory, where V8's near-limit snapshot goes. */
const DIAGNOSTIC_DIR_FLAG = '--diagnostic-dir='

/**
 * The heap snapshots the watcher writes when memory goes wrong, and the pairs they form.
 * The first snapshot (on a leak or a threshold crossing) is the baseline; a later one — the
 * leak got worse, a threshold was crossed again, or the heap floor grew by
 * `followUpGrowthBytes` since the baseline (once) — is its follow-up, and the pair becomes
 * a report (reports.js). One snapshot at a time; the store (snapshots.js) writes it only
 * when it is safe to. Used only when the watcher has a `dir` and `snapshots: 'auto'`.
 */
class Capture {
  #store
  #native
  #emit
  #reports
  #followUpGrowthBytes
  #baseline = null // { path, heapUsed, followedUp } of the first snapshot
  #capturing = false
  #stopped = false

  /**
   * @param {object} options the watcher's settings.
   * @param {object} parts
   * @param {object} parts.native the native watcher, told when native floors stop comparing.
   * @param {(type: string, fields: object) => void} parts.emit emits a watcher event.
   */
  constructor(options, { native, emit }) {
    this.#store = new SnapshotStore({
      dir: options.dir,
      maxSnapshots: options.maxSnapshots,
      maxDiskBytes: options.maxDiskBytes,
      cooldownMs: options.cooldownMs,
      memoryFactor: options.snapshotMemoryFactor,
      beforeSnapshot: options.beforeSnapshot,
      afterSnapshot: options.afterSnapshot,
    })
    this.#native = native
    this.#emit = emit
    this.#reports = new Reports(options.top, emit)
    this.#followUpGrowthBytes = options.followUpGrowthBytes
  }

  /** No more snapshots, nor reports. */
  stop() {
    this.#stopped = true
    this.#reports.stop()
  }

  /** A leak of the heap or of external memory: the baseline, or a follow-up if there is one. */
  onLeak(heapUsed) {
    this.#capture(this.#baseline === null ? 'leak' : 'leak-worse', heapUsed)
  }

  /** A threshold was crossed. */
  onThreshold(heapUsed) {
    this.#capture('threshold', heapUsed)
  }

  /** A new heap floor: a follow-up once it has grown enough since the baseline. */
  onFloor(heapUsed) {
    if (this.#baseline !== null && heapUsed >= this.#baseline.heapUsed + this.#followUpGrowthBytes) {
      this.#capture('follow-up', heapUsed)
    }
  }

  /** Writes a snapshot: the first is the baseline, later ones pair with it for a report. */
  async #capture(reason, heapUsed) {
    if (this.#capturing || this.#stopped) return
    if (reason === 'follow-up' && this.#baseline?.followedUp) return
    this.#capturing = true
    // Writing a snapshot takes several times the heap in native memory, and the allocator
    // keeps some of it: no native floors while it writes, and those from before no longer
    // compare with those after.
    let wrote = false
    const onWrite = () => {
      wrote = true
      this.#native.pauseNative()
    }
    try {
      const keep = this.#baseline === null ? [] : [this.#baseline.path]
      const result = await this.#store.capture(reason, { heapUsed, keep, onWrite })
      if ('skipped' in result) this.#emit('snapshot-skipped', result)
      else this.#written(result, heapUsed)
    } catch (err) {
      this.#emit('error', { error: err.message, during: 'snapshot' })
    } finally {
      if (wrote) this.#native.resetNative()
      this.#capturing = false
    }
  }

  /** A snapshot was written: emitted with its role; a follow-up starts the pair's report. */
  #written(result, heapUsed) {
    const baseline = this.#baseline
    if (baseline === null) {
      this.#emit('snapshot', { ...result, role: 'baseline' })
      this.#baseline = { path: result.path, heapUsed, followedUp: false }
      return
    }
    this.#emit('snapshot', { ...result, role: 'follow-up', baseline: baseline.path })
    baseline.followedUp = true
    this.#reports.write(baseline.path, result.path)
  }
}

/**
 * Arms V8's snapshot near the heap limit, where Node supports it. Node writes it into
 * its diagnostic directory (`--diagnostic-dir`, else the working directory).
 * @returns {{ armed: boolean, dir?: string, reason?: string }}
 */
function armNearHeapLimit() {
  if (typeof v8.setHeapSnapshotNearHeapLimit !== 'function') return { armed: false, reason: 'unsupported by this Node' }
  try {
    v8.setHeapSnapshotNearHeapLimit(NEAR_HEAP_LIMIT_SNAPSHOTS)
    const dirFlag = process.execArgv.find((a) => a.startsWith(DIAGNOSTIC_DIR_FLAG))
    return { armed: true, dir: dirFlag ? dirFlag.slice(DIAGNOSTIC_DIR_FLAG.length) : process.cwd() }
  } catch (err) {
    return { armed: false, reason: err.message }
  }
}

module.exports = { Capture, armNearHeapLimit }

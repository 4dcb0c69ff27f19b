'use strict'

/**
 * The evidence of a death at the heap limit, written into the watcher's `dir` or nowhere.
 *
 * V8's own heap snapshot near the heap limit (`v8.setHeapSnapshotNearHeapLimit`) tells what
 * filled the heap as the process dies, but Node writes it in-process into its diagnostic
 * directory (`--diagnostic-dir`, else the working directory), outside every budget. So:
 * - V8's writer is armed only where that directory is inside `dir` (links resolved), and where
 *   it can be written: V8 builds the snapshot's graph in native memory beside the full heap,
 *   several times the predicted file (snapshot-memory.js, or `snapshotMemoryFactor` times it),
 *   which a container of 1.5–3× the heap does not have (the kernel would kill the process
 *   mid-write, leaving a partial file);
 * - elsewhere leakproof takes its own (`LimitProjection`), into `dir` like any other snapshot
 *   (in-process where it can finish in half the time left, as an urgent leak's, and within
 *   10 s or `snapshotMaxPauseMs`; else by a forked child), once the heap is projected to pass
 *   `heapThreshold` soon;
 * - the next watcher on `dir` moves the files an earlier life left in the diagnostic
 *   directory (an older version's, or another setup's) into `dir`, named and kept as its own
 *   snapshots (private, within the budget, rotated), and deletes a partial one: none is left
 *   there, holding the service's secrets, unsaid.
 */
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const v8 = require('node:v8')
const { processMemory } = require('../detect/system-memory')
const { heapLimit, oldSpaceLimitBytes, nodeArgs } = require('../shared/heap-limit')
const { writerGone } = require('../shared/leftovers')
const { bytesText } = require('../shared/bytes-text')
const { SUFFIXES, watcherFileName, tempName } = require('../shared/file-names')
const { isUnder } = require('../shared/is-under')
const { endsAsCompleteJson, makeTemp } = require('./snapshot-file')
const { SnapshotCost } = require('./snapshot-cost')
const { SnapshotMemory } = require('./snapshot-memory')

/** Snapshots V8 writes near the heap limit: one, the one that tells what filled it. */
const NEAR_HEAP_LIMIT_SNAPSHOTS = 1

/** The flag that names Node's diagnostic directory, where V8's near-limit snapshot goes. */
const DIAGNOSTIC_DIR_FLAG = '--diagnostic-dir='

/** Node's name for it: `Heap.<yyyymmdd>.<hhmmss>.<pid>.<thread>.<sequence>.heapsnapshot`, the pid and thread captured. */
const NODE_SNAPSHOT_NAME = /^Heap\.\d{8}\.\d{6}\.(\d+)\.(\d+)\.\d+\.heapsnapshot$/

/** The reason in the name of a snapshot moved into `dir`. */
const REASON = 'near-heap-limit'

/** Where Node writes the near-limit snapshot: `--diagnostic-dir`, else the working directory. */
function nearLimitDir() {
  const flag = nodeArgs().findLast((a) => a.startsWith(DIAGNOSTIC_DIR_FLAG))
  return path.resolve(flag === undefined ? process.cwd() : flag.slice(DIAGNOSTIC_DIR_FLAG.length))
}

/**
 * Arms V8's snapshot near the heap limit where Node supports it, would write it inside `into`
 * (the watcher's `dir`), and the process could write it there: `{ armed, dir, reason? }`,
 * `dir` Node's diagnostic directory (created 0700 when armed: V8 opens its file there as the
 * process dies), `reason` saying why not (`memory: …` where the snapshot of a full heap needs
 * more than the container, or the machine, has beside it).
 * @param {{ memoryFactor?: number, into: string }} options `snapshotMemoryFactor` (unset: the model's need), and `dir`.
 */
function armNearHeapLimit({ memoryFactor, into }) {
  const dir = nearLimitDir()
  if (typeof v8.setHeapSnapshotNearHeapLimit !== 'function') return { armed: false, dir, reason: 'unsupported by this Node' }
  if (!isWithin(dir, into)) {
    return { armed: false, dir, reason: `V8 would write it outside dir, into ${dir} (Node's diagnostic directory: --diagnostic-dir, else the working directory); to have V8 write it, start Node with --diagnostic-dir=${path.resolve(into)} (or in NODE_OPTIONS)` }
  }
  const limit = heapLimit(v8.getHeapStatistics().heap_size_limit, oldSpaceLimitBytes())
  // V8 writes it in-process: its graph, no pages copied on write.
  const needed = new SnapshotMemory({ factor: memoryFactor }).need({ fileBytes: new SnapshotCost().predict(limit).bytes, liveHeapBytes: limit, child: false }).bytes
  const { containerLimit } = processMemory()
  const room = (containerLimit ?? os.totalmem()) - limit
  if (room < needed) {
    const where = containerLimit === null ? "the machine's memory" : 'the container'
    return { armed: false, dir, reason: `memory: a snapshot at the heap limit (${bytesText(limit)}) needs about ${bytesText(needed)} beside the heap; ${where} leaves ${bytesText(Math.max(0, room))}` }
  }
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
    v8.setHeapSnapshotNearHeapLimit(NEAR_HEAP_LIMIT_SNAPSHOTS)
    return { armed: true, dir }
  } catch (err) {
    return { armed: false, dir, reason: err.message }
  }
}

/** Whether the directory `inner` is `outer` or inside it, symbolic links resolved (either may not exist yet). */
function isWithin(inner, outer) {
  return isUnder(realPath(inner), realPath(outer))
}

/** `p` absolute with its links resolved: those of its longest existing ancestor, where it does not exist yet. */
function realPath(p) {
  const absolute = path.resolve(p)
  try {
    return fs.realpathSync(absolute)
  } catch (err) {
    const parent = path.dirname(absolute)
    if (err.code !== 'ENOENT' || parent === absolute) return absolute
    return path.join(realPath(parent), path.basename(absolute))
  }
}

/**
 * Moves the near-limit snapshots that processes now gone left in `fromDir` into `toDir`
 * (0700), as `leakproof-<its time>-<pid>-<thread>-near-heap-limit.heapsnapshot` (0600); a
 * partial one (its writer killed mid-write) is deleted. A live process's file (being
 * written, or another service's) and links are left alone. Returns `{ adopted: [{ path,
 * from, bytes, writtenAt, writerPid }], removed: [{ from, why }], failed: [{ from, why }] }`.
 * `clock` is the watcher's (the time in a copy's temporary name); whether a writer is gone is
 * judged by the file system's times, which are the system's.
 * @param {string} fromDir
 * @param {string} toDir
 * @param {import('../shared/clock').Clock} clock
 */
function adoptNearLimitSnapshots(fromDir, toDir, clock) {
  const found = { adopted: [], removed: [], failed: [] }
  let names
  try {
    names = fs.readdirSync(fromDir)
  } catch {
    return found
  }
  for (const name of names) {
    const match = NODE_SNAPSHOT_NAME.exec(name)
    if (match === null) continue
    const from = path.join(fromDir, name)
    const [writerPid, thread] = [Number(match[1]), Number(match[2])]
    let st
    try {
      st = fs.lstatSync(from)
    } catch {
      continue
    }
    if (!st.isFile() || !writerGone(writerPid, st.mtimeMs)) continue
    try {
      if (!endsAsCompleteJson(from, st.size)) {
        fs.unlinkSync(from)
        found.removed.push({ from, why: 'partial: its writer died while writing it' })
        continue
      }
      const to = path.join(toDir, watcherFileName(st.mtimeMs, { reason: REASON, suffix: SUFFIXES.snapshot, pid: writerPid, thread }))
      fs.mkdirSync(toDir, { recursive: true, mode: 0o700 })
      moveFile(from, to, clock)
      fs.chmodSync(to, 0o600)
      found.adopted.push({ path: to, from, bytes: st.size, writtenAt: Math.round(st.mtimeMs), writerPid })
    } catch (err) {
      // ENOENT: another process sharing the directory took it first.
      if (err.code !== 'ENOENT') found.failed.push({ from, why: err.code ?? err.message })
    }
  }
  return found
}

/**
 * Renames `from` to `to`; across file systems, copies it under a temporary name of this
 * process's first, named at `clock`'s time (a reader never sees part of it; a copy cut short
 * is swept as any temporary snapshot of a writer gone), then renames that and deletes `from`.
 */
function moveFile(from, to, clock) {
  try {
    fs.renameSync(from, to)
  } catch (err) {
    if (err.code !== 'EXDEV') throw err
    const temp = path.join(path.dirname(to), tempName(watcherFileName(clock.now(), { sequence: 0, reason: REASON, suffix: SUFFIXES.snapshot })))
    const made = makeTemp(temp)
    try {
      fs.copyFileSync(from, temp)
      fs.chmodSync(temp, 0o600)
      fs.renameSync(temp, to)
    } catch (copyErr) {
      fs.rmSync(temp, { force: true })
      throw copyErr
    } finally {
      made.close()
    }
    fs.unlinkSync(from)
  }
}

/** Full-GC readings the projection keeps: those of the last this many ms. */
const PROJECTION_WINDOW_MS = 10_000

/** The slope is read over at least this span of readings, in ms: two GCs a moment apart say little. */
const MIN_SPAN_MS = 1_000

/** Below this share of its limit a heap is not near it, whatever its slope (a service filling its caches as it starts). */
const MIN_SHARE = 0.5

/**
 * The snapshot starts once the heap is projected to pass `heapThreshold` within this many
 * times the time the snapshot takes: its child runs at the lowest priority beside a service
 * busy with GCs, and a process can die short of its limit (a Map doubling its table needs
 * the old and the new at once).
 */
const LEAD_SNAPSHOTS = 3

/**
 * Leakproof's own evidence of a death at the heap limit, where V8's writer would write
 * outside `dir`: the heap after each full GC (V8's, read as they happen, and the watcher's),
 * projected along its slope over the last `PROJECTION_WINDOW_MS`. The snapshot `heapThreshold`
 * brings is taken at a floor, every `intervalMs`, and a fast leak goes from below it to the
 * limit between two floors: this one is taken once the heap is projected to pass
 * `heapThreshold` within `LEAD_SNAPSHOTS` times the time a snapshot takes, into `dir` like any
 * other (capture.js' `onNearLimit`). Said once, until the heap falls back under `MIN_SHARE` of
 * its limit.
 */
class LimitProjection {
  #readings = [] // { time, heap } of the full GCs in the window, oldest first
  #said = false
  #share
  #snapshotMs

  /**
   * @param {{ share: number, snapshotMs: (heapBytes: number) => number }} options `share`: `heapThreshold`;
   *   `snapshotMs`: how long a snapshot of a heap this size takes, in ms (predicted).
   */
  constructor({ share, snapshotMs }) {
    this.#share = share
    this.#snapshotMs = snapshotMs
  }

  /**
   * The heap right after a full GC, and its limit: `{ projectedLimitAt, heapUsed }` when the
   * snapshot should start now (`projectedLimitAt`: when the heap is projected to reach its
   * limit, epoch ms), else null.
   */
  note(time, heapUsed, limit) {
    const readings = this.#readings
    readings.push({ time, heap: heapUsed })
    while (time - readings[0].time > PROJECTION_WINDOW_MS) readings.shift()
    if (heapUsed < MIN_SHARE * limit) {
      this.#said = false
      return null
    }
    const oldest = readings[0]
    if (this.#said || time - oldest.time < MIN_SPAN_MS || heapUsed <= oldest.heap) return null
    const msPerByte = (time - oldest.time) / (heapUsed - oldest.heap)
    if ((this.#share * limit - heapUsed) * msPerByte > LEAD_SNAPSHOTS * this.#snapshotMs(heapUsed)) return null
    this.#said = true
    return { projectedLimitAt: Math.round(time + (limit - heapUsed) * msPerByte), heapUsed }
  }
}

module.exports = { armNearHeapLimit, adoptNearLimitSnapshots, nearLimitDir, LimitProjection }

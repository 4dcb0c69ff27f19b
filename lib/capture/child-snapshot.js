'use strict'

const fs = require('node:fs')
const v8 = require('node:v8')
const { isMainThread } = require('node:worker_threads')
const { nativeBinding } = require('../shared/native')
const { SYSTEM_CLOCK } = require('../shared/clock')
const { heapWalks } = require('../shared/heap-walks')
const { endsAsCompleteJson, makeTemp } = require('./snapshot-file')

/** Forks tried for one snapshot: a child that would have waited for a thread fork did not copy is tried again at another moment. */
const ATTEMPTS = 4

/**
 * For a process about to die at its heap limit (whose in-process pause was too long to allow),
 * a failed child is tried again only when it failed within this many ms of its fork: a crash
 * or a child that sees at once it would wait (a copy taken amid the heap's helper threads'
 * work can crash with a SIGSEGV right after an in-process snapshot) costs next to nothing,
 * while one that sleeps until the stall check takes seconds (measured: 1.4 and 4.1 s on a
 * 64 MB heap that died 6 s after its first fork) and leaves no time for another.
 */
const QUICK_FAILURE_MS = 1_000

/** The first fork waits this long after it is asked for (see writeInChild). */
const SETTLE_MS = 1_500

/** Between two attempts, this many ms times the attempt's number: another moment for the heap's helper threads. */
const RETRY_DELAY_MS = 250

/** The signal the kernel's OOM killer sends. */
const SIGKILL = 9

/** A child asleep this long without spending CPU time waits for something that will not come: killed. */
const STALL_MS = 5_000

/**
 * A child is killed when still writing after this many times the in-process pause predicted
 * for its snapshot… (it runs at the lowest priority, so a busy service slows it down; a child
 * that waits for nothing is caught by the stall check long before)
 */
const DEADLINE_PAUSES = 10

/** …or after this many ms, whichever is longer. */
const MIN_DEADLINE_MS = 600_000

/**
 * How a child ended, by what the watchdog saw (`core::capture::fork::watchdog`) and the exit codes
 * of `core::capture::fork::child`: whether another fork may succeed, and in words.
 * @param {import('../../binding').Outcome} end
 */
function classify(end) {
  if (end.end === 'exited') {
    switch (end.code) {
      case 0: return { ok: true }
      case 1: return { retry: false, why: 'write-failed', detail: end.resultText || 'the child failed to write the snapshot' }
      case 70: return { retry: true, detail: 'the child would have waited for a thread fork does not copy' }
      case 71: return { retry: true, detail: 'a thread fork does not copy held a lock the child needed' }
      default: return { retry: false, why: 'fork-failed', detail: `the child exited with code ${end.code}` }
    }
  }
  if (end.end === 'hung') return { retry: true, detail: `the child slept ${STALL_MS} ms without progress and was killed` }
  // SIGKILL is not the watchdog's here (its kills are hung, deadline, cancelled): most likely
  // the kernel's OOM killer, which picks the child first. Another child would need as much.
  if (end.end === 'signaled' && end.signal === SIGKILL) return { retry: false, why: 'child-killed', detail: 'the child was killed by SIGKILL (by the OOM killer, most likely: memory is short)' }
  if (end.end === 'signaled') return { retry: true, detail: `the child crashed (signal ${end.signal})` }
  if (end.end === 'deadline') return { retry: false, why: 'child-deadline', detail: `the child was still writing at its deadline (${Math.round(end.durationMs)} ms) and was killed` }
  return { retry: false, why: 'cancelled', detail: 'the watcher stopped while the child was writing' }
}

/**
 * Why this thread cannot write snapshots from a forked child, or null when it can: fork is
 * Linux's, and only the main thread can be forked with its isolate (a worker's child would
 * hold the worker's heap and none of the process's).
 */
function forkUnavailable() {
  if (process.platform !== 'linux') return `fork is used on Linux only, not ${process.platform}`
  if (!isMainThread) return 'a worker thread cannot be forked with its heap'
  const native = nativeBinding()
  if (typeof native?.forkSnapshot !== 'function') return 'the native addon has no forkSnapshot'
  return null
}

/**
 * Writes a heap snapshot from a forked child: this process stops only for fork() (its page
 * tables are copied), and the child, a copy-on-write image with one thread, writes
 * `tempPath` (created 0600 and locked here just before each fork: snapshot-file.js) with V8's
 * own writer, checks that it is complete, renames it to `finalPath` and exits. A child that
 * would wait for a thread fork did not copy exits at once and the fork is tried again, up to
 * `ATTEMPTS` times; a hung child is killed; the temporary file of a failed child is removed,
 * by this process, or by the child itself when this process dies first (or a SIGTERM, SIGINT
 * or SIGHUP ends the child).
 *
 * @param {object} job
 * @param {string} job.tempPath not there yet; never left behind.
 * @param {string} job.finalPath
 * @param {number} job.predictedPauseMs the in-process pause predicted: the child takes about as long.
 * @param {(child: { cancel(): void }) => void} [job.onChild] the running child, to cancel on stop().
 * @param {boolean} [job.aboutToDie] the process is projected to die at its heap limit soon, and
 *   its snapshot must be done before: the fork does not wait `SETTLE_MS`, and a failed child is
 *   tried again only when it failed within `QUICK_FAILURE_MS`.
 * @param {import('../shared/clock').Clock} [job.clock] what time it is (`forkedAt`): the watcher's, or the system's.
 * @param {string[]} [job.childFlags] V8 flags the child sets before it writes: none by default (bench/snapshot-memory.js
 *   measures some; none made the child cheaper).
 * @param {boolean} [job.dropPageCache] false leaves the written file in the page cache, charged to this process's
 *   memory cgroup (bench/snapshot-memory.js measures what that costs); by default each 32 MiB written is dropped once
 *   on the disk.
 * @returns {Promise<{ bytes: number, liveHeapBytes: number, forkedAt: number, stopMs: number, forkMs: number, childMs: number,
 *   childPeakRssBytes: number, childPeakPrivateBytes: number, attempts: number, failures: string[] }
 *   | { skipped: string, detail: string, attempts: number, failures: string[] }>}
 */
async function writeInChild({ tempPath, finalPath, predictedPauseMs, onChild = () => {}, aboutToDie = false, clock = SYSTEM_CLOCK, childFlags = [], dropPageCache = true }) {
  const native = nativeBinding()
  const limits = { deadlineMs: Math.max(MIN_DEADLINE_MS, DEADLINE_PAUSES * predictedPauseMs), stallMs: STALL_MS }
  const failures = []
  let attempt = 0
  while (attempt < ATTEMPTS) {
    attempt++
    // The first fork settles: what brings a snapshot often stopped the service just before
    // (the full GC whose floor showed the leak, an atomic one while growth is suspected; the
    // leak's handling), and the service serves what queued meanwhile before fork() stops it
    // again; but a process about to die at its heap limit may be gone by then. Later ones
    // wait for another moment of the heap's helper threads.
    // The child's heap is this one as fork() finds it: not in the middle of a census pass
    // (heap-walks.js), unless this process is about to die at its heap limit. Asked for before
    // the wait, so that a pass asked for with this snapshot (a leak's census and its baseline)
    // begins after the fork, rather than the fork after the whole pass (15 s under ts-node).
    const quiet = aboutToDie ? null : heapWalks.quietForSnapshot()
    await new Promise((resolve) => setTimeout(resolve, attempt === 1 ? (aboutToDie ? 0 : SETTLE_MS) : RETRY_DELAY_MS * (attempt - 1)))
    const walksMayBegin = quiet === null ? () => {} : await quiet
    let forked
    try {
      forked = await forkOnce(native, { tempPath, finalPath, childFlags, limits, dropPageCache, clock })
    } finally {
      walksMayBegin()
    }
    if (forked.skipped !== undefined) {
      if (forked.skipped === 'fork-failed') failures.push(forked.detail)
      return { skipped: forked.skipped, detail: forked.detail, attempts: attempt, failures }
    }
    const { temp, child, forkedAt, ended } = forked
    onChild(child)
    const end = await ended
    const verdict = classify(end)
    if (!verdict.ok) fs.rmSync(tempPath, { force: true })
    temp.close()
    if (verdict.ok) {
      const { bytes, liveHeapBytes } = JSON.parse(end.resultText)
      return {
        bytes,
        liveHeapBytes,
        forkedAt,
        stopMs: child.stopMs,
        forkMs: child.forkMs,
        childMs: Math.round(end.durationMs),
        childPeakRssBytes: end.peakRssBytes,
        childPeakPrivateBytes: end.peakPrivateBytes,
        attempts: attempt,
        failures,
      }
    }
    failures.push(verdict.detail)
    if (!verdict.retry) return { skipped: verdict.why, detail: verdict.detail, attempts: attempt, failures }
    if (aboutToDie && end.durationMs > QUICK_FAILURE_MS) break
  }
  return { skipped: 'fork-failed', detail: `no child finished in ${attempt} attempt${attempt === 1 ? '' : 's'}: ${failures.join('; ')}`, attempts: attempt, failures }
}

/**
 * Forks one child to write the snapshot into `tempPath`, its file created first (private and
 * locked, and only now: the file exists while a child is there to remove it should this
 * process die). Resolves with `{ temp, child, forkedAt, ended }` (`ended` resolves with the
 * child's end), or `{ skipped, detail }`, nothing left, where the file could not be made or
 * fork() itself failed (EAGAIN, ENOMEM).
 */
async function forkOnce(native, { tempPath, finalPath, childFlags, limits, dropPageCache, clock }) {
  const plan = await forkPlan(native)
  let temp
  try {
    temp = makeTemp(tempPath)
  } catch (err) {
    return { skipped: 'write-failed', detail: err.message }
  }
  let onEnd
  const ended = new Promise((resolve) => (onEnd = resolve))
  const forkedAt = clock.now()
  try {
    const child = native.forkSnapshot(() => childWork(tempPath, finalPath, childFlags), limits, onEnd, dropPageCache ? tempPath : undefined, plan, tempPath)
    return { temp, child, forkedAt, ended }
  } catch (err) {
    fs.rmSync(tempPath, { force: true })
    temp.close()
    return { skipped: 'fork-failed', detail: err.message }
  }
}

/**
 * The plan of the next fork (`prepareFork`: this process's mappings read on a thread of its own, so that
 * fork's stop does not read them: 35-130 ms at 1-3 GB of heap), or undefined when the addon has none
 * or the read failed: forkSnapshot then reads them in the stop.
 */
async function forkPlan(native) {
  if (typeof native.prepareFork !== 'function') return undefined
  try {
    return await native.prepareFork()
  } catch {
    return undefined
  }
}

/** What the child runs, alone: the V8 flags asked for, V8's writer, the completeness check, the rename; its result as JSON. */
function childWork(tempPath, finalPath, flags) {
  if (flags.length > 0) v8.setFlagsFromString(flags.join(' '))
  v8.writeHeapSnapshot(tempPath)
  // V8 collected all garbage first: the child's heap now is what the snapshot holds.
  const liveHeapBytes = v8.getHeapStatistics().used_heap_size
  const bytes = fs.statSync(tempPath).size
  if (!endsAsCompleteJson(tempPath, bytes)) throw new Error('the snapshot was cut short (disk full?)')
  fs.renameSync(tempPath, finalPath)
  return JSON.stringify({ bytes, liveHeapBytes })
}

module.exports = { writeInChild, forkUnavailable }

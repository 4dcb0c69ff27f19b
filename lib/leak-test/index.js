'use strict'

/**
 * leakproof/test: leak tests for the code under test, from any test runner (node:test, Jest,
 * Vitest, Mocha) and in worker threads.
 *
 * `measureLeak(fn)` calls `fn` in rounds: some to warm up (JIT, lazy initialisation, bounded
 * caches filling), then `rounds` rounds of `callsPerRound` calls, each followed by a full GC
 * and a floor of the heap and of ArrayBuffer memory. The floors against the calls made are
 * judged in Rust with the watcher's statistics (src/core/leak_test/rounds.rs): bytes retained per call
 * (Theil–Sen), an upward trend (Mann–Kendall), growth above the floors' spread, and growth
 * still there in the newest half of the rounds, then again with four times the calls per
 * round. On a heap leak, three heap snapshots with two more rounds between each name what
 * holds the new objects (allocated between the first two snapshots and still alive in the
 * third). `assertNoLeak(fn)` throws a `LeakError` saying so. Each measurement first removes
 * the snapshot folders that killed test processes left (removeLeftFolders).
 */
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const v8 = require('node:v8')
// From node:timers/promises, not the globals: a test's fake timers (Jest, Vitest) replace those.
const { setTimeout: delay, setImmediate: nextTurn } = require('node:timers/promises')
const { nativeBinding } = require('../shared/native')
const { exposedGc } = require('../detect/forced-gc')
const { ARRAY_BUFFERS_SETTLE_MS } = require('../detect/floors')
const { diffSnapshots } = require('../diagnose/analyze')
const { bytesText } = require('../shared/bytes-text')
const { writerGone } = require('../shared/leftovers')
const { CODES, codedError } = require('../shared/errors')
const { OPTIONS } = require('./options')

/** Every option and its default (docs/testing.md). */
const DEFAULTS = OPTIONS.DEFAULTS

/** The kinds of memory floored, and what each reads after a full GC. */
const KINDS = ['heap', 'external']

/** Suspects a leak's diff ranks; the error message names the first. */
const SUSPECTS = 5

/**
 * The folder a leak's snapshots go to, under os.tmpdir(): `leakproof-test-<pid>-` and
 * mkdtemp's six characters. Versions before 2026-11-24 named it without the pid: `leakproof-test-XXXXXX`.
 */
const FOLDER_PREFIX = 'leakproof-test-'
const FOLDER_NAME = /^leakproof-test-(?:(\d+)-)?[A-Za-z0-9]{6}$/

/** The files a leak test writes into its folder (suspectsOf). */
const FOLDER_FILE = /^[0-2]\.heapsnapshot$/

/** A folder without a pid is removed once untouched this long: no leak test's snapshots take nearly as long. */
const PIDLESS_FOLDER_AGE_MS = 60 * 60 * 1000

/** A round: `count` calls of `fn`, each awaited when it returns a thenable; `fn` gets the call's index. */
async function callRound(fn, first, count) {
  for (let i = first; i < first + count; i++) {
    const result = fn(i)
    if (result !== null && typeof result?.then === 'function') await result
  }
}

/**
 * The heap spaces that hold the program's objects. Compiled code (`code_space`) and its
 * metadata (`trusted_space`, V8 12+) are left out: they grow in steps of several KB each time
 * V8 compiles or optimizes a function again, for minutes after start-up, and a test's rounds
 * would read that as growth (measured: 34 KB of code in 14 rounds of a function that
 * retains nothing, on Node 24).
 */
const OBJECT_SPACES = new Set(['new_space', 'old_space', 'map_space', 'large_object_space', 'new_large_object_space'])

/** Bytes used in OBJECT_SPACES now. */
function objectBytes() {
  let used = 0
  for (const space of v8.getHeapSpaceStatistics()) {
    if (OBJECT_SPACES.has(space.space_name)) used += space.space_used_size
  }
  return used
}

/**
 * A floor into `into` at `index`: the objects' heap after a full GC, and ArrayBuffer memory
 * once V8's sweeper has freed the dead ones' backing stores (ARRAY_BUFFERS_SETTLE_MS after
 * it, as the watcher reads it). Writes into arrays allocated beforehand, so that the floors
 * themselves add nothing to the heap from round to round.
 */
async function floorAfterGc(gc, into, index) {
  await nextTurn()
  gc()
  into.heap[index] = objectBytes()
  await delay(ARRAY_BUFFERS_SETTLE_MS)
  into.external[index] = process.memoryUsage().arrayBuffers
}

/** What `fn` threw in the snapshots' rounds: it goes to the caller, not into `snapshotError`. */
class CallFailed {
  constructor(cause) {
    this.cause = cause
  }
}

/**
 * Three heap snapshots with two rounds between each, in a private temporary folder removed
 * afterwards, and their diff: what was allocated between the first two and is still alive in
 * the third. Resolves to the diff's suspects, or to `{ error }` when a snapshot or the diff
 * failed; rejects with what `fn` threw.
 */
async function suspectsOf(runRounds, gc) {
  let dir = null
  try {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), `${FOLDER_PREFIX}${process.pid}-`))
    const files = []
    for (let i = 0; i < 3; i++) {
      if (i > 0) await runRounds().catch((error) => Promise.reject(new CallFailed(error)))
      await nextTurn()
      gc()
      files.push(v8.writeHeapSnapshot(path.join(dir, `${i}.heapsnapshot`)))
    }
    const diff = await diffSnapshots(files[0], files[1], { stillAliveIn: files[2], top: SUSPECTS })
    return { suspects: diff.suspects }
  } catch (error) {
    if (error instanceof CallFailed) throw error.cause
    return { error: error.message }
  } finally {
    if (dir !== null) fs.rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * Removes the snapshot folders of leak tests whose process is gone (killed while it wrote
 * them, say): they hold everything that process had in memory. Only folders under
 * os.tmpdir() named FOLDER_NAME, owned by this user, whose process no longer runs (or
 * started after the folder was last written: its pid was reused), or without a pid and
 * untouched for PIDLESS_FOLDER_AGE_MS; and only when they hold nothing but FOLDER_FILE
 * files. Links are never followed. What cannot be removed stays, silently: a test does not
 * fail for it.
 */
function removeLeftFolders(now = Date.now()) {
  const tmp = os.tmpdir()
  let names
  try {
    names = fs.readdirSync(tmp)
  } catch {
    return
  }
  for (const name of names) {
    const named = FOLDER_NAME.exec(name)
    if (named === null) continue
    const folder = path.join(tmp, name)
    let st
    try {
      st = fs.lstatSync(folder)
    } catch {
      continue
    }
    if (!st.isDirectory() || (typeof process.getuid === 'function' && st.uid !== process.getuid())) continue
    const gone = named[1] === undefined ? now - st.mtimeMs > PIDLESS_FOLDER_AGE_MS : writerGone(Number(named[1]), st.mtimeMs, now)
    if (gone) removeSnapshotFolder(folder)
  }
}

/** Removes `folder` if it holds only a leak test's snapshots, as regular files; else leaves it as it is. */
function removeSnapshotFolder(folder) {
  try {
    const entries = fs.readdirSync(folder, { withFileTypes: true })
    if (!entries.every((entry) => entry.isFile() && FOLDER_FILE.test(entry.name))) return
    for (const entry of entries) fs.unlinkSync(path.join(folder, entry.name))
    fs.rmdirSync(folder)
  } catch {
    // Removed meanwhile by another test's sweep, or not ours to remove.
  }
}

/**
 * A suspected leak is measured again with this many times the calls per round before it is
 * reported: a real leak's bytes per call stay, while the floors' own drift (tens of KB from
 * round to round around an HTTP request on Node 22, measured) weighs four times less per call.
 */
const CONFIRM_CALLS_FACTOR = 4

/** The share of the first measure's bytes per call the confirmation must still show. */
const CONFIRM_SHARE = 0.5

/**
 * Measures whether `fn` retains memory from call to call. Resolves to
 * `{ leaking, kind, bytesPerCall, calls, floors, heap, external, confirmation, suspects, snapshotError, settings }`:
 * `kind` (`'heap'` or `'external'`, the one with more bytes per call) and `bytesPerCall`
 * (as the confirmation measured it) are null and 0 unless leaking; `heap` and `external`
 * are each kind's verdict (`{ bytesPerCall, recentBytesPerCall, confidence, noiseBytes,
 * growthBytes, leaking }`) and `floors` (`[{ calls, heap, external }]`) the rounds judged;
 * `confirmation` (`{ callsPerRound, floors, heap, external }`) the second measure of a
 * suspected leak, else null; `suspects` (with `snapshots`) the diff's suspects on a heap
 * leak, else null; `settings` the options used. Rejects with what `fn` threw.
 * @param {(call: number) => unknown} fn called `warmUpRounds + rounds` × `callsPerRound` times (more on a leak).
 * @param {object} [options] see DEFAULTS.
 */
function measureLeak(fn, options = {}) {
  return measure('measureLeak()', fn, options)
}

/** `measureLeak` for the API `where`, which errors name. */
async function measure(where, fn, options) {
  if (typeof fn !== 'function') throw codedError(TypeError, CODES.INVALID_ARGUMENT, `${where}: fn must be a function; got ${typeof fn}`)
  const settings = OPTIONS.read(where, options)
  const native = nativeBinding()
  const gc = exposedGc()
  removeLeftFolders()
  let calls = 0
  const runRounds = async (count, callsPerRound = settings.callsPerRound) => {
    for (let r = 0; r < count; r++) {
      await callRound(fn, calls, callsPerRound)
      calls += callsPerRound
    }
  }
  /** Floors after `rounds` rounds of `callsPerRound` calls, and each kind's verdict on them. */
  const judgeRounds = async (callsPerRound) => {
    const judged = { calls: new Float64Array(settings.rounds), heap: new Float64Array(settings.rounds), external: new Float64Array(settings.rounds) }
    for (let r = 0; r < settings.rounds; r++) {
      await runRounds(1, callsPerRound)
      judged.calls[r] = calls
      await floorAfterGc(gc, judged, r)
    }
    const callCounts = Array.from(judged.calls)
    const verdictOf = (kind) => native.judgeLeakRounds(callCounts, Array.from(judged[kind]), settings.minBytesPerCall, settings.confidence)
    const floors = callCounts.map((count, r) => ({ calls: count, heap: judged.heap[r], external: judged.external[r] }))
    return { floors, heap: verdictOf('heap'), external: verdictOf('external') }
  }
  // Floors are taken in the warm-up too (and dropped), so that the floors' own code is
  // compiled before the ones judged.
  const warmUp = { heap: new Float64Array(1), external: new Float64Array(1) }
  for (let r = 0; r < settings.warmUpRounds; r++) {
    await runRounds(1)
    await floorAfterGc(gc, warmUp, 0)
  }
  const first = await judgeRounds(settings.callsPerRound)
  let confirmation = null
  let leakingKinds = []
  if (KINDS.some((kind) => first[kind].leaking)) {
    const callsPerRound = settings.callsPerRound * CONFIRM_CALLS_FACTOR
    confirmation = { callsPerRound, ...(await judgeRounds(callsPerRound)) }
    leakingKinds = KINDS.filter((kind) => first[kind].leaking && confirmation[kind].leaking &&
      confirmation[kind].bytesPerCall >= CONFIRM_SHARE * first[kind].bytesPerCall)
  }
  leakingKinds.sort((a, b) => confirmation[b].bytesPerCall - confirmation[a].bytesPerCall)
  const kind = leakingKinds[0] ?? null
  const measured = {
    leaking: kind !== null,
    kind,
    bytesPerCall: kind === null ? 0 : confirmation[kind].bytesPerCall,
    calls,
    floors: first.floors,
    heap: first.heap,
    external: first.external,
    confirmation,
    suspects: null,
    snapshotError: null,
    settings,
  }
  if (kind === 'heap' && settings.snapshots) {
    const { suspects, error } = await suspectsOf(() => runRounds(2), gc)
    measured.suspects = suspects ?? null
    measured.snapshotError = error ?? null
    measured.calls = calls
  }
  return measured
}

/** The message of a LeakError: what leaks, how much per call, and what holds it. */
function leakMessage(measured) {
  const { settings } = measured
  const { confirmation } = measured
  const verdict = confirmation[measured.kind]
  const memory = measured.kind === 'heap' ? 'JavaScript heap' : 'ArrayBuffer/Buffer memory'
  const lines = [
    `fn retains ${bytesText(measured.bytesPerCall)} of ${memory} per call ` +
      `(${settings.rounds} rounds of ${settings.callsPerRound} calls after ${settings.warmUpRounds * settings.callsPerRound} to warm up, ` +
      `confirmed over ${settings.rounds} rounds of ${confirmation.callsPerRound}: ` +
      `+${bytesText(verdict.growthBytes)}, trend confidence ${verdict.confidence.toFixed(4)})`,
  ]
  const [first] = measured.suspects ?? []
  if (first !== undefined) {
    lines.push(`first suspect: ${first.count.toLocaleString('en-US')} new ${first.name} (${bytesText(first.retainedSize)} retained)` +
      (first.holder?.description ? `, held by ${first.holder.description}` : ''))
    if (Array.isArray(first.readablePath)) lines.push(`path: ${first.readablePath.join(' → ')}`)
  } else if (measured.snapshotError !== null) {
    lines.push(`(the heap snapshots that name the holder failed: ${measured.snapshotError})`)
  }
  return lines.join('\n')
}

/** Thrown by `assertNoLeak` when `fn` leaks; `measurement` is what `measureLeak` resolved to. */
class LeakError extends Error {
  /** @param {string} message @param {object} measurement */
  constructor(message, measurement) {
    super(message)
    this.name = 'LeakError'
    this.code = CODES.LEAK
    // Not enumerable: a test runner printing the error shows the message, not every floor.
    Object.defineProperty(this, 'measurement', { value: measurement, enumerable: false, writable: false, configurable: true })
  }
}

/**
 * Resolves when `fn` does not retain memory from call to call; rejects with a `LeakError`
 * (`code: 'ERR_LEAKPROOF_LEAK'`) naming the bytes per call and the holder when it does.
 * Options as `measureLeak`.
 */
async function assertNoLeak(fn, options = {}) {
  const measured = await measure('assertNoLeak()', fn, options)
  if (measured.leaking) throw new LeakError(leakMessage(measured), measured)
  return measured
}

module.exports = { assertNoLeak, measureLeak, LeakError, DEFAULTS }

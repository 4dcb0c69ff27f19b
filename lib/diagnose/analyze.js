'use strict'

/**
 * `analyzeSnapshot` and `diffSnapshots`: option checking and coded errors over the native
 * analyzer, which runs on the libuv thread pool.
 */
const path = require('node:path')
const { nativeBinding } = require('../native')
const {
  CODES,
  codedError,
  invalidOptionType,
  checkOptionsObject,
  checkPositiveInteger,
  checkFunction,
} = require('../errors')

/** Largest objects, suspects and grown collections reported unless `top` says otherwise. */
const DEFAULT_TOP = 10

function checkPath(where, what, value) {
  if (typeof value !== 'string' || value === '') throw invalidOptionType(where, what, 'a file path', value)
  return path.resolve(value)
}

/**
 * How long to wait, once the result is in, for progress calls still on their way. The native
 * side's last call (`'done'`) ends the wait at once; this bounds it should that call be lost.
 */
const PROGRESS_DRAIN_MS = 1000

/**
 * Reads `top` and `onProgress`. The native side's progress calls arrive in order but may come
 * after its result: `settled(outcome)` waits for the last of them (`'done'`), so every phase
 * reaches `onProgress` before the promise resolves and none after.
 */
function commonOptions(where, options, extra) {
  checkOptionsObject(where, options, ['top', 'onProgress', ...extra])
  const top = options.top === undefined ? DEFAULT_TOP : checkPositiveInteger(where, 'options.top', options.top)
  if (options.onProgress === undefined) return { top, onProgress: undefined, settled: async (outcome) => outcome }
  const callback = checkFunction(where, 'options.onProgress', options.onProgress)
  let drained
  const allArrived = new Promise((resolve) => (drained = resolve))
  let open = true
  const onProgress = (event) => {
    if (event.phase === 'done') drained()
    else if (open) callback(event)
  }
  const settled = async (outcome) => {
    let timer
    const bound = new Promise((resolve) => (timer = setTimeout(resolve, PROGRESS_DRAIN_MS)))
    await Promise.race([allArrived, bound])
    clearTimeout(timer)
    open = false
    return outcome
  }
  return { top, onProgress, settled }
}

/** Turns the native `{ result } | { error }` into the result or a thrown coded error. */
function unwrap(outcome, files) {
  if (outcome.error) {
    const { code, message, offset, snapshot } = outcome.error
    const file = files[snapshot]
    const noOffset = code === CODES.SNAPSHOT_IO || code === CODES.SNAPSHOT_IDS_MISMATCH
    const where = noOffset ? '' : ` (at byte ${offset})`
    const err = codedError(Error, code, `${file}: ${message}${where}`)
    err.offset = offset
    err.file = file
    throw err
  }
  return outcome.result
}

/**
 * Reads the `.heapsnapshot` at `file` and reports its classes and largest objects.
 * @returns {Promise<object>} `{ nodes, edges, totalSize, classes, largest }`
 */
async function analyzeSnapshot(file, options = {}) {
  const resolved = checkPath('analyzeSnapshot()', 'file', file)
  const { top, onProgress, settled } = commonOptions('analyzeSnapshot()', options, [])
  const outcome = await nativeBinding().analyzeSnapshotFile(resolved, top, onProgress)
  return unwrap(await settled(outcome), [file])
}

/** How `diffSnapshots` matches objects between snapshots: `'auto'` is ids if they agree, else paths. */
const MATCHING = ['ids', 'paths', 'auto']

/** Reads `options.match` (default `'auto'`). */
function checkMatch(where, value) {
  if (value === undefined) return 'auto'
  if (!MATCHING.includes(value)) throw invalidOptionType(where, 'options.match', `one of ${MATCHING.join(', ')}`, value)
  return value
}

/**
 * Diffs two snapshots: what `after` holds that `before` did not. Snapshots of one process
 * match by node id; snapshots of two processes (forked children) by retainer path
 * (`options.match`, default `'auto'`: ids when they name the same objects, else paths).
 * With `options.stillAliveIn`, a third snapshot: what was allocated between the first two and
 * is still alive in the third (its paths are reported).
 * Grown collections say what they hold (`memberClass`) and the native memory they retain
 * (`nativeBytes`, `nativeBytesBefore`, `nativeKinds`); suspects their `nativeBytes`.
 * @returns {Promise<object>} `{ snapshots, newCount, newBytes, newByClass, suspects, grownCollections, matchedBy }`
 */
async function diffSnapshots(before, after, options = {}) {
  const files = [checkPath('diffSnapshots()', 'before', before), checkPath('diffSnapshots()', 'after', after)]
  const { top, onProgress, settled } = commonOptions('diffSnapshots()', options, ['stillAliveIn', 'match'])
  const matching = checkMatch('diffSnapshots()', options.match)
  const names = [before, after]
  if (options.stillAliveIn !== undefined) {
    files.push(checkPath('diffSnapshots()', 'options.stillAliveIn', options.stillAliveIn))
    names.push(options.stillAliveIn)
  }
  const outcome = await nativeBinding().diffSnapshotFiles(files, top, matching, onProgress)
  return unwrap(await settled(outcome), names)
}

/** Short names of the kinds of native memory whose snapshot names say little to a reader. */
const NATIVE_LABELS = { 'Node / zlib_memory': 'zlib', 'system / JSArrayBufferData': 'ArrayBuffer contents' }

/**
 * A short name for a kind of native memory in a diff's `nativeKinds`: `Node / zlib_memory` is
 * `zlib`, `system / JSArrayBufferData` `ArrayBuffer contents`, any other `Node / X` is `X`.
 */
function nativeKindLabel(name) {
  return NATIVE_LABELS[name] ?? name.replace(/^Node \/ /, '')
}

/** A kind of native memory is named when it holds at least this share of a collection's. */
const NATIVE_KIND_MIN_SHARE = 0.1

/**
 * The short names of the kinds of native memory that hold most of a grown collection's
 * (`nativeKinds` holding a tenth of `nativeBytes` or more), comma-separated: `zlib`; `''` when
 * it has none.
 */
function nativeKindsText({ nativeBytes, nativeKinds }) {
  if (!Array.isArray(nativeKinds)) return ''
  const named = nativeKinds.filter((k, i) => i === 0 || k.bytes >= NATIVE_KIND_MIN_SHARE * nativeBytes)
  return named.map((k) => nativeKindLabel(k.name)).join(', ')
}

/**
 * The native memory a grown collection retains, as its line ends: `, +28.5 MB native (zlib)`
 * (what it gained since the first snapshot, where known and more than nothing), else
 * `, 42.7 MB native (zlib)`; `''` when it retains none. `collection` is a diff's (`nativeKinds`
 * a list) or a report page's (`nativeKinds` already short names, no `nativeBytesBefore`);
 * `bytes(n)` writes a byte count as the rest of the caller's line does.
 */
function nativeMemoryText(collection, bytes) {
  const { nativeBytes, nativeBytesBefore, nativeKinds } = collection
  if (!(nativeBytes > 0)) return ''
  const gained = Number.isFinite(nativeBytesBefore) ? nativeBytes - nativeBytesBefore : 0
  const kinds = typeof nativeKinds === 'string' ? nativeKinds : nativeKindsText(collection)
  return `, ${gained > 0 ? `+${bytes(gained)}` : bytes(nativeBytes)} native${kinds ? ` (${kinds})` : ''}`
}

module.exports = { analyzeSnapshot, diffSnapshots, nativeKindsText, nativeMemoryText, DEFAULT_TOP }

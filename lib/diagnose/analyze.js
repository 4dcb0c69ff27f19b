'use strict'

/**
 * `analyzeSnapshot`, `diffSnapshots` and `openSnapshot`: option checking and coded errors over
 * the native analyzer, which reads files on the libuv thread pool.
 */
const path = require('node:path')
const { nativeBinding } = require('../shared/native')
const { withSourcePositions } = require('../shared/source-positions')
const { CODES, codedError, invalidOptionType, checkPositiveInteger } = require('../shared/errors')
const { optionsTable, option, positiveInteger, functionValue, optional } = require('../shared/options-table')

/** Largest objects, suspects and grown collections reported unless `top` says otherwise. */
const DEFAULT_TOP = 10

/**
 * How `diffSnapshots` matches objects between snapshots (`'auto'`: ids if they agree, else
 * paths): the modes of the core's `Matching`, listed once here for the checks and docs that need
 * them at run time; tsc holds the keys to binding.d.ts' `Matching`, none missing, none extra.
 * @type {{ [mode in import('../../binding').Matching]: true }}
 */
const MATCHING_MODES = { ids: true, paths: true, auto: true }
const MATCHING = Object.keys(MATCHING_MODES)

/** `values` as the docs list them: `` `'a'`, `'b'` or `'c'` ``. */
const oneOfText = (values) => `${values.slice(0, -1).map((v) => `\`'${v}'\``).join(', ')} or \`'${values.at(-1)}'\``

/**
 * The stable code each kind of snapshot error the core reports is thrown with; tsc holds the
 * keys to binding.d.ts' `SnapshotErrorKind`.
 * @type {{ [kind in import('../../binding').SnapshotErrorKind]: string }}
 */
const SNAPSHOT_ERROR_CODES = {
  io: CODES.SNAPSHOT_IO,
  truncated: CODES.SNAPSHOT_TRUNCATED,
  malformed: CODES.SNAPSHOT_MALFORMED,
  unsupported: CODES.SNAPSHOT_UNSUPPORTED,
  'ids-mismatch': CODES.SNAPSHOT_IDS_MISMATCH,
}

/** `value` as an absolute path; throws a coded error naming `what` unless it is a non-empty string. */
function checkPath(where, what, value) {
  if (typeof value !== 'string' || value === '') throw invalidOptionType(where, what, 'a file path', value)
  return path.resolve(value)
}

/**
 * The options of `analyzeSnapshot` (the first two) and `diffSnapshots` (all four), a row
 * each in the order of docs/analyze.md's table.
 */
const DIFF_OPTIONS = optionsTable([
  option('top', DEFAULT_TOP, positiveInteger, { default: '10', meaning: 'largest objects, suspects and grown collections listed; a positive integer' }),
  option('onProgress', undefined, optional(functionValue), {
    default: 'none',
    meaning: 'called on the main thread as the work advances: about a hundred times while a big file is read, once per later phase; must not throw',
  }),
  option('stillAliveIn', undefined, optional({ env: 'string', check: checkPath }), {
    default: 'none',
    meaning: 'a third snapshot, taken after `after` ([How a diff works](#how-a-diff-works))',
  }),
  option('match', 'auto', {
    env: 'string',
    check(where, what, value) {
      if (!MATCHING.includes(/** @type {string} */ (value))) throw invalidOptionType(where, what, `one of ${MATCHING.join(', ')}`, value)
    },
  }, {
    default: "`'auto'`",
    meaning: oneOfText(MATCHING) + ": how objects are matched between the snapshots ([Matching by retainer path](#matching-by-retainer-path)); anything else throws a `TypeError` with `ERR_LEAKPROOF_INVALID_OPTION`",
  }),
])

/** The options of `analyzeSnapshot`: `top` and `onProgress`. */
const ANALYZE_OPTIONS = optionsTable(DIFF_OPTIONS.ROWS.slice(0, 2))

/** The options of `openSnapshot`: `onProgress`. */
const OPEN_OPTIONS = optionsTable(DIFF_OPTIONS.ROWS.slice(1, 2))

/**
 * How long to wait, once the result is in, for progress calls still on their way. The native
 * side's last call (`'done'`) ends the wait at once; this bounds it should that call be lost.
 */
const PROGRESS_DRAIN_MS = 1000

/**
 * `top`, and `onProgress` as the native side calls it. Its progress calls arrive in order but
 * may come after its result: `settled(outcome)` waits for the last of them (`'done'`), so
 * every phase reaches `onProgress` before the promise resolves and none after.
 */
function progressOf(read) {
  const { top } = read
  if (read.onProgress === undefined) return { top, onProgress: undefined, settled: async (outcome) => outcome }
  const callback = read.onProgress
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
    const { kind, message, offset, snapshot } = outcome.error
    const code = SNAPSHOT_ERROR_CODES[kind]
    const file = files[snapshot]
    const noOffset = kind === 'io' || kind === 'ids-mismatch'
    const where = noOffset ? '' : ` (at byte ${offset})`
    const err = codedError(Error, code, `${file}: ${message}${where}`)
    err.offset = offset
    err.file = file
    throw err
  }
  return outcome.result
}

/**
 * Reads the `.heapsnapshot` at `file` and reports its classes and largest objects: the
 * binding's result as it is (its type is generated from the Rust).
 * @returns {Promise<import('./types').SnapshotSummary>} `{ nodes, edges, totalSize, classes, largest }`
 */
async function analyzeSnapshot(file, options = {}) {
  const resolved = checkPath('analyzeSnapshot()', 'file', file)
  const { top, onProgress, settled } = progressOf(ANALYZE_OPTIONS.read('analyzeSnapshot()', options))
  const outcome = await nativeBinding().analyzeSnapshotFile(resolved, top, onProgress)
  return withSourcePositions(unwrap(await settled(outcome), [file]))
}

/**
 * Diffs two snapshots: what `after` holds that `before` did not. Snapshots of one process
 * match by node id; snapshots of two processes (forked children) by retainer path
 * (`options.match`, default `'auto'`: ids when they name the same objects, else paths).
 * With `options.stillAliveIn`, a third snapshot: what was allocated between the first two and
 * is still alive in the third (its paths are reported).
 * Grown collections say what they hold (`memberClass`) and the native memory they retain
 * (`nativeBytes`, `nativeBytesBefore`, `nativeKinds`); suspects their `nativeBytes`. Growth
 * roots name the objects of both snapshots that hold the new ones: a chain's holder with its
 * length before and after, many objects each kept by a root of its own (matched by paths,
 * only those two).
 * The binding's result as it is (its type is generated from the Rust).
 * @returns {Promise<import('./types').SnapshotDiff>} `{ snapshots, newCount, newBytes, newByClass, suspects, grownCollections, growthRoots, matchedBy }`
 */
async function diffSnapshots(before, after, options = {}) {
  const { files, names, read } = diffRequest('diffSnapshots()', before, after, options)
  const { top, onProgress, settled } = progressOf(read)
  const outcome = await nativeBinding().diffSnapshotFiles(files, top, read.match, onProgress)
  return diffResult(await settled(outcome), names)
}

/**
 * A diff's arguments checked as `where` (`diffSnapshots()`) checks them: `files`, the absolute
 * paths the native side reads; `names`, the files as given, for errors; `read`, the options.
 */
function diffRequest(where, before, after, options) {
  const files = [checkPath(where, 'before', before), checkPath(where, 'after', after)]
  const read = DIFF_OPTIONS.read(where, options)
  const names = [before, after]
  if (read.stillAliveIn !== undefined) {
    files.push(path.resolve(read.stillAliveIn))
    names.push(read.stillAliveIn)
  }
  return { files, names, read }
}

/**
 * The native side's `{ result } | { error }` of a diff of `names` as `diffSnapshots` gives it:
 * the result with its positions in the source's words, or the analyzer's coded error thrown.
 */
async function diffResult(outcome, names) {
  return withSourcePositions(unwrap(outcome, names))
}

/**
 * One snapshot read once and kept for several questions (the MCP server's follow-up calls):
 * a summary, the objects of a class or an id with their paths and holders, an object's
 * dominators. Made by `openSnapshot`; `release()` frees its memory at once (about 1.3 times
 * the file's size) rather than at the garbage collector's pleasure.
 */
class OpenSnapshot {
  #native
  #file

  /** @param {any} native the binding's LoadedSnapshot, loaded; @param {string} file its path */
  constructor(native, file) {
    this.#native = native
    this.#file = file
  }

  /** The file this snapshot was read from. */
  get file() {
    return this.#file
  }

  /** Classes by retained size and the `top` largest objects, as `analyzeSnapshot` gives them. */
  summary(top = DEFAULT_TOP) {
    checkPositiveInteger('OpenSnapshot.summary()', 'top', top)
    return this.#native.summary(top)
  }

  /**
   * The objects of `query.className` (how many, and the `top` retaining most) or the one of
   * `query.id`, with their paths and holders: `{ count, objects }`.
   */
  objects(query, top = DEFAULT_TOP) {
    checkPositiveInteger('OpenSnapshot.objects()', 'top', top)
    return this.#native.objects(query, top)
  }

  /** What dominates the object of node id `id`, nearest first, at most `limit`; null for no such id. */
  dominators(id, limit) {
    checkPositiveInteger('OpenSnapshot.dominators()', 'limit', limit)
    return this.#native.dominators(id, limit)
  }

  /** The bytes of its analysis the JS engine was told this object holds; 0 once released. */
  get reportedBytes() {
    return this.#native.reportedBytes
  }

  /** Frees the analysis; later questions throw. */
  release() {
    this.#native.release()
  }
}

/**
 * Reads and analyzes the `.heapsnapshot` at `file` (on the thread pool, `options.onProgress`
 * as for `analyzeSnapshot`) and keeps it for questions; throws the analyzer's coded errors.
 * @returns {Promise<OpenSnapshot>}
 */
async function openSnapshot(file, options = {}) {
  const resolved = checkPath('openSnapshot()', 'file', file)
  const { onProgress, settled } = progressOf(OPEN_OPTIONS.read('openSnapshot()', options))
  const native = new (nativeBinding().LoadedSnapshot)()
  const error = await native.load(resolved, onProgress)
  unwrap(await settled(error ? { error } : { result: null }), [file])
  return new OpenSnapshot(native, file)
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

module.exports = { analyzeSnapshot, diffSnapshots, diffRequest, diffResult, openSnapshot, nativeKindsText, nativeMemoryText, DEFAULT_TOP, MATCHING, SNAPSHOT_ERROR_CODES, OPTIONS: DIFF_OPTIONS }

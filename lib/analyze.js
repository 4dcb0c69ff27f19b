'use strict'

/**
 * `analyzeSnapshot` and `diffSnapshots`: option checking and coded errors over the native
 * analyzer, which runs on the libuv thread pool.
 */
const path = require('node:path')
const { nativeBinding } = require('./native')
const {
  codedError,
  invalidOptionType,
  checkOptionsObject,
  checkPositiveInteger,
  checkFunction,
} = require('./errors')

/** Largest objects, suspects and grown collections reported unless `top` says otherwise. */
const DEFAULT_TOP = 10

function checkPath(name, value) {
  if (typeof value !== 'string' || value === '') throw invalidOptionType(name, 'a file path', value)
  return path.resolve(value)
}

/** Reads `top` and `onProgress`; progress that arrives after the result is dropped. */
function commonOptions(where, options, extra) {
  checkOptionsObject(where, options, ['top', 'onProgress', ...extra])
  const top = options.top === undefined ? DEFAULT_TOP : checkPositiveInteger('top', options.top)
  const state = { done: false }
  let onProgress
  if (options.onProgress !== undefined) {
    const callback = checkFunction('onProgress', options.onProgress)
    onProgress = (event) => {
      if (!state.done) callback(event)
    }
  }
  return { top, onProgress, state }
}

/** Turns the native `{ result } | { error }` into the result or a thrown coded error. */
function unwrap(outcome, files, state) {
  state.done = true
  if (outcome.error) {
    const { code, message, offset, snapshot } = outcome.error
    const file = files[snapshot]
    const noOffset = code === 'ERR_LEAKPROOF_SNAPSHOT_IO' || code === 'ERR_LEAKPROOF_SNAPSHOT_IDS_MISMATCH'
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
  const resolved = checkPath('file', file)
  const { top, onProgress, state } = commonOptions('analyzeSnapshot', options, [])
  const outcome = await nativeBinding().analyzeSnapshotFile(resolved, top, onProgress)
  return unwrap(outcome, [file], state)
}

/**
 * Diffs two snapshots of one process by node id: what `after` holds that `before` did not.
 * With `options.stillAliveIn`, a third snapshot: what was allocated between the first two and
 * is still alive in the third (its paths are reported).
 * @returns {Promise<object>} `{ snapshots, newCount, newBytes, newByClass, suspects, grownCollections }`
 */
async function diffSnapshots(before, after, options = {}) {
  const files = [checkPath('before', before), checkPath('after', after)]
  const { top, onProgress, state } = commonOptions('diffSnapshots', options, ['stillAliveIn'])
  const names = [before, after]
  if (options.stillAliveIn !== undefined) {
    files.push(checkPath('stillAliveIn', options.stillAliveIn))
    names.push(options.stillAliveIn)
  }
  const outcome = await nativeBinding().diffSnapshotFiles(files, top, onProgress)
  return unwrap(outcome, names, state)
}

module.exports = { analyzeSnapshot, diffSnapshots, DEFAULT_TOP }

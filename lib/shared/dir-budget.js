'use strict'

/**
 * The disk budget of a watcher's `dir`, shared by the snapshots (capture) and the sampling
 * profiles (sites): the files leakproof wrote there, which of them count against this
 * process's budget, and deleting the oldest until a new file fits.
 */
const fs = require('node:fs')
const path = require('node:path')
const { writerGone } = require('./leftovers')
const { PREFIX, SUFFIXES, profileKind, parseWatcherName } = require('./file-names')

/**
 * Whether a file of `leakproofFiles` counts against this process's budget, and may be deleted
 * to keep it: one this process wrote (any of its threads), or one whose writer is gone (an
 * earlier life's, or a sibling's that exited: the processes sharing the dir take turns at it).
 * Not a live sibling's, which is its own budget's: a worker's follow-up must not rotate away
 * a sibling's baseline while that sibling waits for its restart turn.
 */
function budgetedHere(file) {
  const writer = parseWatcherName(path.basename(file.path))?.pid
  return writer === undefined || writer === process.pid || writerGone(writer, file.mtimeMs)
}

/**
 * The files leakproof wrote into `dir` (snapshots and sampling profiles; not reports, nor
 * temporary files), oldest first, as `{ path, bytes, mtimeMs, kind: 'snapshot' | 'profile' }`.
 */
function leakproofFiles(dir) {
  let names
  try {
    names = fs.readdirSync(dir)
  } catch {
    return []
  }
  const files = []
  for (const name of names) {
    if (!name.startsWith(PREFIX)) continue
    const kind = name.endsWith(SUFFIXES.snapshot) ? 'snapshot' : profileKind(name) !== null ? 'profile' : null
    if (kind === null) continue
    const file = path.join(dir, name)
    try {
      const st = fs.statSync(file)
      files.push({ path: file, bytes: st.size, mtimeMs: st.mtimeMs, kind })
    } catch {
      // Deleted meanwhile: not ours to count.
    }
  }
  return files.sort((a, b) => a.mtimeMs - b.mtimeMs || a.path.localeCompare(b.path))
}

/** The bytes of `files`. */
function totalBytes(files) {
  return files.reduce((sum, f) => sum + f.bytes, 0)
}

/**
 * Deletes the oldest of `files` that `deletable` allows until `fits(files left)`; whether it
 * then fits. Nothing is deleted when even deleting all it may would not make it fit; a file
 * that cannot be deleted counts as still there.
 */
function makeRoom(files, fits, deletable) {
  const left = [...files]
  const doomed = []
  for (const file of files) {
    if (fits(left)) break
    if (!deletable(file)) continue
    left.splice(left.indexOf(file), 1)
    doomed.push(file)
  }
  if (!fits(left)) return false
  const stillThere = []
  for (const file of doomed) {
    try {
      fs.rmSync(file.path, { force: true })
    } catch {
      stillThere.push(file)
    }
  }
  return fits([...left, ...stillThere])
}

module.exports = { leakproofFiles, budgetedHere, totalBytes, makeRoom }

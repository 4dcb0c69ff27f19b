'use strict'

/**
 * Reading a watcher's directory for the report (collect.js): which files are there (its
 * snapshots and reports by their names, heap profiles by their endings), which of the others
 * are leakproof event logs, and their lines, read in chunks so that no log, however large, is
 * held whole.
 */
const fs = require('node:fs')
const path = require('node:path')
const { EVENTS } = require('../watch/watcher')
const { SUFFIXES, isWatcherFile, profileKind } = require('../shared/file-names')
const { CODES, codedError, describe } = require('../shared/errors')
const { isReportPage, PAGE_HEAD_BYTES } = require('./render')

/** What the report's errors name. */
const WHERE = 'report'
/** Every `type` a leakproof event log holds: the watcher's events and the listener tracker's. */
const EVENT_TYPES = new Set([...EVENTS, 'listener-leak'])
/** Bytes read from a file, at most, to find its first line: a `report` line can be long. */
const FIRST_LINE_MAX_BYTES = 4 * 1024 * 1024
/** A longer log line is counted as unreadable rather than held in memory. */
const MAX_LINE_BYTES = 64 * 1024 * 1024
/** Chunk size of the log reader. */
const CHUNK_BYTES = 1024 * 1024

/** The absolute path of `dir`; throws a coded error unless it is a directory this process can list. */
async function checkDir(dir) {
  if (typeof dir !== 'string' || dir === '') {
    throw codedError(TypeError, CODES.INVALID_ARGUMENT, `${WHERE}: dir must be a path to a directory; got ${describe(dir)}`)
  }
  const resolved = path.resolve(dir)
  const fail = (why) => codedError(Error, CODES.REPORT_DIR, `${WHERE}: dir must be a readable directory; got ${describe(dir)}, which ${why}`)
  let stats
  try {
    stats = await fs.promises.stat(resolved)
  } catch (err) {
    throw fail(err.code === 'ENOENT' ? 'does not exist' : `cannot be read (${err.message})`)
  }
  if (!stats.isDirectory()) throw fail('is not a directory')
  return resolved
}

/**
 * The regular files of `dir` (not recursive), sorted by name, each `{ name, file, bytes, mtimeMs }`:
 * the watcher's snapshots and reports by their names, heap profiles by their endings (with their
 * `kind`), every other file in `others`.
 * Hidden files (a snapshot being written) are left out.
 */
async function listDir(dir) {
  let entries
  try {
    entries = await fs.promises.readdir(dir, { withFileTypes: true })
  } catch (err) {
    throw codedError(Error, CODES.REPORT_DIR, `${WHERE}: dir must be a readable directory; got ${describe(dir)}, which cannot be read (${err.message})`)
  }
  const listing = { snapshots: [], reports: [], profiles: [], others: [] }
  for (const entry of entries.sort((a, b) => compareNames(a.name, b.name))) {
    if (!entry.isFile() || entry.name.startsWith('.')) continue
    const file = path.join(dir, entry.name)
    const stats = await fs.promises.stat(file).catch(() => null)
    if (stats === null) continue // deleted meanwhile
    const item = { name: entry.name, file, bytes: stats.size, mtimeMs: stats.mtimeMs }
    const kind = profileKind(entry.name)
    if (isWatcherFile(entry.name, SUFFIXES.snapshot)) listing.snapshots.push(item)
    else if (isWatcherFile(entry.name, SUFFIXES.report)) listing.reports.push(item)
    else if (kind !== null) listing.profiles.push({ ...item, kind })
    else listing.others.push(item)
  }
  return listing
}

/** Name order, but a rotated log (`x.log.1`) just before its current one (`x.log`): oldest lines first. */
function compareNames(a, b) {
  const base = (name) => name.replace(/\.1$/, '')
  const byBase = base(a).localeCompare(base(b), 'en')
  if (byBase !== 0) return byBase
  return Number(b.endsWith('.1')) - Number(a.endsWith('.1'))
}

/**
 * Of `files`, the leakproof event logs: those whose first non-empty line is a leakproof event,
 * and an empty file whose rotation (`<name>.1`) is one (the log just after it rotated).
 * The others are noted and left out, but for report pages (this command's own earlier output,
 * under any name): left out without a word.
 */
async function findLogs(files, notes) {
  const logs = []
  const empty = []
  for (const item of files) {
    let line
    try {
      line = await firstLine(item.file)
    } catch (err) {
      notes.push(`${item.name}: cannot be read (${err.message}); skipped`)
      continue
    }
    if (line === null) empty.push(item)
    else if (isLeakproofEvent(parseJson(line))) logs.push(item)
    else if (!(await isPage(item.file))) notes.push(`${item.name}: not a leakproof event log; skipped`)
  }
  for (const item of empty) {
    if (logs.some((log) => log.name === `${item.name}.1`)) logs.push(item)
    else notes.push(`${item.name}: empty; skipped`)
  }
  return logs.sort((a, b) => compareNames(a.name, b.name))
}

/** The first non-empty line of `file` (within its first FIRST_LINE_MAX_BYTES), or null if it has none. */
async function firstLine(file) {
  const handle = await fs.promises.open(file, 'r')
  try {
    let bytes = Buffer.alloc(0)
    let start = 0 // where the line being looked at begins
    while (bytes.length < FIRST_LINE_MAX_BYTES) {
      const { buffer, bytesRead } = await handle.read({ buffer: Buffer.alloc(64 * 1024), position: bytes.length })
      if (bytesRead === 0) break
      bytes = Buffer.concat([bytes, buffer.subarray(0, bytesRead)])
      for (let end = bytes.indexOf(10, start); end !== -1; end = bytes.indexOf(10, start)) {
        const line = bytes.toString('utf8', start, end)
        if (line.trim() !== '') return line
        start = end + 1
      }
    }
    const rest = bytes.toString('utf8', start)
    return rest.trim() === '' ? null : rest
  } finally {
    await handle.close()
  }
}

/** Whether `file` is a report page (render.js' `isReportPage`); false when it cannot be read. */
async function isPage(file) {
  try {
    const handle = await fs.promises.open(file, 'r')
    try {
      const { buffer, bytesRead } = await handle.read({ buffer: Buffer.alloc(PAGE_HEAD_BYTES), position: 0 })
      return isReportPage(buffer.toString('utf8', 0, bytesRead))
    } finally {
      await handle.close()
    }
  } catch {
    return false
  }
}

/** JSON.parse, or undefined for text that is not JSON. */
function parseJson(text) {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/** Whether `value` has the fields every leakproof event has: a `type`, a `time` (epoch ms) and a `pid`. */
function isEvent(value) {
  return value !== null && typeof value === 'object' && typeof value.type === 'string' &&
    Number.isFinite(value.time) && Number.isSafeInteger(value.pid)
}

/** Whether `value` is an event of a type leakproof writes. */
function isLeakproofEvent(value) {
  return isEvent(value) && EVENT_TYPES.has(value.type)
}

/**
 * Calls `onLine(text)` for each line of `file`, read in CHUNK_BYTES chunks (a line longer than
 * MAX_LINE_BYTES: `onLine(null)`, never held whole). The last line may lack its newline.
 */
async function eachLine(file, onLine) {
  let pieces = [] // the start of a line that goes on in the next chunk
  let pieceBytes = 0
  let overlong = false
  const endLine = (last) => {
    if (overlong) onLine(null)
    else onLine(Buffer.concat([...pieces, last]).toString('utf8'))
    ;[pieces, pieceBytes, overlong] = [[], 0, false]
  }
  for await (const chunk of fs.createReadStream(file, { highWaterMark: CHUNK_BYTES })) {
    let start = 0
    for (let end = chunk.indexOf(10, start); end !== -1; end = chunk.indexOf(10, start)) {
      if (pieceBytes === 0 && !overlong) onLine(chunk.toString('utf8', start, end))
      else endLine(chunk.subarray(start, end))
      start = end + 1
    }
    if (start < chunk.length && !overlong) {
      pieces.push(chunk.subarray(start))
      pieceBytes += chunk.length - start
      if (pieceBytes > MAX_LINE_BYTES) [pieces, pieceBytes, overlong] = [[], 0, true]
    }
  }
  if (pieceBytes > 0 || overlong) endLine(Buffer.alloc(0))
}

module.exports = { WHERE, EVENT_TYPES, checkDir, listDir, findLogs, eachLine, parseJson, isEvent }

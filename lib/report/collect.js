'use strict'

/**
 * `collect(dir)`: reads what a watcher left in a directory — its event logs, its
 * `leakproof-*.report.json` files, and the names and sizes of its heap snapshots and heap
 * profiles (`.heapprofile`, `.pb.gz`) — into the plain-JSON MODEL that render.js draws (the
 * MODEL's shape: docs/report.md).
 *
 * Bad input never stops it: a file that is not a leakproof event log, a line that is not
 * JSON (a truncated last line), a report that does not parse, each becomes a `notes` entry
 * and is skipped. Only a `dir` that is not a readable directory throws.
 *
 * Memory stays bounded whatever the size of the logs: they are read in 1 MiB chunks, line by
 * line; each process keeps at most `maxPoints` floor points (see `FloorPoints`) and the
 * newest `MAX_EVENTS` events of each kind. Snapshots and profiles are never opened.
 *
 * Strings from the files are data and pass through unchanged: escaping is the renderer's job.
 */
const fs = require('node:fs')
const path = require('node:path')
const { EVENTS } = require('../watch/watcher')
const { nativeKindsText } = require('../diagnose/analyze')
const { SUFFIXES, isWatcherFile, parseWatcherName } = require('../file-names')
const { CODES, codedError, describe, checkOptionsObject, checkPositiveInteger, invalidOptionRange } = require('../errors')

const WHERE = 'report'
/** Every `type` a leakproof event log holds: the watcher's events and the listener tracker's. */
const EVENT_TYPES = new Set([...EVENTS, 'listener-leak'])
/** Events of one kind kept per process (the newest), so a long log keeps a bounded page. */
const MAX_EVENTS = 500
/** Processes (pid, threadId) shown, at most: the events of others are counted and noted. */
const MAX_PROCESSES = 64
/** Suspects, grown collections and growing handles kept per report. */
const TOP = 10
/** Bytes read from a file, at most, to find its first line: a `report` line can be long. */
const FIRST_LINE_MAX_BYTES = 4 * 1024 * 1024
/** A longer log line is counted as unreadable rather than held in memory. */
const MAX_LINE_BYTES = 64 * 1024 * 1024
/** A larger report file is noted and skipped: the watcher's are tens of KiB. */
const MAX_REPORT_BYTES = 64 * 1024 * 1024
/** Chunk size of the log reader. */
const CHUNK_BYTES = 1024 * 1024
/**
 * Heap profiles by their file's ending, whoever wrote them (the watcher's sites, DevTools,
 * `/leakproof/heap-profile`): a V8 sampling heap profile (JSON) and a gzipped pprof.
 */
const PROFILE_KINDS = [[SUFFIXES.heapprofile, 'heapprofile'], [SUFFIXES.pprof, 'pprof']]

/**
 * Reads `dir` into the report's MODEL.
 * @param {string} dir the watcher's directory (its `dir`, where `LEAKPROOF_LOG` was written)
 * @param {{ maxPoints?: number }} [options] `maxPoints`: floor points kept per process (default 2000, at least 2)
 * @returns {Promise<object>} the MODEL
 */
async function collect(dir, options = {}) {
  checkOptionsObject(WHERE, options, ['maxPoints'])
  const maxPoints = options.maxPoints === undefined ? 2000 : checkMaxPoints(options.maxPoints)
  const resolved = await checkDir(dir)
  const model = new ModelBuilder(resolved, maxPoints)
  const listing = await listDir(resolved)
  const logs = await findLogs(listing.others, model.notes)
  for (const file of logs) await model.readLog(file)
  for (const file of listing.reports) await model.readReportFile(file)
  for (const file of listing.snapshots) model.addSnapshotFile(file)
  return model.finish({ ...listing, logs })
}

/** Checks `options.maxPoints`: an integer of 2 or more (runs of floors are merged in pairs). */
function checkMaxPoints(value) {
  checkPositiveInteger(WHERE, 'options.maxPoints', value)
  if (value < 2) throw invalidOptionRange(WHERE, 'options.maxPoints', 'an integer of 2 or more', value)
  return value
}

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
    if (isWatcherFile(entry.name, SUFFIXES.snapshot)) listing.snapshots.push(item)
    else if (isWatcherFile(entry.name, SUFFIXES.report)) listing.reports.push(item)
    else if (profileKind(entry.name) !== null) listing.profiles.push({ ...item, kind: profileKind(entry.name) })
    else listing.others.push(item)
  }
  return listing
}

/** A heap profile's kind by its file's ending (`'heapprofile'` or `'pprof'`), or null for another file. */
function profileKind(name) {
  return PROFILE_KINDS.find(([ending]) => name.endsWith(ending))?.[1] ?? null
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
 * The others are noted and left out.
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
    else notes.push(`${item.name}: not a leakproof event log; skipped`)
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

/**
 * A process's floors, thinned while they are read so that at most `max` points are kept.
 * Each point stands for a run of consecutive samples (1, then 2, 4, … as the log grows:
 * when `max` points are kept, neighbours are merged in pairs and runs double). A floor is
 * a minimum, so a point keeps the LOWEST value of each series over its run (null only when
 * every sample of the run lacks it), at the time of the run's lowest heap floor.
 */
class FloorPoints {
  #max
  #points = []
  #run = null // the point being built
  #inRun = 0
  #runLength = 1
  total = 0

  constructor(max) {
    this.#max = max
  }

  /** Adds one floor `{ time, heap, external, native, rss }`. */
  add(point) {
    this.total++
    this.#run = this.#run === null ? point : lowest(this.#run, point)
    if (++this.#inRun === this.#runLength) this.#flushRun()
  }

  /** The kept points as the MODEL's `floors` columns. */
  columns() {
    if (this.#run !== null) this.#flushRun()
    const columns = { time: [], heap: [], external: [], native: [], rss: [] }
    for (const point of this.#points) for (const key of Object.keys(columns)) columns[key].push(point[key])
    return columns
  }

  /** How many samples each point stands for, at most. */
  get runLength() {
    return this.#runLength
  }

  /** Keeps the run's point, merging the kept points in pairs first when `max` are kept. */
  #flushRun() {
    if (this.#points.length === this.#max) {
      const merged = []
      for (let i = 0; i < this.#points.length; i += 2) merged.push(i + 1 < this.#points.length ? lowest(this.#points[i], this.#points[i + 1]) : this.#points[i])
      this.#points = merged
      this.#runLength *= 2
    }
    this.#points.push(this.#run)
    this.#run = null
    this.#inRun = 0
  }
}

/** The lower of each series of `a` and `b`, at the time of the lower heap floor. */
function lowest(a, b) {
  const min = (x, y) => (x === null ? y : y === null ? x : Math.min(x, y))
  return {
    time: (b.heap ?? Infinity) < (a.heap ?? Infinity) ? b.time : a.time,
    heap: min(a.heap, b.heap),
    external: min(a.external, b.external),
    native: min(a.native, b.native),
    rss: min(a.rss, b.rss),
  }
}

/**
 * The newest `max` items pushed, by key: an item pushed under a key already kept replaces
 * it and counts as the newest. `total`: the distinct items pushed in all.
 */
class NewestList {
  #max
  #items = new Map()
  #unkeyed = 0
  total = 0

  constructor(max) {
    this.#max = max
  }

  /**
   * Adds `item` under `key` (by default, a key of its own).
   * @param {object} item
   * @param {string | number} [key]
   */
  push(item, key = this.#unkeyed++) {
    if (this.#items.delete(key)) this.total--
    this.#items.set(key, item)
    this.total++
    if (this.#items.size > this.#max) this.#items.delete(this.#items.keys().next().value)
  }

  /** The item kept under `key`, or undefined. */
  get(key) {
    return this.#items.get(key)
  }

  /** The kept items, oldest first by `time`. */
  items() {
    return [...this.#items.values()].sort((a, b) => a.time - b.time)
  }
}

/** A number, or null for anything else (a field an older log lacks, or a broken one). */
function numberOrNull(value) {
  return typeof value === 'number' && Number.isFinite(value) ? value : null
}

/** A string, or null for anything else. */
function textOrNull(value) {
  return typeof value === 'string' ? value : null
}

/** The MODEL's lists of events, each kept to the newest MAX_EVENTS, with the label its notes use. */
const EVENT_LISTS = {
  leaks: 'leak events',
  snapshots: 'snapshots',
  skips: 'skipped snapshots',
  forcedGcs: 'forced GCs',
  thresholds: 'threshold events',
  errors: 'errors',
  listenerLeaks: 'listener-leak sites',
  reports: 'reports',
}

/** The entries of the MODEL's lists, made from an event's fields. */
const ENTRY = {
  leak: (e) => ({ time: e.time, kind: textOrNull(e.kind), since: numberOrNull(e.since), slopeBytesPerSec: numberOrNull(e.slopeBytesPerSec), current: numberOrNull(e.current), urgent: e.urgent === true, projectedLimitAt: numberOrNull(e.projectedLimitAt), scale: textOrNull(e.scale), scaleSpanMs: numberOrNull(e.scaleSpanMs) }),
  snapshot: (e) => ({ time: e.time, name: fileName(e.path), bytes: numberOrNull(e.bytes), durationMs: numberOrNull(e.durationMs), role: textOrNull(e.role), reason: textOrNull(e.reason) }),
  'snapshot-skipped': (e) => ({ time: e.time, skipped: textOrNull(e.skipped), reason: textOrNull(e.reason), detail: textOrNull(e.detail) }),
  threshold: (e) => ({ time: e.time, kind: textOrNull(e.kind), current: numberOrNull(e.current), limit: numberOrNull(e.limit) }),
  error: (e) => ({ time: e.time, during: textOrNull(e.during), error: textOrNull(e.error) }),
  'listener-leak': (e) => ({ time: e.time, emitter: textOrNull(e.emitter), event: textOrNull(e.event), site: textOrNull(e.site), count: numberOrNull(e.count) }),
}

/** What one process (pid, threadId) left: its floors, events and reports, as read so far. */
class ProcessBuilder {
  constructor(pid, threadId, maxPoints) {
    this.pid = pid
    this.threadId = threadId
    this.firstAt = null
    this.lastAt = null
    this.floors = new FloorPoints(maxPoints)
    this.heapLimit = null
    this.containerLimit = null
    this.lists = Object.fromEntries(Object.keys(EVENT_LISTS).map((key) => [key, new NewestList(MAX_EVENTS)]))
    this.sites = null // the newest `sites` event
    this.snapshotNames = new Set()
  }

  /** "pid 123", or "pid 123, thread 2" for a worker thread. */
  get label() {
    return this.threadId === 0 ? `pid ${this.pid}` : `pid ${this.pid}, thread ${this.threadId}`
  }

  /** Widens the process's time span to `time`. */
  seen(time) {
    if (this.firstAt === null || time < this.firstAt) this.firstAt = time
    if (this.lastAt === null || time > this.lastAt) this.lastAt = time
  }

  /** Takes one event of this process. */
  add(event) {
    this.seen(event.time)
    switch (event.type) {
      case 'sample': return this.#addSample(event)
      case 'leak': return this.lists.leaks.push(ENTRY.leak(event))
      case 'snapshot': return this.#addSnapshot(ENTRY.snapshot(event))
      case 'snapshot-skipped': return this.lists.skips.push(ENTRY['snapshot-skipped'](event))
      case 'threshold': return this.lists.thresholds.push(ENTRY.threshold(event))
      case 'error': return this.lists.errors.push(ENTRY.error(event))
      case 'listener-leak': return this.lists.listenerLeaks.push(ENTRY['listener-leak'](event), `${event.emitter}\0${event.event}\0${event.site}`)
      case 'report': return this.addReport(fileName(event.path), event, event.time)
      case 'sites': if (this.sites === null || event.time >= this.sites.time) this.sites = event
    }
  }

  /** A sample: one floor of each series, the limits, and its forced GC if it had one. */
  #addSample(event) {
    this.floors.add({ time: event.time, heap: numberOrNull(event.heapUsed), external: numberOrNull(event.external), native: numberOrNull(event.native), rss: numberOrNull(event.rss) })
    this.heapLimit = numberOrNull(event.heapLimit) ?? this.heapLimit
    this.containerLimit = numberOrNull(event.containerLimit) ?? this.containerLimit
    if (event.forcedGc === true) this.lists.forcedGcs.push({ time: event.time, reason: textOrNull(event.forcedGcReason), ms: numberOrNull(event.gcDurationMs) })
  }

  /** Adds a snapshot, from its event or, with what its name tells, from a file no event named. */
  #addSnapshot(snapshot) {
    if (snapshot.name !== null) this.snapshotNames.add(snapshot.name)
    this.lists.snapshots.push(snapshot)
  }

  /** Adds a snapshot file unless a `snapshot` event named it. */
  addSnapshotFile(snapshot) {
    if (this.snapshotNames.has(snapshot.name)) return
    this.seen(snapshot.time)
    this.#addSnapshot(snapshot)
  }

  /**
   * Adds a report, from its `report` event or from its file (`name`: the file's name, or
   * null for an event of a report that was not written). One from a file replaces the
   * event of the same file, keeping the event's time.
   */
  addReport(name, content, time) {
    const known = name === null ? undefined : this.lists.reports.get(name)
    const entry = { ...reportModel(content, name, known?.time ?? time), sites: content.sites?.sites }
    this.lists.reports.push(entry, name ?? undefined)
    this.seen(time)
  }
}

/** The last part of a path, or null. */
function fileName(file) {
  return typeof file === 'string' && file !== '' ? path.basename(file) : null
}



/** The MODEL being built: its processes by (pid, threadId), in order of first appearance, and its notes. */
class ModelBuilder {
  constructor(dir, maxPoints) {
    this.dir = dir
    this.maxPoints = maxPoints
    this.notes = []
    this.processes = new Map() // `${pid}:${threadId}` -> ProcessBuilder
    this.processesLeftOut = new Set() // keys past MAX_PROCESSES
    this.logsRead = 0
  }

  /** The entry of (pid, threadId), made on first use; null past MAX_PROCESSES. */
  process(pid, threadId) {
    const key = `${pid}:${threadId}`
    let entry = this.processes.get(key)
    if (entry === undefined) {
      if (this.processes.size === MAX_PROCESSES) {
        if (this.processesLeftOut.size < 1_000_000) this.processesLeftOut.add(key)
        return null
      }
      entry = new ProcessBuilder(pid, threadId, this.maxPoints)
      this.processes.set(key, entry)
    }
    return entry
  }

  /** Reads one event log, line by line; lines that are not events are counted and noted. */
  async readLog(log) {
    const skipped = { notJson: 0, notEvents: 0, unknownTypes: new Set() } // unknownTypes: the first 5
    const onLine = (line) => {
      if (line === null) return void skipped.notJson++
      if (line.trim() === '') return
      const event = parseJson(line)
      if (event === undefined) skipped.notJson++
      else if (!isEvent(event)) skipped.notEvents++
      else if (!EVENT_TYPES.has(event.type)) {
        if (skipped.unknownTypes.size < 5) skipped.unknownTypes.add(event.type)
      } else this.process(event.pid, Number.isSafeInteger(event.threadId) ? event.threadId : 0)?.add(event)
    }
    try {
      await eachLine(log.file, onLine)
      this.logsRead++
    } catch (err) {
      this.notes.push(`${log.name}: reading stopped (${err.message}); what came before is shown`)
    }
    this.#noteSkippedLines(log.name, skipped)
  }

  /** Notes the lines of log `name` that were skipped, by why. */
  #noteSkippedLines(name, { notJson, notEvents, unknownTypes }) {
    if (notJson > 0) this.notes.push(`${name}: skipped ${count(notJson, 'line')} that ${notJson === 1 ? 'is' : 'are'} not JSON (a truncated last line, or garbage)`)
    if (notEvents > 0) this.notes.push(`${name}: skipped ${count(notEvents, 'line')} that ${notEvents === 1 ? 'is not a leakproof event' : 'are not leakproof events'}`)
    if (unknownTypes.size > 0) this.notes.push(`${name}: skipped events of types this report does not know (${[...unknownTypes].join(', ')})`)
  }

  /** Reads one `leakproof-*.report.json` and gives it to its process (by its content's pid, else its name's). */
  async readReportFile(item) {
    if (item.bytes > MAX_REPORT_BYTES) return void this.notes.push(`${item.name}: ${count(item.bytes, 'byte')}, too large for a report; skipped`)
    let report
    try {
      report = JSON.parse(await fs.promises.readFile(item.file, 'utf8'))
    } catch (err) {
      return void this.notes.push(`${item.name}: not a readable report (${err.message}); skipped`)
    }
    if (report === null || typeof report !== 'object' || Array.isArray(report)) {
      return void this.notes.push(`${item.name}: not a report (not a JSON object); skipped`)
    }
    const named = parseWatcherName(item.name)
    const pid = Number.isSafeInteger(report.pid) ? report.pid : named?.pid
    if (pid === undefined) return void this.notes.push(`${item.name}: names no process (no pid in its name or content); skipped`)
    const threadId = Number.isSafeInteger(report.threadId) ? report.threadId : (named?.threadId ?? 0)
    const time = numberOrNull(report.time) ?? named?.time ?? item.mtimeMs
    this.process(pid, threadId)?.addReport(item.name, report, time)
  }

  /** Gives a snapshot file that no `snapshot` event named to its process, with what its name tells. */
  addSnapshotFile(item) {
    const named = parseWatcherName(item.name)
    if (named === null) return
    const time = named.time ?? item.mtimeMs
    this.process(named.pid, named.threadId)?.addSnapshotFile({ time, name: item.name, bytes: item.bytes, durationMs: null, role: null, reason: named.reason })
  }

  /** The MODEL. */
  finish(listing) {
    const processes = [...this.processes.values()].map((entry) => this.#processModel(entry))
    if (this.logsRead === 0) this.notes.push('no leakproof event log in this directory: no floors, leaks or skipped snapshots to show')
    if (this.processes.size === 0) this.notes.push('nothing from leakproof in this directory: no event log, report or heap snapshot')
    const leftOut = this.processesLeftOut.size
    if (leftOut > 0) this.notes.push(`${leftOut.toLocaleString('en-US')} more processes or threads not shown (the first ${MAX_PROCESSES} are)`)
    const names = (items) => items.map(({ name, bytes }) => ({ name, bytes }))
    return {
      generatedAt: Date.now(),
      dir: this.dir,
      notes: this.notes,
      files: { logs: names(listing.logs), reports: names(listing.reports), snapshots: names(listing.snapshots) },
      profiles: listing.profiles.map(({ name, kind, bytes, mtimeMs }) => ({ name, kind, bytes, mtime: mtimeMs })),
      processes,
    }
  }

  /** One process of the MODEL, with notes on what was cut or is missing. */
  #processModel(entry) {
    const { label } = entry
    const floors = entry.floors.columns()
    const floorsTotal = entry.floors.total
    const downsampled = floorsTotal > floors.time.length
    this.#noteFloors(entry, floors, downsampled)
    const lists = {}
    for (const [key, what] of Object.entries(EVENT_LISTS)) {
      const list = entry.lists[key]
      lists[key] = list.items()
      if (list.total > lists[key].length) this.notes.push(`${label}: ${list.total.toLocaleString('en-US')} ${what}, the newest ${lists[key].length} shown`)
    }
    const newestReportSites = lists.reports.findLast((report) => Array.isArray(report.sites))?.sites
    return {
      pid: entry.pid,
      threadId: entry.threadId,
      label,
      firstAt: entry.firstAt,
      lastAt: entry.lastAt,
      floors,
      floorsTotal,
      downsampled,
      heapLimit: entry.heapLimit,
      containerLimit: entry.containerLimit,
      ...lists,
      sites: sitesModel(entry.sites?.sites ?? newestReportSites),
      listenerLeaks: lists.listenerLeaks.map(({ emitter, event, site, count }) => ({ emitter, event, site, count })),
      reports: lists.reports.map(({ sites: _sites, ...report }) => report),
    }
  }

  /** Notes a process's floors that are missing (no samples, no native or RSS) or thinned. */
  #noteFloors(entry, floors, downsampled) {
    const { label } = entry
    if (entry.floors.total === 0) {
      if (this.logsRead > 0) this.notes.push(`${label}: no floors: the log has no \`sample\` events of it (a log written by a leakproof that did not log them?)`)
      return
    }
    if (downsampled) {
      this.notes.push(`${label}: ${count(entry.floors.total, 'floor')} drawn as ${floors.time.length.toLocaleString('en-US')} (each point the lowest of up to ${entry.floors.runLength} floors in a row)`)
    }
    const missing = ['native', 'rss'].filter((key) => floors[key].every((value) => value === null))
    if (missing.length > 0) this.notes.push(`${label}: the samples have no ${missing.join(' or ')} floors (a log written by an older leakproof, or not measured here)`)
  }
}

/** `n thing` or `n things`, with thousands separators. */
function count(n, thing) {
  return `${n.toLocaleString('en-US')} ${n === 1 ? thing : `${thing}s`}`
}

/**
 * A report of the MODEL: what a page shows of a pair's diff or of a diagnosis without snapshot.
 * A diagnosis also has its `evidence` (`'census'`, `'sites'`, `'none'`, or null from a
 * leakproof before the census) and its suspects are the census' grown collections.
 */
function reportModel(content, name, time) {
  const list = (value) => (Array.isArray(value) ? value.slice(0, TOP) : [])
  const pair = content.kind === 'pair'
  return {
    time,
    kind: typeof content.kind === 'string' ? content.kind : null,
    name,
    ...(pair ? {} : { evidence: textOrNull(content.evidence) }),
    suspects: pair ? list(content.suspects).map(suspectModel) : list(content.suspects).map(censusSuspectModel),
    grownCollections: pair ? list(content.grownCollections).map(collectionModel) : list(content.collections?.boundedMaps).map(boundedMapModel),
    growingHandles: pair ? list(content.growingHandles) : list(content.collections?.handles),
    native: nativeModel(content.native),
    lookedAt: Array.isArray(content.lookedAt) ? content.lookedAt : null,
    notLookedAt: Array.isArray(content.notLookedAt) ? content.notLookedAt : null,
  }
}

/**
 * A native leak's verdict of the MODEL (null when the report has none): whether JS objects
 * hold it, and when none do, what grew and the commands to run next.
 */
function nativeModel(native) {
  if (native === null || typeof native !== 'object' || typeof native.verdict !== 'string') return null
  const list = (value) => (Array.isArray(value) ? value : [])
  return {
    verdict: native.verdict,
    growthBytes: numberOrNull(native.growthBytes),
    explanation: textOrNull(native.explanation),
    mappings: list(native.mappings).map((m) => ({ label: textOrNull(m?.label) ?? textOrNull(m?.kind), growthBytes: numberOrNull(m?.growthBytes) })),
    next: list(native.next).filter((n) => typeof n?.command === 'string').map((n) => ({ what: textOrNull(n.what), command: n.command })),
  }
}

/** A suspect of the MODEL: its holder in the user's words and its readable path as one string. */
function suspectModel(suspect) {
  return {
    name: suspect?.name ?? null,
    count: numberOrNull(suspect?.count),
    retainedSize: numberOrNull(suspect?.retainedSize),
    holder: holderText(suspect?.holder),
    path: pathText(suspect?.readablePath),
  }
}

/**
 * A census suspect of the MODEL (a collection that grew between the census' passes): its
 * members' class, holder and path (already one string) as a pair's suspect has them, then the
 * entries before and after and the bytes one entry holds (`bytesPerEntrySource`: `'measured'`
 * or `'slope'`, an estimate from the leak's rate).
 */
function censusSuspectModel(suspect) {
  return {
    name: suspect?.name ?? null,
    holder: holderText(suspect?.holder),
    path: textOrNull(suspect?.readablePath) ?? pathText(suspect?.readablePath),
    collections: numberOrNull(suspect?.collections),
    before: numberOrNull(suspect?.before),
    after: numberOrNull(suspect?.after),
    entriesPerSec: numberOrNull(suspect?.entriesPerSec),
    bytesPerEntry: numberOrNull(suspect?.bytesPerEntry),
    bytesPerEntrySource: textOrNull(suspect?.bytesPerEntrySource),
    memberHandle: textOrNull(suspect?.memberHandle),
  }
}

/**
 * A pair's grown collection: the fields of name, holder, before, after, path and its
 * entries' class (`memberClass`) that it has, and the native memory it retains when it
 * retains some (`nativeBytes`, `nativeBytesBefore` where known, and `nativeKinds` as short
 * names: `zlib`).
 */
function collectionModel(collection) {
  const model = {}
  if (collection?.name !== undefined) model.name = collection.name
  if (collection?.holder != null) model.holder = holderText(collection.holder)
  if (collection?.before !== undefined) model.before = collection.before
  if (collection?.after !== undefined) model.after = collection.after
  if (Array.isArray(collection?.readablePath)) model.path = pathText(collection.readablePath)
  if (typeof collection?.memberClass === 'string') model.memberClass = collection.memberClass
  if (collection?.nativeBytes > 0) {
    model.nativeBytes = collection.nativeBytes
    model.nativeKinds = nativeKindsText(collection)
    if (typeof collection.nativeBytesBefore === 'number') model.nativeBytesBefore = collection.nativeBytesBefore
  }
  return model
}

/** A diagnosis's grown BoundedMaps (by name) as grown collections. */
function boundedMapModel(map) {
  return { name: map?.name ?? null, before: numberOrNull(map?.sizeBefore), after: numberOrNull(map?.size) }
}

/** A holder in the user's words (its `description`), or null. */
function holderText(holder) {
  if (typeof holder === 'string') return holder
  return typeof holder?.description === 'string' ? holder.description : null
}

/** A readable retainer path as one string, `a → b → c`, or null. */
function pathText(readablePath) {
  return Array.isArray(readablePath) ? readablePath.map(String).join(' → ') : null
}

/**
 * The MODEL's sites: `[{ functionName, url, line, column, growthBytes, liveBytes, package,
 * appFrame }]`; `package` (a name) and `appFrame` (`{ functionName, url, line, column }`) are
 * null but on a site in a package that has them (sites.js).
 */
function sitesModel(sites) {
  if (!Array.isArray(sites)) return []
  return sites.map((site) => ({
    ...placeModel(site),
    growthBytes: numberOrNull(site?.growthBytes),
    liveBytes: numberOrNull(site?.liveBytes),
    package: typeof site?.package === 'string' ? site.package : null,
    appFrame: site?.appFrame ? placeModel(site.appFrame) : null,
  }))
}

/** A place in the code as the MODEL has it: `{ functionName, url, line, column }`, null where unknown. */
function placeModel(frame) {
  return {
    functionName: frame?.functionName ?? null,
    url: frame?.url ?? null,
    line: numberOrNull(frame?.line),
    column: numberOrNull(frame?.column),
  }
}

module.exports = { collect, FloorPoints }

'use strict'

/**
 * `collect(dir)`: reads what a watcher left in a directory — its event logs, its
 * `leakproof-*.report.json` files, and the names and sizes of its heap snapshots and heap
 * profiles (`.heapprofile`, `.pb.gz`) — into the plain-JSON MODEL that render.js draws (the
 * MODEL's shape: docs/report.md). `collectAll(dirs)`: the MODEL of several directories (pods'
 * volumes, hosts' copies), their processes side by side; with more than one instance (a process
 * or worker thread of one directory) in it, the MODEL has its fleet (fleet.js).
 *
 * Bad input never stops it: a file that is not a leakproof event log, a line that is not
 * JSON (a truncated last line), a report that does not parse, each becomes a `notes` entry
 * and is skipped. Only a `dir` that is not a readable directory throws.
 *
 * Memory stays bounded whatever the size of the logs: they are read in 1 MiB chunks, line by
 * line; each process keeps at most `maxPoints` floor points (see `FloorPoints`) and the
 * newest `MAX_EVENTS` events of each kind (process-builder.js). Snapshots and profiles are never
 * opened.
 *
 * Strings from the files are data and pass through unchanged: escaping is the renderer's job.
 */
const fs = require('node:fs')
const path = require('node:path')
const { parseWatcherName } = require('../shared/file-names')
const { CODES, codedError, describe, checkOptionsObject, checkPositiveInteger, invalidOptionRange } = require('../shared/errors')
const { WHERE, EVENT_TYPES, checkDir, listDir, findLogs, eachLine, parseJson, isEvent } = require('./log-files')
const { mapInBatches } = require('../shared/in-batches')
const { sitesModel, numberOrNull } = require('./report-model')
const { heldByOf, dirNames, fleetModel } = require('./fleet')
const { ProcessBuilder, EVENT_LISTS, leaksOfReports } = require('./process-builder')

/** Processes (pid, threadId) shown, at most: the events of others are counted and noted. */
const MAX_PROCESSES = 64
/** Directories read at once: one at a time leaves the disk and the CPU idle between files (64 directories: 0.5–0.6× the time four at a time). */
const DIRS_AT_ONCE = 4
/** A larger report file is noted and skipped: the watcher's are tens of KiB. */
const MAX_REPORT_BYTES = 64 * 1024 * 1024
/** Floor points kept per process: of one directory, and in all over several (each keeps at least MIN_POINTS). */
const POINTS = 2000
const POINTS_OF_SEVERAL = 8000
const MIN_POINTS = 200

/**
 * Reads `dir` into the report's MODEL.
 * @param {string} dir the watcher's directory (its `dir`, where `LEAKPROOF_LOG` was written)
 * @param {{ maxPoints?: number }} [options] `maxPoints`: floor points kept per process (default 2000, at least 2)
 * @returns {Promise<object>} the MODEL
 */
async function collect(dir, options = {}) {
  return collectAll([dir], options)
}

/**
 * Reads directories into one MODEL, their processes side by side and, with more than one
 * instance, grouped in its `fleet`. Each directory is checked before any is read (the first
 * that is not a readable directory throws, naming it); one given twice (or through a symbolic
 * link) is read once.
 * @param {string[]} dirs the watchers' directories, one or more
 * @param {{ maxPoints?: number }} [options] `maxPoints`: floor points kept per process (default
 *   2000 for one directory, 8000 shared by several, at least 200 each; at least 2)
 * @returns {Promise<object>} the MODEL
 */
async function collectAll(dirs, options = {}) {
  if (!Array.isArray(dirs) || dirs.length === 0) {
    throw codedError(TypeError, CODES.INVALID_ARGUMENT, `${WHERE}: dirs must be an array of one or more directory paths; got ${describe(dirs)}`)
  }
  checkOptionsObject(WHERE, options, ['maxPoints'])
  if (options.maxPoints !== undefined) checkMaxPoints(options.maxPoints)
  const unique = await distinctDirs(dirs)
  const maxPoints = options.maxPoints ?? (unique.length === 1 ? POINTS : Math.max(MIN_POINTS, Math.min(POINTS, Math.floor(POINTS_OF_SEVERAL / unique.length))))
  return mergeModels(await mapInBatches(unique, DIRS_AT_ONCE, (dir) => readDir(dir, maxPoints)))
}

/** The absolute paths of `dirs`, each checked and each once (by its real path). */
async function distinctDirs(dirs) {
  const resolved = []
  for (const dir of dirs) resolved.push(await checkDir(dir))
  const seen = new Set()
  const unique = []
  for (const dir of resolved) {
    const real = await fs.promises.realpath(dir).catch(() => dir)
    if (seen.has(real)) continue
    seen.add(real)
    unique.push(dir)
  }
  return unique
}

/** The MODEL of one directory, already checked, its fleet not yet made. */
async function readDir(dir, maxPoints) {
  const model = new ModelBuilder(dir, maxPoints)
  const listing = await listDir(dir)
  const logs = await findLogs(listing.others, model.notes)
  for (const file of logs) await model.readLog(file)
  for (const file of listing.reports) await model.readReportFile(file)
  for (const file of listing.snapshots) model.addSnapshotFile(file)
  return model.finish({ ...listing, logs })
}

/**
 * One MODEL of the directories' MODELs, with their `dirs` (`{ path, name }`) and `fleet`. Of one,
 * it is that directory's as it was; of several, each note says which directory it is of (its
 * name in front) and each file and profile (by its `dir`, as each process has). Each process's
 * `instance` is its label, of several directories after its directory's name.
 */
function mergeModels(models) {
  const names = dirNames(models.map((m) => m.dir))
  const dirs = models.map((m, i) => ({ path: m.dir, name: names[i] }))
  const instance = (p, i) => ({ ...p, instance: models.length === 1 ? p.label : `${names[i]} · ${p.label}` })
  const processes = models.flatMap((m, i) => m.processes.map((p) => instance(p, i)))
  const onDisk = new Set(models.flatMap((m) => [...m.files.reports, ...m.files.snapshots].map((f) => path.join(m.dir, f.name))))
  if (models.length === 1) return { ...models[0], dirs, processes, fleet: fleetModel(processes, onDisk) }
  const ofDir = (m, items) => items.map((item) => ({ ...item, dir: m.dir }))
  return {
    generatedAt: Date.now(),
    dir: models[0].dir,
    dirs,
    notes: models.flatMap((m, i) => m.notes.map((note) => `${names[i]}: ${note}`)),
    files: Object.fromEntries(['logs', 'reports', 'snapshots'].map((key) => [key, models.flatMap((m) => ofDir(m, m.files[key]))])),
    profiles: models.flatMap((m) => ofDir(m, m.profiles)),
    processes,
    fleet: fleetModel(processes, onDisk),
  }
}

/** Checks `options.maxPoints`: an integer of 2 or more (runs of floors are merged in pairs). */
function checkMaxPoints(value) {
  checkPositiveInteger(WHERE, 'options.maxPoints', value)
  if (value < 2) throw invalidOptionRange(WHERE, 'options.maxPoints', 'an integer of 2 or more', value)
  return value
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
    if (this.logsRead === 0) this.notes.push('no leakproof event log in this directory (LEAKPROOF_LOG): no floors or skipped snapshots to show, and leaks only as the reports tell them')
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
    if (lists.leaks.length === 0) lists.leaks = leaksOfReports(lists.reports)
    return {
      pid: entry.pid,
      threadId: entry.threadId,
      thread: entry.thread,
      label,
      firstAt: entry.firstAt,
      lastAt: entry.lastAt,
      firstLeakAt: entry.firstLeakAt ?? lists.leaks[0]?.time ?? null,
      dir: this.dir,
      floors,
      floorsTotal,
      downsampled,
      heapLimit: entry.heapLimit,
      containerLimit: entry.containerLimit,
      ...lists,
      sites: sitesModel(entry.sites?.sites ?? newestReportSites),
      listenerLeaks: lists.listenerLeaks.map(({ emitter, event, site, count }) => ({ emitter, event, site, count })),
      heldBy: heldByOf(lists.reports),
      reports: lists.reports.map(({ sites: _sites, label: _label, snapshots: _snapshots, leak: _leak, ...report }) => report),
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
    // A worker read from the main thread has only its heap: the process's memory is on the main thread's row.
    if (entry.thread?.watchedFrom === 'main') return
    const missing = ['native', 'rss'].filter((key) => floors[key].every((value) => value === null))
    if (missing.length > 0) this.notes.push(`${label}: the samples have no ${missing.join(' or ')} floors (a log written by an older leakproof, or not measured here)`)
  }
}

/** `n thing` or `n things`, with thousands separators. */
function count(n, thing) {
  return `${n.toLocaleString('en-US')} ${n === 1 ? thing : `${thing}s`}`
}

module.exports = { collect, collectAll }

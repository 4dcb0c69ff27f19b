'use strict'

/**
 * The names of the files a watcher writes into its `dir`, made, matched and read here only:
 * `leakproof-<ISO time, ':' and '.' as '-'>-<pid>-<threadId>-[<sequence>-]<reason><suffix>`,
 * with a snapshot written first under `.<name>.tmp`. Snapshots and profiles carry a
 * sequence; a diagnosis report has none; a pair's report is its follow-up snapshot's name
 * with the report suffix.
 */
const { threadId } = require('node:worker_threads')

/** What every watcher file's name starts with. */
const PREFIX = 'leakproof-'

/** The endings of the watcher's files, by what they hold. */
const SUFFIXES = Object.freeze({
  snapshot: '.heapsnapshot',
  report: '.report.json',
  heapprofile: '.heapprofile',
  pprof: '.pb.gz',
})

/** A watcher file's name, its parts captured: day and hour, minutes, seconds, ms, pid, threadId, reason, suffix. */
const WATCHER_NAME = /^leakproof-(\d{4}-\d\d-\d\dT\d\d)-(\d\d)-(\d\d)-(\d{3})Z-(\d+)-(\d+)-(?:\d+-)?([a-z-]+)(\.heapsnapshot|\.report\.json|\.heapprofile|\.pb\.gz)$/

/** A snapshot being written, its writer's pid captured. */
const TEMP_SNAPSHOT_NAME = /^\.leakproof-.+Z-(\d+)-\d+-\d+-[a-z-]+\.heapsnapshot\.tmp$/

/**
 * The name of a file this thread (or `pid`'s thread `thread`: a file it left, which this one
 * keeps) writes at `time` (epoch ms) for `reason`; `sequence` is left out when undefined.
 * @param {number} time
 * @param {{ sequence?: number, reason: string, suffix: string, pid?: number, thread?: number }} parts
 */
function watcherFileName(time, { sequence, reason, suffix, pid = process.pid, thread = threadId }) {
  const stamp = new Date(time).toISOString().replace(/[:.]/g, '-')
  return `${PREFIX}${stamp}-${pid}-${thread}-${sequence === undefined ? '' : `${sequence}-`}${reason}${suffix}`
}

/** The event log's name in a directory leakproof's commands make (`leakproof run`, `leakproof attach`). */
const LOG_NAME = 'leakproof-events.jsonl'

/** The hidden name a file is written under before it is renamed to `name`. */
function tempName(name) {
  return `.${name}.tmp`
}

/** The pid that writes (or wrote) a temporary snapshot of this name, or null for another name. */
function tempSnapshotWriter(name) {
  const match = TEMP_SNAPSHOT_NAME.exec(name)
  return match === null ? null : Number(match[1])
}

/**
 * A heap profile's kind by its file's ending, whoever wrote it (the watcher, DevTools, the
 * admin route): `'heapprofile'` (V8's JSON) or `'pprof'` (gzipped), or null for another file.
 * @returns {'heapprofile' | 'pprof' | null}
 */
function profileKind(name) {
  if (name.endsWith(SUFFIXES.heapprofile)) return 'heapprofile'
  if (name.endsWith(SUFFIXES.pprof)) return 'pprof'
  return null
}

/** Whether `name` is a watcher file's with this suffix (one of SUFFIXES). */
function isWatcherFile(name, suffix) {
  return name.startsWith(PREFIX) && name.endsWith(suffix)
}

/** The report of a pair: beside its follow-up snapshot, the same name with the report suffix. */
function reportPathOf(snapshotPath) {
  return snapshotPath.slice(0, -SUFFIXES.snapshot.length) + SUFFIXES.report
}

/**
 * The time, pid, threadId, reason and suffix in a watcher file's name, or null for another
 * name; `time` is null if the stamp is no real date.
 */
function parseWatcherName(name) {
  const match = WATCHER_NAME.exec(name)
  if (match === null) return null
  const [, dayHour, minutes, seconds, millis, pid, thread, reason, suffix] = match
  const time = Date.parse(`${dayHour}:${minutes}:${seconds}.${millis}Z`)
  return { time: Number.isFinite(time) ? time : null, pid: Number(pid), threadId: Number(thread), reason, suffix }
}

module.exports = { PREFIX, SUFFIXES, LOG_NAME, watcherFileName, tempName, tempSnapshotWriter, isWatcherFile, profileKind, reportPathOf, parseWatcherName }

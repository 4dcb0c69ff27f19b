'use strict'

/**
 * What one process (pid, threadId) of a directory left, as collect.js reads it: its floors,
 * its events of each kind (the newest MAX_EVENTS, `EVENT_LISTS`) as the MODEL's entries, and
 * its reports, from their `report` events and their files. collect.js makes the process's part
 * of the MODEL from it, with the notes on what was cut.
 */
const path = require('node:path')
const { FloorPoints, NewestList } = require('./points')
const { reportModel, numberOrNull, textOrNull } = require('./report-model')
const { holderLabel } = require('../diagnose/holder-label')

/** Events of one kind kept per process (the newest), so a long log keeps a bounded page. */
const MAX_EVENTS = 500

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
  restarts: 'restart events',
}

/** The entries of the MODEL's lists, made from an event's fields. */
const ENTRY = {
  leak: (e) => ({ time: e.time, kind: textOrNull(e.kind), since: numberOrNull(e.since), slopeBytesPerSec: numberOrNull(e.slopeBytesPerSec), current: numberOrNull(e.current), urgent: e.urgent === true, projectedLimitAt: numberOrNull(e.projectedLimitAt), limit: numberOrNull(e.limit), scale: textOrNull(e.scale), scaleSpanMs: numberOrNull(e.scaleSpanMs), test: textOrNull(e.test) }),
  snapshot: (e) => ({ time: e.time, name: fileName(e.path), bytes: numberOrNull(e.bytes), durationMs: numberOrNull(e.durationMs), role: textOrNull(e.role), reason: textOrNull(e.reason) }),
  'snapshot-skipped': (e) => ({ time: e.time, skipped: textOrNull(e.skipped), reason: textOrNull(e.reason), detail: textOrNull(e.detail) }),
  threshold: (e) => ({ time: e.time, kind: textOrNull(e.kind), current: numberOrNull(e.current), limit: numberOrNull(e.limit) }),
  error: (e) => ({ time: e.time, during: textOrNull(e.during), error: textOrNull(e.error) }),
  'listener-leak': (e) => ({ time: e.time, emitter: textOrNull(e.emitter), event: textOrNull(e.event), site: textOrNull(e.site), count: numberOrNull(e.count) }),
  'restart-due': (e) => ({
    time: e.time, step: 'due', kind: textOrNull(e.kind), timeLeftMs: numberOrNull(e.timeLeftMs), bytesLeft: null,
    beforeMinInterval: e.beforeMinInterval === true, settled: e.evidence?.settled === true, kept: evidenceCount(e.evidence), lost: null,
  }),
  'restart-exit': (e) => ({
    time: e.time, step: 'exit', kind: null, timeLeftMs: numberOrNull(e.margin?.timeLeftMs), bytesLeft: numberOrNull(e.margin?.bytesLeft),
    beforeMinInterval: false, settled: null, kept: evidenceCount(e.margin?.evidence), lost: Array.isArray(e.margin?.evidence?.lost) ? e.margin.evidence.lost.length : null,
  }),
}

/** Files a restart event's `evidence` lists (reports, snapshots, profiles), or null. */
function evidenceCount(evidence) {
  const lists = [evidence?.reports, evidence?.snapshots, evidence?.profiles]
  return lists.every(Array.isArray) ? lists.reduce((sum, list) => sum + list.length, 0) : null
}

/** What one process (pid, threadId) left: its floors, events and reports, as read so far. */
class ProcessBuilder {
  constructor(pid, threadId, maxPoints) {
    this.pid = pid
    this.threadId = threadId
    this.firstAt = null
    this.lastAt = null
    this.firstLeakAt = null // the first leak event's time, of all read (the lists keep the newest)
    this.floors = new FloorPoints(maxPoints)
    this.heapLimit = null
    this.containerLimit = null
    this.lists = Object.fromEntries(Object.keys(EVENT_LISTS).map((key) => [key, new NewestList(MAX_EVENTS)]))
    this.sites = null // the newest `sites` event
    this.snapshotNames = new Set()
    this.thread = null // who the worker thread is, from its events' `thread` (watch.md#worker-threads)
  }

  /** "pid 123", or for a worker thread "pid 123, thread 2", with its pool and script where its events say. */
  get label() {
    if (this.threadId === 0) return `pid ${this.pid}`
    const { pool = null, script = null } = this.thread ?? {}
    const what = [pool, typeof script === 'string' ? path.basename(script) : null].filter((part) => typeof part === 'string' && part !== '')
    return `pid ${this.pid}, thread ${this.threadId}${what.length === 0 ? '' : ` (${what.join(', ')})`}`
  }

  /** Widens the process's time span to `time`. */
  seen(time) {
    if (this.firstAt === null || time < this.firstAt) this.firstAt = time
    if (this.lastAt === null || time > this.lastAt) this.lastAt = time
  }

  /** Takes one event of this process. */
  add(event) {
    this.seen(event.time)
    if (event.thread !== null && typeof event.thread === 'object') this.thread = event.thread
    switch (event.type) {
      case 'sample': return this.#addSample(event)
      case 'leak':
        if (this.firstLeakAt === null || event.time < this.firstLeakAt) this.firstLeakAt = event.time
        return this.lists.leaks.push(ENTRY.leak(event))
      case 'snapshot': return this.#addSnapshot(ENTRY.snapshot(event))
      case 'snapshot-skipped': return this.lists.skips.push(ENTRY['snapshot-skipped'](event))
      case 'threshold': return this.lists.thresholds.push(ENTRY.threshold(event))
      case 'error': return this.lists.errors.push(ENTRY.error(event))
      case 'listener-leak': return this.lists.listenerLeaks.push(ENTRY['listener-leak'](event), `${event.emitter}\0${event.event}\0${event.site}`)
      case 'restart-due':
      case 'restart-exit': return this.lists.restarts.push(ENTRY[event.type](event))
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
   * event of the same file, keeping the event's time. Kept beside it until the MODEL is made:
   * its allocation sites, the label of the holder it names and a pair's snapshots.
   */
  addReport(name, content, time) {
    const known = name === null ? undefined : this.lists.reports.get(name)
    const snapshots = content.kind === 'pair' ? [content.baseline, content.followUp].map(fileName).filter((n) => n !== null) : undefined
    // A report without a pair carries its leak event: a directory without an event log (no LEAKPROOF_LOG) still says when and how fast.
    const leak = content.kind === 'no-snapshot' && content.leak !== null && typeof content.leak === 'object' && Number.isFinite(content.leak.time) ? ENTRY.leak(content.leak) : null
    const entry = { ...reportModel(content, name, known?.time ?? time), sites: content.sites?.sites, label: holderLabel(content), snapshots, leak }
    this.lists.reports.push(entry, name ?? undefined)
    this.seen(time)
  }
}

/** The leak events a process's reports carry (without a log that had them), each once, oldest first. */
function leaksOfReports(reports) {
  const byTime = new Map(reports.filter((r) => r.leak !== null).map((r) => [`${r.leak.time}\0${r.leak.kind}`, r.leak]))
  return [...byTime.values()].sort((a, b) => a.time - b.time)
}

/** The last part of a path, or null. */
function fileName(file) {
  return typeof file === 'string' && file !== '' ? path.basename(file) : null
}

module.exports = { ProcessBuilder, EVENT_LISTS, leaksOfReports }

'use strict'

const { threadId } = require('node:worker_threads')
const { holderLabel } = require('../diagnose/holder-label')

/** The memory kinds the detector judges, in the order status lists them. */
const KINDS = Object.freeze(['heap', 'external', 'native'])

/**
 * The time scale of a kind's trend while no leak is reported on a slower one: the window of
 * every floor kept (the detector's first scale, src/core/detect/scales.rs). Status and the
 * metrics give it to a kind with no trend yet.
 */
const DEFAULT_SCALE = 'minutes'

/**
 * What a watcher has done so far, counted from the events it emitted: leaks by kind,
 * snapshots written and declined by reason, reports, and the newest of each. It is what
 * `watcher.status()` and the metrics (lib/operate/) read: counters only grow while the
 * watcher runs, and start from zero with a new watcher, as monitoring systems expect of a
 * counter after a restart.
 */
class Tally {
  #leaks = Object.fromEntries(KINDS.map((kind) => [kind, 0]))
  #snapshots = { written: 0 } // and one count per skip reason, from its first skip on
  #reports = 0
  #lastLeak = null
  #lastSnapshot = null
  #lastReport = null
  // The holder reports named, as a label (holder-label.js): this thread's by kind, a worker
  // thread's (watched from here) by `thread:ID`, at most MAX_THREAD_HOLDERS of those.
  #holders = new Map()

  /** Counts one emitted event. */
  note(type, event) {
    switch (type) {
      case 'leak':
        this.#leaks[event.kind] = (this.#leaks[event.kind] ?? 0) + 1
        // The holder named stays: a leak event after the first says it got worse, and its
        // window (`since`) slides along a long leak. The next report confirms or replaces it.
        this.#lastLeak = event
        break
      case 'snapshot':
        this.#snapshots.written++
        this.#lastSnapshot = event
        break
      case 'snapshot-skipped':
        this.#snapshots[event.skipped] = (this.#snapshots[event.skipped] ?? 0) + 1
        this.#lastSnapshot = event
        break
      case 'report':
        this.#reports++
        this.#lastReport = event
        this.#noteHolder(event)
        break
    }
  }

  /**
   * Keeps the holder a report names: for each kind it is about, or for its worker thread. A
   * pair confirming the census gives the same label (no series changes); another holder
   * replaces it.
   */
  #noteHolder(report) {
    const label = holderLabel(report)
    if (label === null) return
    const kinds = report.kind === 'pair' ? report.leaking.map((k) => k.kind) : [report.leak.kind]
    for (const subject of new Set(kinds.map((kind) => subjectOf(report, kind)))) {
      this.#holders.delete(subject)
      this.#holders.set(subject, { ...label, time: report.time, path: report.path })
    }
    const threads = [...this.#holders.keys()].filter((subject) => subject.startsWith('thread:'))
    for (const gone of threads.slice(0, Math.max(0, threads.length - MAX_THREAD_HOLDERS))) this.#holders.delete(gone)
  }

  /**
   * This thread's holder for each kind since its leak began: `{ kind, holder, site, share,
   * time, path }` (`time` and `path`: the newest report that named it).
   */
  get holders() {
    return KINDS.filter((kind) => this.#holders.has(kind)).map((kind) => ({ kind, ...this.#holders.get(kind) }))
  }

  /** The holder named for worker thread `id`'s leak (`{ holder, site, share, time, path }`), or null. */
  threadHolder(id) {
    const kept = this.#holders.get(`thread:${id}`)
    return kept === undefined ? null : { ...kept }
  }

  /** The newest `report` event this watcher emitted (the whole report), or null. */
  get latestReport() {
    return this.#lastReport
  }

  /**
   * The counts and the newest events, as plain data (JSON-safe): `leaks` by kind,
   * `snapshots` by result (`written` and each skip reason seen), `reports`, and
   * `lastLeak`, `lastSnapshot` (written or declined), `lastReport` (its path, kind and
   * time: the report itself stays in its file), each null until there is one.
   */
  read() {
    const report = this.#lastReport
    return {
      leaks: { ...this.#leaks },
      snapshots: { ...this.#snapshots },
      reports: this.#reports,
      lastLeak: this.#lastLeak,
      lastSnapshot: this.#lastSnapshot,
      lastReport: report === null ? null : { path: report.path, kind: report.kind, time: report.time },
    }
  }
}

/** Worker threads whose holder is kept, at most (the watcher follows 64 at once). */
const MAX_THREAD_HOLDERS = 64

/** Whose holder an event of `kind` is about: this thread's `kind`, or a worker thread's. */
function subjectOf(event, kind) {
  return event.threadId === threadId ? kind : `thread:${event.threadId}`
}

module.exports = { Tally, KINDS, DEFAULT_SCALE }

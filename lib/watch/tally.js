'use strict'

/** The memory kinds the detector judges, in the order status lists them. */
const KINDS = Object.freeze(['heap', 'external', 'native'])

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

  /** Counts one emitted event. */
  note(type, event) {
    switch (type) {
      case 'leak':
        this.#leaks[event.kind] = (this.#leaks[event.kind] ?? 0) + 1
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
        break
    }
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

module.exports = { Tally, KINDS }

'use strict'

/**
 * The fleet of a report's MODEL (collect.js): when it holds more than one instance (a process
 * or worker thread of one directory), which of them leak, grouped by what holds their leak, and
 * which do not. An instance's holder is the label (diagnose/holder-label.js) of its newest report
 * that names one, a snapshot pair's before a census': the same label on every instance that runs
 * the same code, whatever its paths, pids or counts. The page draws it (browser/fleet-view.js); its
 * shape: docs/report.md#the-fleet.
 */
const path = require('node:path')
const { rankReports, groupByLabel } = require('../diagnose/holder-label')

/** @typedef {{ name: string | null, kind: string | null, time: number }} ReportRef a report of the MODEL, as the fleet names it */

/** Snapshot names an instance's evidence lists, at most, when its report names none. */
const EVIDENCE_SNAPSHOTS = 2

/**
 * What holds a process's leak, from its reports as collect.js reads them (each with the `label`
 * holder-label.js gave it and, a pair's, its `snapshots`): the label of the first report in
 * `rankReports`' order that names one, with that report's name, kind and time and a pair's two
 * snapshots; null when none names a holder.
 * @param {{ kind: string | null, name: string | null, time: number, label: { holder: string, site: string, share: number | null } | null, snapshots?: string[] }[]} reports
 */
function heldByOf(reports) {
  const first = rankReports(reports).find((report) => report.label !== null)
  if (first === undefined) return null
  return { ...first.label, report: first.name, reportKind: first.kind, reportTime: first.time, snapshots: first.snapshots ?? [] }
}

/**
 * Names for directories that tell them apart: the fewest last segments of their paths that
 * differ (`pod-a`, `pod-b`; `x/logs`, `y/logs`), the same number for all.
 * @param {string[]} dirs absolute paths, each once
 * @returns {string[]}
 */
function dirNames(dirs) {
  const segments = dirs.map((dir) => dir.split(/[\\/]+/).filter((segment) => segment !== ''))
  const longest = Math.max(1, ...segments.map((s) => s.length))
  for (let count = 1; count <= longest; count++) {
    const names = segments.map((s, i) => s.slice(-count).join('/') || dirs[i])
    if (new Set(names).size === names.length) return names
  }
  return dirs
}

/**
 * The fleet of `processes` (the MODEL's, each with its `dir` and `instance` name), or null for
 * fewer than two: `{ instances, groups, healthy, leaking }`. `groups` are the leaking instances
 * by holder and site (most instances first, then the earliest leak; those whose reports name
 * no holder last, with `holder` null), `healthy` those with no leak found; both hold indices
 * into `instances`.
 * @param {object[]} processes
 * @param {Set<string>} onDisk the paths of the reports and snapshots in the directories: an
 *   evidence file has its `path` only if it is one of them (an event may name a file that was
 *   deleted, rotated away, or written elsewhere).
 */
function fleetModel(processes, onDisk) {
  if (processes.length < 2) return null
  const instances = processes.map((proc, index) => instanceOf(proc, index, onDisk))
  const indices = instances.map((_, i) => i)
  const healthy = indices.filter((i) => !instances[i].leaking)
  const labelOf = (i) => (instances[i].holder === null ? null : { holder: instances[i].holder, site: instances[i].site })
  const firstLeak = (i) => instances[i].firstLeakAt ?? Infinity
  const groups = groupByLabel(indices.filter((i) => instances[i].leaking), labelOf).map(({ label, items }) => {
    items.sort((a, b) => firstLeak(a) - firstLeak(b))
    return { holder: label?.holder ?? null, site: label?.site ?? null, instances: items, firstLeakAt: instances[items[0]].firstLeakAt }
  })
  groups.sort((a, b) => Number(a.holder === null) - Number(b.holder === null) ||
    b.instances.length - a.instances.length || (a.firstLeakAt ?? Infinity) - (b.firstLeakAt ?? Infinity))
  return { instances, groups, healthy, leaking: instances.length - healthy.length }
}

/**
 * One instance of the fleet: who it is, whether it leaks (a leak event, or a report that names
 * a holder: evidence copied without its log), since when, its newest leak's rate and projection,
 * its holder and its newest evidence (each file's `path` null when it is not in the directory).
 */
function instanceOf(proc, index, onDisk) {
  const leaks = proc.leaks ?? []
  const newest = leaks.at(-1) ?? null
  const heldBy = proc.heldBy ?? null
  /** @type {ReportRef[]} */
  const reports = proc.reports ?? []
  const report = heldBy !== null ? { name: heldBy.report, kind: heldBy.reportKind, time: heldBy.reportTime } : rankReports(reports)[0] ?? null
  const snapshots = heldBy !== null && heldBy.snapshots.length > 0
    ? heldBy.snapshots
    : (proc.snapshots ?? []).map((s) => s.name).filter((name) => name !== null).slice(-EVIDENCE_SNAPSHOTS)
  const inDir = (name) => {
    const file = typeof proc.dir === 'string' && typeof name === 'string' ? path.join(proc.dir, name) : null
    return file !== null && onDisk.has(file) ? file : null
  }
  return {
    process: index,
    name: proc.instance ?? proc.label,
    dir: proc.dir ?? null,
    pid: proc.pid,
    threadId: proc.threadId,
    leaking: leaks.length > 0 || heldBy !== null,
    kinds: [...new Set(leaks.map((l) => l.kind))],
    firstLeakAt: proc.firstLeakAt ?? leaks[0]?.time ?? null,
    newestLeak: newest === null ? null : { time: newest.time, kind: newest.kind, slopeBytesPerSec: newest.slopeBytesPerSec, projectedLimitAt: newest.projectedLimitAt, limit: newest.limit ?? null, urgent: newest.urgent },
    holder: heldBy?.holder ?? null,
    site: heldBy?.site ?? null,
    share: heldBy?.share ?? null,
    report: report === null ? null : { ...report, path: inDir(report.name) },
    snapshots: snapshots.map((name) => ({ name, path: inDir(name) })),
    firstAt: proc.firstAt,
    lastAt: proc.lastAt,
  }
}

module.exports = { heldByOf, dirNames, fleetModel }

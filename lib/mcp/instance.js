'use strict'

/**
 * One instance of a service as its watcher's directory shows it (a process or a worker thread
 * of the report page's MODEL): whether it leaks and how fast, when it reaches its limit, what
 * holds the leak as the label every instance running the same code shares
 * (diagnose/holder-label.js), and its newest evidence file. What leak_overview groups a fleet by.
 */
const path = require('node:path')
const { holderOfReports } = require('../leak-test/run')
const { bytesText } = require('../shared/bytes-text')
const { durationText } = require('../shared/duration-text')
const { parseWatcherName } = require('../shared/file-names')

/** ISO time of `ms`, or null. */
const iso = (ms) => (Number.isFinite(ms) ? new Date(ms).toISOString() : null)

/**
 * What holds process `proc`'s leak as a label, `{ holder, site, share, report }` (the MODEL's
 * `heldBy`, as the page's fleet groups by it), or null until a report names a holder.
 */
function labelOf(proc) {
  if (proc.heldBy == null) return null
  const { holder, site, share, report } = proc.heldBy
  return { holder, site, share, report }
}

/** The newest leak event of each kind of process `proc`, the fastest first. */
function leaksOf(proc) {
  const newest = new Map(proc.leaks.map((leak) => [leak.kind, leak]))
  return [...newest.values()].sort((a, b) => (b.slopeBytesPerSec ?? 0) - (a.slopeBytesPerSec ?? 0))
}

/**
 * The newest file of process `proc` still in its directory: a report, snapshot or heap
 * profile, as `{ file, kind, at }`, or null.
 */
function newestEvidence(model, proc) {
  const there = new Set([...model.files.reports, ...model.files.snapshots].map((f) => f.name))
  const own = (name) => {
    const named = parseWatcherName(name)
    return named !== null && named.pid === proc.pid && named.threadId === proc.threadId ? named : null
  }
  const files = [
    ...proc.reports.filter((r) => there.has(r.name)).map((r) => ({ name: r.name, kind: 'report', time: r.time })),
    ...proc.snapshots.filter((s) => there.has(s.name)).map((s) => ({ name: s.name, kind: 'snapshot', time: s.time })),
    ...model.profiles.filter((p) => own(p.name)).map((p) => ({ name: p.name, kind: 'profile', time: own(p.name).time ?? p.mtime })),
  ]
  const newest = files.reduce((a, b) => (a === null || b.time > a.time ? b : a), null)
  return newest === null ? null : { file: path.join(model.dir, newest.name), kind: newest.kind, at: iso(newest.time) }
}

/**
 * Process `proc` of the MODEL of a directory as an instance: where (`dir`, `process`, `pid`),
 * the time its evidence spans, whether it leaks; a leaking one with its kinds, since when, its
 * growth (the fastest kind's), when the first kind reaches its limit (`reachesLimitAt`, and
 * `timeToLimit` from the leak event that projected it), its newest leak event, the `label` to group by (see `labelOf`; null
 * until a report names a holder), the holder in its own words (`holderText`, with its file and
 * counts, as `leakproof run` prints it) and its newest evidence file.
 */
function readInstance(model, proc) {
  const instance = {
    dir: model.dir,
    process: proc.label,
    pid: proc.pid,
    ...(proc.threadId === 0 ? {} : { threadId: proc.threadId }),
    ...(proc.thread ? { thread: proc.thread } : {}),
    from: iso(proc.firstAt),
    to: iso(proc.lastAt),
  }
  const leaks = leaksOf(proc)
  if (leaks.length === 0) return { ...instance, leaking: false, heapFloor: bytesText(proc.floors.heap?.findLast(Number.isFinite)) }
  const [fastest] = leaks
  const limited = leaks.filter((l) => Number.isFinite(l.projectedLimitAt)).sort((a, b) => a.projectedLimitAt - b.projectedLimitAt)[0]
  const described = holderOfReports(proc.reports)
  return {
    ...instance,
    leaking: true,
    label: labelOf(proc),
    kinds: leaks.map((l) => l.kind),
    since: iso(Math.min(...leaks.map((l) => l.since ?? l.time))),
    growth: `${bytesText((fastest.slopeBytesPerSec ?? 0) * 60)}/min`,
    bytesPerSecond: Math.round(fastest.slopeBytesPerSec ?? 0),
    test: fastest.test,
    urgent: leaks.some((l) => l.urgent),
    reachesLimitAt: iso(limited?.projectedLimitAt),
    timeToLimit: limited ? durationText(limited.projectedLimitAt - limited.time) : null,
    lastLeakAt: iso(Math.max(...leaks.map((l) => l.time))),
    holderText: described?.holder ?? described?.suspect ?? null,
    newestEvidence: newestEvidence(model, proc),
  }
}

module.exports = { readInstance, labelOf, iso }

'use strict'

/**
 * The tools over a watcher's directory (its event log, reports and the names of its
 * snapshots and profiles), read with the report page's `collect()`: the leaks so far, the
 * reports with their holders and suggested changes, the growing allocation sites, and the
 * timeline of events. Each answer is a few KB; lists come in pages. `dir` may be left out
 * when the server has one root (that root); leak_overview without it, or with `dirs`, answers
 * over many instances (fleet.js).
 */
const { collect } = require('../page/collect')
const { bytesText } = require('../shared/bytes-text')
const { placeText } = require('../shared/place-text')
const { CODES, codedError } = require('../shared/errors')
const { pageOf, PAGING } = require('./arguments')
const { suggestedChanges, fillingSite, parseHolder, entriesPerSecond } = require('./suggest')
const { fleetOverview, MAX_WATCHER_DIRS } = require('./fleet')
const { labelOf, iso } = require('./instance')
const { rankReports } = require('../diagnose/holder-label')

/** Suspects, collections and handles listed per report. */
const PER_REPORT = 5
/** Reports, snapshots and profiles the overview names (the newest, the best reports first). */
const LISTED = 10
/** Directories leak_overview's `dirs` names, at most. */
const MAX_DIRS = 32

const DIR = {
  type: 'string',
  description: "the watcher's directory (watch()'s dir, or where LEAKPROOF_LOG is), under the server's roots; left out, the server's root when it has one",
}

/**
 * The report page's MODEL of directory `dir`, tool `tool`'s argument checked against the
 * roots; left out, the server's one root (with several, a refusal that lists them). `hint`:
 * what to say when that root holds nothing of a watcher's, else `{}`.
 */
async function readDir(roots, tool, dir) {
  const model = await collect(roots.dir('dir', dir ?? roots.sole(tool)))
  const empty = dir === undefined && model.processes.length === 0
  model.hint = empty ? { hint: "dir was left out, so this is the server's root, where no watcher wrote; leak_overview without dir lists the watcher directories below it" } : {}
  return model
}

/**
 * leak_overview over the `dirs` given (each checked against the roots), else over every root
 * (fleet.js); a root that is gone (an attached process' directory, removed) is noted.
 */
function overviewOfMany(roots, dirs) {
  if (dirs !== undefined) return fleetOverview([...new Set(dirs.map((d, i) => roots.dir(`dirs[${i}]`, d)))])
  const starts = []
  const notes = []
  for (const root of roots.list) {
    try {
      starts.push(roots.dir('root', root))
    } catch (err) {
      notes.push(err.message)
    }
  }
  return fleetOverview([...new Set(starts)], notes)
}

/** A leak event for an agent. */
function leakAnswer(leak) {
  return {
    kind: leak.kind,
    at: iso(leak.time),
    growth: `${bytesText(leak.slopeBytesPerSec * 60)}/min`,
    bytesPerSecond: Math.round(leak.slopeBytesPerSec),
    since: iso(leak.since),
    scale: leak.scale,
    test: leak.test,
    urgent: leak.urgent,
    reachesLimitAt: iso(leak.projectedLimitAt),
  }
}

/**
 * The entries a second a pair report's grown collection gained: its growth over the time
 * between the report's two snapshots (the follow-up has the report's name).
 */
function pairRate(proc, report, grown) {
  const followUp = proc.snapshots.find((s) => s.name === report.name.replace(/\.report\.json$/, '.heapsnapshot'))
  const baseline = followUp && proc.snapshots.filter((s) => s.role === 'baseline' && s.time < followUp.time).at(-1)
  return baseline ? entriesPerSecond(grown.before, grown.after, baseline.time, followUp.time) : null
}

/** The report `report` of process `proc`, cut to what an agent acts on, with suggested changes. */
function reportAnswer(proc, report) {
  const grown = [] // what the suggestions are made of, suspects first
  const suspects = report.suspects.slice(0, PER_REPORT).map((s) => {
    const held = { holder: s.holder ?? null, path: s.path ?? null, class: s.name, share: s.share }
    if (report.kind === 'pair') return { ...held, count: s.count, retainedBytes: s.retainedSize }
    grown.push({ holder: s.holder, entries: s.after, entriesPerSec: s.entriesPerSec, bytesPerEntry: s.bytesPerEntry })
    return { ...held, entries: `${s.before} → ${s.after}`, entriesPerSec: s.entriesPerSec, bytesPerEntry: s.bytesPerEntry, bytesPerEntrySource: s.bytesPerEntrySource }
  })
  const grownCollections = report.grownCollections.slice(0, PER_REPORT).map((c) => {
    const entriesPerSec = pairRate(proc, report, c)
    grown.push({ holder: c.holder, entries: c.after, entriesPerSec, bytesPerEntry: null })
    return { holder: c.holder, class: c.name, members: c.memberClass, entries: `${c.before} → ${c.after}`, entriesPerSec: entriesPerSec === null ? null : Math.round(entriesPerSec), path: c.path }
  })
  return {
    report: report.name,
    process: proc.label,
    at: iso(report.time),
    kind: report.kind,
    evidence: report.evidence,
    suspects,
    grownCollections,
    growingHandles: report.growingHandles.slice(0, PER_REPORT),
    native: report.native,
    suggestedChanges: suggestedChanges(grown, { sites: proc.sites, heapLimit: proc.heapLimit }),
    ...(report.notLookedAt ? { notLookedAt: report.notLookedAt } : {}),
  }
}

/** The holder an agent should look at first in process `proc`: the first suspect of its best report. */
function mainHolder(proc) {
  for (const report of rankReports(proc.reports)) {
    const suspect = report.suspects.find((s) => s.holder)
    if (suspect) {
      const site = fillingSite(proc.sites, parseHolder(suspect.holder)?.file)
      return { holder: suspect.holder, report: report.name, evidence: report.evidence, growingSite: site ? placeText(site) : null }
    }
  }
  return null
}

/** Every reports of the processes of `model`, in reading order. */
function allReports(model) {
  return model.processes.flatMap((proc) => rankReports(proc.reports).map((report) => ({ proc, report })))
}

/** Timeline entries of process `proc`: each event with its time and one line of what happened. */
function timelineOf(proc) {
  const at = (time, what) => ({ at: iso(time), process: proc.label, what })
  return [
    ...proc.leaks.map((l) => at(l.time, `${l.kind} leak: ${bytesText(l.slopeBytesPerSec * 60)}/min (${l.test}, ${l.scale})${l.urgent ? ', urgent' : ''}`)),
    ...proc.snapshots.map((s) => at(s.time, `snapshot ${s.name} (${s.role}, ${bytesText(s.bytes)}, pause ${Math.round(s.durationMs)} ms)`)),
    ...proc.skips.map((s) => at(s.time, `snapshot skipped (${s.reason ?? 'no reason given'}): ${s.skipped ?? ''}${s.detail ? `, ${s.detail}` : ''}`)),
    ...proc.reports.map((r) => at(r.time, `report ${r.name} (${r.kind}, ${r.evidence})`)),
    ...proc.thresholds.map((t) => at(t.time, `${t.kind} threshold crossed: ${bytesText(t.current)} of ${bytesText(t.limit)}`)),
    ...proc.listenerLeaks.map((l) => at(l.time, `listener leak: ${l.count} '${l.event}' listeners on ${l.emitter}, added at ${l.site}`)),
    ...proc.restarts.map((r) => at(r.time, r.step === 'due' ? `restart due (${r.kind})` : 'restart: the process exits')),
    ...proc.errors.map((e) => at(e.time, `watcher error during ${e.during}: ${e.error}`)),
  ].sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0))
}

/** The floors of process `proc` in brief: first, last, lowest and highest of each kind. */
function floorsBrief(proc) {
  const brief = {}
  for (const kind of ['heap', 'external', 'native']) {
    const values = (proc.floors[kind] ?? []).filter(Number.isFinite)
    if (values.length > 0) brief[kind] = { first: bytesText(values[0]), last: bytesText(values.at(-1)), min: bytesText(Math.min(...values)), max: bytesText(Math.max(...values)) }
  }
  return brief
}

/** The tools over a watcher's directory, by name. */
const WATCHER_TOOLS = {
  leak_overview: {
    description:
      "Start here. With dir (one watcher's directory): per process, whether memory leaks (kind, growth a minute, the test that showed it, when it reaches the heap limit), the holder to look at first (the variable or property in the code's words) and the allocation site in its file that grows, and the newest reports, snapshots and profiles there. Without dir, or with dirs: every watcher directory in and up to two levels below the roots (or the dirs given) at once: which instances (processes or worker threads) leak, grouped by what holds the leak (a label the same on every instance running the same code), each group's instances with since when, growth, when they reach their limit and their newest evidence file, and the instances that do not leak beside them. Lists are capped; the answer says what it left out.",
    inputSchema: {
      type: 'object',
      properties: {
        dir: { ...DIR, description: "one watcher's directory (watch()'s dir, or where LEAKPROOF_LOG is), under the server's roots, for its processes in detail; left out, the answer is over many instances (see dirs)" },
        dirs: { type: 'array', items: { type: 'string' }, minItems: 1, maxItems: MAX_DIRS, description: `directories under the roots to answer over together, each with the watcher directories up to two levels below it (at most ${MAX_DIRS}); with dir left out too, every root. The ${MAX_WATCHER_DIRS} watcher directories changed most recently are read` },
      },
      additionalProperties: false,
    },
    async run({ roots }, { dir, dirs }) {
      if (dir !== undefined && dirs !== undefined) throw codedError(TypeError, CODES.INVALID_ARGUMENT, 'leak_overview: give dir (one directory) or dirs (several), not both')
      if (dir === undefined) return overviewOfMany(roots, dirs)
      const model = await readDir(roots, 'leak_overview', dir)
      const labels = model.processes.map(labelOf)
      return {
        dir: model.dir,
        processes: model.processes.map((proc, i) => {
          const newest = new Map(proc.leaks.map((l) => [l.kind, l]))
          return {
            process: proc.label,
            pid: proc.pid,
            // A worker thread: its script, the pool that started it, which watcher judged it.
            ...(proc.thread ? { thread: proc.thread } : {}),
            from: iso(proc.firstAt),
            to: iso(proc.lastAt),
            verdict: newest.size === 0 ? 'no leak found' : `leaking: ${[...newest.keys()].join(', ')}`,
            leaks: [...newest.values()].map(leakAnswer),
            heapLimit: bytesText(proc.heapLimit),
            ...(proc.containerLimit ? { containerLimit: bytesText(proc.containerLimit) } : {}),
            lookFirst: mainHolder(proc),
            // What leak_overview over many instances groups this process by (null: no report names a holder).
            holderLabel: labels[i],
            reports: proc.reports.length,
            bestReports: rankReports(proc.reports).slice(0, LISTED).map((r) => r.name),
          }
        }),
        snapshots: model.files.snapshots.slice(-LISTED),
        profiles: model.profiles.slice(-LISTED).map((p) => p.name),
        notes: model.notes.slice(0, 10),
        next: 'leak_reports for the holders, their paths and a suggested change; allocation_sites for the code that allocates; snapshot_diff on a baseline and its follow-up snapshot',
      }
    },
  },
  leak_reports: {
    description:
      "The watcher's leak reports, those of snapshot pairs first, newest first: the suspects with what holds them in the code's words and their retainer paths, the collections that grew (entries before → after, entries a second), the handles that grew, native memory, and a suggested change (a bounded replacement) where one fits. Give report to read one.",
    inputSchema: {
      type: 'object',
      properties: { dir: DIR, report: { type: 'string', description: 'one report file name, as leak_overview lists them' }, ...PAGING, pageSize: { ...PAGING.pageSize, default: 3 } },
      additionalProperties: false,
    },
    async run({ roots }, { dir, report, page, pageSize }) {
      const model = await readDir(roots, 'leak_reports', dir)
      let reports = allReports(model)
      if (report !== undefined) {
        reports = reports.filter((r) => r.report.name === report)
        if (reports.length === 0) throw codedError(Error, CODES.MCP_NOT_FOUND, `mcp: no report ${JSON.stringify(report)} in ${model.dir}`)
      }
      const answer = pageOf(reports, { page, pageSize })
      return { dir: model.dir, ...model.hint, ...answer, items: answer.items.map(({ proc, report: r }) => reportAnswer(proc, r)) }
    },
  },
  allocation_sites: {
    description:
      'Where the code allocates the memory that stays: allocation sites whose live bytes grew, from the heap profiles the watcher sampled, as FUNCTION FILE:LINE:COLUMN (a site in a package: the package and the app function that called in), largest growth first.',
    inputSchema: { type: 'object', properties: { dir: DIR, ...PAGING }, additionalProperties: false },
    async run({ roots }, { dir, page, pageSize }) {
      const model = await readDir(roots, 'allocation_sites', dir)
      const sites = model.processes.flatMap((proc) => proc.sites.map((s) => ({ site: placeText(s), process: proc.label, growth: bytesText(s.growthBytes), live: bytesText(s.liveBytes), growthBytes: s.growthBytes })))
      return { dir: model.dir, ...model.hint, ...pageOf(sites, { page, pageSize }) }
    },
  },
  leak_timeline: {
    description: "The event log's timeline, oldest first: leaks, snapshots (and those skipped), reports, thresholds, listener leaks, restarts and the watcher's errors, one line each; with each process' floors (memory after a full GC) in brief.",
    inputSchema: { type: 'object', properties: { dir: DIR, ...PAGING, pageSize: { ...PAGING.pageSize, default: 20 } }, additionalProperties: false },
    async run({ roots }, { dir, page, pageSize }) {
      const model = await readDir(roots, 'leak_timeline', dir)
      return {
        dir: model.dir,
        ...model.hint,
        floors: Object.fromEntries(model.processes.map((proc) => [proc.label, floorsBrief(proc)])),
        ...pageOf(model.processes.flatMap(timelineOf), { page, pageSize }),
      }
    },
  },
}

module.exports = { WATCHER_TOOLS }

'use strict'

/**
 * leak_overview over many instances: every watcher directory in and below the roots (or the
 * `dirs` given), each process or worker thread in them an instance (instance.js); the leaking
 * ones grouped by what holds their leak, as the label every instance running the same code
 * shares (diagnose/holder-label.js), the others listed beside them.
 *
 * Bounded whatever the roots hold: directories are looked for two levels down, at most
 * MAX_DIRS_LOOKED_AT of them; the MAX_WATCHER_DIRS most recently changed are read (with the
 * report page's `collect()`, which keeps 64 processes a directory), within TIME_BUDGET_MS; the
 * answer lists a few groups and a few instances of each, and says what it left out.
 */
const fs = require('node:fs')
const path = require('node:path')
const { performance } = require('node:perf_hooks')
const { collect } = require('../page/collect')
const { bytesText } = require('../shared/bytes-text')
const { parseWatcherName } = require('../shared/file-names')
const { readInstance } = require('./instance')
const { mapInBatches } = require('../shared/in-batches')
const { groupByLabel } = require('../diagnose/holder-label')

/** How far below a root (or a `dirs` entry) watcher directories are looked for. */
const MAX_DEPTH = 2
/** Directories listed, at most, to find the watcher directories. */
const MAX_DIRS_LOOKED_AT = 500
/** Watcher directories read, at most: the most recently changed. */
const MAX_WATCHER_DIRS = 32
/** Directories are no longer read past this time (the answer says which were not). */
const TIME_BUDGET_MS = 20_000
/** Watcher directories read at once (as the report page reads them). */
const DIRS_AT_ONCE = 4
/** Groups listed, instances listed per group, instances that do not leak listed, notes kept. */
const LISTED = Object.freeze({ groups: 8, members: 5, healthy: 10, notes: 10 })

/** The report page's notes an answer over many directories leaves out: files that are not the watcher's, directories without a log. */
const QUIET_NOTE = /: not a leakproof event log; skipped$|: empty; skipped$|^no leakproof event log in this directory|^nothing from leakproof in this directory/

/** Whether a file's name is a watcher's (a report, snapshot or heap profile) or an event log's. */
const isEvidence = (name) => parseWatcherName(name) !== null || /\.(jsonl|ndjson|log)(\.1)?$/.test(name)

/**
 * The watcher directories in and below `starts` (real paths of directories), breadth first, to
 * MAX_DEPTH, at most MAX_DIRS_LOOKED_AT looked at; hidden directories, node_modules and
 * symbolic links are not entered. `{ dirs, lookedAt, notLookedAt }`, `dirs` the most recently
 * changed first.
 */
async function watcherDirs(starts) {
  const queue = starts.map((dir) => ({ dir, depth: 0 }))
  const seen = new Set()
  const found = []
  let notLookedAt = 0
  while (queue.length > 0) {
    const { dir, depth } = queue.shift()
    if (seen.has(dir)) continue
    if (seen.size === MAX_DIRS_LOOKED_AT) {
      notLookedAt++
      continue
    }
    seen.add(dir)
    const entries = await fs.promises.readdir(dir, { withFileTypes: true }).catch(() => [])
    if (entries.some((e) => e.isFile() && isEvidence(e.name))) found.push(dir)
    if (depth === MAX_DEPTH) continue
    for (const e of entries) {
      if (e.isDirectory() && !e.name.startsWith('.') && e.name !== 'node_modules') queue.push({ dir: path.join(dir, e.name), depth: depth + 1 })
    }
  }
  const changed = await Promise.all(found.map((dir) => fs.promises.stat(dir).then((s) => s.mtimeMs, () => 0)))
  const dirs = found.map((dir, i) => ({ dir, changed: changed[i] })).sort((a, b) => b.changed - a.changed).map((d) => d.dir)
  return { dirs, lookedAt: seen.size, notLookedAt }
}

/** The leaking `instances` by their label (holder and site): `[{ label, members }]`. */
function groupsOf(instances) {
  return groupByLabel(instances, (instance) => instance.label).map(({ label, items }) => ({ label, members: items }))
}

/** The order of two ISO times of which either may be null: the earlier first, null last. */
function earlierFirst(a, b) {
  if (a === b) return 0
  if (a === null || b === null) return a === null ? 1 : -1
  return a < b ? -1 : 1
}

/** Soonest limit first (none last), then the fastest. */
function bySoonestLimit(a, b) {
  return earlierFirst(a.reachesLimitAt, b.reachesLimitAt) || b.bytesPerSecond - a.bytesPerSecond
}

/** A group for the answer: its label, how many instances, since when, their growth, its listed instances. */
function groupAnswer({ label, members }) {
  members.sort(bySoonestLimit)
  const total = members.reduce((sum, m) => sum + m.bytesPerSecond, 0)
  const soonest = members.find((m) => m.reachesLimitAt !== null)?.reachesLimitAt ?? null
  return {
    holder: label?.holder ?? null,
    site: label === null ? null : label.site,
    ...(label === null ? { why: 'no report of theirs names a holder yet: it comes with the census at a leak, or with the snapshot pair after it' } : {}),
    instances: members.length,
    kinds: [...new Set(members.flatMap((m) => m.kinds))],
    since: members.map((m) => m.since).filter(Boolean).sort()[0] ?? null,
    growth: `${bytesText(total * 60)}/min in all`,
    soonestLimitAt: soonest,
    members: members.slice(0, LISTED.members).map(({ leaking: _leaking, label: l, thread: _thread, from: _from, ...m }) => ({ ...m, share: l?.share == null ? null : Math.round(l.share * 100) / 100, report: l?.report ?? null })),
    ...(members.length > LISTED.members ? { membersNotListed: members.length - LISTED.members } : {}),
  }
}

/** One line of the verdict: how many leak, and through what. */
function summaryOf(instances, groups, dirs) {
  const leaking = instances.filter((i) => i.leaking).length
  if (instances.length === 0) return 'no instance found: no watcher directory with a process in it under these directories'
  const of = dirs.read < dirs.found ? ` (in the ${dirs.read} of ${dirs.found} watcher directories read)` : ''
  if (leaking === 0) return `none of ${instances.length} instances leaks${of}`
  const through = groups.slice(0, 3).map((g) => (g.holder === null ? `${g.instances} through a holder not yet named` : `${g.instances} through ${g.holder}${g.site ? ` at ${g.site}` : ''}`))
  return `${leaking} of ${instances.length} instances leak${of}: ${through.join('; ')}${groups.length > 3 ? '; …' : ''}`
}

/**
 * leak_overview's answer over `starts` (real paths of directories under the roots): which
 * instances leak, by holder, which do not, and what was left out (`notes`: the caller's first).
 */
async function fleetOverview(starts, notes = []) {
  const started = performance.now()
  const found = await watcherDirs(starts)
  const note = (text) => notes.push(text)
  if (found.notLookedAt > 0) note(`${found.notLookedAt} directories not looked in (the first ${MAX_DIRS_LOOKED_AT} were): name the ones to read in dirs`)
  const toRead = found.dirs.slice(0, MAX_WATCHER_DIRS)
  if (found.dirs.length > toRead.length) note(`${found.dirs.length - toRead.length} watcher directories not read (the ${MAX_WATCHER_DIRS} changed most recently were): name the ones to read in dirs`)
  const withinBudget = (read) => {
    if (performance.now() - started <= TIME_BUDGET_MS) return true
    note(`${toRead.length - read} watcher directories not read: the answer stops reading after ${TIME_BUDGET_MS / 1000} s (${toRead.slice(read, read + 3).join(', ')}${toRead.length - read > 3 ? ', …' : ''})`)
    return false
  }
  const models = await mapInBatches(toRead, DIRS_AT_ONCE, (dir) => collect(dir).catch((err) => ({ failed: `${dir}: not read (${err.message})` })), { before: withinBudget })
  const instances = []
  for (const [i, model] of models.entries()) {
    if (model.failed) {
      note(model.failed)
      continue
    }
    for (const text of model.notes) if (!QUIET_NOTE.test(text)) note(`${toRead[i]}: ${text}`)
    for (const proc of model.processes) instances.push(readInstance(model, proc))
  }
  const groups = groupsOf(instances.filter((i) => i.leaking))
    .map(groupAnswer)
    .sort((a, b) => Number(a.holder === null) - Number(b.holder === null) || b.instances - a.instances || earlierFirst(a.soonestLimitAt, b.soonestLimitAt))
  // Seen last first (every process has a time span: it is made by an event or a file).
  const healthy = instances.filter((i) => !i.leaking).sort((a, b) => earlierFirst(b.to, a.to))
  const cut = groups.length > LISTED.groups || healthy.length > LISTED.healthy || groups.some((g) => g.membersNotListed)
  return {
    over: starts,
    summary: summaryOf(instances, groups, { read: models.length, found: found.dirs.length }),
    instances: { total: instances.length, leaking: instances.length - healthy.length, notLeaking: healthy.length },
    groups: groups.slice(0, LISTED.groups),
    ...(groups.length > LISTED.groups ? { groupsNotListed: groups.length - LISTED.groups } : {}),
    notLeaking: healthy.slice(0, LISTED.healthy).map(({ leaking: _leaking, thread: _thread, ...i }) => i),
    ...(healthy.length > LISTED.healthy ? { notLeakingNotListed: healthy.length - LISTED.healthy } : {}),
    ...(cut ? { listed: `at most ${LISTED.groups} groups, the ${LISTED.members} instances of each nearest their limit, and the ${LISTED.healthy} instances that do not leak seen last; the counts are of all. Give dirs (or dir) to see fewer at a time.` } : {}),
    directories: { read: models.length, found: found.dirs.length, lookedAt: found.lookedAt },
    notes: notes.slice(0, LISTED.notes),
    ...(notes.length > LISTED.notes ? { notesNotListed: notes.length - LISTED.notes } : {}),
    tookMs: Math.round(performance.now() - started),
    next: "leak_overview with an instance's dir for its directory's processes and files; leak_reports with that dir for the evidence and a suggested change; snapshot_diff on a baseline and its follow-up",
  }
}

module.exports = { fleetOverview, MAX_WATCHER_DIRS }

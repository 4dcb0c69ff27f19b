'use strict'

/**
 * The census' holders (census.js): of two passes, the collections that grew, ranked and
 * filtered (the noise of a service's own bookkeeping left out), each as a report lists it,
 * in the shape of a pair report's suspect, with its holder in the code's words.
 */
const { originOf } = require('../../shared/code-origin')

/**
 * A collection must gain at least this share of the entries the most-grown one gained to be
 * listed: beside a Map that gained 30,000 entries, one that gained 40 is noise.
 */
const SHARE_OF_TOP_GAIN = 0.02

/**
 * Entries a collection must gain to be listed at all: a leak worth reporting adds far more
 * between passes seconds apart, while a service's own bookkeeping (the modules it loads on a
 * first request, Node's `moduleLoadList`) adds a handful.
 */
const MIN_GAIN = 16

/**
 * Whether a collection's entries hold memory outside the heap (1) or not (0): Buffers and
 * typed arrays (their bytes measured), or objects over a native handle.
 */
function outsideWeight(record) {
  return record.memberBytes !== null || record.memberHandle !== null ? 1 : 0
}

/** A grown collection's rank: entries gained, times their bytes outside the heap when that is what leaks. */
function score(candidate, outside) {
  return outside && candidate.record.memberBytes !== null ? candidate.gained * candidate.record.memberBytes : candidate.gained
}

/**
 * The candidates worth listing: those that gained MIN_GAIN entries and SHARE_OF_TOP_GAIN of
 * the most any gained, compared within their group when memory outside the heap leaks (a
 * Map that gained 100 streams is not noise beside an array that gained 30,000 strings).
 */
function worthListing(candidates, outside) {
  const groups = outside ? [candidates.filter((c) => outsideWeight(c.record) === 1), candidates.filter((c) => outsideWeight(c.record) === 0)] : [candidates]
  return groups.flatMap((group) => {
    const topGain = Math.max(0, ...group.map((c) => c.gained))
    return group.filter((c) => c.gained >= Math.max(MIN_GAIN, SHARE_OF_TOP_GAIN * topGain))
  })
}

/**
 * Whether Node's own code holds a record's collection: a variable of one of Node's modules
 * (`node:` files), or what only an active handle reaches (a socket's own state).
 */
function heldByNode(record) {
  return record.root.kind === 'handle' || (typeof record.root.file === 'string' && originOf(record.root.file).kind === 'node')
}

/**
 * `candidates` (as listed, their scripts named) with Node's own below the many roots of one
 * kind (`handles`) when those grew: what Node's code holds of sockets left open one per call
 * (a stream's listeners, a socket's buffers) only reaches them; their handles keep them.
 */
function manyRootsFirst(candidates) {
  if (!candidates.some((c) => c.record.root.kind === 'handles')) return candidates
  return [...candidates.filter((c) => !heldByNode(c.record)), ...candidates.filter((c) => heldByNode(c.record))]
}

/**
 * The collections of pass `after` that hold more entries than in pass `before` (a collection
 * `before` did not record counts from 0 when it was complete), ranked as `grown` lists them,
 * `4 * top` at most: `{ record, entriesBefore, gained }` each.
 */
function grownCandidates(before, after, outside, top) {
  const candidates = []
  for (const [key, now] of after.records) {
    const was = before.records.get(key)
    const entriesBefore = was?.entries ?? (before.complete ? 0 : null)
    if (entriesBefore === null || now.entries <= entriesBefore) continue
    candidates.push({ record: now, entriesBefore, gained: now.entries - entriesBefore })
  }
  candidates.sort((a, b) => (outside ? outsideWeight(b.record) - outsideWeight(a.record) : 0) || score(b, outside) - score(a, outside))
  return candidates.slice(0, 4 * top)
}

/** The candidates listed, as holders, with their rates over the time between the passes. */
function grownHolders(listed, before, after, slopeBytesPerSec) {
  const seconds = Math.max(0.001, (after.time - before.time) / 1000)
  return listed.map(({ record, entriesBefore, gained }) => holderOf(record, entriesBefore, gained / seconds, slopeBytesPerSec))
}

/**
 * The class whose instance holds a record's collection in a field, `{ className, field, file,
 * line, column }`, where it is one of the app's own files (not a package's, nor Node's); else null.
 */
function ownerOf(record) {
  const owner = record.owner
  if (owner === null || typeof owner.file !== 'string' || originOf(owner.file).kind !== 'app') return null
  return { className: owner.name, field: owner.field, file: owner.file, line: owner.line, column: owner.column }
}

/**
 * A grown collection as a report lists it, in the shape of a pair report's suspect:
 * `{ name, holder, readablePath, collections, before, after, entriesPerSec, bytesPerEntry,
 * bytesPerEntrySource, share, memberHandle, remoteEnd, madeAt }`: `share`, the bytes it gains a
 * second over the leak's rate (at most 1), only where its bytes per entry are measured (from
 * the rate, every holder would explain it all); for sockets held by their own handles,
 * `remoteEnd`, the end most share (handles.js); `madeAt`, null here, is the line that made
 * many roots (sockets, timers) where the sites ranking saw it (diagnosis.js). A collection seen
 * in one pass only (`largest`) has `before` and `entriesPerSec` null.
 */
function holderOf(record, entriesBefore, entriesPerSec, slopeBytesPerSec) {
  const measured = record.memberBytes
  const fromSlope = slopeBytesPerSec !== null && slopeBytesPerSec > 0 ? Math.round(slopeBytesPerSec / entriesPerSec) : null
  return {
    name: record.memberClass ?? record.className,
    holder: describeHolder(record),
    readablePath: record.path,
    collections: record.collections,
    before: entriesBefore,
    after: record.entries,
    entriesPerSec: entriesPerSec === null ? null : Math.round(entriesPerSec * 100) / 100,
    bytesPerEntry: measured ?? fromSlope,
    bytesPerEntrySource: measured !== null ? 'measured' : fromSlope !== null ? 'slope' : null,
    share: measured !== null && slopeBytesPerSec > 0 ? Math.min(1, Math.round((100 * entriesPerSec * measured) / slopeBytesPerSec) / 100) : null,
    memberHandle: record.memberHandle,
    remoteEnd: record.root.remote ?? null,
    madeAt: null,
  }
}

/** `, remote end 127.0.0.1:6379 for 398 of 400 read`, the end most of many sockets share (handles.js); '' when none. */
function remoteText(remote) {
  return remote == null ? '' : `, remote end ${remote.end} for ${remote.count} of ${remote.of} read`
}

/**
 * The holder in the code's words, like the analyzer's: `{ name, className, kind, file, line,
 * column, description }`.
 */
function describeHolder(record) {
  const holderRoot = record.root
  const file = holderRoot.file
  const what = `${record.path} (${record.className})`
  const from = record.path === holderRoot.name || record.path.startsWith(`${holderRoot.name}.`) || record.path.startsWith(`${holderRoot.name}[`) ? '' : `, reached from ${holderRoot.name}`
  const where = file ?? (holderRoot.line > 0 ? `the script of the function at line ${holderRoot.line}` : 'a script V8 did not name')
  const descriptions = {
    module: `${what}${from}, a module-level variable of ${where}`,
    closure: `${what}${from}, a variable in the closure of ${holderRoot.scopeOf || '(anonymous)'} in ${where}`,
    global: `${what}, a global`,
    exports: `${what}, in the exports of ${where}`,
    handle: `${what}, reached from an active ${holderRoot.name}`,
    handles: `${record.entries} open ${holderRoot.name}${remoteText(holderRoot.remote)} (active handles, each a root of its own: no collection holds them)`,
    timers: `${record.entries} ${holderRoot.name}${holderRoot.line > 0 ? `, callback at ${file ?? 'a script'}:${holderRoot.line}:${holderRoot.column}` : ''}`,
  }
  const owner = ownerOf(record)
  return {
    name: holderRoot.name,
    className: record.className,
    kind: holderRoot.kind,
    file,
    line: holderRoot.line > 0 ? holderRoot.line : null,
    column: holderRoot.column > 0 ? holderRoot.column : null,
    description: descriptions[holderRoot.kind] ?? what,
    ...(owner === null ? {} : { owner }),
  }
}

module.exports = { grownCandidates, worthListing, manyRootsFirst, grownHolders, holderOf }

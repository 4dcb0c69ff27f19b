'use strict'

/**
 * The tools over heap snapshot files, through the Rust analyzer: a summary, the classes, a
 * diff of two (or three) files, the objects of a class or an id with their retainer paths and
 * holders, and an object's dominators. A file read for one question stays read for the next
 * (the last two, keyed by path, size and time), so follow-up questions answer in milliseconds.
 */
const fs = require('node:fs')
const path = require('node:path')
const { openSnapshot, diffSnapshots, MATCHING } = require('../diagnose/analyze')
const { BoundedMap } = require('../cache/bounded-map')
const { bytesText } = require('../shared/bytes-text')
const { CODES, codedError } = require('../shared/errors')
const { pageOf, PAGING } = require('./arguments')
const { suggestedChanges, entriesPerSecond, watcherTimes } = require('./suggest')

/** Snapshots kept read between calls: a pair, the usual question. */
const KEPT_SNAPSHOTS = 2

const FILE = { type: 'string', description: 'a .heapsnapshot file, under the server\'s roots' }
const TOP = { type: 'integer', minimum: 1, maximum: 50, default: 10, description: 'how many to list, at most 50' }

/** Share of a progress bar each phase of reading one snapshot ends at. */
const PHASE_END = { parse: 0.8, dominators: 0.85, paths: 0.95, summary: 1 }

/**
 * The analyzer's progress for a call of `files` snapshots, as 0–100 for `progress(done,
 * total, message)` (the server's notification; a no-op when the client asked for none).
 */
function progressOf(progress, files) {
  let last = -1
  return (p) => {
    const within = p.phase === 'parse' ? PHASE_END.parse * (p.done / Math.max(1, p.total)) : PHASE_END[p.phase] ?? 1
    const done = Math.floor((100 * (p.snapshot + within)) / files)
    if (done <= last) return
    last = done
    progress(done, 100, `${p.phase}${files > 1 ? ` (snapshot ${p.snapshot + 1} of ${files})` : ''}`)
  }
}

/** An object for an agent: what it is, what it retains, what holds it and by which path. */
function objectAnswer(o) {
  return {
    id: o.id,
    class: o.name,
    retained: bytesText(o.retainedSize),
    retainedBytes: o.retainedSize,
    self: bytesText(o.selfSize),
    ...(o.distance === undefined ? {} : { distance: o.distance }),
    holder: o.holder?.description ?? null,
    path: o.readablePath.join(' → '),
  }
}

/**
 * The snapshots kept read, by file, size and time, and the one read at a time (a read holds
 * about 1.3 times the file's size at its peak, and a thread of the pool the other tools need):
 * a question about another file, or a diff, waits for the read before it. A new read takes
 * the place of the least recently used kept snapshot as it starts.
 */
class OpenSnapshots {
  #kept = new BoundedMap({ max: KEPT_SNAPSHOTS, onEvict: (opening) => opening.then((s) => s.release(), () => {}) })
  #reading = Promise.resolve()

  /** The read snapshot of `file` (a checked real path); reads it unless kept. */
  open(file, progress) {
    const stats = fs.statSync(file)
    const key = `${file}\0${stats.size}\0${stats.mtimeMs}`
    let opening = this.#kept.get(key)
    if (opening === undefined) {
      opening = this.alone(async () => {
        const snapshot = await openSnapshot(file, { onProgress: progressOf(progress, 1) })
        progress(100, 100, 'read')
        return snapshot
      })
      opening.catch(() => this.#kept.delete(key))
      this.#kept.set(key, opening)
    }
    return opening
  }

  /** Runs `read` (a read of snapshot files) once the reads before it are done. */
  alone(read) {
    const done = this.#reading.then(read)
    this.#reading = done.catch(() => {})
    return done
  }

  /** Frees every kept snapshot. */
  clear() {
    this.#kept.clear()
  }
}

/** The tools over snapshot files, by name. */
const SNAPSHOT_TOOLS = {
  snapshot_summary: {
    description: 'One heap snapshot in brief: objects, references and bytes, the classes that retain most, and the largest objects with what holds them (in the code\'s words) and their retainer paths. Reports progress on a big file.',
    inputSchema: { type: 'object', properties: { file: FILE, top: TOP }, required: ['file'], additionalProperties: false },
    async run({ roots, snapshots, progress }, { file, top }) {
      const snapshot = await snapshots.open(roots.file('file', file), progress)
      const s = snapshot.summary(top)
      return {
        file: snapshot.file,
        objects: s.nodes,
        references: s.edges,
        size: bytesText(s.totalSize),
        classes: s.classes.slice(0, top).map((c) => ({ class: c.name, count: c.count, retained: bytesText(c.retainedSize), self: bytesText(c.selfSize) })),
        largest: s.largest.map(objectAnswer),
        next: 'snapshot_retainers with a class or an id for paths; snapshot_diff against an earlier snapshot of the same process for what grew',
      }
    },
  },
  snapshot_classes: {
    description: 'The classes of one heap snapshot by retained size (DevTools\' Summary view): count, retained and own bytes; match filters them by a part of the name.',
    inputSchema: { type: 'object', properties: { file: FILE, match: { type: 'string', description: 'only classes whose name has this text' }, ...PAGING }, required: ['file'], additionalProperties: false },
    async run({ roots, snapshots, progress }, { file, match, page, pageSize }) {
      const snapshot = await snapshots.open(roots.file('file', file), progress)
      const classes = snapshot.summary(1).classes.filter((c) => match === undefined || c.name.includes(match))
      const answer = pageOf(classes, { page, pageSize })
      return { file: snapshot.file, ...answer, items: answer.items.map((c) => ({ class: c.name, count: c.count, retainedBytes: c.retainedSize, selfBytes: c.selfSize })) }
    },
  },
  snapshot_diff: {
    description: 'What the later heap snapshot holds that the earlier did not: new objects by class, the suspects with what holds them in the code\'s words, the collections that grew (entries before → after), the growth roots, and a suggested change where one fits. With later: only what was allocated between before and after and is still alive in later.',
    inputSchema: {
      type: 'object',
      properties: {
        before: { ...FILE, description: 'the earlier snapshot (a baseline)' },
        after: { ...FILE, description: 'the later snapshot of the same process (a follow-up)' },
        later: { ...FILE, description: 'optional: a third, still later snapshot' },
        match: { type: 'string', enum: MATCHING, default: 'auto', description: 'match objects by node id (one process) or retainer path (two processes); auto picks' },
        top: TOP,
      },
      required: ['before', 'after'],
      additionalProperties: false,
    },
    async run({ roots, snapshots, progress }, { before, after, later, match, top }) {
      const files = [roots.file('before', before), roots.file('after', after)]
      if (later !== undefined) files.push(roots.file('later', later))
      const d = await snapshots.alone(() => diffSnapshots(files[0], files[1], { top, match, stillAliveIn: files[2], onProgress: progressOf(progress, files.length) }))
      const times = watcherTimes(path.basename(files[0]), path.basename(files[1]))
      const grown = d.grownCollections.map((c) => ({ holder: c.holder?.description ?? null, entries: c.after, entriesPerSec: times && entriesPerSecond(c.before, c.after, ...times), bytesPerEntry: null }))
      return {
        files,
        matchedBy: d.matchedBy,
        newObjects: d.newCount,
        newBytes: bytesText(d.newBytes),
        newByClass: d.newByClass.slice(0, top).map((c) => ({ class: c.name, count: c.count, bytes: bytesText(c.bytes), retained: bytesText(c.retainedSize) })),
        suspects: d.suspects.map((s) => ({ class: s.name, count: s.count, retained: bytesText(s.retainedSize), share: s.share, holder: s.holder?.description ?? null, path: s.readablePath.join(' → ') })),
        grownCollections: d.grownCollections.map((c) => ({ class: c.name, members: c.memberClass, entries: `${c.before} → ${c.after}`, holder: c.holder?.description ?? null, path: c.readablePath.join(' → ') })),
        growthRoots: d.growthRoots.slice(0, top),
        suggestedChanges: suggestedChanges(grown, { sites: [], heapLimit: null }),
      }
    },
  },
  snapshot_retainers: {
    description: 'The objects of a class (the top by retained size, and how many there are) or the one object of a node id, each with what holds it in the code\'s words and its shortest retainer path from the GC roots.',
    inputSchema: {
      type: 'object',
      properties: { file: FILE, className: { type: 'string', description: "a class name as the summary lists it ('Map', 'Session', '(closure)')" }, id: { type: 'integer', minimum: 0, description: 'a heap snapshot node id (the @id of an object)' }, top: TOP },
      required: ['file'],
      additionalProperties: false,
    },
    async run({ roots, snapshots, progress }, { file, className, id, top }) {
      if ((className === undefined) === (id === undefined)) throw codedError(TypeError, CODES.INVALID_ARGUMENT, 'snapshot_retainers: give one of className and id')
      const snapshot = await snapshots.open(roots.file('file', file), progress)
      const found = snapshot.objects(id === undefined ? { className } : { id }, top)
      if (found.count === 0) throw codedError(Error, CODES.MCP_NOT_FOUND, `mcp: no ${id === undefined ? `object of class ${JSON.stringify(className)}` : `object with id ${id}`} in ${snapshot.file}`)
      return { file: snapshot.file, count: found.count, objects: found.objects.map(objectAnswer) }
    },
  },
  snapshot_dominators: {
    description: 'The dominator chain of one object: the objects that keep it alive on every path from the GC roots, nearest first (freeing any of them frees it), with what each retains.',
    inputSchema: { type: 'object', properties: { file: FILE, id: { type: 'integer', minimum: 0, description: 'a heap snapshot node id' }, limit: { ...TOP, default: 20 } }, required: ['file', 'id'], additionalProperties: false },
    async run({ roots, snapshots, progress }, { file, id, limit }) {
      const snapshot = await snapshots.open(roots.file('file', file), progress)
      const chain = snapshot.dominators(id, limit)
      if (chain === null) throw codedError(Error, CODES.MCP_NOT_FOUND, `mcp: no object with id ${id} in ${snapshot.file}`)
      const [object] = snapshot.objects({ id }, 1).objects
      return { file: snapshot.file, object: objectAnswer(object), dominators: chain.map((d) => ({ id: d.id, class: d.name, retained: bytesText(d.retainedSize), self: bytesText(d.selfSize) })) }
    },
  },
}

module.exports = { SNAPSHOT_TOOLS, OpenSnapshots }

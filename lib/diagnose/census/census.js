'use strict'

/**
 * The census of collections by reachability: the holder of a leak where no heap snapshot
 * fits. A snapshot takes 14–16 times the live heap in native memory; a service in a container
 * whose limit is 1.5–3 times its heap has no room for one. The census walks what the
 * service's code can reach (walk.js), records every collection over `minEntries` by its path
 * in the code's words, and compares passes: the collections that grew, ranked by entries
 * gained, are the leak's holders.
 *
 * It never stops the service for long: a pass runs in slices of `sliceMs` on unref'd timers
 * (the service's work runs between them; a process with nothing else to do exits mid-pass, and
 * the pass never resolves). No call lists a large array, Map or Set, nor asks the inspector
 * about one; a plain object's keys are listed in one go, once a pass, which no call can slice
 * (a dictionary of 100,000 keys costs a slice of about 15 ms, a million about 300 ms). It is bounded in objects and functions per pass,
 * holds no reference to the service's objects between passes, and runs no getter or Proxy
 * trap of the service's (reflect.js, inspector-view.js), with two exceptions the inspector
 * imposes: a `#private` field's value, or a bound function's `this`, that is an Error with a
 * `stack` getter or an object with a Proxy in its prototype chain is described, and so runs
 * them. Its own code uses the realm's Array, Map and String methods: a service that replaces
 * those (not their intrinsics reflect.js took) has its replacements called.
 */
const { CensusPass } = require('./walk')
const { ownModuleValues } = require('./roots')
const { ClientSockets } = require('./handles')
const { ScriptFiles } = require('./script-files')
const { isOwnFile, originOf } = require('../../shared/code-origin')
const { SYSTEM_CLOCK } = require('../../shared/clock')

/** Every option of the census, with its default. */
const CENSUS_DEFAULTS = Object.freeze({
  /** Entries (or own keys, or timers) from which a collection is recorded. */
  minEntries: 64,
  /** Objects visited per pass at most. */
  maxObjects: 400_000,
  /** Functions whose scopes are read per pass at most (each costs a few inspector calls). */
  maxFunctions: 20_000,
  /** The longest a slice may run before the event loop gets a turn. */
  sliceMs: 8,
  /** The longest stop allowed for naming scripts through the Debugger domain (script-files.js). */
  maxStopMs: 50,
})

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

class Census {
  #options
  #view = null
  #viewFailure = null
  #scripts
  /**
   * The census' own objects, and leakproof's modules' (roots.js' ownModuleValues): never walked
   * (its queue would read as a growing array), nor instances of the classes whose prototypes
   * are here.
   */
  #own = new WeakSet()
  /** The files of leakproof's modules whose values are in `#own`. */
  #ownModules = new Set()
  /** Functions that close over their module's scopes alone, by those scopes' keys, across passes (see CensusPass). */
  #moduleScoped = new WeakMap()
  #running = null
  #stopped = false
  /** Client sockets made since the census began, for the unref'd ones no handle list gives (handles.js). */
  #clientSockets = new ClientSockets()

  #clock

  /**
   * @param {Partial<typeof CENSUS_DEFAULTS>} [options]
   * @param {import('../../shared/clock').Clock} [clock] when each pass began, how long it and each
   *   of its slices took, and the Debugger round's stop
   */
  constructor(options = {}, clock = SYSTEM_CLOCK) {
    this.#options = { ...CENSUS_DEFAULTS, ...options }
    this.#clock = clock
    this.#scripts = new ScriptFiles({ maxStopMs: this.#options.maxStopMs, clock })
    this.#own.add(this)
    for (const object of this.#clientSockets.own()) this.#own.add(object)
    this.#clientSockets.start()
  }

  /** No more passes; a pass under way ends at its next slice, resolving null. */
  stop() {
    this.#stopped = true
    this.#clientSockets.stop()
    this.#view?.close()
    this.#view = null
  }

  /**
   * Takes one pass, in slices. Resolves with `{ time, complete, records, notReached, cost }`
   * (see CensusPass), or null when stopped. One pass at a time: a second call while one runs
   * gets the same promise.
   */
  pass() {
    this.#running ??= this.#takePass().finally(() => {
      this.#running = null
    })
    return this.#running
  }

  /**
   * Takes one pass in one go, stopping this thread until it is done: for a worker whose event
   * loop may never run again between its tasks (a pool's, blocked in `Atomics.wait`), where an
   * evaluation from the main thread is the only way in (worker-census.js). Null when stopped.
   */
  passNow() {
    if (this.#stopped) return null
    const { walk, time, started } = this.#startPass()
    walk.step(Infinity)
    return this.#passTaken(walk, time, started)
  }

  /**
   * A pass in slices, each on a turn of its own, and the listing of its roots (not sliced) on
   * one before them: none shares a turn with its caller's work (a leak's, when the census
   * begins with it: the sites' sampling started, a baseline's fork; together they stopped a
   * service 274 ms).
   */
  async #takePass() {
    await nextTurn()
    if (this.#stopped) return null
    const { walk, time, started } = this.#startPass()
    do {
      await nextTurn()
      if (this.#stopped) return null
    } while (!walk.step(this.#clock.monotonic() + this.#options.sliceMs))
    return this.#passTaken(walk, time, started)
  }

  #startPass() {
    for (const value of ownModuleValues(this.#ownModules)) this.#own.add(value)
    const walk = new CensusPass({ view: this.#inspectorView(), limits: this.#options, own: this.#own, moduleScoped: this.#moduleScoped, clientSockets: this.#clientSockets, clock: this.#clock })
    return { walk, time: this.#clock.now(), started: this.#clock.monotonic() }
  }

  /** A walk done, as `pass()` resolves with it. */
  #passTaken(walk, time, started) {
    const notReached = walk.notReached
    if (this.#viewFailure !== null) notReached.push({ what: 'closures, module scopes and #private fields', why: this.#viewFailure, count: 0 })
    return { time, durationMs: this.#clock.monotonic() - started, complete: !notReached.some((n) => n.what.startsWith('objects past')), records: walk.records, notReached, cost: walk.cost }
  }

  /**
   * The collections that grew from pass `before` to pass `after`, most entries gained first,
   * at most `top`, each named in the code's words (script-files.js finds the files of the
   * holders listed). `slopeBytesPerSec`, the leak's rate, gives each holder's bytes per entry
   * where its members' own size is not measured. For a leak of `kind` `'external'` or
   * `'native'`, collections whose entries hold memory outside the heap (Buffers, streams,
   * sockets, crypto and other native handles) come first, ranked by entries gained times
   * their bytes outside the heap per entry where measured. Resolves with `{ holders, debuggerMs }`,
   * `debuggerMs` the stop taken to name scripts through the Debugger domain (0 when none).
   * @returns {Promise<{ holders: Array<object>, debuggerMs: number }>} see docs/diagnose.md, "The census: the holder without a snapshot".
   */
  async grown(before, after, { top, slopeBytesPerSec = null, kind = 'heap' }) {
    const outside = kind !== 'heap'
    const { listed, debuggerMs } = await this.#named(grownCandidates(before, after, outside, top), (kept) => manyRootsFirst(worthListing(kept, outside)).slice(0, top))
    return { holders: grownHolders(listed, before, after, slopeBytesPerSec), debuggerMs }
  }

  /**
   * `grown`, in one go: the holders' scripts named from the URLs known and, for those still
   * unnamed, a Debugger round predicted within a worker's budget (200 ms: it stops this thread, a worker's, worker-census.js).
   * @returns {{ holders: Array<object>, debuggerMs: number }}
   */
  grownNow(before, after, { top, slopeBytesPerSec = null, kind = 'heap' }) {
    const outside = kind !== 'heap'
    const candidates = grownCandidates(before, after, outside, top)
    const places = this.#placesOf(candidates)
    this.#scripts.resolveKnown(places)
    const { debuggerMs } = this.#scripts.resolveByDebugger(places, this.#view)
    const listed = manyRootsFirst(worthListing(candidates.filter((c) => !isOwnFile(c.record.root.file ?? '')), outside)).slice(0, top)
    return { holders: grownHolders(listed, before, after, slopeBytesPerSec), debuggerMs }
  }

  /** Never walks `object` (and what only it reaches): a caller's own, such as the passes it keeps. */
  ignore(object) {
    this.#own.add(object)
  }

  /**
   * The largest collections of `pass` (one taken by this census) in a named file, most entries
   * first, at most `top`, each named as `grown` names them, with `before` and `entriesPerSec` null: what a
   * first look at a process shows before there is a second pass to compare with.
   * @returns {Promise<{ holders: Array<object>, debuggerMs: number }>}
   */
  async largest(pass, { top }) {
    const biggest = [...pass.records.values()].sort((a, b) => b.entries - a.entries).slice(0, 4 * top).map((record) => ({ record }))
    const { listed, debuggerMs } = await this.#named(biggest, (kept) => kept)
    // Node's own (internal modules, to which V8 gives no file) are left out: the service's are named.
    const inFiles = listed.filter(({ record }) => record.root.file != null).slice(0, top)
    return { holders: inFiles.map(({ record }) => holderOf(record, null, null, null)), debuggerMs }
  }

  /**
   * Of `candidates` (`{ record }` each), leakproof's own left out and `choose` applied, with
   * their scripts named: first without a stop, so that leakproof's own can be left out; then,
   * for the ones listed only, with the Debugger round if some are still unnamed.
   */
  async #named(candidates, choose) {
    await this.#scripts.resolve(candidates.map((c) => c.record.root), this.#view, { useDebugger: false })
    const listed = choose(candidates.filter((c) => !isOwnFile(c.record.root.file ?? '')))
    const { debuggerMs } = await this.#scripts.resolve(this.#placesOf(listed), this.#view, { useDebugger: true })
    return { listed, debuggerMs }
  }

  /**
   * The places whose scripts name `candidates`' holders (`{ record }` each): each record's
   * root and, where an instance of a class holds its collection in a field, the class, its
   * constructor located through the inspector the first time (records.js' `owner`).
   */
  #placesOf(candidates) {
    const places = []
    for (const { record } of candidates) {
      places.push(record.root)
      const owner = record.owner
      if (owner === null) continue
      if (!owner.located) {
        owner.located = true
        const ctor = owner.fn?.deref()
        const where = ctor === undefined || this.#view === null ? null : locationOf(this.#view, ctor)
        if (where !== null) Object.assign(owner, where)
      }
      if (owner.scriptId !== null) places.push(owner)
    }
    return places
  }

  /**
   * Learns script URLs from a sampling heap profile (`HeapProfiler.getSamplingProfile`'s
   * `profile`, as the watcher's allocation sites keep it): naming a holder in one of its
   * scripts then costs nothing.
   */
  noteScripts(profile) {
    this.#scripts.noteProfile(profile)
  }

  /** The inspector view, opened with the first pass; null (and why) where none can be had. */
  #inspectorView() {
    if (this.#view !== null || this.#viewFailure !== null) return this.#view
    try {
      const { InspectorView } = require('./inspector-view')
      this.#view = new InspectorView()
      this.#own.add(this.#view)
    } catch (err) {
      this.#viewFailure = `no in-process inspector session: ${err.message}`
    }
    return this.#view
  }
}

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

/** Where function `fn` is (`{ scriptId, line, column }`), or null: a built-in, or the inspector refused. */
function locationOf(view, fn) {
  try {
    return view.functionLocation(fn)
  } catch {
    return null
  }
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

/** A turn of the event loop for the service, on a timer that does not keep the process alive. */
function nextTurn() {
  return new Promise((resolve) => setTimeout(resolve, 1).unref())
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

module.exports = { Census, CENSUS_DEFAULTS }

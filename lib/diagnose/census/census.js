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
const { grownCandidates, worthListing, manyRootsFirst, grownHolders, holderOf } = require('./grown-holders')
const { isOwnFile } = require('../../shared/code-origin')
const { SYSTEM_CLOCK } = require('../../shared/clock')
const { heapWalks } = require('../../shared/heap-walks')

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

/** The census of one thread (see above): its passes, and the holders that grew between two. */
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
    // Not beside a snapshot of this heap, which would show the pass' frontier (heap-walks.js).
    const endWalk = await heapWalks.beginWalk()
    try {
      if (this.#stopped) return null
      const { walk, time, started } = this.#startPass()
      do {
        await nextTurn()
        if (this.#stopped) return null
      } while (!walk.step(this.#clock.monotonic() + this.#options.sliceMs))
      return this.#passTaken(walk, time, started)
    } finally {
      endWalk()
    }
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

/** Where function `fn` is (`{ scriptId, line, column }`), or null: a built-in, or the inspector refused. */
function locationOf(view, fn) {
  try {
    return view.functionLocation(fn)
  } catch {
    return null
  }
}

/** A turn of the event loop for the service, on a timer that does not keep the process alive. */
function nextTurn() {
  return new Promise((resolve) => setTimeout(resolve, 1).unref())
}

module.exports = { Census, CENSUS_DEFAULTS }

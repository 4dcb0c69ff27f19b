'use strict'

/**
 * One pass of the census: a breadth-first walk of what the service's code can reach, done
 * in slices, that records every collection over a size by its path in the code's words.
 *
 * Where it starts (roots.js, in this order, so the shortest path names a variable where one exists):
 * the exports of every CommonJS module (the app's files first), the active handles (servers,
 * sockets; and the client sockets left open but unref'd, handles.js) and what their listeners
 * close over, the non-standard properties of `globalThis` (`process` among them: its
 * listeners), and Node's timer lists.
 *
 * What it follows from an object: its own data properties (an accessor is never called), a
 * Map's, Set's or array's first members, a function's scopes (the variables of its closure and
 * module: the inspector, see inspector-view.js), a bound function's target and arguments, and
 * a class instance's `#private` fields. Proxies are never looked into. Each object is visited
 * once per pass (a WeakSet: the walk holds nothing once the pass ends). No call lists a large
 * collection: a large array's keys (its every index) are never listed, nor is the inspector
 * asked about a large collection or dictionary; a dictionary's keys, which only a listing can
 * count, are listed once a pass (`cost.largestListing` is the most keys one call listed).
 *
 * What it records: a Map, Set or array with at least `minEntries` entries, a plain object with
 * as many own keys (a dictionary: express-session's MemoryStore, a cache keyed by id), a class
 * instance or function with MAX_KEYS_FOLLOWED of them, a chain with as many links (chains.js),
 * the active handles of one class, and a Node timer list with as many timers; each under the key of its path from the nearest named
 * root (a variable, a global, a module's exports, a handle), where the members of a collection
 * are one step, `[*]`: so the 50,000 Sets inside a Map of users are one record, `users[*]`,
 * counted together, as a diff by retainer path does.
 *
 * About 600 lines, one idea: the roots, the steps from an object and the records share the
 * walk's state (the queue, the visited set, the path keys), so they stay together; what a
 * collection's members are (members.js) and how a chain is counted (chains.js) do not.
 */
const { types } = require('node:util')
const reflect = require('./reflect')
const { ChainCursor, isLink, CHAIN_LINKS_PER_VISIT, MAX_CHAIN_LINKS } = require('./chains')
const { describeMembers } = require('./members')
const { handlesByClass, commonRemoteEnd, spread, MAX_CLIENT_SOCKETS } = require('./handles')
const { root, rootKey, propertyStep, isModuleScope, startingRoots, VARIABLE_ROOTS } = require('./roots')

/** Members of a collection followed (and sampled for their class and size) per collection. */
const MEMBERS_FOLLOWED = 16

/** Own properties of a member looked at for what it holds outside the heap. */
const MEMBER_PROPERTIES_LOOKED_AT = 16

/**
 * Own keys of a class instance or function followed one by one at most: one with more is a
 * dictionary, recorded (the inspector would describe its every key with its `#private`
 * fields or scopes, in one reply).
 */
const MAX_KEYS_FOLLOWED = 1024

/** Timers of one Node timer list counted at most: the list is walked link by link. */
const MAX_TIMERS_COUNTED = 1_000_000


/**
 * The queues of a pass, walked in this order: a variable and what it holds directly, then what
 * variables hold deeper, then what exports, handles and globals reach.
 */
const QUEUES = Object.freeze({ nearVariables: 0, underVariables: 1, others: 2 })

/**
 * Prototypes whose instances have no `#private` field: not asked about. (The inspector would
 * also describe what some of them hold: a WeakRef's target, a promise's result.)
 */
const BUILT_IN_PROTOTYPES = new Set([
  Object.prototype, Array.prototype, Map.prototype, Set.prototype, Function.prototype, Date.prototype, RegExp.prototype,
  WeakRef.prototype, FinalizationRegistry.prototype, Boolean.prototype, Number.prototype, String.prototype, Symbol.prototype, BigInt.prototype,
])

class CensusPass {
  #view
  #limits
  #own
  #visited = new WeakSet()
  #privateless = new WeakSet() // prototypes whose instances have no #private field
  // Objects of `minEntries` own keys or more met in this pass, with their count and first
  // values (see #dictionaryOf), so that each is listed once a pass: as a member, then visited.
  #manyKeys = new WeakMap()
  // Links of chains already recorded, by the property to their next: counted, not walked again.
  #chainLinks = new WeakMap()
  // The counts of chains still under way, queued as items (told apart without touching a value
  // of the service's: `instanceof` would run a Proxy's getPrototypeOf trap).
  #chainCursors = new WeakSet()
  // The items met, as parallel arrays (no object per item): the value, its parent item's
  // index (-1 at a root), the step from the parent, its root and its depth below the root.
  #values = []
  #parents = []
  #steps = []
  #roots = []
  #depths = []
  // The order of visits: three queues of item indexes (see QUEUES), and the packages' exports,
  // queued once everything else is walked.
  #queues = [[], [], []]
  #heads = [0, 0, 0]
  #deferredRoots = []
  /** Collections recorded, by key: see `records`. */
  #records = new Map()
  #notReached = new Map() // what -> { what, why, count }
  #functionsRead = 0
  #modulesRead = new Set() // script ids whose module scope was read in this pass
  #moduleScoped
  #clientSockets
  /** What the pass cost: slices, CPU, objects, inspector calls, the most keys one call listed. */
  cost = { slices: 0, cpuMs: 0, longestSliceMs: 0, visited: 0, inspectorCalls: 0, largestListing: 0 }
  done = false

  /**
   * @param {object} parts
   * @param {import('./inspector-view').InspectorView | null} parts.view scopes and private
   *   fields, or null where no inspector session can be had (they are then not reached).
   * @param {{ minEntries: number, maxObjects: number, maxFunctions: number }} parts.limits
   * @param {WeakSet<object>} parts.own the census' own objects, never walked.
   * @param {WeakMap<Function, string>} parts.moduleScoped functions an earlier pass found to
   *   close over their module's scope alone (no closure, block or script scope, not bound),
   *   by script id: a function's scope chain never changes, so once this pass has read that
   *   module's scope, they hold nothing more to read, and the inspector is not asked again.
   * @param {import('./handles').ClientSockets | null} [parts.clientSockets] the client sockets
   *   made since the census began: the open ones that are unref'd (an agent's idle keep-alive
   *   sockets) are walked and counted as handles too.
   */
  constructor({ view, limits, own, moduleScoped, clientSockets = null }) {
    this.#view = view
    this.#limits = limits
    this.#own = own
    this.#moduleScoped = moduleScoped
    this.#clientSockets = clientSockets
    for (const list of [this.#values, this.#parents, this.#steps, this.#roots, this.#depths, ...this.#queues, this.#deferredRoots, this.#records]) own.add(list)
    this.#addRoots()
  }

  /**
   * The collections recorded: `key -> { key, root, path, className, collections, entries,
   * memberClass, memberBytes, memberHandle }`, `collections` the count that share the key and
   * `entries` their entries in all; `memberClass` the most common class among the members
   * sampled, `memberBytes` their mean bytes outside the heap (Buffers), `memberHandle` the
   * class of the native handle they hold (`Zlib`, `TCP`), if any.
   */
  get records() {
    return this.#records
  }

  /** What the pass did not look at, and why: `[{ what, why, count }]`. */
  get notReached() {
    const list = [...this.#notReached.values()]
    if (!this.done) list.push({ what: 'the rest of the reachable heap', why: 'the pass was stopped before it ended', count: this.#queued() })
    return list
  }

  /** Walks until `deadline` (a `performance.now()` time) or the end; true when the pass is done. */
  step(deadline) {
    const started = performance.now()
    const callsBefore = this.#view?.calls ?? 0
    reflect.listings.largest = 0
    for (let at = this.#next(); at !== -1; at = this.#next()) {
      if (this.cost.visited >= this.#limits.maxObjects) {
        this.#skip('objects past maxObjects', `a pass visits at most ${this.#limits.maxObjects} objects`, this.#queued() + 1)
        this.#queues.forEach((queue, i) => (this.#heads[i] = queue.length))
        break
      }
      this.#visit(at)
      if (performance.now() >= deadline) break
    }
    if (this.#queued() === 0 && this.#deferredRoots.length === 0) this.#finish()
    const ms = performance.now() - started
    this.cost.slices++
    this.cost.cpuMs += ms
    this.cost.longestSliceMs = Math.max(this.cost.longestSliceMs, ms)
    this.cost.inspectorCalls += (this.#view?.calls ?? 0) - callsBefore
    this.cost.largestListing = Math.max(this.cost.largestListing, reflect.listings.largest)
    return this.done
  }

  /** Ends the pass: the queue is let go, so nothing the walk met stays reachable from it. */
  #finish() {
    this.done = true
    for (const list of [this.#values, this.#parents, this.#steps, this.#roots, this.#depths, ...this.#queues]) list.length = 0
    this.#heads.fill(0)
    this.#manyKeys = new WeakMap()
    this.#chainLinks = new WeakMap()
    this.#chainCursors = new WeakSet()
  }

  /**
   * The next item to visit, or -1: from the first queue that has one; when all are empty, the
   * packages' exports are queued (once) and walked last.
   */
  #next() {
    for (;;) {
      for (let q = 0; q < this.#queues.length; q++) {
        if (this.#heads[q] < this.#queues[q].length) return this.#queues[q][this.#heads[q]++]
      }
      if (this.#deferredRoots.length === 0) return -1
      for (const { value, step, root: r } of this.#deferredRoots.splice(0)) this.#enqueue(value, -1, step, r)
    }
  }

  /** Items queued and not yet visited. */
  #queued() {
    return this.#queues.reduce((sum, queue, q) => sum + queue.length - this.#heads[q], 0)
  }

  /** Queues where the pass starts (roots.js' `startingRoots`) and records the handles' kinds. */
  #addRoots() {
    const { first, deferred, handles, droppedSockets } = startingRoots(this.#clientSockets, MEMBERS_FOLLOWED)
    for (const { value, step, root: r } of first) this.#enqueue(value, -1, step, r)
    this.#deferredRoots.push(...deferred)
    if (droppedSockets > 0) this.#skip('client sockets past the count held', `the census holds ${MAX_CLIENT_SOCKETS} open client sockets at most`, droppedSockets)
    this.#recordHandleKinds(handles)
  }

  /**
   * Records the active handles of each class with `minEntries` or more (sockets left open one
   * per request, each kept by its own handle: no collection holds them) as one collection of
   * its own: `Socket handles`, members spread over them sampled for what they hold, the newest
   * first (the unref'd ones come last, after the active ones: a service's stdio pipes must not
   * stand for the thousand upstream sockets it left open), with the remote end most of them
   * share (handles.js).
   */
  #recordHandleKinds(handles) {
    for (const [name, same] of handlesByClass(handles)) {
      if (same.length < this.#limits.minEntries) continue
      const r = root('handles', `${name} handles`, { remote: commonRemoteEnd(same) })
      this.#record(-1, name, 1, same.length, spread(same, MEMBERS_FOLLOWED), r)
    }
  }

  /**
   * Queues `value` (objects and functions only, each once) under `parent` by `step`: a
   * variable and what it holds directly first, then what variables hold deeper, then what only
   * exports, handles and globals reach (QUEUES), so that a collection is named from a variable
   * where one holds it.
   */
  #enqueue(value, parent, step, r) {
    if (!reflect.isObjectLike(value) || this.#visited.has(value) || this.#own.has(value)) return
    this.#visited.add(value)
    this.#push(value, parent, step, r)
  }

  /** Queues `value` as an item (see #enqueue), whatever it is. */
  #push(value, parent, step, r) {
    const at = this.#values.length
    const depth = parent === -1 ? 0 : this.#depths[parent] + 1
    this.#values.push(value)
    this.#parents.push(parent)
    this.#steps.push(step)
    this.#roots.push(r)
    this.#depths.push(depth)
    const variable = VARIABLE_ROOTS.has(r.kind)
    this.#queues[variable ? (depth <= 1 ? QUEUES.nearVariables : QUEUES.underVariables) : QUEUES.others].push(at)
  }

  #visit(at) {
    const value = this.#values[at]
    this.cost.visited++
    if (this.#chainCursors.has(value)) return this.#countChain(value, at)
    if (types.isProxy(value)) return this.#skip('Proxies', 'a Proxy is never looked into: its traps are the service\'s code')
    if (typeof value === 'function') return this.#visitFunction(value, at)
    if (types.isMap(value) || types.isSet(value) || reflect.isArray(value)) return this.#visitCollection(value, at, reflect.collectionSize(value))
    // Weak collections hold nothing; a promise's result, binary data and boxed primitives (a
    // String object's keys are its every character) are not walked.
    if (types.isWeakMap(value) || types.isWeakSet(value) || types.isPromise(value)) return
    if (types.isArrayBufferView(value) || types.isAnyArrayBuffer(value) || types.isExternal(value) || types.isBoxedPrimitive(value)) return
    const name = reflect.className(value)
    if (name === 'TimersList') return this.#visitTimerList(value, at)
    // Node's record of one of its own modules: reading its `exports` loads the module (a lazy
    // property: on Node 26 a pass loaded net, tcp_wrap and more through them).
    if (name === 'BuiltinModule') return
    this.#visitObject(value, at, name)
  }

  /**
   * A plain or class object: its data properties and `#private` fields, or, past `minEntries`
   * keys (a plain object's) or MAX_KEYS_FOLLOWED (a class instance's), a dictionary.
   */
  #visitObject(object, at, name) {
    const plain = name === 'Object' || name === ''
    if (this.#visitedAsDictionary(object, at, plain ? 'Object' : name, plain ? this.#limits.minEntries : MAX_KEYS_FOLLOWED)) {
      if (this.#privatePrototype(object) !== null) {
        this.#skip(`#private fields of objects of ${MAX_KEYS_FOLLOWED} keys or more`, 'the inspector would describe their every key in the reply that lists them')
      }
      return
    }
    const keys = reflect.ownKeys(object)
    if (keys === null) return this.#skip('objects whose keys cannot be listed', 'listing them failed (a module namespace still loading, say)')
    for (const key of keys) {
      if (!this.#visitedAsChain(object, key, at)) this.#followProperty(object, key, at)
    }
    this.#visitPrivateFields(object, at)
  }

  /**
   * Records the chain that starts at `object` and goes on through its property `key` (each link
   * of `object`'s prototype holding the next by `key`), when it has `minEntries` links or more:
   * `bus.latest (chain via .previous)`, its first links followed as `[*]`; whether it did. The
   * links of a recorded chain are not looked at again for it; a chain longer than
   * CHAIN_LINKS_PER_VISIT is counted on in later items (its ChainCursor, queued).
   */
  #visitedAsChain(object, key, at) {
    if (this.#chainLinks.get(object) === key) return true
    const proto = reflect.prototypeOf(object)
    if (!isLink(reflect.ownValue(object, key), proto)) return false
    const cursor = new ChainCursor(object, key, proto, this.#visited)
    const links = [object]
    let goesOn = true
    while (goesOn && links.length < this.#limits.minEntries) {
      goesOn = cursor.advance(1)
      if (goesOn) links.push(cursor.link)
    }
    if (links.length < this.#limits.minEntries) {
      // Too short to be a chain: its links are walked as any object's properties.
      for (const link of links.slice(1)) this.#visited.delete(link)
      return false
    }
    goesOn = cursor.advance(CHAIN_LINKS_PER_VISIT - cursor.count)
    const members = links.slice(0, MEMBERS_FOLLOWED)
    cursor.record = this.#record(at, `chain via ${propertyStep(key)}`, 1, cursor.count, members)
    for (const member of members) this.#chainLinks.set(member, key)
    // Marked as seen by the count already: queued as they are.
    for (const member of members.slice(1)) this.#push(member, at, '[*]', this.#roots[at])
    if (goesOn) this.#pushChain(cursor, at)
    return true
  }

  /** Counts on along a chain being recorded (see #visitedAsChain), CHAIN_LINKS_PER_VISIT links at most. */
  #countChain(cursor, at) {
    const before = cursor.count
    const goesOn = cursor.advance(Math.min(CHAIN_LINKS_PER_VISIT, MAX_CHAIN_LINKS - cursor.count))
    cursor.record.entries += cursor.count - before
    if (!goesOn) return
    if (cursor.count >= MAX_CHAIN_LINKS) return this.#skip(`links of chains past ${MAX_CHAIN_LINKS}`, 'a chain is counted link by link, up to a bound')
    this.#pushChain(cursor, this.#parents[at])
  }

  /** Queues the rest of a chain's count as an item of the census' own, under item `parent`. */
  #pushChain(cursor, parent) {
    this.#chainCursors.add(cursor)
    this.#push(cursor, parent, '', this.#roots[parent])
  }

  /**
   * Records `object` as a dictionary of class `className` when it has `minKeys` keys or more
   * (see #dictionaryOf), its first members followed as `[*]`; whether it did.
   */
  #visitedAsDictionary(object, at, className, minKeys) {
    const dictionary = this.#dictionaryOf(object)
    if (dictionary === null || dictionary.count < minKeys) return false
    this.#record(at, className, 1, dictionary.count, dictionary.first)
    for (const member of dictionary.first) this.#enqueue(member, at, '[*]', this.#roots[at])
    return true
  }

  /**
   * `{ count, first }` for an object of `minEntries` own keys or more: the count of its
   * enumerable keys (Object.keys: half the time of all own keys, on a dictionary), or of all
   * where fewer are enumerable (globalThis: its properties are not followed, since reading
   * some loads Node's modules), and the values of the first MEMBERS_FOLLOWED; null for fewer,
   * or where they cannot be listed. Listed once a pass: V8 sorts a dictionary's keys, which no
   * call can slice (Object.keys takes 15 ms at 100,000 keys, 300 ms at a million).
   */
  #dictionaryOf(object) {
    let dictionary = this.#manyKeys.get(object)
    if (dictionary === undefined) {
      let keys = reflect.enumerableKeys(object)
      if (keys !== null && keys.length < this.#limits.minEntries) keys = reflect.ownKeys(object)
      if (keys === null || keys.length < this.#limits.minEntries) return null
      dictionary = { count: keys.length, first: keys.slice(0, MEMBERS_FOLLOWED).map((key) => reflect.ownValue(object, key)) }
      this.#manyKeys.set(object, dictionary)
    }
    return dictionary
  }

  /**
   * Queues what `object`'s own property `key` holds: a data property's value, or an
   * accessor's functions themselves, never called (what a lazy getter made lives in its
   * closure: Express 5's `app.router`).
   */
  #followProperty(object, key, at) {
    const descriptor = reflect.ownDescriptor(object, key)
    if (descriptor === undefined) return
    const step = propertyStep(key)
    if ('value' in descriptor) return this.#enqueue(descriptor.value, at, step, this.#roots[at])
    if (descriptor.get !== undefined) this.#enqueue(descriptor.get, at, `${step}(get)`, this.#roots[at])
    if (descriptor.set !== undefined) this.#enqueue(descriptor.set, at, `${step}(set)`, this.#roots[at])
  }

  /**
   * A Map, Set or array: recorded when big enough (`minEntries`); its first members followed as
   * `[*]`, then its own named properties (an array's extra fields, a Map subclass' state) and
   * `#private` fields, unless that would list a large one's every entry: an array's keys
   * include its every index, and the inspector builds a Map's or Set's entries (1.4 s for
   * 500,000) in the reply that lists its `#private` fields.
   */
  #visitCollection(collection, at, size) {
    const members = reflect.firstMembers(collection, MEMBERS_FOLLOWED)
    const large = size >= this.#limits.minEntries
    if (large) this.#record(at, reflect.className(collection) || 'Array', 1, size, members)
    for (const member of members) this.#enqueue(member, at, '[*]', this.#roots[at])
    if (large && reflect.isArray(collection)) {
      this.#skip(`named properties of arrays of ${this.#limits.minEntries} elements or more`, 'an array\'s keys are listed with its every index')
    } else {
      for (const key of reflect.ownKeys(collection) ?? []) {
        if (key === 'length' || (typeof key === 'string' && /^\d+$/.test(key))) continue
        this.#enqueue(reflect.ownValue(collection, key), at, propertyStep(key), this.#roots[at])
      }
    }
    if (!large) this.#visitPrivateFields(collection, at)
    else if (this.#privatePrototype(collection) !== null) {
      this.#skip(
        `#private fields of arrays, Maps and Sets of a class of their own with ${this.#limits.minEntries} entries or more`,
        'asking for them lists every entry: an array\'s keys, to check that describing them runs no code, or a Map\'s or Set\'s, which the inspector builds',
      )
    }
  }

  /**
   * One of Node's timer lists (all timers of one duration, linked through `_idleNext`):
   * counted link by link, the first timers' callbacks followed.
   */
  #visitTimerList(list, at) {
    const members = []
    let count = 0
    for (let timer = reflect.ownValue(list, '_idleNext'); timer !== list && reflect.isObjectLike(timer) && count < MAX_TIMERS_COUNTED; timer = reflect.ownValue(timer, '_idleNext')) {
      if (count++ < MEMBERS_FOLLOWED) members.push(timer)
    }
    const msecs = reflect.ownValue(list, 'msecs')
    const callback = reflect.ownValue(members[0] ?? {}, '_onTimeout')
    const where = typeof callback === 'function' && this.#view !== null ? this.#safeLocation(callback) : null
    const timers = root('timers', `timers of ${msecs} ms`, where === null ? {} : { ...where, fn: new WeakRef(callback) })
    if (count >= this.#limits.minEntries) this.#record(at, 'TimersList', 1, count, members, timers)
    for (const timer of members) this.#enqueue(reflect.ownValue(timer, '_onTimeout'), -1, `timers of ${msecs} ms[*]._onTimeout`, timers)
  }

  /**
   * A function: its own properties, then its scopes' variables, each a root of its own; or,
   * past MAX_KEYS_FOLLOWED keys, a dictionary.
   */
  #visitFunction(fn, at) {
    if (this.#visitedAsDictionary(fn, at, 'Function', MAX_KEYS_FOLLOWED)) {
      return this.#skip(`closures of functions of ${MAX_KEYS_FOLLOWED} keys or more`, 'the inspector would describe their every key in the reply that lists their scopes')
    }
    for (const key of reflect.ownKeys(fn) ?? []) {
      if (key !== 'name' && key !== 'length') this.#followProperty(fn, key, at)
    }
    if (this.#view === null) return this.#skip('closures and module scopes', 'no inspector session could be opened in this thread')
    if (this.#modulesRead.has(this.#moduleScoped.get(fn))) return
    if (this.#functionsRead >= this.#limits.maxFunctions) {
      return this.#skip('closures and module scopes past maxFunctions', `a pass reads the scopes of at most ${this.#limits.maxFunctions} functions`)
    }
    this.#functionsRead++
    let details
    let moduleScopeOnly = true
    try {
      details = this.#view.functionDetails(fn, (scriptId, scope) => {
        if (!isModuleScope(scope)) moduleScopeOnly = false
        return this.#moduleScopeRead(scriptId, scope)
      })
    } catch (err) {
      if (err instanceof reflect.WouldRunCode) return this.#skipRunsCode('closures of functions', err)
      return this.#skip('closures and module scopes the inspector refused', err.message)
    }
    if (details.location === null) return
    const { scriptId, line, column } = details.location
    if (moduleScopeOnly && details.bound.length === 0) this.#moduleScoped.set(fn, scriptId)
    // Weakly: the function names its script's file at report time (script-files.js), if alive.
    const fnRef = new WeakRef(fn)
    for (const scope of details.scopes) {
      const kind = isModuleScope(scope) ? 'module' : 'closure'
      for (const { name, value } of scope.variables) {
        this.#enqueue(value, -1, name, root(kind, name, { scriptId, scopeOf: kind === 'module' ? '' : scope.name, line, column, fn: fnRef }))
      }
    }
    details.bound.forEach((part, i) => this.#enqueue(part, at, i === 0 ? '(bound target)' : `(bound ${i})`, this.#roots[at]))
  }

  /** Whether the module scope of script `scriptId` was read in this pass (and notes it). */
  #moduleScopeRead(scriptId, scope) {
    if (!isModuleScope(scope)) return false
    if (this.#modulesRead.has(scriptId)) return true
    this.#modulesRead.add(scriptId)
    return false
  }

  /** A function's `{ scriptId, line, column }`, or null (a built-in, or the inspector refused). */
  #safeLocation(fn) {
    try {
      return this.#view.functionLocation(fn)
    } catch {
      return null
    }
  }

  /**
   * The prototype of `object` when its class may give it `#private` fields the inspector can
   * read: not a built-in's, nor one whose instances were found to have none; else null.
   */
  #privatePrototype(object) {
    const proto = reflect.prototypeOf(object)
    if (this.#view === null || proto === null || BUILT_IN_PROTOTYPES.has(proto) || this.#privateless.has(proto) || types.isGeneratorObject(object)) return null
    return proto
  }

  /** A class instance's `#private` fields, where its class has any (asked once per prototype). */
  #visitPrivateFields(object, at) {
    const proto = this.#privatePrototype(object)
    if (proto === null) return
    let fields
    try {
      fields = this.#view.privateFields(object)
    } catch (err) {
      if (err instanceof reflect.WouldRunCode) return this.#skipRunsCode('#private fields of objects', err)
      return this.#skip('#private fields the inspector refused', err.message)
    }
    if (fields.length === 0) this.#privateless.add(proto)
    for (const { name, value } of fields) this.#enqueue(value, at, `.${name}`, this.#roots[at])
  }

  /** Records a collection at item `at` (or under `asRoot`, a root of its own); the record. */
  #record(at, className, collections, entries, members, asRoot = null) {
    const r = asRoot ?? this.#roots[at]
    const path = asRoot === null ? this.#pathOf(at) : r.name
    const key = `${rootKey(r)}|${path}`
    let record = this.#records.get(key)
    if (record === undefined) {
      record = { key, root: r, path, className, collections: 0, entries: 0, memberClass: null, memberBytes: null, memberHandle: null }
      this.#records.set(key, record)
    }
    record.collections += collections
    record.entries += entries
    if (record.memberClass === null) {
      Object.assign(record, describeMembers(className === 'Map' ? members.filter((_, i) => i % 2 === 1) : members, (member) => this.#memberValues(member)))
    }
    return record
  }

  /**
   * The values of a collection's `member`'s first own properties that hold objects: none for a
   * collection (its entries could number millions), null for a dictionary (see describeMembers).
   */
  #memberValues(member) {
    if (reflect.isArray(member) || types.isMap(member) || types.isSet(member) || types.isTypedArray(member) || types.isArrayBuffer(member)) return []
    if (this.#dictionaryOf(member) !== null) return null
    const values = []
    for (const key of (reflect.ownKeys(member) ?? []).slice(0, MEMBER_PROPERTIES_LOOKED_AT)) {
      const value = reflect.ownValue(member, key)
      if (reflect.isObjectLike(value)) values.push(value)
    }
    return values
  }

  /** The path of item `at` from its root: the steps, joined as code would write them. */
  #pathOf(at) {
    const steps = []
    for (let i = at; i !== -1; i = this.#parents[i]) steps.push(this.#steps[i])
    return steps.reverse().join('').replace(/^\./, '')
  }

  /** Notes `what` the inspector was not asked about, since it would have run the service's code. */
  #skipRunsCode(what, err) {
    this.#skip(`${what} the inspector would run the service's code to describe`, `describing them runs getters or Proxy traps (${err.message}, for one)`)
  }

  #skip(what, why, count = 1) {
    const entry = this.#notReached.get(what)
    if (entry === undefined) this.#notReached.set(what, { what, why, count })
    else entry.count += count
  }
}

module.exports = { CensusPass }

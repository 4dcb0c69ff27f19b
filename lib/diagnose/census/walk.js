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
 * A pass keeps its state in parts of their own: the items it met and the order it visits them
 * in (frontier.js), what it may spend and what it spent (pass-budget.js), the collections
 * recorded and what it did not reach (records.js), the dictionaries it listed
 * (dictionaries.js), the chains it counts (chains.js) and what it asks the inspector
 * (inspector-reads.js). Here are the visits, one per kind of value, and the rule that each
 * object is visited once. That is one file over 400 lines on purpose: the visits call one
 * another and share the pass's state (what it visited, its frontier, its records), so that
 * splitting them would only pass that state around.
 */
const { types } = require('node:util')
const reflect = require('./reflect')
const { Frontier, NO_ITEM } = require('./frontier')
const { PassBudget } = require('./pass-budget')
const { Records, NotReached } = require('./records')
const { Dictionaries } = require('./dictionaries')
const { PassChains, MAX_CHAIN_LINKS } = require('./chains')
const { InspectorReads } = require('./inspector-reads')
const { handlesByClass, commonRemoteEnd, spread, MAX_CLIENT_SOCKETS } = require('./handles')
const { root, propertyStep, startingRoots } = require('./roots')

/** Members of a collection followed (and read for their class and size) per collection. */
const MEMBERS_FOLLOWED = 16

/**
 * Own keys of a class instance or function followed one by one at most: one with more is a
 * dictionary, recorded (the inspector would describe its every key with its `#private`
 * fields or scopes, in one reply).
 */
const MAX_KEYS_FOLLOWED = 1024

/** Timers of one Node timer list counted at most: the list is walked link by link. */
const MAX_TIMERS_COUNTED = 1_000_000

/** One pass of the census (see above): walked in slices by `step`, its records, cost and what it did not reach read once it is done. */
class CensusPass {
  #limits
  #own
  #visited = new WeakSet()
  #frontier
  // The packages' exports: added to the frontier once everything else is visited.
  #deferredRoots = []
  #budget
  #meter // the budget's listings: every listing the visits make is noted in it
  #notReached = new NotReached()
  #dictionaries
  #records
  #chains
  #inspector
  #clientSockets
  #clock
  done = false

  /**
   * @param {object} parts
   * @param {import('./inspector-view').InspectorView | null} parts.view scopes and private
   *   fields, or null where no inspector session can be had (they are then not reached).
   * @param {{ minEntries: number, maxObjects: number, maxFunctions: number }} parts.limits
   * @param {WeakSet<object>} parts.own the census' own objects, never walked, nor instances of
   *   the classes whose prototypes are here.
   * @param {WeakMap<Function, string>} parts.moduleScoped functions an earlier pass found to
   *   close over their module's scopes alone (no closure, block or script scope, not bound),
   *   by those scopes' keys (inspector-reads.js): a function's scope chain never changes, so
   *   once this pass has read them, they hold nothing more to read, and the inspector is not
   *   asked again.
   * @param {import('./handles').ClientSockets | null} [parts.clientSockets] the client sockets
   *   made since the census began: the open ones that are unref'd (an agent's idle keep-alive
   *   sockets) are walked and counted as handles too.
   * @param {import('../../shared/clock').Clock} parts.clock the time of each slice's deadline and cost.
   */
  constructor({ view, limits, own, moduleScoped, clientSockets = null, clock }) {
    this.#limits = limits
    this.#own = own
    this.#clientSockets = clientSockets
    this.#clock = clock
    this.#budget = new PassBudget(limits, view, clock)
    this.#meter = this.#budget.listings
    this.#frontier = new Frontier(own)
    this.#dictionaries = new Dictionaries({ minEntries: limits.minEntries, membersKept: MEMBERS_FOLLOWED, meter: this.#meter })
    this.#records = new Records({ own, dictionaries: this.#dictionaries, meter: this.#meter })
    this.#chains = new PassChains({ visited: this.#visited, minLinks: limits.minEntries, membersKept: MEMBERS_FOLLOWED })
    this.#inspector = new InspectorReads({ view, moduleScoped, budget: this.#budget, notReached: this.#notReached })
    own.add(this.#deferredRoots)
    this.#addRoots()
  }

  /** The collections recorded, by key: see records.js' `Records.byKey`. */
  get records() {
    return this.#records.byKey
  }

  /** What the pass cost: slices, CPU, objects, inspector calls, the most keys one call listed (pass-budget.js). */
  get cost() {
    return this.#budget.cost
  }

  /** What the pass did not look at, and why: `[{ what, why, count }]`. */
  get notReached() {
    const list = this.#notReached.list()
    if (!this.done) list.push({ what: 'the rest of the reachable heap', why: 'the pass was stopped before it ended', count: this.#frontier.waiting })
    return list
  }

  /** Walks until `deadline` (a time of the clock's `monotonic()`) or the end; true when the pass is done. */
  step(deadline) {
    this.#budget.startSlice()
    for (let item = this.#next(); item !== NO_ITEM; item = this.#next()) {
      if (this.#budget.objectsSpent) {
        this.#notReached.add('objects past maxObjects', `a pass visits at most ${this.#budget.maxObjects} objects`, this.#frontier.waiting + 1)
        this.#frontier.skipWaiting()
        break
      }
      this.#visit(item)
      if (this.#clock.monotonic() >= deadline) break
    }
    if (this.#frontier.waiting === 0 && this.#deferredRoots.length === 0) this.#finish()
    this.#budget.endSlice()
    return this.done
  }

  /** Ends the pass: what it met is let go, so that nothing the walk met stays reachable from it. */
  #finish() {
    this.done = true
    this.#frontier.clear()
    this.#dictionaries.clear()
    this.#chains.clear()
  }

  /**
   * The next item to visit, or NO_ITEM: the frontier's next; when none waits, the packages'
   * exports are added (once) and visited last.
   */
  #next() {
    for (;;) {
      const item = this.#frontier.next()
      if (item !== NO_ITEM || this.#deferredRoots.length === 0) return item
      for (const { value, step, root: deferred } of this.#deferredRoots.splice(0)) this.#enqueue(value, NO_ITEM, step, deferred)
    }
  }

  /** Queues where the pass starts (roots.js' `startingRoots`) and records the handles' kinds. */
  #addRoots() {
    const { first, deferred, handles, droppedSockets } = startingRoots(this.#clientSockets, MEMBERS_FOLLOWED)
    for (const { value, step, root: start } of first) this.#enqueue(value, NO_ITEM, step, start)
    this.#deferredRoots.push(...deferred)
    if (droppedSockets > 0) this.#notReached.add('client sockets past the count held', `the census holds ${MAX_CLIENT_SOCKETS} open client sockets at most`, droppedSockets)
    this.#recordHandleKinds(handles)
  }

  /**
   * Records the active handles of each class with `minEntries` or more (sockets left open one
   * per request, each kept by its own handle: no collection holds them) as one collection of
   * its own: `Socket handles`, members spread over them walked for what they hold, the newest
   * first (the unref'd ones come last, after the active ones: a service's stdio pipes must not
   * stand for the thousand upstream sockets it left open), with the remote end most of them
   * share (handles.js).
   */
  #recordHandleKinds(handles) {
    for (const [name, same] of handlesByClass(handles)) {
      if (same.length < this.#limits.minEntries) continue
      const handlesRoot = root('handles', `${name} handles`, { remote: commonRemoteEnd(same) })
      this.#records.add(handlesRoot, handlesRoot.name, name, 1, same.length, spread(same, MEMBERS_FOLLOWED))
    }
  }

  /**
   * Queues `value` (objects and functions only, each once a pass, never the census' own nor
   * an instance of an own class) as an item met under item `parent` (NO_ITEM at a root) by
   * `step`, under `itemRoot`.
   */
  #enqueue(value, parent, step, itemRoot) {
    if (!reflect.isObjectLike(value) || this.#visited.has(value) || this.#own.has(value)) return
    if (typeof value === 'object' && this.#own.has(reflect.prototypeOf(value))) return
    this.#visited.add(value)
    this.#frontier.add(value, parent, step, itemRoot)
  }

  /** Queues `value` (see #enqueue), reached from item `item` by `step`, under its root. */
  #follow(item, step, value) {
    this.#enqueue(value, item, step, this.#frontier.rootOf(item))
  }

  /** Visits item `item`: counts on a chain, or looks into the object by its kind. */
  #visit(item) {
    const value = this.#frontier.valueAt(item)
    this.#budget.noteVisit()
    if (this.#chains.isCount(value)) return this.#countChain(value, item)
    if (types.isProxy(value)) return this.#notReached.add('Proxies', 'a Proxy is never looked into: its traps are the service\'s code')
    if (typeof value === 'function') return this.#visitFunction(value, item)
    if (types.isMap(value) || types.isSet(value) || reflect.isArray(value)) return this.#visitCollection(value, item, reflect.collectionSize(value))
    // Weak collections hold nothing; a promise's result, binary data and boxed primitives (a
    // String object's keys are its every character) are not walked.
    if (types.isWeakMap(value) || types.isWeakSet(value) || types.isPromise(value)) return
    if (types.isArrayBufferView(value) || types.isAnyArrayBuffer(value) || types.isExternal(value) || types.isBoxedPrimitive(value)) return
    const name = reflect.className(value)
    if (name === 'TimersList') return this.#visitTimerList(value)
    // Node's record of one of its own modules is not walked: its `exports` may be a lazy
    // property that loads the module (net, tcp_wrap) when read, and a pass loads nothing.
    if (name === 'BuiltinModule') return
    this.#visitObject(value, item, name)
  }

  /**
   * A plain or class object: its data properties and `#private` fields, or, past `minEntries`
   * keys (a plain object's) or MAX_KEYS_FOLLOWED (a class instance's), a dictionary.
   */
  #visitObject(object, item, name) {
    const plain = name === 'Object' || name === ''
    if (this.#visitedAsDictionary(object, item, plain ? 'Object' : name, plain ? this.#limits.minEntries : MAX_KEYS_FOLLOWED)) {
      if (this.#inspector.mayHavePrivateFields(object)) {
        this.#notReached.add(`#private fields of objects of ${MAX_KEYS_FOLLOWED} keys or more`, 'the inspector would describe their every key in the reply that lists them')
      }
      return
    }
    const keys = reflect.ownKeys(object, this.#meter)
    if (keys === null) return this.#notReached.add('objects whose keys cannot be listed', 'listing them failed (a module namespace still loading, say)')
    for (const key of keys) {
      if (!this.#visitedAsChain(object, key, item)) this.#followProperty(object, key, item)
    }
    this.#followPrivateFields(object, item)
  }

  /**
   * Records the chain that starts at `object` and goes on through its property `key`, when it
   * has `minEntries` links or more (chains.js): `bus.latest (chain via .previous)`, its first
   * links followed as `[*]`; whether `key` is one such chain's, found here or before (a link
   * of a chain recorded is not looked at again for it). A chain longer than one visit counts
   * is counted on in later items (its ChainCursor, queued).
   */
  #visitedAsChain(object, key, item) {
    if (this.#chains.isCountedLink(object, key)) return true
    const chain = this.#chains.startingAt(object, key)
    if (chain === null) return false
    chain.cursor.record = this.#recordAt(item, `chain via ${propertyStep(key)}`, 1, chain.cursor.count, chain.members)
    // Marked as visited by the count already: added as they are.
    for (const member of chain.members.slice(1)) this.#frontier.add(member, item, '[*]', this.#frontier.rootOf(item))
    if (chain.goesOn) this.#addChainCount(chain.cursor, item)
    return true
  }

  /** Counts on along a chain being recorded (see #visitedAsChain), one visit's links at most. */
  #countChain(cursor, item) {
    if (!cursor.countOn()) return
    if (cursor.count >= MAX_CHAIN_LINKS) return this.#notReached.add(`links of chains past ${MAX_CHAIN_LINKS}`, 'a chain is counted link by link, up to a bound')
    this.#addChainCount(cursor, this.#frontier.parentOf(item))
  }

  /** Queues the rest of a chain's count as an item of the census' own, under item `parent`. */
  #addChainCount(cursor, parent) {
    this.#chains.noteQueued(cursor)
    this.#frontier.add(cursor, parent, '', this.#frontier.rootOf(parent))
  }

  /**
   * Records `object` as a dictionary of class `className` when it has `minKeys` keys or more
   * (dictionaries.js), its first members followed as `[*]`; whether it did.
   */
  #visitedAsDictionary(object, item, className, minKeys) {
    const dictionary = this.#dictionaries.of(object)
    if (dictionary === null || dictionary.count < minKeys) return false
    this.#recordAt(item, className, 1, dictionary.count, dictionary.first)
    for (const member of dictionary.first) this.#follow(item, '[*]', member)
    return true
  }

  /**
   * Queues what `object`'s own property `key` holds: a data property's value, or an
   * accessor's functions themselves, never called (what a lazy getter made lives in its
   * closure: Express 5's `app.router`).
   */
  #followProperty(object, key, item) {
    const descriptor = reflect.ownDescriptor(object, key)
    if (descriptor === undefined) return
    const step = propertyStep(key)
    if ('value' in descriptor) return this.#follow(item, step, descriptor.value)
    if (descriptor.get !== undefined) this.#follow(item, `${step}(get)`, descriptor.get)
    if (descriptor.set !== undefined) this.#follow(item, `${step}(set)`, descriptor.set)
  }

  /**
   * A Map, Set or array: recorded when big enough (`minEntries`); its first members followed as
   * `[*]`, then its own named properties (an array's extra fields, a Map subclass' state) and
   * `#private` fields, unless that would list a large one's every entry: an array's keys
   * include its every index, and the inspector builds a Map's or Set's entries (1.4 s for
   * 500,000) in the reply that lists its `#private` fields.
   */
  #visitCollection(collection, item, size) {
    const members = reflect.firstMembers(collection, MEMBERS_FOLLOWED)
    const large = size >= this.#limits.minEntries
    if (large) this.#recordAt(item, reflect.className(collection) || 'Array', 1, size, members)
    for (const member of members) this.#follow(item, '[*]', member)
    if (large && reflect.isArray(collection)) {
      this.#notReached.add(`named properties of arrays of ${this.#limits.minEntries} elements or more`, 'an array\'s keys are listed with its every index')
    } else {
      for (const key of reflect.ownKeys(collection, this.#meter) ?? []) {
        if (key === 'length' || (typeof key === 'string' && /^\d+$/.test(key))) continue
        this.#follow(item, propertyStep(key), reflect.ownValue(collection, key))
      }
    }
    if (!large) this.#followPrivateFields(collection, item)
    else if (this.#inspector.mayHavePrivateFields(collection)) {
      this.#notReached.add(
        `#private fields of arrays, Maps and Sets of a class of their own with ${this.#limits.minEntries} entries or more`,
        'asking for them lists every entry: an array\'s keys, to check that describing them runs no code, or a Map\'s or Set\'s, which the inspector builds',
      )
    }
  }

  /**
   * One of Node's timer lists (all timers of one duration, linked through `_idleNext`):
   * counted link by link and recorded under a root of its own, named by its duration and its
   * first callback's place; the first timers' callbacks followed.
   */
  #visitTimerList(list) {
    const members = []
    let count = 0
    for (let timer = reflect.ownValue(list, '_idleNext'); timer !== list && reflect.isObjectLike(timer) && count < MAX_TIMERS_COUNTED; timer = reflect.ownValue(timer, '_idleNext')) {
      if (count++ < MEMBERS_FOLLOWED) members.push(timer)
    }
    const msecs = reflect.ownValue(list, 'msecs')
    const callback = reflect.ownValue(members[0] ?? {}, '_onTimeout')
    const where = typeof callback === 'function' ? this.#inspector.locationOf(callback) : null
    const timers = root('timers', `timers of ${msecs} ms`, where === null ? {} : { ...where, fn: new WeakRef(callback) })
    if (count >= this.#limits.minEntries) this.#records.add(timers, timers.name, 'TimersList', 1, count, members)
    for (const timer of members) this.#enqueue(reflect.ownValue(timer, '_onTimeout'), NO_ITEM, `timers of ${msecs} ms[*]._onTimeout`, timers)
  }

  /**
   * A function: its own properties, then its scopes' variables, each a root of its own, and a
   * bound function's target and arguments (inspector-reads.js); or, past MAX_KEYS_FOLLOWED
   * keys, a dictionary.
   */
  #visitFunction(fn, item) {
    if (this.#visitedAsDictionary(fn, item, 'Function', MAX_KEYS_FOLLOWED)) {
      return this.#notReached.add(`closures of functions of ${MAX_KEYS_FOLLOWED} keys or more`, 'the inspector would describe their every key in the reply that lists their scopes')
    }
    for (const key of reflect.ownKeys(fn, this.#meter) ?? []) {
      if (key !== 'name' && key !== 'length') this.#followProperty(fn, key, item)
    }
    const scopes = this.#inspector.scopesOf(fn)
    if (scopes === null) return
    for (const { name, value, root: variable } of scopes.variables) this.#enqueue(value, NO_ITEM, name, variable)
    scopes.bound.forEach((part, index) => this.#follow(item, index === 0 ? '(bound target)' : `(bound ${index})`, part))
  }

  /** Follows a class instance's `#private` fields (inspector-reads.js), where its class has any. */
  #followPrivateFields(object, item) {
    for (const { name, value } of this.#inspector.privateFieldsOf(object)) this.#follow(item, `.${name}`, value)
  }

  /** Records a collection found at item `item`, under its root and path (records.js); the record. */
  #recordAt(item, className, collections, entries, members) {
    return this.#records.add(this.#frontier.rootOf(item), this.#frontier.pathOf(item), className, collections, entries, members, () => this.#ownerOf(item))
  }

  /**
   * The class whose instance holds item `item` in a field, as a root-like place to locate
   * when a report names it (roots.js' `root` of kind `owner`: the class's name, `field`, `fn`
   * a WeakRef to its constructor), or null: met by a property step (`.trail`, `.#trail`) from
   * an object whose prototype's constructor is not Object's.
   */
  #ownerOf(item) {
    const parent = this.#frontier.parentOf(item)
    const step = this.#frontier.stepOf(item)
    if (parent === NO_ITEM || typeof step !== 'string' || !step.startsWith('.')) return null
    const owner = this.#frontier.valueAt(parent)
    if (!reflect.isObjectLike(owner) || typeof owner === 'function') return null
    const proto = reflect.prototypeOf(owner)
    const ctor = proto === null ? undefined : reflect.ownValue(proto, 'constructor')
    if (typeof ctor !== 'function' || ctor === Object) return null
    return root('owner', reflect.className(owner), { field: step.slice(1), fn: new WeakRef(ctor) })
  }
}

module.exports = { CensusPass }

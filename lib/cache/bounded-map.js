'use strict'

/**
 * `BoundedMap`, the drop-in `Map` with bounds. One file over 400 lines on purpose: it is one
 * class that must behave as `Map` in every method, and every method reads the same private
 * index and columns; its parts that divide (the options, policies, sizes, expiry, memory
 * pressure) are modules of their own already, and what is left here would only be split by
 * putting a call between `get`/`set` and their state.
 *
 * Storage: a `Map` from key to slot number (so keys of any type compare with
 * SameValueZero, exactly as in `Map`), and per-slot columns: keys and values in plain
 * arrays, links, counters, sizes and expiry times in typed arrays. No object is
 * allocated per entry.
 *
 * Optional features are chosen once, in the constructor, as helper objects; hot methods
 * call them without asking whether the feature is on:
 * - the policy (policies.js: `lru`, `s3-fifo` or `tinylfu`) owns the queue links and decides
 *   what a hit does and what to evict;
 * - `SlotSizes` (slot-sizes.js) holds the byte size of each slot and the total when
 *   `maxBytes` is set, `NO_SIZES` otherwise;
 * - `SlotExpiry` (expiry-queue.js) holds the expiry time of each slot and the one timer,
 *   from the first entry set with a TTL; `NO_EXPIRY` until then.
 */
const { inspect } = require('node:util')
const errors = require('../shared/errors')
const { SlotExpiry, NO_EXPIRY } = require('./expiry-queue')
const { POLICIES } = require('./policies')
const { NONE } = require('./slot-queue')
const { SlotSizes, NO_SIZES } = require('./slot-sizes')
const { registerMap } = require('./registry')
const { followPressure } = require('./map-pressure')
const { readOptions } = require('./map-options')

/** Slots allocated by the first growth; each later one doubles (up to `max`). */
const MIN_CAPACITY = 16

const SET_OPTIONS = ['ttl']

let warnedTtlOnly = false

/** What `#held` returns for a key that holds no live entry (`undefined` is a value a map can hold). */
const ABSENT = Symbol('absent')

// `get` and `set` as the class defines them, for the upsert methods: as in `Map`, what they do
// inside is not looked up on the receiver, so a subclass's `get` or `set` is not called there.
let getEntry
let setEntry

/**
 * A `Map` that cannot grow without bound: it holds at most `max` entries, at most
 * `maxBytes` bytes (as measured by `sizeOf`) and forgets entries `ttl` ms after they
 * were set. Within its bounds it behaves exactly as `Map`; where it must differ (the
 * bounds, TTLs, `get` refreshing the entry, its own name) is in docs/cache.md.
 *
 * Iteration (`keys`, `values`, `entries`, `forEach`, `for…of`) is in insertion order,
 * as `Map`'s, not in recency order; iterators are live in the same way as `Map`'s, and
 * skip entries whose TTL has passed.
 *
 * @template K, V
 */
class BoundedMap {
  #index = new Map() // key -> slot (>= 0), or a ghost marker (< 0) for s3-fifo
  #keys = [] // per slot; its length is the slots allocated
  #vals = []
  #used = 0 // slots ever handed out (the rest of the columns is untouched)
  #free = [] // freed slots, reused first
  /** @type {import('./policies').LruPolicy | import('./policies').S3FifoPolicy | import('./policies').TinyLfuPolicy} */
  #policy
  /** @type {import('./slot-sizes').SlotSizes | import('./slot-sizes').NoSizes} */
  #sizes
  /** @type {import('./expiry-queue').SlotExpiry | import('./expiry-queue').NoExpiry} SlotExpiry once an entry had a TTL */
  #expiry = NO_EXPIRY
  #recycles // no byte bound: a full map hands its victim's slot to the new key

  #max // the bounds in force: the options' (#bounds), or a share of them under memory pressure
  #maxBytes
  #bounds
  #boundShare = 1
  #ttl
  #onEvict
  #now
  #name

  #hits = 0
  #misses = 0
  #evictions = 0
  #expirations = 0
  #rejected = 0

  #pending = [] // (value, key, reason) triples waiting for onEvict
  #flushing = false

  /**
   * @param {object} options bounds and behaviour; at least one of `max`, `maxBytes`, `ttl`.
   * @param {Iterable<readonly [K, V]>} [entries] initial entries, set in order.
   */
  constructor(options, entries) {
    const { max, maxBytes, ttl, sizeOf, onEvict, now, policy, name, shrinkUnderPressure } = readOptions(options)
    this.#max = max
    this.#maxBytes = maxBytes
    this.#bounds = { max, maxBytes }
    this.#ttl = ttl
    this.#onEvict = onEvict
    this.#now = now
    this.#name = name
    if (max === Infinity && maxBytes === Infinity && !warnedTtlOnly) {
      warnedTtlOnly = true
      errors.warn(
        errors.WARNINGS.TTL_ONLY,
        'BoundedMap: bounded only by options.ttl, it holds everything set within one ttl: add options.max or options.maxBytes to cap it',
      )
    }
    this.#sizes = maxBytes === Infinity ? NO_SIZES : new SlotSizes(sizeOf)
    this.#policy = new POLICIES[policy](this.#index, this.#sizes, max, maxBytes)
    this.#recycles = maxBytes === Infinity
    registerMap(this)
    followPressure(this, shrinkUnderPressure, (share) => this.#holdShare(share))
    if (entries !== undefined && entries !== null) this.#addEntries(entries)
  }

  /**
   * The constructor's entries, as `Map`'s constructor adds them (the spec's
   * AddEntriesFromIterable): `this.set` is read once, before the iterable is opened, and
   * called for each entry, so a subclass's `set` sees every one. `for…of` closes the
   * iterator when an entry is not an object, or reading it or `set` throws.
   */
  #addEntries(entries) {
    const set = this.set
    if (typeof set !== 'function') {
      throw new TypeError(`BoundedMap: this.set is ${errors.describe(set)}, not a function, so the entries cannot be added`)
    }
    for (const entry of entries) {
      if (entry === null || (typeof entry !== 'object' && typeof entry !== 'function')) {
        throw new TypeError(`Iterator value ${errors.describe(entry)} is not an entry object`)
      }
      set.call(this, entry[0], entry[1])
    }
  }

  /** `Map`'s species: the class it is read from, as `Map[Symbol.species]` is. */
  static get [Symbol.species]() {
    return this
  }

  /** The name given in the options, if any. */
  get name() {
    return this.#name
  }

  /** The most entries held, as set (`Infinity` without a count bound); under memory pressure `stats().boundShare` of it. */
  get max() {
    return this.#bounds.max
  }

  /** The most bytes held, as set (`Infinity` without a byte bound); under memory pressure `stats().boundShare` of it. */
  get maxBytes() {
    return this.#bounds.maxBytes
  }

  /** Number of entries held (entries past their TTL count until they are freed). */
  get size() {
    return this.#index.size - this.#policy.ghostCount
  }

  /** `'BoundedMap'`. */
  get [Symbol.toStringTag]() {
    return 'BoundedMap'
  }

  /** The value for `key`, counting a hit (and recency or frequency) or a miss. */
  get(key) {
    const slot = this.#index.get(key)
    // One comparison rejects both a miss (undefined) and an S3-FIFO ghost (negative).
    if (!(slot >= 0)) {
      this.#misses++
      return undefined
    }
    if (this.#expiry.isStale(slot)) {
      this.#misses++
      this.#remove(slot, 'expire')
      this.#flush()
      return undefined
    }
    this.#hits++
    this.#policy.touch(slot)
    return this.#vals[slot]
  }

  /** The value for `key` without counting a hit or touching recency. */
  peek(key) {
    const slot = this.#index.get(key)
    if (slot === undefined || !this.#isLive(slot)) return undefined
    return this.#vals[slot]
  }

  /** Whether `key` is held and not past its TTL. Does not touch recency. */
  has(key) {
    const slot = this.#index.get(key)
    return slot !== undefined && this.#isLive(slot)
  }

  /**
   * Sets `key` to `value`, evicting by policy to stay within the bounds.
   * `options.ttl` overrides the map's TTL for this entry (`Infinity`: never expires).
   * A value larger than `maxBytes` is not stored: the key is removed and the value is
   * passed to `onEvict` with reason `'too-large'`.
   * @returns {this}
   */
  set(key, value, options) {
    const ttl = options === undefined ? this.#ttl : this.#entryTtl(options)
    if (key === 0) key = 0 // normalise -0 to +0, as Map does
    const size = this.#sizes.measure(value, key)
    let slot = this.#index.get(key)
    let returning = false
    if (slot !== undefined && slot < 0) {
      // A ghost: the key was evicted from probation not long ago. It comes back to
      // main, and to the end of the iteration order like any new key.
      /** @type {import('./policies').S3FifoPolicy} */ (this.#policy).takeGhost(slot) // only S3-FIFO keeps ghosts
      this.#index.delete(key)
      slot = undefined
      returning = true
    }
    if (size > this.#maxBytes) this.#reject(slot, key, value)
    else if (slot === undefined) this.#insert(key, value, size, ttl, returning)
    else this.#update(slot, key, value, size, ttl)
    this.#flush()
    return this
  }

  /**
   * The value for `key`, counted as `get` counts it; when none is held, sets `key` to
   * `value` as `set` does (within the bounds) and returns `value`. `Map.prototype.getOrInsert`,
   * which Map has from Node 26.
   */
  getOrInsert(key, value) {
    const held = this.#held(key)
    if (held !== ABSENT) return held
    setEntry.call(this, key, value)
    return value
  }

  /**
   * The value for `key`, counted as `get` counts it; when none is held, calls `callback(key)`
   * (`-0` given as `+0`), sets `key` to its result as `set` does (replacing what the callback
   * may have set there) and returns it. `Map.prototype.getOrInsertComputed`, which Map has
   * from Node 26. A callback that throws leaves the map as it was.
   */
  getOrInsertComputed(key, callback) {
    // The receiver is checked before the callback, as in Map.
    if (!(#index in this)) throw new TypeError(`BoundedMap.prototype.getOrInsertComputed called on ${errors.describe(this)}`)
    if (typeof callback !== 'function') {
      throw new TypeError(`${errors.describe(callback)} is not a function`)
    }
    if (key === 0) key = 0 // normalise -0 to +0, as Map does
    const held = this.#held(key)
    if (held !== ABSENT) return held
    const value = callback(key)
    setEntry.call(this, key, value)
    return value
  }

  /** The live value for `key`, a hit or a miss as `get` counts it, else `ABSENT`. */
  #held(key) {
    const value = getEntry.call(this, key)
    return value !== undefined || this.#isLive(this.#index.get(key)) ? value : ABSENT
  }

  /** Removes `key`; true if it was held (and not past its TTL). */
  delete(key) {
    const slot = this.#index.get(key)
    if (slot === undefined || slot < 0) return false
    const live = !this.#expiry.isStale(slot)
    this.#remove(slot, live ? 'delete' : 'expire')
    this.#flush()
    return live
  }

  /** Removes every entry (each goes to `onEvict` with reason `'clear'`). */
  clear() {
    if (this.#onEvict !== null) {
      for (const [key, slot] of this.#index) if (slot >= 0) this.#pending.push(this.#vals[slot], key, 'clear')
    }
    this.#index.clear()
    this.#keys = []
    this.#vals = []
    this.#used = 0
    this.#free = []
    this.#policy.clear()
    this.#sizes.clear()
    this.#expiry.clear()
    this.#flush()
  }

  /**
   * Calls `callback(value, key, map)` for each live entry, in insertion order. As in `Map`,
   * the receiver is checked before the callback.
   */
  forEach(callback, thisArg) {
    const index = this.#index
    if (typeof callback !== 'function') {
      throw new TypeError(`${errors.describe(callback)} is not a function`)
    }
    index.forEach((slot, key) => {
      if (this.#isLive(slot)) {
        callback.call(thisArg, this.#vals[slot], key, this)
      }
    })
  }

  // The iterators are plain methods over private generators: calling a private method checks
  // the receiver at once, so `entries`, `keys` and `values` on anything but a BoundedMap
  // throw a TypeError at the call, as `Map`'s do (a generator would wait for `next()`).

  /**
   * Live `[key, value]` pairs in insertion order. `[Symbol.iterator]` is this same function.
   * @returns {Generator<[K, V]>}
   */
  entries() {
    return this.#liveEntries()
  }

  /** Live keys in insertion order. */
  keys() {
    return this.#liveKeys()
  }

  /** Live values in insertion order. */
  values() {
    return this.#liveValues()
  }

  /** @returns {Generator<[K, V]>} */
  *#liveEntries() {
    for (const [key, slot] of this.#index) {
      if (this.#isLive(slot)) yield [key, this.#vals[slot]]
    }
  }

  *#liveKeys() {
    for (const [key, slot] of this.#index) {
      if (this.#isLive(slot)) yield key
    }
  }

  *#liveValues() {
    for (const slot of this.#index.values()) {
      if (this.#isLive(slot)) yield this.#vals[slot]
    }
  }

  /** Shows the live entries, as `util.inspect` shows a Map's. */
  [inspect.custom](depth, options) {
    if (depth < 0) return `[BoundedMap(${this.size})]`
    const shown = inspect(new Map(this.entries()), { ...options, depth: options.depth === null ? null : options.depth - 1 })
    return `BoundedMap(${this.size}) ${shown.replace(/^Map\(\d+\) /, '')}`
  }

  /**
   * Milliseconds until `key` expires: `Infinity` if it has no TTL, 0 if it is not held.
   */
  getRemainingTTL(key) {
    const slot = this.#index.get(key)
    if (slot === undefined || slot < 0) return 0
    return this.#expiry.remaining(slot)
  }

  /** Frees every entry past its TTL now; returns how many were freed. */
  purgeStale() {
    const before = this.#expirations
    this.#expiry.purge((slot) => this.#remove(slot, 'expire'))
    this.#flush()
    return this.#expirations - before
  }

  /**
   * Counters since construction: `hits` and `misses` count `get` calls; `evictions`
   * entries removed to respect `max`/`maxBytes`; `expirations` entries freed after their
   * TTL; `rejected` values larger than `maxBytes`. `boundShare` is the share of its bounds
   * the map may hold now: 1, or less while it has shrunk under memory pressure.
   */
  stats() {
    const lookups = this.#hits + this.#misses
    return {
      size: this.size,
      bytes: this.#sizes.total,
      hits: this.#hits,
      misses: this.#misses,
      evictions: this.#evictions,
      expirations: this.#expirations,
      rejected: this.#rejected,
      hitRatio: lookups === 0 ? 0 : this.#hits / lookups,
      boundShare: this.#boundShare,
    }
  }

  // ---- set, in its three cases ----

  /** Stores a new entry (a `returning` ghost goes straight to S3-FIFO's main queue). */
  #insert(key, value, size, ttl, returning) {
    const slot = this.#recycles && this.size >= this.#max ? this.#recycle() : this.#makeRoom(size)
    this.#sizes.store(slot, size)
    this.#policy.admit(slot, size, returning, key)
    this.#store(slot, key, value, ttl)
  }

  /** Puts the entry in `slot`, in the index and the value columns, with its expiry. */
  #store(slot, key, value, ttl) {
    this.#index.set(key, slot)
    this.#keys[slot] = key
    this.#vals[slot] = value
    this.#expire(slot, ttl)
  }

  /** Replaces the value of the entry in `slot`, which counts as a hit for the policy. */
  #update(slot, key, value, size, ttl) {
    const old = this.#vals[slot]
    this.#vals[slot] = value
    this.#policy.resized(slot, this.#sizes.change(slot, size))
    this.#expire(slot, ttl)
    this.#policy.touch(slot)
    this.#evictUntilFits(0, 0, slot)
    if (old !== value) this.#evicted(old, key, 'set')
  }

  /** A value larger than maxBytes: not stored, and the key's old entry goes. */
  #reject(slot, key, value) {
    if (slot !== undefined) this.#remove(slot, 'set')
    this.#rejected++
    this.#evicted(value, key, 'too-large')
  }

  // ---- storage ----

  /** Evicts until an entry of `size` bytes fits, and returns a free slot for it. */
  #makeRoom(size) {
    this.#evictUntilFits(1, size, NONE)
    if (this.#free.length > 0) return this.#free.pop()
    if (this.#used === this.#keys.length) this.#grow()
    return this.#used++
  }

  /** Doubles the slots (at least MIN_CAPACITY, at most `max`) in every column. */
  #grow() {
    const capacity = Math.min(this.#bounds.max, Math.max(MIN_CAPACITY, this.#keys.length * 2))
    // Size the value columns in step, so they never hold more slack than the typed ones.
    this.#keys.length = capacity
    this.#vals.length = capacity
    this.#policy.grow(capacity)
    this.#sizes.grow(capacity)
    this.#expiry.grow(capacity)
  }

  /**
   * The fast path of a full map without a byte bound: evicts the policy's victim and hands
   * its slot to the new entry, saving a free, a pop and resetting columns that `#store` sets
   * next (its expiry too).
   */
  #recycle() {
    const slot = this.#policy.victim(NONE)
    const key = this.#keys[slot]
    if (!this.#policy.evict(slot, key, 0)) this.#index.delete(key)
    this.#evictions++
    this.#evicted(this.#vals[slot], key, 'evict')
    return slot
  }

  /**
   * Unlinks and frees `slot`, queueing `(value, key, reason)` for `onEvict`. An evicted
   * key may stay in the index as an S3-FIFO ghost.
   */
  #remove(slot, reason) {
    const key = this.#keys[slot]
    const value = this.#vals[slot]
    const size = this.#sizes.release(slot)
    const ghost = reason === 'evict' ? this.#policy.evict(slot, key, size) : this.#policy.detach(slot, size)
    if (!ghost) this.#index.delete(key)
    this.#keys[slot] = undefined
    this.#vals[slot] = undefined
    this.#expiry.forget(slot)
    this.#free.push(slot)
    if (reason === 'evict') this.#evictions++
    else if (reason === 'expire') this.#expirations++
    this.#evicted(value, key, reason)
  }

  /** Evicts until `extraCount` more entries of `extraBytes` fit; never evicts `keep`. */
  #evictUntilFits(extraCount, extraBytes, keep) {
    const floor = keep === NONE ? 0 : 1
    for (;;) {
      const size = this.size
      if (size <= floor || (size + extraCount <= this.#max && this.#sizes.total + extraBytes <= this.#maxBytes)) return
      this.#remove(this.#policy.victim(keep), 'evict')
    }
  }

  /**
   * Memory pressure (map-pressure.js): the map holds `share` of its bounds from now on. Below
   * 1 it evicts by its policy until it fits; back at 1 it grows again as entries are set.
   * Returns how many entries were evicted.
   */
  #holdShare(share) {
    const { max, maxBytes } = this.#bounds
    this.#boundShare = share
    this.#max = share === 1 ? max : Math.max(1, Math.floor(max * share))
    this.#maxBytes = maxBytes * share
    this.#policy.bounded(this.#max, this.#maxBytes)
    const before = this.#evictions
    this.#evictUntilFits(0, 0, NONE)
    this.#flush()
    return this.#evictions - before
  }

  // ---- onEvict ----

  /** Queues `(value, key, reason)` for `onEvict`, if there is one. */
  #evicted(value, key, reason) {
    if (this.#onEvict !== null) this.#pending.push(value, key, reason)
  }

  /** Delivers queued `onEvict` calls once the map is consistent; rethrows the first error. */
  #flush() {
    if (this.#pending.length === 0 || this.#flushing) return
    this.#flushing = true
    let failure = null
    try {
      // A callback may change the map and queue more calls: keep going until none are left.
      for (let i = 0; i < this.#pending.length; i += 3) {
        try {
          this.#onEvict(this.#pending[i], this.#pending[i + 1], this.#pending[i + 2])
        } catch (err) {
          failure ??= { err }
        }
      }
    } finally {
      this.#pending = []
      this.#flushing = false
    }
    if (failure !== null) throw failure.err
  }

  // ---- time ----

  /** The TTL of one `set` call: its `options.ttl`, else the map's (0: never expires). */
  #entryTtl(options) {
    errors.checkOptionsObject('BoundedMap#set()', options, SET_OPTIONS)
    const { ttl } = options
    if (ttl === undefined) return this.#ttl
    if (ttl === Infinity) return 0
    return errors.checkPositiveFinite('BoundedMap#set()', 'options.ttl', ttl)
  }

  /** Whether an index value is an entry (not a ghost) whose TTL has not passed. */
  #isLive(slot) {
    return slot >= 0 && !this.#expiry.isStale(slot)
  }

  /** Sets the slot's expiry `ttl` ms from now (0: never); the first TTL starts tracking. */
  #expire(slot, ttl) {
    if (ttl !== 0 && this.#expiry === NO_EXPIRY) {
      this.#expiry = new SlotExpiry(this, this.#keys.length, this.#now, this.#ttl)
    }
    this.#expiry.set(slot, ttl, this)
  }

  // Last in the class: the type checker reads methods as declared in order (TS2729 above them).
  static {
    const proto = this.prototype
    getEntry = proto.get
    setEntry = proto.set
    // As `Map.prototype[Symbol.iterator]` is `Map.prototype.entries`: the same function.
    Object.defineProperty(proto, Symbol.iterator, { value: proto.entries, writable: true, configurable: true })
    // `Map`'s lengths, `set(key, value)` 2 and `forEach(callback)` 1, given here rather than by
    // default parameters: those would add to `set`'s bytecode, the hot path's (244 to 257 bytes).
    Object.defineProperty(proto.set, 'length', { value: 2 })
    Object.defineProperty(proto.forEach, 'length', { value: 1 })
  }
}

module.exports = { BoundedMap }

'use strict'

const { inspect } = require('node:util')
const errors = require('../errors')
const { coarseNow } = require('./clock')
const { ExpiryQueue } = require('./expiry-queue')
const { GhostKeys } = require('./ghost-keys')
const { registerMap } = require('./registry')

/**
 * Storage: a `Map` from key to slot number (so keys of any type compare with
 * SameValueZero, exactly as in `Map`), and per-slot columns: keys and values in plain
 * arrays, links and counters in typed arrays. No object is allocated per entry.
 *
 * Policies:
 * - `lru`: one doubly linked list, least recently used first.
 * - `s3-fifo` (Yang et al., SOSP 2023): a small probation FIFO (5% of the bounds), a
 *   main FIFO, a 2-bit access counter per entry and a ghost list of keys recently
 *   evicted from probation. A hit only bumps the counter, so reads are cheaper than LRU's, and one-time
 *   keys (scans) leave from probation without displacing the entries that are reused.
 */
const NONE = -1
const MAIN = 0 // the LRU list, or S3-FIFO's main queue
const SMALL = 1 // S3-FIFO's probation queue
const IN_SMALL = 4 // flag bit in the per-slot `#flags` byte; the low two bits count accesses
const FREQ_MASK = 3
// Tuned by simulation (docs/benchmarks.md): a 5% probation queue and ghosts for a
// quarter of the main queue reach 0.68 hit ratio on Zipf 0.9 at 10% capacity, where the
// paper's 10% / full-size ghosts reach 0.67 and LRU 0.60.
const SMALL_SHARE = 0.05
const GHOST_SHARE = 0.25

const POLICIES = ['lru', 's3-fifo']
const OPTIONS = ['max', 'maxBytes', 'ttl', 'sizeOf', 'onEvict', 'policy', 'name', 'now']
const SET_OPTIONS = ['ttl']

let warnedTtlOnly = false

/**
 * The default `sizeOf`: exact for Buffers, typed arrays, DataViews and ArrayBuffers;
 * `16 + 2 × length` for strings (V8 stores a string in one or two bytes per character
 * behind a header, so this is an upper-bound estimate). Other values have no default.
 */
function defaultSizeOf(value) {
  if (typeof value === 'string') return 16 + 2 * value.length
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return value.byteLength
  return undefined
}

/**
 * A `Map` that cannot grow without bound: it holds at most `max` entries, at most
 * `maxBytes` bytes (as measured by `sizeOf`) and forgets entries `ttl` ms after they
 * were set. Within its bounds it behaves exactly as `Map`.
 *
 * Iteration (`keys`, `values`, `entries`, `forEach`, `for…of`) is in insertion order,
 * as `Map`'s, not in recency order; iterators are live in the same way as `Map`'s, and
 * skip entries whose TTL has passed.
 *
 * @template K, V
 */
class BoundedMap {
  #index = new Map() // key -> slot (>= 0), or a ghost marker (< 0) for s3-fifo
  #keys = []
  #vals = []
  #next = new Int32Array(0)
  #prev = new Int32Array(0)
  #flags = null // Uint8Array for s3-fifo: access count and queue flag
  #sizes = null // Float64Array when maxBytes is set
  #expires = null // Float64Array when a TTL was ever used; 0 means never
  #gens = null // Uint32Array beside #expires: bumped when a slot's expiry stops being current
  #capacity = 0 // slots allocated in the typed columns
  #used = 0 // slots ever handed out (the rest of the columns is untouched)
  #free = [] // freed slots, reused first
  #head = NONE // LRU: least recently used; S3-FIFO: oldest of the main queue
  #tail = NONE
  #smallHead = NONE // S3-FIFO's probation queue, oldest first
  #smallTail = NONE
  #smallCount = 0
  #smallBytes = 0

  #lru
  #max
  #maxBytes
  #ttl
  #sizeOf
  #onEvict
  #now
  #name
  #ghosts = null
  #expiry = null
  #timer = null
  #timerAt = Infinity

  #bytes = 0
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
    errors.checkOptionsObject('BoundedMap', options, OPTIONS)
    const { max, maxBytes, ttl, sizeOf, onEvict, policy = 'lru', name, now } = options
    if (max === undefined && maxBytes === undefined && ttl === undefined) {
      throw errors.codedError(
        TypeError,
        errors.CODES.UNBOUNDED,
        'BoundedMap: needs at least one bound: options.max (entries), options.maxBytes or options.ttl',
      )
    }
    this.#max = max === undefined ? Infinity : errors.checkPositiveInteger('BoundedMap', 'options.max', max)
    this.#maxBytes =
      maxBytes === undefined ? Infinity : errors.checkPositiveFinite('BoundedMap', 'options.maxBytes', maxBytes)
    this.#ttl = ttl === undefined ? 0 : errors.checkPositiveFinite('BoundedMap', 'options.ttl', ttl)
    if (sizeOf !== undefined && maxBytes === undefined) {
      throw errors.codedError(TypeError, errors.CODES.INVALID_OPTION, 'BoundedMap: options.sizeOf needs options.maxBytes')
    }
    this.#sizeOf = sizeOf === undefined ? null : errors.checkFunction('BoundedMap', 'options.sizeOf', sizeOf)
    this.#onEvict = onEvict === undefined ? null : errors.checkFunction('BoundedMap', 'options.onEvict', onEvict)
    this.#now = now === undefined ? coarseNow : errors.checkFunction('BoundedMap', 'options.now', now)
    if (!POLICIES.includes(policy)) {
      throw errors.invalidOptionRange('BoundedMap', 'options.policy', `one of ${POLICIES.map((p) => `'${p}'`).join(', ')}`, policy)
    }
    this.#lru = policy === 'lru'
    if (name !== undefined && (typeof name !== 'string' || name === '')) {
      throw errors.invalidOptionType('BoundedMap', 'options.name', 'a non-empty string', name)
    }
    this.#name = name
    if (max === undefined && maxBytes === undefined && !warnedTtlOnly) {
      warnedTtlOnly = true
      errors.warn(
        errors.WARNINGS.TTL_ONLY,
        'BoundedMap: bounded only by options.ttl, it holds everything set within one ttl: add options.max or options.maxBytes to cap it',
      )
    }
    if (maxBytes !== undefined) this.#sizes = new Float64Array(0)
    if (!this.#lru) {
      this.#flags = new Uint8Array(0)
      this.#ghosts = new GhostKeys(this.#index)
    }
    registerMap(this)
    if (entries !== undefined && entries !== null) {
      for (const entry of entries) {
        if (entry === null || (typeof entry !== 'object' && typeof entry !== 'function')) {
          throw new TypeError(`Iterator value ${errors.describe(entry)} is not an entry object`)
        }
        this.set(entry[0], entry[1])
      }
    }
  }

  /** The name given in the options, if any. */
  get name() {
    return this.#name
  }

  /** The most entries held (`Infinity` without a count bound). */
  get max() {
    return this.#max
  }

  /** The most bytes held (`Infinity` without a byte bound). */
  get maxBytes() {
    return this.#maxBytes
  }

  /** Number of entries held (entries past their TTL count until they are freed). */
  get size() {
    return this.#ghosts === null ? this.#index.size : this.#index.size - this.#ghosts.size
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
    if (this.#expires !== null && this.#isStale(slot)) {
      this.#misses++
      this.#remove(slot, 'expire')
      this.#flush()
      return undefined
    }
    this.#hits++
    if (this.#lru) {
      if (slot !== this.#tail) this.#moveToTail(slot)
    } else {
      const f = this.#flags[slot]
      if ((f & FREQ_MASK) !== FREQ_MASK) this.#flags[slot] = f + 1
    }
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
    const size = this.#sizes === null ? 0 : this.#measure(value, key)
    let slot = this.#index.get(key)
    let ghost = false
    if (slot !== undefined && slot < 0) {
      // A ghost: the key was evicted from probation not long ago. It comes back to
      // main, and to the end of the iteration order like any new key.
      this.#ghosts.take(slot)
      this.#index.delete(key)
      slot = undefined
      ghost = true
    }
    if (size > this.#maxBytes) this.#reject(slot, key, value)
    else if (slot === undefined) this.#insert(key, value, size, ttl, ghost)
    else this.#update(slot, key, value, size, ttl)
    this.#flush()
    return this
  }

  /** Removes `key`; true if it was held (and not past its TTL). */
  delete(key) {
    const slot = this.#index.get(key)
    if (slot === undefined || slot < 0) return false
    const live = this.#expires === null || !this.#isStale(slot)
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
    this.#capacity = 0
    this.#used = 0
    this.#free = []
    this.#next = new Int32Array(0)
    this.#prev = new Int32Array(0)
    if (this.#flags !== null) this.#flags = new Uint8Array(0)
    if (this.#sizes !== null) this.#sizes = new Float64Array(0)
    if (this.#expires !== null) {
      this.#expires = new Float64Array(0)
      this.#gens = new Uint32Array(0)
      this.#expiry.clear()
    }
    if (this.#ghosts !== null) this.#ghosts.clear()
    this.#head = this.#tail = this.#smallHead = this.#smallTail = NONE
    this.#smallCount = this.#smallBytes = 0
    this.#bytes = 0
    this.#cancelTimer()
    this.#flush()
  }

  /** Calls `callback(value, key, map)` for each live entry, in insertion order. */
  forEach(callback, thisArg) {
    if (typeof callback !== 'function') {
      throw new TypeError(`${errors.describe(callback)} is not a function`)
    }
    this.#index.forEach((slot, key) => {
      if (this.#isLive(slot)) {
        callback.call(thisArg, this.#vals[slot], key, this)
      }
    })
  }

  /** Live `[key, value]` pairs in insertion order. */
  *entries() {
    for (const [key, slot] of this.#index) {
      if (this.#isLive(slot)) yield [key, this.#vals[slot]]
    }
  }

  /** Live keys in insertion order. */
  *keys() {
    for (const [key, slot] of this.#index) {
      if (this.#isLive(slot)) yield key
    }
  }

  /** Live values in insertion order. */
  *values() {
    for (const slot of this.#index.values()) {
      if (this.#isLive(slot)) yield this.#vals[slot]
    }
  }

  /** Same as `entries()`. */
  [Symbol.iterator]() {
    return this.entries()
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
    if (this.#expires === null || this.#expires[slot] === 0) return Infinity
    return Math.max(0, this.#expires[slot] - this.#now())
  }

  /** Frees every entry past its TTL now; returns how many were freed. */
  purgeStale() {
    const before = this.#expirations
    if (this.#expires !== null) {
      const now = this.#now()
      this.#expiry.popUntil(now, (slot, gen) => {
        if (this.#gens[slot] === gen) this.#remove(slot, 'expire')
      })
      this.#schedule()
    }
    this.#flush()
    return this.#expirations - before
  }

  /**
   * Counters since construction: `hits` and `misses` count `get` calls; `evictions`
   * entries removed to respect `max`/`maxBytes`; `expirations` entries freed after their
   * TTL; `rejected` values larger than `maxBytes`.
   */
  stats() {
    const lookups = this.#hits + this.#misses
    return {
      size: this.size,
      bytes: this.#bytes,
      hits: this.#hits,
      misses: this.#misses,
      evictions: this.#evictions,
      expirations: this.#expirations,
      rejected: this.#rejected,
      hitRatio: lookups === 0 ? 0 : this.#hits / lookups,
    }
  }

  // ---- set, in its three cases ----

  #insert(key, value, size, ttl, ghost) {
    let slot
    const recycled = this.#lru && this.#sizes === null && this.#index.size >= this.#max
    if (recycled) {
      slot = this.#recycleLeastRecent()
    } else {
      this.#evictUntilFits(1, size, NONE)
      slot = this.#allocate()
    }
    this.#index.set(key, slot)
    this.#keys[slot] = key
    this.#vals[slot] = value
    if (this.#sizes !== null) {
      this.#sizes[slot] = size
      this.#bytes += size
    }
    if (this.#lru) {
      if (!recycled) this.#link(slot)
    } else if (ghost) {
      this.#flags[slot] = 0
      this.#link(slot)
    } else {
      this.#flags[slot] = IN_SMALL
      this.#linkSmall(slot)
    }
    if (ttl !== 0 || this.#expires !== null) this.#setExpiry(slot, ttl)
  }

  #update(slot, key, value, size, ttl) {
    const old = this.#vals[slot]
    this.#vals[slot] = value
    if (this.#sizes !== null) this.#resize(slot, size)
    this.#setExpiry(slot, ttl)
    if (this.#lru) {
      if (slot !== this.#tail) this.#moveToTail(slot)
    } else {
      const f = this.#flags[slot]
      if ((f & FREQ_MASK) !== FREQ_MASK) this.#flags[slot] = f + 1
    }
    this.#evictUntilFits(0, 0, slot)
    if (this.#onEvict !== null && old !== value) this.#pending.push(old, key, 'set')
  }

  /** A value larger than maxBytes: not stored, and the key's old entry goes. */
  #reject(slot, key, value) {
    if (slot !== undefined) this.#remove(slot, 'set')
    this.#rejected++
    if (this.#onEvict !== null) this.#pending.push(value, key, 'too-large')
  }

  // ---- storage ----

  #allocate() {
    if (this.#free.length > 0) return this.#free.pop()
    if (this.#used === this.#capacity) this.#grow()
    return this.#used++
  }

  #grow() {
    const capacity = Math.min(this.#max, Math.max(16, this.#capacity * 2))
    const widen = (column, Type) => {
      const wider = new Type(capacity)
      wider.set(column)
      return wider
    }
    // Size the value columns in step, so they never hold more slack than the typed ones.
    this.#keys.length = capacity
    this.#vals.length = capacity
    this.#next = widen(this.#next, Int32Array)
    this.#prev = widen(this.#prev, Int32Array)
    if (this.#flags !== null) this.#flags = widen(this.#flags, Uint8Array)
    if (this.#sizes !== null) this.#sizes = widen(this.#sizes, Float64Array)
    if (this.#expires !== null) {
      this.#expires = widen(this.#expires, Float64Array)
      this.#gens = widen(this.#gens, Uint32Array)
    }
    this.#capacity = capacity
  }

  /**
   * The LRU fast path for a full map: evicts the least recently used entry and hands its
   * slot back already at the tail of the list, saving an unlink, a free and a link.
   */
  #recycleLeastRecent() {
    const slot = this.#head
    const key = this.#keys[slot]
    const value = this.#vals[slot]
    this.#index.delete(key)
    if (slot !== this.#tail) this.#moveToTail(slot)
    if (this.#expires !== null) {
      this.#expires[slot] = 0
      this.#gens[slot]++
    }
    this.#evictions++
    if (this.#onEvict !== null) this.#pending.push(value, key, 'evict')
    return slot
  }

  /**
   * Unlinks and frees `slot`, queueing `(value, key, reason)` for `onEvict`. With
   * `asGhost`, the key stays in the index as an S3-FIFO ghost when one may be kept.
   */
  #remove(slot, reason, asGhost = false) {
    const key = this.#keys[slot]
    const value = this.#vals[slot]
    if (!asGhost || !this.#ghosts.add(key, this.#ghostLimit())) this.#index.delete(key)
    this.#unlink(slot)
    this.#keys[slot] = undefined
    this.#vals[slot] = undefined
    if (this.#sizes !== null) {
      this.#bytes -= this.#sizes[slot]
      this.#sizes[slot] = 0
    }
    if (this.#expires !== null) {
      this.#expires[slot] = 0
      this.#gens[slot]++
    }
    this.#free.push(slot)
    if (reason === 'evict') this.#evictions++
    else if (reason === 'expire') this.#expirations++
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

  // ---- policy ----

  #queueOf(slot) {
    return this.#flags !== null && (this.#flags[slot] & IN_SMALL) !== 0 ? SMALL : MAIN
  }

  /** Appends `slot` to the main (or LRU) list. */
  #link(slot) {
    const tail = this.#tail
    this.#prev[slot] = tail
    this.#next[slot] = NONE
    if (tail === NONE) this.#head = slot
    else this.#next[tail] = slot
    this.#tail = slot
  }

  /** Appends `slot` to the probation queue. */
  #linkSmall(slot) {
    const tail = this.#smallTail
    this.#prev[slot] = tail
    this.#next[slot] = NONE
    if (tail === NONE) this.#smallHead = slot
    else this.#next[tail] = slot
    this.#smallTail = slot
    this.#smallCount++
    if (this.#sizes !== null) this.#smallBytes += this.#sizes[slot]
  }

  /** Takes `slot` out of whichever list holds it. */
  #unlink(slot) {
    const p = this.#prev[slot]
    const n = this.#next[slot]
    if (this.#queueOf(slot) === MAIN) {
      if (p === NONE) this.#head = n
      else this.#next[p] = n
      if (n === NONE) this.#tail = p
      else this.#prev[n] = p
      return
    }
    if (p === NONE) this.#smallHead = n
    else this.#next[p] = n
    if (n === NONE) this.#smallTail = p
    else this.#prev[n] = p
    this.#smallCount--
    if (this.#sizes !== null) this.#smallBytes -= this.#sizes[slot]
  }

  /** Moves a main-list `slot` that is not the tail to the tail. */
  #moveToTail(slot) {
    const next = this.#next
    const prev = this.#prev
    const n = next[slot]
    const p = prev[slot]
    if (p === NONE) this.#head = n
    else next[p] = n
    prev[n] = p
    const tail = this.#tail
    next[tail] = slot
    prev[slot] = tail
    next[slot] = NONE
    this.#tail = slot
  }

  /** Evicts until `extraCount` more entries of `extraBytes` fit; never evicts `keep`. */
  #evictUntilFits(extraCount, extraBytes, keep) {
    const floor = keep === NONE ? 0 : 1
    for (;;) {
      const size = this.size
      if (size <= floor || (size + extraCount <= this.#max && this.#bytes + extraBytes <= this.#maxBytes)) return
      this.#evictOne(keep)
    }
  }

  #evictOne(keep) {
    if (this.#lru) {
      const victim = this.#head
      this.#remove(victim === keep ? this.#next[victim] : victim, 'evict')
      return
    }
    // S3-FIFO: take from probation while it holds its share, else from main. Entries
    // that were reused get another round (promotion to main, or a counter decrement at
    // the back of main), so each call removes exactly one entry.
    for (;;) {
      const small = this.#smallHead
      if (small !== NONE && (this.#smallIsFull() || this.#head === NONE)) {
        if ((this.#flags[small] & FREQ_MASK) !== 0 || small === keep) {
          this.#unlink(small)
          this.#flags[small] &= FREQ_MASK // leaves probation, keeps its count
          this.#link(small)
          continue
        }
        this.#remove(small, 'evict', true)
        return
      }
      const victim = this.#head
      const f = this.#flags[victim]
      if (f === 0 && victim !== keep) {
        this.#remove(victim, 'evict')
        return
      }
      this.#flags[victim] = f === 0 ? 0 : f - 1
      if (victim !== this.#tail) this.#moveToTail(victim)
    }
  }

  #smallIsFull() {
    if (this.#smallCount >= SMALL_SHARE * this.#max) return true
    return this.#sizes !== null && this.#smallBytes >= SMALL_SHARE * this.#maxBytes
  }

  /**
   * Ghosts remembered: a quarter of the main queue's share of `max`. A map bounded only
   * in bytes has no fixed share: a quarter of main's current count, rounded up to a power
   * of two so that the ghost ring is not resized on every eviction.
   */
  #ghostLimit() {
    if (this.#max !== Infinity) return Math.round(GHOST_SHARE * this.#max * (1 - SMALL_SHARE))
    const main = this.size - this.#smallCount
    return 2 ** Math.ceil(Math.log2(Math.max(16, GHOST_SHARE * main)))
  }

  // ---- bytes ----

  #measure(value, key) {
    const size = this.#sizeOf === null ? defaultSizeOf(value) : this.#sizeOf(value, key)
    if (size === undefined && this.#sizeOf === null) {
      throw errors.codedError(
        TypeError,
        errors.CODES.SIZEOF_REQUIRED,
        `BoundedMap: with options.maxBytes it cannot size ${errors.describe(value)} values: pass options.sizeOf`,
      )
    }
    if (typeof size !== 'number') {
      throw errors.codedError(
        TypeError,
        errors.CODES.INVALID_SIZE,
        `BoundedMap: options.sizeOf must return a number of bytes; got ${errors.describe(size)}`,
      )
    }
    if (!(size >= 0) || size === Infinity) {
      throw errors.codedError(
        RangeError,
        errors.CODES.INVALID_SIZE,
        `BoundedMap: options.sizeOf must return a finite number >= 0; got ${errors.describe(size)}`,
      )
    }
    return size
  }

  #resize(slot, size) {
    const delta = size - this.#sizes[slot]
    this.#sizes[slot] = size
    this.#bytes += delta
    if (this.#queueOf(slot) === SMALL) this.#smallBytes += delta
  }

  // ---- time ----

  #entryTtl(options) {
    errors.checkOptionsObject('BoundedMap.set', options, SET_OPTIONS)
    const { ttl } = options
    if (ttl === undefined) return this.#ttl
    if (ttl === Infinity) return 0
    return errors.checkPositiveFinite('BoundedMap.set', 'options.ttl', ttl)
  }

  /** Whether an index value is an entry (not a ghost) whose TTL has not passed. */
  #isLive(slot) {
    return slot >= 0 && (this.#expires === null || !this.#isStale(slot))
  }

  #isStale(slot) {
    const at = this.#expires[slot]
    return at !== 0 && at <= this.#now()
  }

  /** Sets the slot's expiry `ttl` ms from now (0: never) and keeps the timer armed. */
  #setExpiry(slot, ttl) {
    if (this.#expires === null) {
      if (ttl === 0) return
      this.#expires = new Float64Array(this.#capacity)
      this.#gens = new Uint32Array(this.#capacity)
      this.#expiry = new ExpiryQueue()
    }
    this.#gens[slot]++
    if (ttl === 0) {
      this.#expires[slot] = 0
      return
    }
    const at = this.#now() + ttl
    this.#expires[slot] = at
    this.#expiry.push(at, slot, this.#gens[slot])
    // Stale heap entries pile up when keys are re-set: drop them once they dominate.
    if (this.#expiry.length > 2 * this.size + 64) {
      this.#expiry.compact((s, gen) => this.#gens[s] === gen)
    }
    if (at < this.#timerAt) this.#schedule()
  }

  /** One unref'd timer for the whole map, for the earliest expiry (coalesced). */
  #schedule() {
    const at = this.#expiry.peekTime()
    if (at === this.#timerAt) return
    this.#cancelTimer()
    if (at === Infinity) return
    // Fire a little late rather than often: expired entries are already invisible,
    // the timer only frees their memory.
    const slack = Math.min(1000, Math.max(1, (this.#ttl || 1000) / 8))
    const delay = Math.ceil(Math.max(0, at - this.#now()) + slack)
    const self = new WeakRef(this)
    this.#timer = setTimeout(() => self.deref()?.#onTimer(), Math.min(delay, 2 ** 31 - 1))
    this.#timer.unref()
    this.#timerAt = at
  }

  #onTimer() {
    this.#timer = null
    this.#timerAt = Infinity
    this.purgeStale()
  }

  #cancelTimer() {
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
    this.#timerAt = Infinity
  }
}

module.exports = { BoundedMap }

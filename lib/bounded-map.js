'use strict'

const errors = require('./errors')
const { coarseNow } = require('./clock')
const { ExpiryQueue } = require('./expiry-queue')
const { GhostKeys } = require('./ghost-keys')
const { registerNamedMap } = require('./registry')

/**
 * Storage: a `Map` from key to slot number (so keys of any type compare with
 * SameValueZero, exactly as in `Map`), and per-slot columns: keys and values in plain
 * arrays, links and counters in typed arrays. No object is allocated per entry.
 *
 * Policies:
 * - `lru`: one doubly linked list, least recently used first.
 * - `s3-fifo` (Yang et al., SOSP 2023): a small probation FIFO (10% of the bounds), a
 *   main FIFO, a 2-bit access counter per entry and a ghost list of recently evicted
 *   keys. A hit only bumps the counter, so reads are cheaper than LRU's, and one-time
 *   keys (scans) leave from probation without displacing the entries that are reused.
 */
const NONE = -1
const MAIN = 0 // the LRU list, or S3-FIFO's main queue
const SMALL = 1 // S3-FIFO's probation queue
const IN_SMALL = 4 // flag bit in the per-slot `#flags` byte; the low two bits count accesses
const FREQ_MASK = 3
const SMALL_SHARE = 0.1

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
  #index = new Map()
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
  #heads = new Int32Array([NONE, NONE])
  #tails = new Int32Array([NONE, NONE])
  #counts = new Float64Array(2) // entries per queue
  #queueBytes = new Float64Array(2)

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
        'ERR_LEAKPROOF_UNBOUNDED',
        'BoundedMap needs at least one bound: max (entries), maxBytes or ttl',
      )
    }
    this.#max = max === undefined ? Infinity : errors.checkPositiveInteger('options.max', max)
    this.#maxBytes =
      maxBytes === undefined ? Infinity : errors.checkPositiveFinite('options.maxBytes', maxBytes)
    this.#ttl = ttl === undefined ? 0 : errors.checkPositiveFinite('options.ttl', ttl)
    if (sizeOf !== undefined && maxBytes === undefined) {
      throw errors.codedError(TypeError, 'ERR_LEAKPROOF_INVALID_OPTION', 'options.sizeOf needs options.maxBytes')
    }
    this.#sizeOf = sizeOf === undefined ? null : errors.checkFunction('options.sizeOf', sizeOf)
    this.#onEvict = onEvict === undefined ? null : errors.checkFunction('options.onEvict', onEvict)
    this.#now = now === undefined ? coarseNow : errors.checkFunction('options.now', now)
    if (!POLICIES.includes(policy)) {
      throw errors.invalidOptionRange('options.policy', `one of ${POLICIES.map((p) => `'${p}'`).join(', ')}`, policy)
    }
    this.#lru = policy === 'lru'
    if (name !== undefined && (typeof name !== 'string' || name === '')) {
      throw errors.invalidOptionType('options.name', 'a non-empty string', name)
    }
    this.#name = name
    if (max === undefined && maxBytes === undefined && !warnedTtlOnly) {
      warnedTtlOnly = true
      process.emitWarning(
        'A BoundedMap bounded only by ttl holds everything set within one ttl: add max or maxBytes to cap it',
        { type: 'LeakproofWarning', code: 'LEAKPROOF_TTL_ONLY' },
      )
    }
    if (maxBytes !== undefined) this.#sizes = new Float64Array(0)
    if (!this.#lru) {
      this.#flags = new Uint8Array(0)
      this.#ghosts = new GhostKeys()
    }
    if (name !== undefined) registerNamedMap(this)
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

  /** Number of entries held (entries past their TTL count until they are freed). */
  get size() {
    return this.#index.size
  }

  /** `'BoundedMap'`. */
  get [Symbol.toStringTag]() {
    return 'BoundedMap'
  }

  /** The value for `key`, counting a hit (and recency or frequency) or a miss. */
  get(key) {
    const slot = this.#index.get(key)
    if (slot === undefined) {
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
      if (slot !== this.#tails[MAIN]) this.#moveToTail(MAIN, slot)
    } else {
      const f = this.#flags[slot]
      if ((f & FREQ_MASK) !== FREQ_MASK) this.#flags[slot] = f + 1
    }
    return this.#vals[slot]
  }

  /** The value for `key` without counting a hit or touching recency. */
  peek(key) {
    const slot = this.#index.get(key)
    if (slot === undefined || (this.#expires !== null && this.#isStale(slot))) return undefined
    return this.#vals[slot]
  }

  /** Whether `key` is held and not past its TTL. Does not touch recency. */
  has(key) {
    const slot = this.#index.get(key)
    return slot !== undefined && (this.#expires === null || !this.#isStale(slot))
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
    if (size > this.#maxBytes) {
      if (slot !== undefined) this.#remove(slot, 'set')
      this.#rejected++
      if (this.#onEvict !== null) this.#pending.push(value, key, 'too-large')
      this.#flush()
      return this
    }
    if (slot !== undefined) {
      const old = this.#vals[slot]
      this.#vals[slot] = value
      if (this.#sizes !== null) this.#resize(slot, size)
      this.#setExpiry(slot, ttl)
      if (this.#lru) {
        if (slot !== this.#tails[MAIN]) this.#moveToTail(MAIN, slot)
      } else {
        const f = this.#flags[slot]
        if ((f & FREQ_MASK) !== FREQ_MASK) this.#flags[slot] = f + 1
      }
      this.#evictUntilFits(0, 0, slot)
      if (this.#onEvict !== null && old !== value) this.#pending.push(old, key, 'set')
      this.#flush()
      return this
    }
    this.#evictUntilFits(1, size, NONE)
    slot = this.#allocate()
    this.#index.set(key, slot)
    this.#keys[slot] = key
    this.#vals[slot] = value
    let queue = MAIN
    if (!this.#lru) {
      queue = this.#ghosts.take(key) ? MAIN : SMALL
      this.#flags[slot] = queue === SMALL ? IN_SMALL : 0
    }
    if (this.#sizes !== null) {
      this.#sizes[slot] = size
      this.#bytes += size
    }
    this.#link(queue, slot)
    if (ttl !== 0 || this.#expires !== null) this.#setExpiry(slot, ttl)
    this.#flush()
    return this
  }

  /** Removes `key`; true if it was held (and not past its TTL). */
  delete(key) {
    const slot = this.#index.get(key)
    if (slot === undefined) return false
    const live = this.#expires === null || !this.#isStale(slot)
    this.#remove(slot, live ? 'delete' : 'expire')
    this.#flush()
    return live
  }

  /** Removes every entry (each goes to `onEvict` with reason `'clear'`). */
  clear() {
    if (this.#onEvict !== null) {
      for (const [key, slot] of this.#index) this.#pending.push(this.#vals[slot], key, 'clear')
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
    this.#heads.fill(NONE)
    this.#tails.fill(NONE)
    this.#counts.fill(0)
    this.#queueBytes.fill(0)
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
      if (this.#expires === null || !this.#isStale(slot)) {
        callback.call(thisArg, this.#vals[slot], key, this)
      }
    })
  }

  /** Live `[key, value]` pairs in insertion order. */
  *entries() {
    for (const [key, slot] of this.#index) {
      if (this.#expires === null || !this.#isStale(slot)) yield [key, this.#vals[slot]]
    }
  }

  /** Live keys in insertion order. */
  *keys() {
    for (const [key, slot] of this.#index) {
      if (this.#expires === null || !this.#isStale(slot)) yield key
    }
  }

  /** Live values in insertion order. */
  *values() {
    for (const slot of this.#index.values()) {
      if (this.#expires === null || !this.#isStale(slot)) yield this.#vals[slot]
    }
  }

  /** Same as `entries()`. */
  [Symbol.iterator]() {
    return this.entries()
  }

  /**
   * Milliseconds until `key` expires: `Infinity` if it has no TTL, 0 if it is not held.
   */
  getRemainingTTL(key) {
    const slot = this.#index.get(key)
    if (slot === undefined) return 0
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
      size: this.#index.size,
      bytes: this.#bytes,
      hits: this.#hits,
      misses: this.#misses,
      evictions: this.#evictions,
      expirations: this.#expirations,
      rejected: this.#rejected,
      hitRatio: lookups === 0 ? 0 : this.#hits / lookups,
    }
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

  /** Unlinks and frees `slot`, queueing `(value, key, reason)` for `onEvict`. */
  #remove(slot, reason) {
    const key = this.#keys[slot]
    const value = this.#vals[slot]
    this.#index.delete(key)
    this.#unlink(this.#queueOf(slot), slot)
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

  #link(queue, slot) {
    const tail = this.#tails[queue]
    this.#prev[slot] = tail
    this.#next[slot] = NONE
    if (tail === NONE) this.#heads[queue] = slot
    else this.#next[tail] = slot
    this.#tails[queue] = slot
    this.#counts[queue]++
    if (this.#sizes !== null) this.#queueBytes[queue] += this.#sizes[slot]
  }

  #unlink(queue, slot) {
    const p = this.#prev[slot]
    const n = this.#next[slot]
    if (p === NONE) this.#heads[queue] = n
    else this.#next[p] = n
    if (n === NONE) this.#tails[queue] = p
    else this.#prev[n] = p
    this.#counts[queue]--
    if (this.#sizes !== null) this.#queueBytes[queue] -= this.#sizes[slot]
  }

  #moveToTail(queue, slot) {
    this.#unlink(queue, slot)
    this.#link(queue, slot)
  }

  /** Evicts until `extraCount` more entries of `extraBytes` fit; never evicts `keep`. */
  #evictUntilFits(extraCount, extraBytes, keep) {
    const floor = keep === NONE ? 0 : 1
    while (
      this.#index.size > floor &&
      (this.#index.size + extraCount > this.#max || this.#bytes + extraBytes > this.#maxBytes)
    ) {
      this.#evictOne(keep)
    }
  }

  #evictOne(keep) {
    if (this.#lru) {
      const victim = this.#heads[MAIN]
      this.#remove(victim === keep ? this.#next[victim] : victim, 'evict')
      return
    }
    // S3-FIFO: take from probation while it holds more than its share, else from main.
    // Entries that were reused get another round (promotion to main, or a counter
    // decrement at the back of main), so each call removes exactly one entry.
    for (;;) {
      const small = this.#heads[SMALL]
      if (small !== NONE && (this.#smallIsOver() || this.#heads[MAIN] === NONE)) {
        if ((this.#flags[small] & FREQ_MASK) !== 0 || small === keep) {
          this.#unlink(SMALL, small)
          this.#flags[small] = 0
          this.#link(MAIN, small)
          continue
        }
        this.#ghosts.add(this.#keys[small], this.#ghostLimit())
        this.#remove(small, 'evict')
        return
      }
      const victim = this.#heads[MAIN]
      const f = this.#flags[victim]
      if (f === 0 && victim !== keep) {
        this.#remove(victim, 'evict')
        return
      }
      this.#flags[victim] = f === 0 ? 0 : f - 1
      this.#moveToTail(MAIN, victim)
    }
  }

  #smallIsOver() {
    if (this.#counts[SMALL] >= SMALL_SHARE * this.#max) return true
    return this.#sizes !== null && this.#queueBytes[SMALL] >= SMALL_SHARE * this.#maxBytes
  }

  /** Ghosts remembered: as many as the map holds entries. */
  #ghostLimit() {
    return this.#max === Infinity ? this.#index.size : this.#max
  }

  // ---- bytes ----

  #measure(value, key) {
    const size = this.#sizeOf === null ? defaultSizeOf(value) : this.#sizeOf(value, key)
    if (size === undefined && this.#sizeOf === null) {
      throw errors.codedError(
        TypeError,
        'ERR_LEAKPROOF_SIZEOF_REQUIRED',
        `BoundedMap with maxBytes cannot size ${errors.describe(value)} values: pass options.sizeOf`,
      )
    }
    if (typeof size !== 'number') {
      throw errors.codedError(
        TypeError,
        'ERR_LEAKPROOF_INVALID_SIZE',
        `sizeOf must return a number of bytes; got ${errors.describe(size)}`,
      )
    }
    if (!(size >= 0) || size === Infinity) {
      throw errors.codedError(
        RangeError,
        'ERR_LEAKPROOF_INVALID_SIZE',
        `sizeOf must return a finite number >= 0; got ${errors.describe(size)}`,
      )
    }
    return size
  }

  #resize(slot, size) {
    const delta = size - this.#sizes[slot]
    this.#sizes[slot] = size
    this.#bytes += delta
    this.#queueBytes[this.#queueOf(slot)] += delta
  }

  // ---- time ----

  #entryTtl(options) {
    errors.checkOptionsObject('BoundedMap.set', options, SET_OPTIONS)
    const { ttl } = options
    if (ttl === undefined) return this.#ttl
    if (ttl === Infinity) return 0
    return errors.checkPositiveFinite('set options.ttl', ttl)
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
    if (this.#expiry.length > 2 * this.#index.size + 64) {
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

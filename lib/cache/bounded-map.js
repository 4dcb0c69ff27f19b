'use strict'

const { inspect } = require('node:util')
const errors = require('../errors')
const { coarseNow } = require('./clock')
const { SlotExpiry, NO_EXPIRY, widen } = require('./expiry-queue')
const { GhostKeys } = require('./ghost-keys')
const { registerMap } = require('./registry')

/**
 * Storage: a `Map` from key to slot number (so keys of any type compare with
 * SameValueZero, exactly as in `Map`), and per-slot columns: keys and values in plain
 * arrays, links, counters, sizes and expiry times in typed arrays. No object is
 * allocated per entry.
 *
 * Optional features are chosen once, in the constructor, as helper objects; hot methods
 * call them without asking whether the feature is on:
 * - the policy (`LruPolicy` or `S3FifoPolicy`) owns the queue links and decides what a
 *   hit does and what to evict;
 * - `SlotSizes` holds the byte size of each slot and the total when `maxBytes` is set,
 *   `NO_SIZES` otherwise;
 * - `SlotExpiry` (in expiry-queue.js) holds the expiry time of each slot and the one
 *   timer, from the first entry set with a TTL; `NO_EXPIRY` until then.
 *
 * Policies:
 * - `lru`: one queue, least recently used first; a hit moves the entry to the back.
 * - `s3-fifo` (Yang et al., SOSP 2023): a small probation queue (5% of the bounds), a
 *   main queue, a 2-bit access counter per entry and a ghost list of keys recently
 *   evicted from probation. A hit only bumps the counter, so reads are cheaper than
 *   LRU's, and one-time keys (scans) leave from probation without displacing the entries
 *   that are reused.
 * Both are built from one `SlotQueue`: a FIFO of slots threaded through shared
 * `next`/`prev` columns.
 */

/** No slot: the end of a queue. */
const NONE = -1
/** Flag bit in S3-FIFO's per-slot byte: the entry is in probation. */
const IN_SMALL = 4
/** The low two bits of that byte count accesses, up to 3. */
const FREQ_MASK = 3
// Tuned by simulation (docs/benchmarks.md): a 5% probation queue and ghosts for a
// quarter of the main queue beat the paper's 10% / full-size ghosts on Zipf 0.9.
/** S3-FIFO's probation queue: this share of `max` entries (or of `maxBytes`). */
const SMALL_SHARE = 0.05
/** S3-FIFO's ghosts: this share of the main queue's entries. */
const GHOST_SHARE = 0.25
/** The fewest ghosts kept by a map bounded only in bytes. */
const MIN_GHOSTS = 16
/** Slots allocated by the first growth; each later one doubles (up to `max`). */
const MIN_CAPACITY = 16
/** The default `sizeOf` of a string: a header of this many bytes... */
const STRING_HEADER_BYTES = 16
/** ...and at most this many bytes per UTF-16 code unit. */
const STRING_CHAR_BYTES = 2

const OPTIONS = ['max', 'maxBytes', 'ttl', 'sizeOf', 'onEvict', 'policy', 'name', 'now']
const SET_OPTIONS = ['ttl']

let warnedTtlOnly = false

/**
 * The default `sizeOf`: exact for Buffers, typed arrays, DataViews and ArrayBuffers;
 * `16 + 2 × length` for strings (V8 stores a string in one or two bytes per character
 * behind a header, so this is an upper-bound estimate). Other values have no default.
 */
function defaultSizeOf(value) {
  if (typeof value === 'string') return STRING_HEADER_BYTES + STRING_CHAR_BYTES * value.length
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return value.byteLength
  return undefined
}

/** The `next`/`prev` columns that thread slots into queues, shared by a policy's queues. */
class Links {
  next = new Int32Array(0)
  prev = new Int32Array(0)

  /** Widens both columns to `capacity` slots. */
  grow(capacity) {
    this.next = widen(this.next, capacity)
    this.prev = widen(this.prev, capacity)
  }
}

/** A FIFO of slots, oldest at `head`, linked through `links`. */
class SlotQueue {
  head = NONE
  tail = NONE
  count = 0

  /** @param {Links} links the columns this queue's slots are linked through. */
  constructor(links) {
    this.links = links
  }

  /** Appends `slot` at the back. */
  push(slot) {
    const { next, prev } = this.links
    const tail = this.tail
    prev[slot] = tail
    next[slot] = NONE
    if (tail === NONE) this.head = slot
    else next[tail] = slot
    this.tail = slot
    this.count++
  }

  /** Takes `slot` out of the queue. */
  remove(slot) {
    const { next, prev } = this.links
    const p = prev[slot]
    const n = next[slot]
    if (p === NONE) this.head = n
    else next[p] = n
    if (n === NONE) this.tail = p
    else prev[n] = p
    this.count--
  }

  /** Moves `slot`, which is in the queue and not at the back, to the back. */
  moveToBack(slot) {
    const { next, prev } = this.links
    const n = next[slot]
    const p = prev[slot]
    if (p === NONE) this.head = n
    else next[p] = n
    prev[n] = p
    const tail = this.tail
    next[tail] = slot
    prev[slot] = tail
    next[slot] = NONE
    this.tail = slot
  }

  /** Empties the queue (the caller resets the links). */
  clear() {
    this.head = this.tail = NONE
    this.count = 0
  }
}

/** LRU: one queue, least recently used at the head. Keeps no ghosts. */
class LruPolicy {
  links = new Links()
  queue = new SlotQueue(this.links)
  ghostCount = 0

  /** A hit: the entry becomes the most recently used. */
  touch(slot) {
    const queue = this.queue
    if (slot !== queue.tail) queue.moveToBack(slot)
  }

  /** A new entry joins as the most recently used. */
  admit(slot) {
    this.queue.push(slot)
  }

  /** An entry leaves; returns false: no ghost is kept. */
  detach(slot) {
    this.queue.remove(slot)
    return false
  }

  /** Byte sizes do not matter to LRU. */
  resized() {}

  /** The entry to evict: the least recently used one other than `keep`. */
  victim(keep) {
    const head = this.queue.head
    return head === keep ? this.links.next[head] : head
  }

  /** An entry is evicted: the same as any removal, no ghost. */
  evict(slot) {
    return this.detach(slot)
  }

  /** For a full map: the least recently used slot, already moved to the back for its next entry. */
  recycle() {
    const queue = this.queue
    const slot = queue.head
    if (slot !== queue.tail) queue.moveToBack(slot)
    return slot
  }

  /** Widens the columns to `capacity` slots. */
  grow(capacity) {
    this.links.grow(capacity)
  }

  /** Forgets every entry. */
  clear() {
    this.links = new Links()
    this.queue = new SlotQueue(this.links)
  }
}

/**
 * S3-FIFO: new entries enter a small probation queue; entries hit while there move to the
 * main queue when they reach its head, the others leave and their keys become ghosts; a
 * ghost that is set again enters main directly. Main evicts in FIFO order, giving entries
 * with hits (counted in 2 bits) another round, one count at a time.
 */
class S3FifoPolicy {
  links = new Links()
  main = new SlotQueue(this.links)
  small = new SlotQueue(this.links)
  flags = new Uint8Array(0) // access count and IN_SMALL, per slot
  smallBytes = 0

  /**
   * @param {Map<unknown, number>} index the map's key index, where ghosts live too.
   * @param {SlotSizes | NoSizes} sizes the map's byte sizes.
   * @param {number} max the map's entry bound (`Infinity` for none).
   * @param {number} maxBytes the map's byte bound (`Infinity` for none).
   */
  constructor(index, sizes, max, maxBytes) {
    this.ghosts = new GhostKeys(index)
    this.sizes = sizes
    this.smallMax = SMALL_SHARE * max
    this.smallMaxBytes = SMALL_SHARE * maxBytes
    // A quarter of the main queue's share of `max`; see #ghostLimit for byte-only maps.
    this.fixedGhostLimit = max === Infinity ? null : Math.round(GHOST_SHARE * max * (1 - SMALL_SHARE))
  }

  /** Number of ghosts in the key index. */
  get ghostCount() {
    return this.ghosts.size
  }

  /** A hit: one more access counted, up to 3. */
  touch(slot) {
    const f = this.flags[slot]
    if ((f & FREQ_MASK) !== FREQ_MASK) this.flags[slot] = f + 1
  }

  /** A new entry joins probation; a returning ghost (`returning`) joins main. */
  admit(slot, size, returning) {
    if (returning) {
      this.flags[slot] = 0
      this.main.push(slot)
    } else {
      this.flags[slot] = IN_SMALL
      this.small.push(slot)
      this.smallBytes += size
    }
  }

  /** An entry of `size` bytes leaves whichever queue holds it; returns false: no ghost. */
  detach(slot, size) {
    if ((this.flags[slot] & IN_SMALL) === 0) {
      this.main.remove(slot)
      return false
    }
    this.small.remove(slot)
    this.smallBytes -= size
    return false
  }

  /**
   * An entry of `size` bytes is evicted. One leaving probation leaves its key behind as a
   * ghost, when one may be kept: returns whether it did (the key stays in the index).
   */
  evict(slot, key, size) {
    if ((this.flags[slot] & IN_SMALL) === 0) {
      this.main.remove(slot)
      return false
    }
    this.small.remove(slot)
    this.smallBytes -= size
    return this.ghosts.add(key, this.#ghostLimit())
  }

  /** An entry's size changed by `delta` bytes. */
  resized(slot, delta) {
    if ((this.flags[slot] & IN_SMALL) !== 0) this.smallBytes += delta
  }

  /**
   * The entry to evict, never `keep`. Takes from probation while it holds its share, else
   * from main; entries that were hit get another round first (promotion to main, or a
   * count less at the back of main).
   */
  victim(keep) {
    const { flags, main } = this
    for (;;) {
      const small = this.small.head
      if (small !== NONE && (this.#smallIsFull() || main.head === NONE)) {
        if ((flags[small] & FREQ_MASK) === 0 && small !== keep) return small
        this.detach(small, this.sizes.get(small))
        flags[small] &= FREQ_MASK // leaves probation, keeps its count
        main.push(small)
        continue
      }
      const victim = main.head
      const f = flags[victim]
      if (f === 0 && victim !== keep) return victim
      flags[victim] = f === 0 ? 0 : f - 1
      if (victim !== main.tail) main.moveToBack(victim)
    }
  }

  /** Forgets the ghost behind index `marker` (its key is being set again). */
  takeGhost(marker) {
    this.ghosts.take(marker)
  }

  /** Widens the columns to `capacity` slots. */
  grow(capacity) {
    this.links.grow(capacity)
    this.flags = widen(this.flags, capacity)
  }

  /** Forgets every entry and ghost (the map clears the index). */
  clear() {
    this.links = new Links()
    this.main = new SlotQueue(this.links)
    this.small = new SlotQueue(this.links)
    this.flags = new Uint8Array(0)
    this.smallBytes = 0
    this.ghosts.clear()
  }

  /** Whether probation holds its share of the entries or of the bytes. */
  #smallIsFull() {
    return this.small.count >= this.smallMax || this.smallBytes >= this.smallMaxBytes
  }

  /**
   * Ghosts remembered. A map bounded only in bytes has no fixed share: a quarter of main's
   * current count, rounded up to a power of two so that the ghost ring is not resized on
   * every eviction.
   */
  #ghostLimit() {
    if (this.fixedGhostLimit !== null) return this.fixedGhostLimit
    return 2 ** Math.ceil(Math.log2(Math.max(MIN_GHOSTS, GHOST_SHARE * this.main.count)))
  }
}

/** The policies by name. */
const POLICIES = { lru: LruPolicy, 's3-fifo': S3FifoPolicy }

/** The byte size of each slot and their total, for a map with `maxBytes`. */
class SlotSizes {
  column = new Float64Array(0)
  total = 0

  /** @param {Function | null} sizeOf the `sizeOf` option, or null for `defaultSizeOf`. */
  constructor(sizeOf) {
    this.sizeOf = sizeOf ?? defaultSizeOf
  }

  /** The size of `value` by `sizeOf`, checked. */
  measure(value, key) {
    const size = this.sizeOf(value, key)
    if (size === undefined && this.sizeOf === defaultSizeOf) {
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

  /** The size stored for `slot`. */
  get(slot) {
    return this.column[slot]
  }

  /** Stores the size of a new entry. */
  store(slot, size) {
    this.column[slot] = size
    this.total += size
  }

  /** Stores a new size for an entry; returns the change. */
  change(slot, size) {
    const delta = size - this.column[slot]
    this.column[slot] = size
    this.total += delta
    return delta
  }

  /** Forgets the size of an entry that leaves; returns it. */
  release(slot) {
    const size = this.column[slot]
    this.total -= size
    this.column[slot] = 0
    return size
  }

  /** Widens the column to `capacity` slots. */
  grow(capacity) {
    this.column = widen(this.column, capacity)
  }

  /** Forgets every size. */
  clear() {
    this.column = new Float64Array(0)
    this.total = 0
  }
}

/** Stands in for `SlotSizes` in a map without `maxBytes`: every value is 0 bytes. */
class NoSizes {
  total = 0
  /** Not measured. */
  measure() {
    return 0
  }
  /** Nothing stored. */
  get() {
    return 0
  }
  /** Nothing to store. */
  store() {}
  /** No change. */
  change() {
    return 0
  }
  /** Nothing stored. */
  release() {
    return 0
  }
  /** No column. */
  grow() {}
  /** Nothing held. */
  clear() {}
}

/** The one `NoSizes`: it holds nothing, so every map without `maxBytes` shares it. */
const NO_SIZES = new NoSizes()

/**
 * Checks the constructor's options, in the order their errors are documented to win, and
 * returns them with defaults filled in.
 */
function readOptions(options) {
  errors.checkOptionsObject('BoundedMap', options, OPTIONS)
  const { max, maxBytes, ttl, sizeOf, onEvict, policy = 'lru', name, now } = options
  if (max === undefined && maxBytes === undefined && ttl === undefined) {
    throw errors.codedError(
      TypeError,
      errors.CODES.UNBOUNDED,
      'BoundedMap: needs at least one bound: options.max (entries), options.maxBytes or options.ttl',
    )
  }
  const read = {
    max: max === undefined ? Infinity : errors.checkPositiveInteger('BoundedMap', 'options.max', max),
    maxBytes: maxBytes === undefined ? Infinity : errors.checkPositiveFinite('BoundedMap', 'options.maxBytes', maxBytes),
    ttl: ttl === undefined ? 0 : errors.checkPositiveFinite('BoundedMap', 'options.ttl', ttl),
  }
  if (sizeOf !== undefined && maxBytes === undefined) {
    throw errors.codedError(TypeError, errors.CODES.INVALID_OPTION, 'BoundedMap: options.sizeOf needs options.maxBytes')
  }
  read.sizeOf = sizeOf === undefined ? null : errors.checkFunction('BoundedMap', 'options.sizeOf', sizeOf)
  read.onEvict = onEvict === undefined ? null : errors.checkFunction('BoundedMap', 'options.onEvict', onEvict)
  read.now = now === undefined ? coarseNow : errors.checkFunction('BoundedMap', 'options.now', now)
  if (!Object.hasOwn(POLICIES, policy)) {
    const names = Object.keys(POLICIES).map((p) => `'${p}'`)
    throw errors.invalidOptionRange('BoundedMap', 'options.policy', `one of ${names.join(', ')}`, policy)
  }
  read.policy = policy
  if (name !== undefined && (typeof name !== 'string' || name === '')) {
    throw errors.invalidOptionType('BoundedMap', 'options.name', 'a non-empty string', name)
  }
  read.name = name
  return read
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
  #keys = [] // per slot; its length is the slots allocated
  #vals = []
  #used = 0 // slots ever handed out (the rest of the columns is untouched)
  #free = [] // freed slots, reused first
  #policy // LruPolicy or S3FifoPolicy
  #sizes // SlotSizes or NO_SIZES
  #expiry = NO_EXPIRY // SlotExpiry once an entry had a TTL
  #recycles // LRU without a byte bound: a full map hands its oldest slot to the new key

  #max
  #maxBytes
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
    const { max, maxBytes, ttl, sizeOf, onEvict, now, policy, name } = readOptions(options)
    this.#max = max
    this.#maxBytes = maxBytes
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
    this.#policy = policy === 'lru' ? new LruPolicy() : new S3FifoPolicy(this.#index, this.#sizes, max, maxBytes)
    this.#recycles = policy === 'lru' && maxBytes === Infinity
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
      this.#policy.takeGhost(slot)
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
   * TTL; `rejected` values larger than `maxBytes`.
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
    }
  }

  // ---- set, in its three cases ----

  /** Stores a new entry (a `returning` ghost goes straight to S3-FIFO's main queue). */
  #insert(key, value, size, ttl, returning) {
    if (this.#recycles && this.#index.size >= this.#max) {
      this.#store(this.#recycle(), key, value, ttl)
      return
    }
    const slot = this.#makeRoom(size)
    this.#sizes.store(slot, size)
    this.#policy.admit(slot, size, returning)
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
    const capacity = Math.min(this.#max, Math.max(MIN_CAPACITY, this.#keys.length * 2))
    // Size the value columns in step, so they never hold more slack than the typed ones.
    this.#keys.length = capacity
    this.#vals.length = capacity
    this.#policy.grow(capacity)
    this.#sizes.grow(capacity)
    this.#expiry.grow(capacity)
  }

  /**
   * The LRU fast path for a full map without a byte bound: evicts the least recently used
   * entry and hands its slot back already at the back of the queue, saving an unlink, a
   * free and a link. The slot's expiry is left to `#store`, which sets it next.
   */
  #recycle() {
    const slot = this.#policy.recycle()
    const key = this.#keys[slot]
    this.#index.delete(key)
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
    errors.checkOptionsObject('BoundedMap.set', options, SET_OPTIONS)
    const { ttl } = options
    if (ttl === undefined) return this.#ttl
    if (ttl === Infinity) return 0
    return errors.checkPositiveFinite('BoundedMap.set', 'options.ttl', ttl)
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
}

module.exports = { BoundedMap }

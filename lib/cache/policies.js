'use strict'

/**
 * The eviction policies of BoundedMap. Each owns the queue links of the map's slots and
 * decides what a hit does and which entry to evict:
 * - `lru`: one queue, least recently used first; a hit moves the entry to the back.
 * - `s3-fifo` (Yang et al., SOSP 2023): a small probation queue (5% of the bounds), a
 *   main queue, a 2-bit access counter per entry and a ghost list of keys recently
 *   evicted from probation. A hit only bumps the counter, so reads are cheaper than
 *   LRU's, and one-time keys (scans) leave from probation without displacing the entries
 *   that are reused.
 * Both are built from one `SlotQueue`: a FIFO of slots threaded through shared
 * `next`/`prev` columns.
 */
const { widen } = require('./columns')
const { GhostKeys } = require('./ghost-keys')

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

  /** LRU's order does not depend on the bounds. */
  bounded() {}

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
  smallMax = 0 // probation's bounds (bounded())
  smallMaxBytes = 0

  /**
   * @param {Map<unknown, number>} index the map's key index, where ghosts live too.
   * @param {import('./slot-sizes').SlotSizes | import('./slot-sizes').NoSizes} sizes the map's byte sizes.
   * @param {number} max the map's entry bound (`Infinity` for none).
   * @param {number} maxBytes the map's byte bound (`Infinity` for none).
   */
  constructor(index, sizes, max, maxBytes) {
    this.ghosts = new GhostKeys(index)
    this.sizes = sizes
    this.bounded(max, maxBytes)
    // A quarter of the main queue's share of `max`; see #ghostLimit for byte-only maps.
    this.fixedGhostLimit = max === Infinity ? null : Math.round(GHOST_SHARE * max * (1 - SMALL_SHARE))
  }

  /**
   * The map's bounds changed (memory pressure, map-pressure.js): probation keeps its share of
   * the bounds in force. The ghosts' limit stays that of the full bounds: a key remembered
   * costs little, and it is what lets the map find its frequent keys again when it grows back.
   */
  bounded(max, maxBytes) {
    this.smallMax = SMALL_SHARE * max
    this.smallMaxBytes = SMALL_SHARE * maxBytes
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

/** The policies by name; each is built as `new Policy(index, sizes, max, maxBytes)`. */
const POLICIES = { lru: LruPolicy, 's3-fifo': S3FifoPolicy }

module.exports = { POLICIES, LruPolicy, S3FifoPolicy, NONE }

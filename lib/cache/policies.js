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
 * - `tinylfu`: S3-FIFO's queues and hits, with TinyLFU's frequency sketch deciding which of
 *   probation's leaver and main's victim stays, instead of ghosts: it holds on to loops
 *   larger than the map and to keys asked for often but not lately.
 * All three are built from one `SlotQueue` (slot-queue.js).
 */
const { widen } = require('./columns')
const { NONE, Links, SlotQueue } = require('./slot-queue')
const { GhostKeys } = require('./ghost-keys')
const { FrequencySketch } = require('./frequency-sketch')
const { keyHash } = require('./key-hash')

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
 * What S3-FIFO and TinyLFU share: a small probation queue and a main queue threaded through
 * one set of links, and a byte per slot with a 2-bit access count and the IN_SMALL flag. A
 * hit only bumps the count. Entries hit while in probation move to main when they reach its
 * head; main evicts in FIFO order, giving entries with hits (their count) another round, one
 * count at a time (CLOCK). The subclasses decide what becomes of a probation entry that had
 * no hit (`fromProbation`) and remember nothing else here.
 */
class ProbationAndMain {
  links = new Links()
  main = new SlotQueue(this.links)
  small = new SlotQueue(this.links)
  flags = new Uint8Array(0) // access count and IN_SMALL, per slot
  smallBytes = 0
  smallMax = 0 // probation's bounds (bounded())
  smallMaxBytes = 0

  /**
   * @param {Map<unknown, number>} index the map's key index (S3-FIFO keeps its ghosts there).
   * @param {import('./slot-sizes').SlotSizes | import('./slot-sizes').NoSizes} sizes the map's byte sizes.
   * @param {number} max the map's entry bound (`Infinity` for none).
   * @param {number} maxBytes the map's byte bound (`Infinity` for none).
   */
  constructor(index, sizes, max, maxBytes) {
    this.sizes = sizes
    this.bounded(max, maxBytes)
  }

  /** The map's bounds changed (memory pressure, map-pressure.js): probation keeps its share of the bounds in force. */
  bounded(max, maxBytes) {
    this.max = max
    this.maxBytes = maxBytes
    this.smallMax = SMALL_SHARE * max
    this.smallMaxBytes = SMALL_SHARE * maxBytes
  }

  /** A hit: one more access counted, up to 3. */
  touch(slot) {
    const f = this.flags[slot]
    if ((f & FREQ_MASK) !== FREQ_MASK) this.flags[slot] = f + 1
  }

  /** A new entry of `size` bytes joins probation. */
  enterProbation(slot, size) {
    this.flags[slot] = IN_SMALL
    this.small.push(slot)
    this.smallBytes += size
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

  /** An entry's size changed by `delta` bytes. */
  resized(slot, delta) {
    if ((this.flags[slot] & IN_SMALL) !== 0) this.smallBytes += delta
  }

  /**
   * The entry to evict, never `keep`. Takes from probation while it holds its share (or main
   * holds nothing else), else from main. A probation entry that was hit (or is `keep`) moves
   * to main first; one that was not is the subclass's to judge (`fromProbation`).
   */
  victim(keep) {
    const { flags, main } = this
    for (;;) {
      const small = this.small.head
      const mainHasOthers = main.head !== NONE && (main.head !== keep || main.count > 1)
      if (small !== NONE && (this.#smallIsFull() || !mainHasOthers)) {
        if ((flags[small] & FREQ_MASK) === 0 && small !== keep) {
          const chosen = this.fromProbation(small, keep, mainHasOthers)
          if (chosen !== NONE) return chosen
          continue
        }
        this.promote(small)
        continue
      }
      return this.mainVictim(keep)
    }
  }

  /**
   * A probation entry without a hit reached the head: returns the slot to evict, or NONE
   * after moving it on (`mainHasOthers`: main holds an entry other than `keep`).
   * @param {number} slot
   * @param {number} keep
   * @param {boolean} mainHasOthers
   * @returns {number}
   */
  fromProbation(slot, keep, mainHasOthers) { // eslint-disable-line no-unused-vars
    return slot
  }

  /** Moves the probation entry `slot` to the back of main, keeping its count. */
  promote(slot) {
    this.detach(slot, this.sizes.get(slot))
    this.flags[slot] &= FREQ_MASK
    this.main.push(slot)
  }

  /**
   * Main's next entry to evict, never `keep`: entries with hits go to the back with a count
   * less (`aged(slot)` is told), the first without is the one. Main holds an entry other than `keep`.
   */
  mainVictim(keep) {
    const { flags, main } = this
    for (;;) {
      const victim = main.head
      const f = flags[victim]
      if (f === 0 && victim !== keep) return victim
      if (f !== 0) {
        flags[victim] = f - 1
        this.aged(victim)
      }
      if (victim !== main.tail) main.moveToBack(victim)
    }
  }

  /** Main's entry `slot` had hits and goes round once more. */
  aged(slot) {} // eslint-disable-line no-unused-vars

  /** Widens the columns to `capacity` slots. */
  grow(capacity) {
    this.links.grow(capacity)
    this.flags = widen(this.flags, capacity)
  }

  /** Forgets every entry. */
  clear() {
    this.links = new Links()
    this.main = new SlotQueue(this.links)
    this.small = new SlotQueue(this.links)
    this.flags = new Uint8Array(0)
    this.smallBytes = 0
  }

  /** Whether probation holds its share of the entries or of the bytes. */
  #smallIsFull() {
    return this.small.count >= this.smallMax || this.smallBytes >= this.smallMaxBytes
  }
}

/**
 * S3-FIFO: probation entries that leave without a hit leave their keys behind as ghosts; a
 * ghost that is set again enters main directly.
 */
class S3FifoPolicy extends ProbationAndMain {
  /** See ProbationAndMain's; the ghosts live in the map's `index`. */
  constructor(index, sizes, max, maxBytes) {
    super(index, sizes, max, maxBytes)
    this.ghosts = new GhostKeys(index)
    // A quarter of the main queue's share of `max`; see #ghostLimit for byte-only maps. It
    // stays that of the whole bounds under memory pressure: a key remembered costs little,
    // and it is what lets the map find its frequent keys again when it grows back.
    this.fixedGhostLimit = max === Infinity ? null : Math.round(GHOST_SHARE * max * (1 - SMALL_SHARE))
  }

  /** Number of ghosts in the key index. */
  get ghostCount() {
    return this.ghosts.size
  }

  /** A new entry joins probation; a returning ghost (`returning`) joins main. */
  admit(slot, size, returning) {
    if (!returning) return this.enterProbation(slot, size)
    this.flags[slot] = 0
    this.main.push(slot)
  }

  /**
   * An entry of `size` bytes is evicted. One leaving probation leaves its key behind as a
   * ghost, when one may be kept: returns whether it did (the key stays in the index).
   */
  evict(slot, key, size) {
    const fromProbation = (this.flags[slot] & IN_SMALL) !== 0
    this.detach(slot, size)
    return fromProbation && this.ghosts.add(key, this.#ghostLimit())
  }

  /** Forgets the ghost behind index `marker` (its key is being set again). */
  takeGhost(marker) {
    this.ghosts.take(marker)
  }

  /** Forgets every entry and ghost (the map clears the index). */
  clear() {
    super.clear()
    this.ghosts.clear()
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

/**
 * TinyLFU admission over S3-FIFO's queues: a probation entry that leaves without a hit enters
 * main only if the frequency sketch says its key was asked for more often than main's next
 * victim's (a tie keeps main as it is), and that victim leaves instead. While main has room,
 * it enters without a contest. The sketch counts each key's sets (misses, in a read-through
 * cache) and, off the hit path, one more each time a main entry with hits goes round. Hits
 * stay a byte's bump; no ghosts. A key's hash is kept per slot (4 bytes), the sketch takes 4
 * bytes an entry of the bound, made once the map is half full.
 */
class TinyLfuPolicy extends ProbationAndMain {
  ghostCount = 0
  hashes = new Int32Array(0)
  /** @type {FrequencySketch | null} */
  sketch = null

  /** See ProbationAndMain's. */
  constructor(index, sizes, max, maxBytes) {
    super(index, sizes, max, maxBytes)
    // The bound as set: a map half full while it has shrunk under memory pressure (`max` then
    // a share of it) gets the sketch it needs once it grows back.
    this.boundMax = max
    this.boundMaxBytes = maxBytes
  }

  /** A new entry joins probation; its key is counted. */
  admit(slot, size, returning, key) {
    const hash = keyHash(key)
    this.hashes[slot] = hash
    this.enterProbation(slot, size)
    if (this.sketch === null) this.#makeSketchWhenHalfFull()
    if (this.sketch !== null) this.sketch.increment(hash)
  }

  /** An entry is evicted: no ghost. */
  evict(slot, key, size) {
    return this.detach(slot, size)
  }

  /** The contest at probation's head (see the class doc). */
  fromProbation(slot, keep, mainHasOthers) {
    if (!mainHasOthers || this.#mainHasRoom() || this.sketch === null) {
      this.promote(slot)
      return NONE
    }
    const victim = this.mainVictim(keep)
    if (this.sketch.frequency(this.hashes[slot]) <= this.sketch.frequency(this.hashes[victim])) return slot
    this.promote(slot)
    return victim
  }

  /** A main entry with hits goes round: the sketch hears of them now, not on each hit. */
  aged(slot) {
    if (this.sketch !== null) this.sketch.increment(this.hashes[slot])
  }

  /** Widens the columns to `capacity` slots. */
  grow(capacity) {
    super.grow(capacity)
    this.hashes = widen(this.hashes, capacity)
  }

  /** Forgets every entry; the counts are kept (they are about keys, not entries). */
  clear() {
    super.clear()
    this.hashes = new Int32Array(0)
  }

  /** Whether main holds less than its share of the bounds (all but probation's). */
  #mainHasRoom() {
    if (this.main.count >= this.max - this.smallMax) return false
    // Without a byte bound, Infinity - Infinity would say no.
    return this.maxBytes === Infinity || this.sizes.total - this.smallBytes < this.maxBytes - this.smallMaxBytes
  }

  /**
   * The sketch, once the map holds half its bound in force (of entries, or of bytes), sized for
   * the bound as set (for a byte bound: the entries it holds, scaled to the whole bound as
   * set): before, nothing is evicted, and a map that never fills never pays for one.
   */
  #makeSketchWhenHalfFull() {
    const count = this.main.count + this.small.count
    if (count >= this.max / 2) this.sketch = new FrequencySketch(this.boundMax)
    else if (this.sizes.total >= this.maxBytes / 2) this.sketch = new FrequencySketch((2 * count * this.boundMaxBytes) / this.maxBytes)
  }
}

/** The policies by name; each is built as `new Policy(index, sizes, max, maxBytes)`. */
const POLICIES = { lru: LruPolicy, 's3-fifo': S3FifoPolicy, tinylfu: TinyLfuPolicy }

module.exports = { POLICIES, LruPolicy, S3FifoPolicy, TinyLfuPolicy }

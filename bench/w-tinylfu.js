'use strict'

/**
 * The W-TinyLFU reference of the cache benchmarks (no npm package implements it): Einziger,
 * Friedman and Manes, "TinyLFU: A Highly Efficient Cache Admission Policy" (2017), as Caffeine
 * lays it out with its default, fixed window. Written to be plainly right, not fast: entries
 * are objects on doubly linked lists.
 * - a window LRU of 1% of `max`, where every new key enters;
 * - a main segmented LRU: probation (20% of main) and protected (80%); a probation hit moves
 *   to protected, whose oldest go back to probation when it is over its share;
 * - when the window is over its share, its oldest entry is the candidate: it enters main if
 *   main has room, else only if the sketch counts it more often than probation's oldest (the
 *   victim), which then leaves; otherwise the candidate leaves. As in Caffeine, a candidate
 *   counted 6 or more that loses is still let in one time in 128 (at random), so that keys
 *   made to collide with a victim cannot shut main for good;
 * - a count-min sketch of every request, 16 counters an entry as Caffeine's (the
 *   `tinylfu` policy's lib/cache/frequency-sketch.js, keys hashed by lib/cache/key-hash.js).
 */
const { FrequencySketch } = require('../lib/cache/frequency-sketch')
const { keyHash } = require('../lib/cache/key-hash')
const { lcg } = require('./traces')

const WINDOW_SHARE = 0.01
const PROTECTED_SHARE = 0.8
/** Caffeine's random admission: from this count, a losing candidate enters 1 time in 128. */
const RANDOM_ADMISSION_FROM = 6
/** Caffeine's sketch: a 64-bit word of sixteen 4-bit counters per entry. */
const COUNTERS_PER_ENTRY = 16

/** A doubly linked list of entries, oldest at `head`. */
class List {
  head = null
  tail = null
  size = 0

  push(entry) {
    entry.prev = this.tail
    entry.next = null
    if (this.tail === null) this.head = entry
    else this.tail.next = entry
    this.tail = entry
    entry.list = this
    this.size++
  }

  remove(entry) {
    if (entry.prev === null) this.head = entry.next
    else entry.prev.next = entry.next
    if (entry.next === null) this.tail = entry.prev
    else entry.next.prev = entry.prev
    entry.list = null
    this.size--
  }
}

class WTinyLfu {
  #entries = new Map()
  #window = new List()
  #probation = new List()
  #protected = new List()
  #sketch
  #windowMax
  #protectedMax
  #max
  #random = lcg(99)

  /** @param {number} max the most entries held. */
  constructor(max) {
    this.#max = max
    this.#windowMax = Math.max(1, Math.round(max * WINDOW_SHARE))
    this.#protectedMax = Math.round(PROTECTED_SHARE * (max - this.#windowMax))
    this.#sketch = new FrequencySketch(max, COUNTERS_PER_ENTRY)
  }

  get size() {
    return this.#entries.size
  }

  get(key) {
    const entry = this.#entries.get(key)
    this.#sketch.increment(entry === undefined ? keyHash(key) : entry.hash)
    if (entry === undefined) return undefined
    this.#hit(entry)
    return entry.value
  }

  set(key, value) {
    const found = this.#entries.get(key)
    if (found !== undefined) {
      found.value = value
      this.#hit(found)
      return this
    }
    const entry = { key, value, hash: keyHash(key), prev: null, next: null, list: null }
    this.#entries.set(key, entry)
    this.#window.push(entry)
    if (this.#window.size > this.#windowMax) this.#admit(this.#window.head)
    return this
  }

  /** Recency within a segment; a probation hit is promoted to protected. */
  #hit(entry) {
    const list = entry.list
    list.remove(entry)
    if (list === this.#probation) {
      this.#protected.push(entry)
      while (this.#protected.size > this.#protectedMax) {
        const demoted = this.#protected.head
        this.#protected.remove(demoted)
        this.#probation.push(demoted)
      }
    } else list.push(entry)
  }

  /** The window's oldest, `candidate`, goes to main, or leaves if it loses to main's victim. */
  #admit(candidate) {
    this.#window.remove(candidate)
    if (this.#entries.size <= this.#max) return this.#probation.push(candidate)
    const victim = this.#probation.head ?? this.#protected.head
    if (this.#admits(candidate, victim)) {
      victim.list.remove(victim)
      this.#entries.delete(victim.key)
      this.#probation.push(candidate)
    } else {
      this.#entries.delete(candidate.key)
    }
  }

  /** Whether the sketch lets `candidate` in over `victim` (Caffeine's rule, random admission included). */
  #admits(candidate, victim) {
    const candidateCount = this.#sketch.frequency(candidate.hash)
    if (candidateCount > this.#sketch.frequency(victim.hash)) return true
    return candidateCount >= RANDOM_ADMISSION_FROM && Math.floor(this.#random() * 128) === 0
  }
}

module.exports = { WTinyLfu }

'use strict'

/**
 * The queues of BoundedMap's eviction policies (policies.js): a FIFO of slots threaded
 * through `next`/`prev` columns that a policy's queues share, so that an entry costs two
 * 32-bit links and no object.
 */
const { widen } = require('./columns')

/** No slot: the end of a queue. */
const NONE = -1

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

module.exports = { NONE, Links, SlotQueue }

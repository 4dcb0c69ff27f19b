'use strict'

const errors = require('../shared/errors')

const OPTIONS = ['onDrop']

/**
 * A fixed-capacity FIFO: `push` past the capacity overwrites the oldest item.
 * A drop-in for the `recent.push(x); if (recent.length > N) recent.shift()` pattern,
 * without the O(n) `shift` and without ever growing past `capacity`.
 *
 * Storage is one plain array that grows to `capacity` as items arrive (nothing is
 * allocated up front) and is then reused in place. Removed and overwritten items are
 * released at once, so the buffer never keeps them alive.
 *
 * Indexing and iteration go from the oldest item (index 0) to the newest.
 * @template T
 */
class RingBuffer {
  #items = []
  #head = 0 // index in #items of the oldest item
  #size = 0
  #capacity
  #dropped = 0
  #onDrop

  /**
   * @param {number} capacity the most items held; a positive integer.
   * @param {{ onDrop?: (item: T) => void }} [options] `onDrop` is called with each item
   *   overwritten by `push` (not with items removed by `shift`, `pop` or `clear`).
   */
  constructor(capacity, options) {
    this.#capacity = errors.checkPositiveInteger('RingBuffer', 'capacity', capacity)
    this.#onDrop = null
    if (options !== undefined) {
      errors.checkOptionsObject('RingBuffer', options, OPTIONS)
      if (options.onDrop !== undefined) this.#onDrop = errors.checkFunction('RingBuffer', 'options.onDrop', options.onDrop)
    }
  }

  /** Number of items held. */
  get size() {
    return this.#size
  }

  /** Same as `size`, for code written against an array. */
  get length() {
    return this.#size
  }

  /** The most items held. */
  get capacity() {
    return this.#capacity
  }

  /** How many items `push` has overwritten since construction. */
  get dropped() {
    return this.#dropped
  }

  /** `'RingBuffer'`. */
  get [Symbol.toStringTag]() {
    return 'RingBuffer'
  }

  /**
   * Appends items as the newest, overwriting the oldest when full.
   * @returns {number} the new size, like `Array.prototype.push`.
   */
  push(item) {
    if (arguments.length === 1) {
      this.#pushOne(item)
    } else {
      for (let i = 0; i < arguments.length; i++) this.#pushOne(arguments[i])
    }
    return this.#size
  }

  /** Removes and returns the oldest item (`undefined` when empty). */
  shift() {
    if (this.#size === 0) return undefined
    const item = this.#items[this.#head]
    this.#items[this.#head] = undefined
    this.#head = this.#head + 1 === this.#capacity ? 0 : this.#head + 1
    this.#size--
    return item
  }

  /** Removes and returns the newest item (`undefined` when empty). */
  pop() {
    if (this.#size === 0) return undefined
    const at = this.#wrap(this.#head + this.#size - 1)
    const item = this.#items[at]
    this.#items[at] = undefined
    this.#size--
    return item
  }

  /** The oldest item, the one `shift` would return, without removing it. */
  peek() {
    return this.#size === 0 ? undefined : this.#items[this.#head]
  }

  /** The item at `index` from the oldest (0) or, when negative, from the newest (-1). */
  at(index) {
    let i = Math.trunc(index) || 0
    if (i < 0) i += this.#size
    if (i < 0 || i >= this.#size) return undefined
    return this.#items[this.#wrap(this.#head + i)]
  }

  /** The items, oldest first, as a new array. */
  toArray() {
    const out = new Array(this.#size)
    for (let i = 0; i < this.#size; i++) out[i] = this.#items[this.#wrap(this.#head + i)]
    return out
  }

  /** Removes every item (not counted as dropped) and releases the storage. */
  clear() {
    this.#items = []
    this.#head = 0
    this.#size = 0
  }

  /**
   * Items oldest first. Like an array iterator it reads by position as it goes, so items
   * pushed during iteration are visited and items shifted off are not.
   */
  *[Symbol.iterator]() {
    for (let i = 0; i < this.#size; i++) yield this.#items[this.#wrap(this.#head + i)]
  }

  /** Appends one item, overwriting (and dropping) the oldest when full. */
  #pushOne(item) {
    if (this.#size < this.#capacity) {
      const at = this.#wrap(this.#head + this.#size)
      if (at === this.#items.length) this.#items.push(item)
      else this.#items[at] = item
      this.#size++
      return
    }
    const old = this.#items[this.#head]
    this.#items[this.#head] = item
    this.#head = this.#head + 1 === this.#capacity ? 0 : this.#head + 1
    this.#dropped++
    if (this.#onDrop !== null) this.#onDrop(old)
  }

  /** Maps a position past the end of the storage back to its start (`i < 2 × capacity`). */
  #wrap(i) {
    return i >= this.#capacity ? i - this.#capacity : i
  }
}

module.exports = { RingBuffer }

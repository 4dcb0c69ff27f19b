'use strict'

/**
 * The ghost queue of S3-FIFO: keys (never values) recently evicted from probation, so a
 * key that comes back soon skips probation.
 *
 * Ghosts live in the owning map's own key index, as negative markers (`~position`), and
 * in a ring of keys here, oldest overwritten first. Sharing the index means a miss costs
 * no extra lookup to ask "is this a ghost?", and turning an evicted entry into a ghost is
 * one `Map.set` instead of a delete plus an insert elsewhere. The ring never holds a stale
 * key: a ghost that is taken back leaves an empty position behind.
 */
const EMPTY = Symbol('empty')

class GhostKeys {
  #index
  #ring = []
  #next = 0 // ring position written next: the oldest ghost, or empty
  #count = 0

  /** @param {Map<unknown, number>} index the owning map's key index. */
  constructor(index) {
    this.#index = index
  }

  /** Number of ghosts. */
  get size() {
    return this.#count
  }

  /**
   * Makes `key` (already in the index, its entry just evicted) a ghost, dropping the
   * oldest ghost when `limit` are already kept. Returns false, leaving the index alone,
   * when no ghost may be kept.
   */
  add(key, limit) {
    if (limit < 1) return false
    if (limit !== this.#ring.length) this.#resize(limit)
    const at = this.#next
    const oldest = this.#ring[at]
    if (oldest !== EMPTY) this.#index.delete(oldest)
    else this.#count++
    this.#ring[at] = key
    this.#index.set(key, ~at)
    this.#next = at + 1 === this.#ring.length ? 0 : at + 1
    return true
  }

  /** Forgets the ghost behind `marker`; the caller removes or reuses its index entry. */
  take(marker) {
    this.#ring[~marker] = EMPTY
    this.#count--
  }

  /** Forgets every ghost (the caller clears the index). */
  clear() {
    this.#ring = []
    this.#next = 0
    this.#count = 0
  }

  /** Keeps the newest ghosts in a ring of `length` positions, renumbering their markers. */
  #resize(length) {
    const kept = []
    for (let i = 0; i < this.#ring.length; i++) {
      const key = this.#ring[(this.#next + i) % this.#ring.length]
      if (key !== EMPTY) kept.push(key)
    }
    for (const key of kept.splice(0, Math.max(0, kept.length - length))) this.#index.delete(key)
    this.#ring = new Array(length).fill(EMPTY)
    kept.forEach((key, i) => {
      this.#ring[i] = key
      this.#index.set(key, ~i)
    })
    this.#count = kept.length
    this.#next = kept.length === length ? 0 : kept.length
  }
}

module.exports = { GhostKeys }

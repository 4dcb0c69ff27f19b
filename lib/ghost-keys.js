'use strict'

/**
 * The ghost queue of S3-FIFO: keys (never values) recently evicted from the probation
 * queue, oldest first, bounded in count. A key seen again while it is a ghost skips
 * probation. Stored as a ring of keys plus a Map from key to its ring position, so
 * adding, looking up and expiring a ghost are O(1) and keys of any type work.
 */
class GhostKeys {
  #ring = []
  #head = 0 // position of the oldest ghost in the ring
  #filled = 0 // ring positions in use, stale or not
  #position = new Map()

  /** Number of live ghosts. */
  get size() {
    return this.#position.size
  }

  /** Removes `key` if it is a ghost; tells whether it was. */
  take(key) {
    return this.#position.delete(key)
  }

  /** Adds `key` as the newest ghost, keeping at most `limit` ghosts. */
  add(key, limit) {
    if (limit < 1) return
    this.#position.delete(key)
    while (this.#position.size >= limit) this.#dropOldest()
    if (this.#filled === this.#ring.length) this.#rebuild()
    const at = (this.#head + this.#filled) % this.#ring.length
    this.#ring[at] = key
    this.#position.set(key, at)
    this.#filled++
  }

  /** Forgets every ghost. */
  clear() {
    this.#ring = []
    this.#head = 0
    this.#filled = 0
    this.#position.clear()
  }

  #dropOldest() {
    // Positions whose key was taken or re-added elsewhere are stale: skip them.
    for (;;) {
      const key = this.#ring[this.#head]
      const live = this.#position.get(key) === this.#head
      this.#ring[this.#head] = undefined
      this.#head = (this.#head + 1) % this.#ring.length
      this.#filled--
      if (live) {
        this.#position.delete(key)
        return
      }
    }
  }

  /** Copies the live ghosts, oldest first, into a ring with room to spare. */
  #rebuild() {
    const old = this.#ring
    const ring = new Array(Math.max(16, this.#position.size * 2))
    let live = 0
    for (let i = 0; i < this.#filled; i++) {
      const at = (this.#head + i) % old.length
      const key = old[at]
      if (this.#position.get(key) !== at) continue
      ring[live] = key
      this.#position.set(key, live)
      live++
    }
    this.#ring = ring
    this.#head = 0
    this.#filled = live
  }
}

module.exports = { GhostKeys }

'use strict'

/**
 * A min-heap of (expiry time, slot, generation) used by BoundedMap to free expired
 * entries from one timer. Entries are never removed from the middle: when a slot is
 * freed or its expiry changes its generation moves on, and the stale heap entry is
 * dropped when it reaches the top (or when the heap is compacted).
 */
class ExpiryQueue {
  #times = new Float64Array(16)
  #slots = new Int32Array(16)
  #gens = new Uint32Array(16)
  #length = 0

  /** Number of heap entries, stale ones included. */
  get length() {
    return this.#length
  }

  /** The earliest expiry time, or `Infinity` when empty. */
  peekTime() {
    return this.#length === 0 ? Infinity : this.#times[0]
  }

  /** Adds an entry. */
  push(time, slot, gen) {
    if (this.#length === this.#times.length) this.#resize(this.#length * 2)
    let i = this.#length++
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (this.#times[parent] <= time) break
      this.#move(parent, i)
      i = parent
    }
    this.#put(i, time, slot, gen)
  }

  /**
   * Removes and passes to `visit(slot, gen)` every entry whose time is `<= now`,
   * earliest first. `visit` must not push into this queue.
   */
  popUntil(now, visit) {
    while (this.#length > 0 && this.#times[0] <= now) {
      const slot = this.#slots[0]
      const gen = this.#gens[0]
      this.#popTop()
      visit(slot, gen)
    }
  }

  /** Keeps only the entries for which `isCurrent(slot, gen)` holds. */
  compact(isCurrent) {
    let kept = 0
    for (let i = 0; i < this.#length; i++) {
      if (isCurrent(this.#slots[i], this.#gens[i])) {
        this.#put(kept++, this.#times[i], this.#slots[i], this.#gens[i])
      }
    }
    this.#length = kept
    for (let i = (kept >> 1) - 1; i >= 0; i--) this.#siftDown(i)
    if (this.#times.length > 64 && kept < this.#times.length / 4) this.#resize(Math.max(16, kept * 2))
  }

  /** Drops every entry. */
  clear() {
    this.#length = 0
    this.#resize(16)
  }

  #popTop() {
    const last = --this.#length
    if (last > 0) {
      this.#move(last, 0)
      this.#siftDown(0)
    }
  }

  #siftDown(i) {
    const n = this.#length
    const time = this.#times[i]
    const slot = this.#slots[i]
    const gen = this.#gens[i]
    for (;;) {
      let child = 2 * i + 1
      if (child >= n) break
      if (child + 1 < n && this.#times[child + 1] < this.#times[child]) child++
      if (this.#times[child] >= time) break
      this.#move(child, i)
      i = child
    }
    this.#put(i, time, slot, gen)
  }

  #move(from, to) {
    this.#put(to, this.#times[from], this.#slots[from], this.#gens[from])
  }

  #put(i, time, slot, gen) {
    this.#times[i] = time
    this.#slots[i] = slot
    this.#gens[i] = gen
  }

  #resize(size) {
    const times = new Float64Array(size)
    const slots = new Int32Array(size)
    const gens = new Uint32Array(size)
    times.set(this.#times.subarray(0, this.#length))
    slots.set(this.#slots.subarray(0, this.#length))
    gens.set(this.#gens.subarray(0, this.#length))
    this.#times = times
    this.#slots = slots
    this.#gens = gens
  }
}

module.exports = { ExpiryQueue }

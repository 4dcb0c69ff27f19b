'use strict'

/**
 * A min-heap of (expiry time, slot, generation) used by BoundedMap to free expired
 * entries from one timer. Entries are never removed from the middle: when a slot is
 * freed or its expiry changes its generation moves on, and the stale heap entry is
 * dropped when it reaches the top (or when the heap is compacted).
 */
const { widen } = require('./columns')

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

  /** Removes the earliest entry. */
  #popTop() {
    const last = --this.#length
    if (last > 0) {
      this.#move(last, 0)
      this.#siftDown(0)
    }
  }

  /** Moves the entry at `i` down until both children are later. */
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

  /** Copies the entry at `from` to position `to`. */
  #move(from, to) {
    this.#put(to, this.#times[from], this.#slots[from], this.#gens[from])
  }

  /** Writes an entry at position `i`. */
  #put(i, time, slot, gen) {
    this.#times[i] = time
    this.#slots[i] = slot
    this.#gens[i] = gen
  }

  /** Reallocates the columns to `size` entries, keeping the heap. */
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

/** The longest a timer may be set for: setTimeout treats longer delays as 1 ms. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1
/** The timer fires up to this late, so that entries expiring close together share one run. */
const MAX_SLACK_MS = 1000
/** The slack as a share of the map's TTL, for short TTLs. */
const SLACK_SHARE = 1 / 8
/** Heap entries beyond twice the live entries plus this many trigger a compaction. */
const COMPACT_MARGIN = 64

/**
 * The expiry times of a BoundedMap's slots (0: never) and the one unref'd timer that
 * frees the expired ones. A slot's generation moves on whenever its time stops being
 * current, which tells the heap's older entries for the slot apart. The map creates one
 * when its first entry with a TTL arrives; until then it uses `NO_EXPIRY`.
 */
class SlotExpiry {
  #expires
  #gens
  #heap = new ExpiryQueue()
  #now
  #slack
  #map // a WeakRef: the timer must not keep the map alive
  #self // a WeakRef to this, for the timer: nor this, with its columns
  #timer = null
  #timerAt = Infinity

  /**
   * @param {object} map the owning BoundedMap; its `purgeStale()` runs when the timer fires.
   * @param {number} capacity slots allocated so far.
   * @param {() => number} now the map's clock.
   * @param {number} ttl the map's default TTL (0: none), which sets the timer's slack.
   */
  constructor(map, capacity, now, ttl) {
    this.#expires = new Float64Array(capacity)
    this.#gens = new Uint32Array(capacity)
    this.#now = now
    // Fire a little late rather than often: expired entries are already invisible, the
    // timer only frees their memory.
    this.#slack = Math.min(MAX_SLACK_MS, Math.max(1, (ttl || MAX_SLACK_MS) * SLACK_SHARE))
    this.#map = new WeakRef(map)
    this.#self = new WeakRef(this)
  }

  /** Whether the slot's time has passed. */
  isStale(slot) {
    const at = this.#expires[slot]
    return at !== 0 && at <= this.#now()
  }

  /**
   * Sets the slot's time `ttl` ms from now (0: never) and keeps the timer armed. `map` is
   * the owner, whose size tells when stale heap entries should go.
   */
  set(slot, ttl, map) {
    this.#gens[slot]++
    if (ttl === 0) {
      this.#expires[slot] = 0
      return
    }
    const at = this.#now() + ttl
    this.#expires[slot] = at
    this.#heap.push(at, slot, this.#gens[slot])
    // Stale heap entries pile up when keys are re-set: drop them once they dominate.
    if (this.#heap.length > 2 * map.size + COMPACT_MARGIN) this.#heap.compact((s, gen) => this.#gens[s] === gen)
    if (at < this.#timerAt) this.#schedule()
  }

  /** Forgets the slot's time (its entry is gone or reused). */
  forget(slot) {
    this.#expires[slot] = 0
    this.#gens[slot]++
  }

  /** Milliseconds until the slot expires; `Infinity` when it never does. */
  remaining(slot) {
    const at = this.#expires[slot]
    return at === 0 ? Infinity : Math.max(0, at - this.#now())
  }

  /** Passes every slot whose time has passed to `free(slot)`, then re-arms the timer. */
  purge(free) {
    this.#heap.popUntil(this.#now(), (slot, gen) => {
      if (this.#gens[slot] === gen) free(slot)
    })
    this.#schedule()
  }

  /** Widens the columns to `capacity` slots. */
  grow(capacity) {
    this.#expires = widen(this.#expires, capacity)
    this.#gens = widen(this.#gens, capacity)
  }

  /** Forgets every time and stops the timer. */
  clear() {
    this.#expires = new Float64Array(0)
    this.#gens = new Uint32Array(0)
    this.#heap.clear()
    this.#cancelTimer()
  }

  /** Arms the timer for the earliest time in the heap, unless it already is. */
  #schedule() {
    const at = this.#heap.peekTime()
    if (at === this.#timerAt) return
    this.#cancelTimer()
    if (at === Infinity) return
    const delay = Math.ceil(Math.max(0, at - this.#now()) + this.#slack)
    const self = this.#self
    this.#timer = setTimeout(() => {
      const expiry = self.deref()
      if (expiry !== undefined) expiry.#onTimer()
    }, Math.min(delay, MAX_TIMEOUT_MS))
    this.#timer.unref()
    this.#timerAt = at
  }

  /** The timer fired: frees what expired through the map, if the map is still alive. */
  #onTimer() {
    this.#timer = null
    this.#timerAt = Infinity
    this.#map.deref()?.purgeStale()
  }

  /** Stops the timer, if one is armed. */
  #cancelTimer() {
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
    this.#timerAt = Infinity
  }
}

/** Stands in for `SlotExpiry` in a map where no entry ever had a TTL: nothing expires. */
class NoExpiry {
  /** Never stale. */
  isStale() {
    return false
  }
  /** Only ever called with ttl 0 (the map creates a SlotExpiry for any other): nothing to do. */
  set() {}
  /** Nothing to forget. */
  forget() {}
  /** Never expires. */
  remaining() {
    return Infinity
  }
  /** Nothing to free. */
  purge() {}
  /** No columns. */
  grow() {}
  /** Nothing held. */
  clear() {}
}

/** The one `NoExpiry`: it holds nothing, so every map shares it. */
const NO_EXPIRY = new NoExpiry()

module.exports = { ExpiryQueue, SlotExpiry, NoExpiry, NO_EXPIRY }

'use strict'

/**
 * The bounded lists a report keeps per process while its logs are read (collect.js): the
 * floors, thinned to a number of points, and the newest events of each kind.
 */

/**
 * A process's floors, thinned while they are read so that at most `max` points are kept.
 * Each point stands for a run of consecutive samples (1, then 2, 4, … as the log grows:
 * when `max` points are kept, neighbours are merged in pairs and runs double). A floor is
 * a minimum, so a point keeps the LOWEST value of each series over its run (null only when
 * every sample of the run lacks it), at the time of the run's lowest heap floor.
 */
class FloorPoints {
  #max
  #points = []
  #run = null // the point being built
  #inRun = 0
  #runLength = 1
  total = 0

  constructor(max) {
    this.#max = max
  }

  /** Adds one floor `{ time, heap, external, native, rss }`. */
  add(point) {
    this.total++
    this.#run = this.#run === null ? point : lowest(this.#run, point)
    if (++this.#inRun === this.#runLength) this.#flushRun()
  }

  /** The kept points as the MODEL's `floors` columns. */
  columns() {
    if (this.#run !== null) this.#flushRun()
    const columns = { time: [], heap: [], external: [], native: [], rss: [] }
    for (const point of this.#points) for (const key of Object.keys(columns)) columns[key].push(point[key])
    return columns
  }

  /** How many samples each point stands for, at most. */
  get runLength() {
    return this.#runLength
  }

  /** Keeps the run's point, merging the kept points in pairs first when `max` are kept. */
  #flushRun() {
    if (this.#points.length === this.#max) {
      const merged = []
      for (let i = 0; i < this.#points.length; i += 2) merged.push(i + 1 < this.#points.length ? lowest(this.#points[i], this.#points[i + 1]) : this.#points[i])
      this.#points = merged
      this.#runLength *= 2
    }
    this.#points.push(this.#run)
    this.#run = null
    this.#inRun = 0
  }
}

/** The lower of each series of `a` and `b`, at the time of the lower heap floor. */
function lowest(a, b) {
  const min = (x, y) => (x === null ? y : y === null ? x : Math.min(x, y))
  return {
    time: (b.heap ?? Infinity) < (a.heap ?? Infinity) ? b.time : a.time,
    heap: min(a.heap, b.heap),
    external: min(a.external, b.external),
    native: min(a.native, b.native),
    rss: min(a.rss, b.rss),
  }
}

/**
 * The newest `max` items pushed, by key: an item pushed under a key already kept replaces
 * it and counts as the newest. `total`: the distinct items pushed in all.
 */
class NewestList {
  #max
  #items = new Map()
  #unkeyed = 0
  total = 0

  constructor(max) {
    this.#max = max
  }

  /**
   * Adds `item` under `key` (by default, a key of its own).
   * @param {object} item
   * @param {string | number} [key]
   */
  push(item, key = this.#unkeyed++) {
    if (this.#items.delete(key)) this.total--
    this.#items.set(key, item)
    this.total++
    if (this.#items.size > this.#max) this.#items.delete(this.#items.keys().next().value)
  }

  /** The item kept under `key`, or undefined. */
  get(key) {
    return this.#items.get(key)
  }

  /** The kept items, oldest first by `time`. */
  items() {
    return [...this.#items.values()].sort((a, b) => a.time - b.time)
  }
}

module.exports = { FloorPoints, NewestList }

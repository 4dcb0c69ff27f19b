'use strict'

/**
 * What a census pass may spend and what it spent: the objects it visits (`maxObjects`) and
 * the functions whose scopes it reads (`maxFunctions`), and its cost, the `cost` a pass
 * resolves with (CensusCost in types.d.ts): slices, CPU, objects visited, inspector calls and
 * the most keys one call listed. The cost is of the slices only: what the pass lists while it
 * is made (its roots, the handles' records) is not counted.
 */
const { ListingMeter } = require('./reflect')

/** One pass' limits and cost (see above). */
class PassBudget {
  /** What the pass cost so far: `{ slices, cpuMs, longestSliceMs, visited, inspectorCalls, largestListing }`. */
  cost = { slices: 0, cpuMs: 0, longestSliceMs: 0, visited: 0, inspectorCalls: 0, largestListing: 0 }
  /** The listings of the slice under way: every listing the walk makes is noted in it (reflect.js). */
  listings = new ListingMeter()
  #limits
  #view
  #clock
  #functionsRead = 0
  #sliceStarted = 0
  #callsBefore = 0

  /**
   * @param {{ maxObjects: number, maxFunctions: number }} limits
   * @param {{ calls: number } | null} view the inspector view, whose calls are counted; null where none.
   * @param {import('../../shared/clock').Clock} clock what a slice's time is read from (`monotonic()`).
   */
  constructor(limits, view, clock) {
    this.#limits = limits
    this.#view = view
    this.#clock = clock
  }

  /** The most functions whose scopes a pass reads. */
  get maxFunctions() {
    return this.#limits.maxFunctions
  }

  /** The most objects a pass visits. */
  get maxObjects() {
    return this.#limits.maxObjects
  }

  /** Starts a slice: its time and its inspector calls are counted from now, its listings from none. */
  startSlice() {
    this.#sliceStarted = this.#clock.monotonic()
    this.#callsBefore = this.#view?.calls ?? 0
    this.listings.reset()
  }

  /** Ends the slice started last: adds its time, inspector calls and largest listing to the cost. */
  endSlice() {
    const ms = this.#clock.monotonic() - this.#sliceStarted
    this.cost.slices++
    this.cost.cpuMs += ms
    this.cost.longestSliceMs = Math.max(this.cost.longestSliceMs, ms)
    this.cost.inspectorCalls += (this.#view?.calls ?? 0) - this.#callsBefore
    this.cost.largestListing = Math.max(this.cost.largestListing, this.listings.largest)
  }

  /** Whether the pass has visited all the objects it may (`maxObjects`). */
  get objectsSpent() {
    return this.cost.visited >= this.#limits.maxObjects
  }

  /** Counts an object visited. */
  noteVisit() {
    this.cost.visited++
  }

  /** Takes one function from `maxFunctions`, whose scopes are then read: false once all are taken. */
  takeFunction() {
    if (this.#functionsRead >= this.#limits.maxFunctions) return false
    this.#functionsRead++
    return true
  }
}

module.exports = { PassBudget }

'use strict'

/**
 * The census of a worker watched from the main thread, as the worker runs it. The main thread
 * loads this module in the worker by an evaluation there (lib/watch/worker-census.js), calls
 * `pass`, `grown` or `release`, and gets the answer by value. Each call runs in one go: a
 * pool's worker blocked in `Atomics.wait` between its tasks never turns its event loop, so no
 * timer or promise would ever run there. The worker stops for each call; the main thread does
 * not. The passes stay here, by number, never walked by the census itself, until `release`.
 */
const { Census } = require('./census')

/** Passes kept at most: a diagnosis compares its first with its newest (diagnosis.js). */
const PASSES_KEPT = 4

let census = null
const passes = new Map() // number -> a pass, with its records
let passesTaken = 0

/** Takes a pass; gives what the main thread needs of it (its records stay here), or null when stopped. */
function pass() {
  if (census === null) {
    census = new Census()
    census.ignore(passes)
  }
  const taken = census.passNow()
  if (taken === null) return null
  const number = ++passesTaken
  passes.set(number, taken)
  if (passes.size > PASSES_KEPT) passes.delete(passes.keys().next().value)
  const { time, durationMs, complete, notReached, cost } = taken
  return { number, time, durationMs, complete, notReached, cost }
}

/** The collections that grew from pass `beforeNumber` to pass `afterNumber` (Census.grownNow). */
function grown(beforeNumber, afterNumber, options) {
  const before = passes.get(beforeNumber)
  const after = passes.get(afterNumber)
  if (census === null || before === undefined || after === undefined) throw new Error(`census pass ${before === undefined ? beforeNumber : afterNumber} is no longer kept in the worker`)
  return census.grownNow(before, after, options)
}

/** Drops the passes and closes the census' inspector session. */
function release() {
  census?.stop()
  census = null
  passes.clear()
}

module.exports = { pass, grown, release }

'use strict'

/**
 * BoundedMap keeps its per-entry data in columns indexed by slot; the typed ones (links,
 * counters, sizes, expiry times) grow by copying into a wider array.
 */

/** A copy of typed array `column` widened to `capacity` elements. */
function widen(column, capacity) {
  const wider = new column.constructor(capacity)
  wider.set(column)
  return wider
}

module.exports = { widen }

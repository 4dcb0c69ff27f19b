'use strict'

/**
 * A report's `lookedAt` and `notLookedAt` (diagnosis.js): each step of a diagnosis gives back
 * its notes, what it looked at and what it did not and why, and the report lists them by step
 * in NOTES_ORDER, whatever order the steps end in.
 */

/**
 * The steps, in the order their notes are listed. `unread` stands for the heap spaces,
 * BoundedMaps and tracked sites of a target read from another thread (its `unread`).
 */
const NOTES_ORDER = Object.freeze(['heapSnapshot', 'census', 'sites', 'native', 'heapSpaces', 'boundedMaps', 'trackedSites', 'unread'])

/** A step's notes: it looked at each of `what`. */
function looked(...what) {
  return { lookedAt: what, notLookedAt: [] }
}

/** A step's notes: it did not look at each of `skipped` (`{ what, why }`). */
function notLooked(...skipped) {
  return { lookedAt: [], notLookedAt: skipped }
}

/** The report's `lookedAt` and `notLookedAt`: the notes of each step (by its name in NOTES_ORDER; null for none), in that order. */
function notesInOrder(notes) {
  return {
    lookedAt: NOTES_ORDER.flatMap((step) => notes[step]?.lookedAt ?? []),
    notLookedAt: NOTES_ORDER.flatMap((step) => notes[step]?.notLookedAt ?? []),
  }
}

module.exports = { looked, notLooked, notesInOrder }

'use strict'

/** The options of `assertNoLeak()` and `measureLeak()` as one table (options-table.js). */
const { optionsTable, option, positive, positiveInteger, integerBetween, fraction, boolean } = require('../shared/options-table')

/** Rounds at most: the verdict compares every two of them (a million pairs at 1,000). */
const MAX_ROUNDS = 1000

/** The options of assertNoLeak() and measureLeak(), a row each in the order of docs/testing.md's table. */
const OPTIONS = optionsTable([
  option('callsPerRound', 100, positiveInteger, { default: '100', meaning: 'calls between two floors' }),
  option('rounds', 12, integerBetween(6, MAX_ROUNDS), { default: '12', meaning: 'floors judged, 6 to 1,000 (the newest half must hold three)' }),
  option('warmUpRounds', 3, integerBetween(0), { default: '3', meaning: 'rounds before the first floor judged' }),
  option('minBytesPerCall', 16, positive, { default: '16', meaning: 'the smallest retention reported, in bytes per call' }),
  option('confidence', 0.99, fraction({ from: 0.5, fromIncluded: true, expected: 'a number between 0.5 and 1 (exclusive)' }), { default: '0.99', meaning: 'Mann–Kendall confidence of an upward trend, in [0.5, 1)' }),
  option('snapshots', true, boolean, { default: 'true', meaning: 'on a heap leak, three heap snapshots that name the holder' }),
])

module.exports = { OPTIONS }

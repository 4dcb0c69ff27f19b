'use strict'

/**
 * How a diagnosis (diagnosis.js) takes its census (lib/diagnose/census/): passes a gap apart,
 * compared until collections grew, into the report's `census` field and its suspects.
 */
const { setTimeout: sleep } = require('node:timers/promises')
const { notLooked } = require('./report-notes')

/**
 * Time between the census' passes: long enough for a leak to add entries the comparison can
 * tell from churn, short enough that the report comes within a couple of minutes of the leak.
 * Two sampling intervals (20 s at the default 10 s), within these bounds.
 */
const CENSUS_GAP_MIN_MS = 1_000
const CENSUS_GAP_MAX_MS = 45_000

/** Passes a census takes at most for one report: the first, then one or two later ones. */
const CENSUS_PASSES = 3

/** The gap between a census' passes for floors `intervalMs` apart (CENSUS_GAP_MIN_MS, CENSUS_GAP_MAX_MS). */
function censusGapMs(intervalMs) {
  return Math.min(CENSUS_GAP_MAX_MS, Math.max(CENSUS_GAP_MIN_MS, 2 * intervalMs))
}

/**
 * The census' passes over what the code can reach: the first (`firstPass`, started with the
 * diagnosis; null when no census is taken, `noCensus` saying why), then later ones `gapMs`
 * after the one before, until collections grew (at most CENSUS_PASSES), compared with `top`
 * holders at most. `profile()` gives the newest sampling profile, whose scripts name the
 * holders. Resolves with the report's `census` field, the suspects and the census' notes: a
 * pass or a comparison that failed (a worker's census, whose evaluation there threw or timed
 * out) is noted, and taken as none.
 * @param {() => object} censusOf the target's census, made once.
 * @param {object} leak the `leak` event's fields.
 * @param {{ firstPass: Promise<object> | null, noCensus: string, profile: () => object | null, gapMs: number, top: number, clock: import('../shared/clock').Clock }} how
 */
async function takeCensus(censusOf, leak, { firstPass, noCensus, profile, gapMs, top, clock }) {
  const what = 'collections reachable from the code (census by reachability)'
  if (firstPass === null) return { census: null, suspects: [], notes: notLooked({ what, why: noCensus }) }
  const failures = []
  // A pass or a comparison that failed: noted, and taken as none.
  const failed = (err) => {
    failures.push({ what: 'a census pass', why: err.message })
    return null
  }
  const census = censusOf()
  const passes = [await firstPass.catch(failed)]
  let suspects = []
  let debuggerMs = 0
  while (passes.length < CENSUS_PASSES && suspects.length === 0 && passes[0] !== null) {
    const last = passes[passes.length - 1]
    await sleep(Math.max(0, last.time + last.durationMs + gapMs - clock.now()), undefined, { ref: false })
    const next = await census.pass().catch(failed)
    if (next === null) break
    passes.push(next)
    const newestProfile = profile()
    if (newestProfile !== null) census.noteScripts(newestProfile)
    const compared = await census.grown(passes[0], next, { top, slopeBytesPerSec: leak.slopeBytesPerSec ?? null, kind: leak.kind }).catch(failed)
    if (compared === null) break
    suspects = compared.holders
    debuggerMs = compared.debuggerMs
  }
  const taken = passes.filter((p) => p !== null)
  if (taken.length === 0) return { census: null, suspects: [], notes: notLooked(...failures) }
  const newest = taken[taken.length - 1]
  return {
    census: {
      passes: taken.map(({ time, durationMs, cost }) => ({ time, durationMs, cost: roundCost(cost) })),
      since: taken[0].time,
      until: newest.time,
      debuggerMs: Math.round(debuggerMs * 10) / 10,
      notReached: newest.notReached,
    },
    suspects,
    notes: { lookedAt: [`${what}: ${taken.length} passes`], notLookedAt: failures },
  }
}

/** A pass' cost, its milliseconds rounded to tenths. */
function roundCost(cost) {
  const tenths = (ms) => Math.round(ms * 10) / 10
  return { ...cost, cpuMs: tenths(cost.cpuMs), longestSliceMs: tenths(cost.longestSliceMs) }
}

module.exports = { takeCensus, censusGapMs }

'use strict'

/** How long a snapshot may stop the thread it is taken in (capture.js). */

/**
 * Even about to die, a snapshot is worth its pause only if it can finish well before the
 * limit: its predicted pause must be under this share of the time left.
 */
const DYING_PAUSE_SHARE = 0.5

/**
 * The pause a snapshot of `predicted` cost may take at `now`: `maxPauseMs` (the budget), or
 * no limit when it was asked for on demand (`demanded` says by whom) or the process is about
 * to die (`dying` says why): a threshold `crossed` (in words), the heap above its threshold,
 * or an urgent leak (`urgentLeak`: `{ projectedLimitAt }`) whose limit is further away than
 * twice the pause.
 * @param {{ pauseMs: number }} predicted
 * @param {{ crossed: string | null, demand: { requestedBy: string } | null, heapAboveThreshold: boolean, urgentLeak: { projectedLimitAt: number | null } | null }} about
 * @returns {{ maxMs: number, dying: string | null, demanded?: string }}
 */
function pauseAllowance(predicted, { crossed, demand, heapAboveThreshold, urgentLeak }, maxPauseMs, now) {
  if (demand !== null) return { maxMs: Infinity, dying: null, demanded: `requested on demand (${demand.requestedBy})` }
  if (crossed !== null) return { maxMs: Infinity, dying: crossed }
  if (heapAboveThreshold) return { maxMs: Infinity, dying: 'the heap is above its threshold' }
  if (urgentLeak !== null) {
    // Without a heap projection (urgent through RSS), the detector's horizon is all there is.
    const left = urgentLeak.projectedLimitAt === null ? Infinity : urgentLeak.projectedLimitAt - now
    const when = left === Infinity ? 'within 15 minutes' : `in ${Math.max(0, Math.round(left / 1000))} s`
    if (predicted.pauseMs <= DYING_PAUSE_SHARE * left) return { maxMs: Infinity, dying: `the leak is urgent: its limit is projected ${when}` }
  }
  return { maxMs: maxPauseMs, dying: null }
}

module.exports = { pauseAllowance }

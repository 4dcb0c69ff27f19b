'use strict'

/** Waiting for work with a deadline, as the restart's drain and hooks do. */

/**
 * Resolves `true` when `work` settles in time (rejecting as it does), `false` at `deadline`
 * (epoch ms on `clock`, the watcher's); the timer does not hold the process open.
 * @param {Promise<unknown>} work
 * @param {number} deadline
 * @param {import('../shared/clock').Clock} clock
 */
async function untilDeadline(work, deadline, clock) {
  let timer
  const late = new Promise((resolve) => {
    timer = setTimeout(resolve, Math.max(0, deadline - clock.now()), false)
    timer.unref()
  })
  try {
    return await Promise.race([work.then(() => true), late])
  } finally {
    clearTimeout(timer)
  }
}

module.exports = { untilDeadline }

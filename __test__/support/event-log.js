'use strict'

/**
 * A watcher's event log (LEAKPROOF_LOG) read while the service still writes it, and the short
 * timings the tests that read it run the preload at.
 */
const fs = require('node:fs')

const MiB = 1024 * 1024

/** Short timings: a floor every 500 ms, a leak judged over 5 s once 2 MiB have grown, a follow-up 4 MiB on. */
const SHORT_TIMINGS = Object.freeze({
  LEAKPROOF_INTERVAL_MS: '500',
  LEAKPROOF_MIN_DURATION_MS: '5000',
  LEAKPROOF_WARMUP_MS: '2000',
  LEAKPROOF_MIN_GROWTH_BYTES: String(2 * MiB),
  LEAKPROOF_FOLLOW_UP_GROWTH_BYTES: String(4 * MiB),
  LEAKPROOF_COOLDOWN_MS: '1000',
})

/** The events in the log at `log` so far: none before it exists, a last line still being written left out. */
function loggedSoFar(log) {
  if (!fs.existsSync(log)) return []
  return fs.readFileSync(log, 'utf8').split('\n').flatMap((line) => {
    try {
      return line === '' ? [] : [JSON.parse(line)]
    } catch {
      return [] // half a line, still being appended
    }
  })
}

module.exports = { SHORT_TIMINGS, loggedSoFar }

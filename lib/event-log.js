'use strict'

const fs = require('node:fs')

/** Events written to the log; `sample` (one per interval) is left out to keep it small. */
const LOGGED = ['leak', 'threshold', 'snapshot', 'snapshot-skipped', 'sites', 'report', 'error']

/**
 * Appends each of the watcher's events to `file` as one JSON object per line
 * (`type`, `time` in epoch ms, `pid`, `threadId`, then the event's fields). Appends are
 * synchronous and whole lines, so lines from several processes or threads do not
 * interleave. A failing write is reported once on stderr and logging stops; the app
 * carries on.
 */
function logEvents(watcher, file) {
  let failed = false
  const write = (event) => {
    if (failed) return
    try {
      fs.appendFileSync(file, JSON.stringify(event) + '\n', { mode: 0o600 })
    } catch (err) {
      failed = true
      process.stderr.write(`leakproof: cannot write the event log ${file}: ${err.message}; logging stops\n`)
    }
  }
  for (const type of LOGGED) watcher.on(type, write)
}

module.exports = { logEvents, LOGGED }

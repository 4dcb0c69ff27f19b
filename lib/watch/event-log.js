'use strict'

const fs = require('node:fs')
const { threadId } = require('node:worker_threads')
const { EVENTS } = require('./watcher')

/** Events written to the log: all but `sample` (one per interval), to keep it small. */
const LOGGED = EVENTS.filter((type) => type !== 'sample')

/**
 * Appends each of the watcher's events to `file` as one JSON object per line
 * (`type`, `time` in epoch ms, `pid`, `threadId`, then the event's fields). Appends are
 * synchronous and whole lines, so lines from several processes or threads do not
 * interleave. A failing write is reported once on stderr and logging stops; the app
 * carries on.
 */
function logEvents(watcher, file) {
  const write = appender(file)
  for (const type of LOGGED) watcher.on(type, write)
}

/** Appends each `listener-leak` report to `file`, as a line like the watcher's events. */
function logListenerLeaks(listenerLeaks, file) {
  const write = appender(file)
  listenerLeaks.on('listener-leak', (report) => {
    // The emitter itself (`target`) is no JSON: its name is in `emitter`.
    const fields = { ...report }
    delete fields.target
    write({ type: 'listener-leak', time: Date.now(), pid: process.pid, threadId, ...fields })
  })
}

/** A function appending one JSON line per call; after a failure, one message and silence. */
function appender(file) {
  let failed = false
  return (event) => {
    if (failed) return
    try {
      fs.appendFileSync(file, JSON.stringify(event) + '\n', { mode: 0o600 })
    } catch (err) {
      failed = true
      process.stderr.write(`leakproof: cannot write the event log ${file}: ${err.message}; logging stops\n`)
    }
  }
}

module.exports = { logEvents, logListenerLeaks, LOGGED }

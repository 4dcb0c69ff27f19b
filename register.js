'use strict'

/**
 * `node -r leakproof/register app.js`: starts `watch()` with options from the environment,
 * and appends every event as one JSON line to `LEAKPROOF_LOG` (if set). A bad value is
 * reported once on stderr and that option keeps its default: the preload never crashes
 * the app it watches.
 */
const { configFromEnv } = require('./lib/watch/env-config')

function start() {
  const { options, log, problems } = configFromEnv(process.env)
  for (const problem of problems) process.stderr.write(`leakproof: ${problem}\n`)
  const { watch } = require('./lib/watch/watcher')
  let watcher
  try {
    watcher = watch(options)
  } catch (err) {
    process.stderr.write(`leakproof: not watching: ${err.message}\n`)
    return
  }
  if (log !== undefined) require('./lib/watch/event-log').logEvents(watcher, log)
  // LEAKPROOF_TRACK_LISTENERS=1: listeners and their call sites, in the watcher's reports.
  // The tracking modules are loaded only when the variable is set: a service that does not
  // track listeners does not pay their memory (docs/benchmarks.md).
  if (process.env.LEAKPROOF_TRACK_LISTENERS === undefined) return
  const tracker = require('./lib/track/listeners').trackListenersFromEnv(process.env)
  if (tracker !== null && log !== undefined) {
    require('./lib/watch/event-log').logListenerLeaks(require('./lib/track/listener-leaks').listenerLeaks, log)
  }
}

try {
  start()
} catch (err) {
  process.stderr.write(`leakproof: not watching: ${err && err.message}\n`)
}

'use strict'

/**
 * `node -r leakproof/register app.js`: starts `watch()` with options from the environment
 * (under PM2's cluster mode, the app's `env` too: env-config.js's preloadEnv), and appends every event as one JSON line to `LEAKPROOF_LOG` (if set), rotated to
 * `<file>.1` at `LEAKPROOF_LOG_MAX_BYTES`. A bad value is reported once on stderr and that
 * option keeps its default: the preload never crashes the app it watches.
 */
const { configFromEnv, preloadEnv } = require('./lib/watch/env-config')

function start() {
  const env = preloadEnv(process.env)
  const { options, log, logMaxBytes, problems } = configFromEnv(env)
  for (const problem of problems) process.stderr.write(`leakproof: ${problem}\n`)
  const { watch } = require('./lib/watch/watcher')
  let watcher
  try {
    watcher = watch(options)
  } catch (err) {
    process.stderr.write(`leakproof: not watching: ${err.message}\n`)
    return
  }
  // One EventLog per thread, for the watcher's events and listener leaks alike: its byte
  // count, which says when to look at the file's size, covers every line this thread writes.
  // Its module is loaded only with a log to write.
  const logging = log === undefined ? null : require('./lib/watch/event-log')
  const eventLog = logging === null ? null : new logging.EventLog(log, { maxBytes: logMaxBytes })
  if (eventLog !== null) logging.logEvents(watcher, eventLog)
  // With the restart policy, a cluster primary starts each leaking worker's replacement first
  // and restarts one worker at a time (lib/mitigate/cluster.js).
  const { restart } = watcher.options
  if (restart !== null && /** @type {{ isPrimary: boolean }} */ (/** @type {unknown} */ (require('node:cluster'))).isPrimary) {
    require('./lib/mitigate/cluster').coordinateRestarts({ clusterSpacingMs: restart.clusterSpacingMs })
  }
  // LEAKPROOF_TRACK_LISTENERS=1: listeners and their call sites, in the watcher's reports.
  // The tracking modules are loaded only when the variable is set: a service that does not
  // track listeners does not pay their memory (docs/benchmarks.md).
  if (env.LEAKPROOF_TRACK_LISTENERS === undefined) return
  const tracker = require('./lib/track/listeners').trackListenersFromEnv(env)
  if (tracker !== null && eventLog !== null) logging.logListenerLeaks(require('./lib/track/listener-leaks').listenerLeaks, eventLog)
}

try {
  start()
} catch (err) {
  process.stderr.write(`leakproof: not watching: ${err && err.message}\n`)
}

'use strict'

/**
 * Where `listener-leak` reports go: one EventEmitter for the process, `listenerLeaks`.
 *
 * A report is delivered on the next tick, never inside the `on()` call that caused it, so a
 * handler that throws or adds listeners itself cannot disturb the code being tracked. With
 * no handler attached, the report becomes one process warning (`LEAKPROOF_LISTENER_LEAK`)
 * per report, so tracking turned on by environment alone still tells someone.
 */
const { EventEmitter } = require('node:events')
const { WARNINGS, warn } = require('../errors')

/**
 * Emits `'listener-leak'` with `{ emitter, event, site, count, growth, target }` each time
 * one call site's listeners on one emitter and event pass the threshold, then each time
 * they grow by half again.
 */
const listenerLeaks = new EventEmitter()

/** The one-line process warning for a report. */
function describeLeak({ emitter, event, site, count, growth }) {
  const since = growth === count ? '' : ` (+${growth} since the last report)`
  return `${count} ${String(event)} listeners on ${emitter} were added at ${site} and are still attached${since}`
}

/** Emits `leak` to the `listener-leak` handlers, or as a process warning when there are none. */
function deliver(leak) {
  if (listenerLeaks.listenerCount('listener-leak') > 0) listenerLeaks.emit('listener-leak', leak)
  else warn(WARNINGS.LISTENER_LEAK, describeLeak(leak))
}

/** Queues one report for delivery on the next tick. */
function reportLeak(leak) {
  process.nextTick(deliver, leak)
}

module.exports = { listenerLeaks, reportLeak }

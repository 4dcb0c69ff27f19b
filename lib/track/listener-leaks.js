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
const { WARNINGS, warn } = require('../shared/errors')

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

/**
 * Sites reported, the most a process keeps: the bound on the metrics' label sets
 * (lib/operate/). Past it, the site reported longest ago is forgotten.
 */
const MAX_REPORTED_SITES = 50

/** The newest report of each site, by emitter, event and site, oldest report first. */
const reported = new Map()

/** Queues one report for delivery on the next tick, and keeps it for `reportedListenerLeaks()`. */
function reportLeak(leak) {
  const { emitter, event, site, count, growth } = leak
  const key = `${emitter}\u0000${String(event)}\u0000${site}`
  reported.delete(key)
  reported.set(key, { emitter, event: String(event), site, count, growth })
  if (reported.size > MAX_REPORTED_SITES) reported.delete(reported.keys().next().value)
  process.nextTick(deliver, leak)
}

/**
 * The sites reported so far, each with its listener count at its newest report
 * (`{ emitter, event, site, count, growth }`): at most `MAX_REPORTED_SITES`, for metrics.
 */
function reportedListenerLeaks() {
  return [...reported.values()]
}

module.exports = { listenerLeaks, reportLeak, reportedListenerLeaks, MAX_REPORTED_SITES }

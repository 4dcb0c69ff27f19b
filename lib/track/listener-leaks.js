'use strict'

/**
 * Where `listener-leak` events go: one EventEmitter for the process, `listenerLeaks`.
 *
 * An event is emitted on the next tick, never inside the `on()` call that caused it, so a
 * handler that throws or adds listeners itself cannot disturb the code being tracked. With
 * no handler attached, each event becomes one process warning (`LEAKPROOF_LISTENER_LEAK`),
 * so tracking turned on by environment alone still tells someone.
 */
const { EventEmitter } = require('node:events')
const { WARNINGS, warn } = require('../shared/errors')

/**
 * Emits `'listener-leak'` with `{ emitter, event, site, count, growth, target }` each time
 * one call site's listeners on one emitter and event pass the threshold, then each time
 * they grow by half again.
 */
const listenerLeaks = new EventEmitter()

/** The one-line process warning for a `listener-leak` event. */
function describeLeak({ emitter, event, site, count, growth }) {
  const since = growth === count ? '' : ` (+${growth} since the last warning)`
  return `${count} ${String(event)} listeners on ${emitter} were added at ${site} and are still attached${since}`
}

/** Emits `leak` to the `listener-leak` handlers, or as a process warning when there are none. */
function deliver(leak) {
  if (listenerLeaks.listenerCount('listener-leak') > 0) listenerLeaks.emit('listener-leak', leak)
  else warn(WARNINGS.LISTENER_LEAK, describeLeak(leak))
}

/**
 * Sites of `listener-leak` events, the most a process keeps: the bound on the metrics' label
 * sets (lib/operate/). Past it, the site whose newest event is the oldest is forgotten.
 */
const MAX_LEAKING_SITES = 50

/** The newest event of each site, by emitter, event and site, oldest first. */
const newest = new Map()

/** Queues one `listener-leak` event for the next tick, and keeps it for `listenerLeakSites()`. */
function emitListenerLeak(leak) {
  const { emitter, event, site, count, growth } = leak
  const key = `${emitter}\u0000${String(event)}\u0000${site}`
  newest.delete(key)
  newest.set(key, { emitter, event: String(event), site, count, growth })
  if (newest.size > MAX_LEAKING_SITES) newest.delete(newest.keys().next().value)
  process.nextTick(deliver, leak)
}

/**
 * The sites of `listener-leak` events so far, each with its listener count at its newest
 * (`{ emitter, event, site, count, growth }`): at most `MAX_LEAKING_SITES`, for metrics.
 */
function listenerLeakSites() {
  return [...newest.values()]
}

module.exports = { listenerLeaks, emitListenerLeak, listenerLeakSites, MAX_LEAKING_SITES }

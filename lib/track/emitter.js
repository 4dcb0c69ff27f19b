'use strict'

/**
 * `trackEmitter(emitter, options)`: one EventEmitter or EventTarget, tracked through
 * stand-ins installed on the instance itself (non-enumerable own properties), so no
 * prototype is touched. `untrackEmitter` removes them.
 */
const { EventEmitter } = require('node:events')
const { CODES, codedError, describe } = require('../shared/errors')
const { EMITTER_OPTIONS } = require('./tracking-options')
const { EMITTER_METHODS, TARGET_METHODS } = require('./listener-hooks')
const { patchMethods } = require('./patch')
const table = require('./listener-table')

/** How each tracked instance gets its own methods back. */
const restorers = new WeakMap()

/** Whether `emitter` is an EventTarget (true), an EventEmitter (false); throws otherwise. */
function kindOf(emitter) {
  if (emitter instanceof EventEmitter) return false
  if (emitter instanceof EventTarget) return true
  throw codedError(
    TypeError,
    CODES.INVALID_ARGUMENT,
    `trackEmitter(): emitter must be an EventEmitter or an EventTarget; got ${describe(emitter)}`,
  )
}

/**
 * Tracks the listeners of one EventEmitter or EventTarget by call site and emits a
 * `listener-leak` (see `listenerLeaks`) when one site's listeners pass `threshold`, then
 * each time they grow by half again. Returns `emitter`. Tracking it again changes nothing.
 */
function trackEmitter(emitter, options = {}) {
  const isTarget = kindOf(emitter)
  const { name, threshold, captureFrom, sites } = EMITTER_OPTIONS.read('trackEmitter()', options)
  if (restorers.has(emitter)) return emitter
  table.trackExplicitly(emitter, table.makeSettings(name, threshold, captureFrom, sites), isTarget)
  restorers.set(emitter, patchMethods(emitter, isTarget ? TARGET_METHODS : EMITTER_METHODS))
  return emitter
}

/** Stops tracking an emitter given to `trackEmitter`, restoring its own properties. */
function untrackEmitter(emitter) {
  const restore = restorers.get(emitter)
  if (restore === undefined) return
  restorers.delete(emitter)
  restore()
  table.forgetEmitter(emitter)
}

/**
 * The live listeners of a tracked emitter that have a call site (see `captureFrom`),
 * grouped by event and site, most first: `[{ event, site, count }]`.
 */
function listenerSites(emitter) {
  const state = table.trackedState(emitter)
  return state === undefined ? [] : table.sitesOf(emitter, state)
}

module.exports = { trackEmitter, untrackEmitter, listenerSites }

'use strict'

/**
 * `trackListeners()`: every EventEmitter and EventTarget in the process, by patching
 * `EventEmitter.prototype` and `EventTarget.prototype`. `untrack()` puts back the very
 * same function objects and forgets what was tracked.
 */
const { EventEmitter } = require('node:events')
const { EMITTER_METHODS, TARGET_METHODS } = require('./listener-hooks')
const { patchMethods } = require('./patch')
const table = require('./listener-table')
const { LISTENERS_OPTIONS } = require('./tracking-options')

/** The active process-wide tracker, if any. */
let active = null

/**
 * Tracks listeners on every EventEmitter and EventTarget (see `trackEmitter`): emitters are
 * named by constructor, and sockets and servers by address too. Returns the tracker; while
 * one is active, calling again returns it unchanged.
 */
function trackListeners(options = {}) {
  const { threshold, captureFrom, sites } = LISTENERS_OPTIONS.read('trackListeners()', options)
  if (active !== null) return active
  table.setProcessWide(table.makeSettings(undefined, threshold, captureFrom, sites))
  const restorers = [
    patchMethods(EventEmitter.prototype, EMITTER_METHODS),
    patchMethods(EventTarget.prototype, TARGET_METHODS),
  ]
  const tracker = {
    threshold,
    captureFrom,
    sites,
    untrack() {
      if (active !== tracker) return
      active = null
      for (const restore of restorers) restore()
      table.setProcessWide(null)
    },
  }
  active = tracker
  return tracker
}

/**
 * What the register preload needs: `trackListeners()` when `LEAKPROOF_TRACK_LISTENERS` is
 * `1` or `true` in `env`, else nothing. Returns the tracker or null.
 */
function trackListenersFromEnv(env = process.env) {
  const flag = env.LEAKPROOF_TRACK_LISTENERS
  return flag === '1' || flag === 'true' ? trackListeners() : null
}

module.exports = { trackListeners, trackListenersFromEnv }

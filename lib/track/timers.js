'use strict'

/**
 * `trackTimers()`: live `setTimeout` and `setInterval` timers by creation site, by
 * patching both functions on `globalThis` and on the `timers` module.
 *
 * Patching was chosen over async_hooks: an async_hooks `init` hook also turns on node's
 * promise hooks, which every promise in the process then pays for (see bench/listeners.js).
 * `clearTimeout`/`clearInterval` need no stand-in: a timer that was cleared or has fired
 * is marked `_destroyed` by node, and timers are held through WeakRefs, so nothing of ours
 * keeps a finished timer (or its callback) alive.
 */
const timers = require('node:timers')
const { promisify } = require('node:util')
const { capture, siteOf } = require('./call-site')
const { disguise, patchMethods } = require('./patch')

/** A tracked timer: weakly held, with its creation stack. */
class TimerEntry {
  constructor(kind, timer, holder) {
    this.kind = kind
    this.ref = new WeakRef(timer)
    this.holder = holder
    this.site = null
  }

  /** Whether the timer still exists and has neither fired (a timeout) nor been cleared. */
  alive() {
    const timer = this.ref.deref()
    return timer !== undefined && timer._destroyed !== true
  }
}

/** Entries of the timers made while tracking, swept of finished ones as the set doubles. */
const entries = new Set()
/**
 * Frames recorded per timer: more than for listeners, because timers are armed deep inside
 * libraries (a cache's expiry timer, leakproof's own among them, sits six frames below the
 * `set` that caused it). Tracking timers is a diagnosis mode; the extra frames cost little
 * beside the capture itself.
 */
const TIMER_STACK_DEPTH = 10

/** Fewest entries at which a sweep runs, so small sets are not swept over and over. */
const MIN_SWEEP_AT = 1024
let sweepAt = MIN_SWEEP_AT
let active = null

/** Forgets finished timers; the next sweep comes when the set has doubled. */
function sweep() {
  for (const entry of entries) if (!entry.alive()) entries.delete(entry)
  sweepAt = Math.max(MIN_SWEEP_AT, entries.size * 2)
}

/** A patch factory for `setTimeout` or `setInterval` that records each timer with its stack. */
function wrapTimer(kind) {
  return (original) => {
    const wrapper = function () {
      const timer = original.apply(this, arguments)
      entries.add(new TimerEntry(kind, timer, capture(wrapper, TIMER_STACK_DEPTH)))
      if (entries.size >= sweepAt) sweep()
      return timer
    }
    if (original[promisify.custom] !== undefined) wrapper[promisify.custom] = original[promisify.custom]
    return disguise(wrapper, original)
  }
}

const FACTORIES = { setTimeout: wrapTimer('timeout'), setInterval: wrapTimer('interval') }

/**
 * Starts tracking timers made from now on. Returns the tracker; while one is active,
 * calling again returns it unchanged. `untrack()` restores the very same functions.
 */
function trackTimers() {
  if (active !== null) return active
  const standIns = new Map()
  const restorers = [patchMethods(globalThis, FACTORIES, standIns), patchMethods(timers, FACTORIES, standIns)]
  const tracker = {
    untrack() {
      if (active !== tracker) return
      active = null
      for (const restore of restorers) restore()
      entries.clear()
      sweepAt = MIN_SWEEP_AT
    },
  }
  active = tracker
  return tracker
}

/** `[{ kind: 'timeout' | 'interval', site }]` for each live tracked timer. */
function liveTimers() {
  sweep()
  const out = []
  for (const entry of entries) {
    if (entry.site === null) {
      entry.site = siteOf(entry.holder)
      entry.holder = null
    }
    out.push({ kind: entry.kind, site: entry.site })
  }
  return out
}

module.exports = { trackTimers, liveTimers }

'use strict'

/**
 * Stand-ins for the methods that add and remove listeners. Each calls the method it
 * replaces with the same `this` and arguments and returns its result untouched, then
 * updates the listener table; so listener order, `once`, `prependListener`, errors thrown
 * for bad arguments and `newListener`/`removeListener` events are node's own.
 *
 * `once` and `prependOnceListener` need no stand-in: node implements them with `this.on`
 * and `this.prependListener` (the wrapper they add carries the listener as `.listener`).
 */
const { EventEmitter } = require('node:events')
const table = require('./listener-table')
const { disguise } = require('./patch')

/**
 * The emitter whose add or remove is in progress. A stand-in called while its own emitter
 * is busy (an instance stand-in from `trackEmitter` reaching a patched prototype, a
 * subclass method calling `super.on`, `removeAllListeners` calling `removeListener`) only
 * passes the call through, so nothing is counted twice.
 */
let busy = null

const listenerCount = EventEmitter.prototype.listenerCount

/**
 * Runs `original` on `emitter` marked busy; returns its result. (The EventEmitter stand-ins,
 * the hot ones, do the same inline: handing `arguments` on makes V8 allocate it.)
 */
function callBusy(original, emitter, args) {
  const outer = busy
  busy = emitter
  try {
    return original.apply(emitter, args)
  } finally {
    busy = outer
  }
}

/** Stand-in for `on`/`addListener` (`prepend` false) or `prependListener` (true). */
function wrapAdd(original, prepend) {
  const wrapper = function (type, listener) {
    if (busy === this) return original.apply(this, arguments)
    const state = table.trackedState(this)
    const settings = state === undefined ? table.processWideFor(this) : state.settings
    if (settings === null) return original.apply(this, arguments)
    const outer = busy
    busy = this
    let result
    try {
      result = original.apply(this, arguments)
    } finally {
      busy = outer
    }
    const count = listenerCount.call(this, type)
    if (count >= settings.captureFrom) {
      table.addedToEmitter(this, state, settings, type, listener, prepend, wrapper, count)
    }
    return result
  }
  return disguise(wrapper, original)
}

/** Stand-in for `removeListener`/`off`. */
function wrapRemove(original) {
  return disguise(function (type, listener) {
    const state = busy === this ? undefined : table.trackedState(this)
    if (state === undefined) return original.apply(this, arguments)
    const outer = busy
    busy = this
    let result
    try {
      result = original.apply(this, arguments)
    } finally {
      busy = outer
    }
    table.removed(state, type, listener, listenerCount.call(this, type))
    return result
  }, original)
}

/** Stand-in for `removeAllListeners`: node may bypass `removeListener`, so reconcile after. */
function wrapRemoveAll(original) {
  return disguise(function (type) {
    const state = busy === this ? undefined : table.trackedState(this)
    if (state === undefined) return original.apply(this, arguments)
    const result = callBusy(original, this, arguments)
    if (arguments.length === 0) table.reconcileAll(this, state)
    else if (state.buckets.has(type)) table.reconcile(this, state, type, state.buckets.get(type))
    return result
  }, original)
}

/** `capture` as `addEventListener` reads it from its options. */
function addCapture(options) {
  return typeof options === 'boolean' ? options : Boolean(options?.capture)
}

/** `capture` as node's `removeEventListener` reads it (a bare `true` counts as false there). */
function removeCapture(options) {
  return options?.capture === true
}

/** Stand-in for `EventTarget#addEventListener`. */
function wrapAddEventListener(original) {
  const wrapper = function (type, listener, options) {
    if (busy === this) return original.apply(this, arguments)
    const state = table.trackedState(this)
    const settings = state === undefined ? table.processWideFor(this) : state.settings
    if (settings === null) return original.apply(this, arguments)
    const result = callBusy(original, this, arguments)
    const usable = typeof listener === 'function' || (typeof listener === 'object' && listener !== null)
    if (usable && !options?.signal?.aborted) {
      table.addedToTarget(this, state, settings, `${type}`, listener, addCapture(options), wrapper)
    }
    return result
  }
  return disguise(wrapper, original)
}

/** Stand-in for `EventTarget#removeEventListener`. */
function wrapRemoveEventListener(original) {
  return disguise(function (type, listener, options) {
    const state = busy === this ? undefined : table.trackedState(this)
    if (state === undefined) return original.apply(this, arguments)
    const result = callBusy(original, this, arguments)
    table.removedFromTarget(state, `${type}`, listener, removeCapture(options))
    return result
  }, original)
}

/** Method names of an EventEmitter with the factory of each stand-in. */
const EMITTER_METHODS = {
  on: (original) => wrapAdd(original, false),
  addListener: (original) => wrapAdd(original, false),
  prependListener: (original) => wrapAdd(original, true),
  removeListener: wrapRemove,
  off: wrapRemove,
  removeAllListeners: wrapRemoveAll,
}

/** Method names of an EventTarget with the factory of each stand-in. */
const TARGET_METHODS = {
  addEventListener: wrapAddEventListener,
  removeEventListener: wrapRemoveEventListener,
}

module.exports = { EMITTER_METHODS, TARGET_METHODS }

'use strict'

/**
 * `trackPromises()`: promises still pending, by creation site, through an async_hooks hook
 * (`init` for PROMISE, `promiseResolve`, `destroy`) enabled only while tracking. It is
 * costly — node's promise hooks and a stack per promise — so it is a diagnosis tool, off
 * unless asked for. A pending promise that is collected is forgotten (`destroy`): it holds
 * no memory, so it is no leak.
 */
const asyncHooks = require('node:async_hooks')
const { capture, siteOf } = require('./call-site')

/** asyncId of each pending promise -> its creation stack, then its site once formatted. */
const pending = new Map()
let active = null

/** The hook's `init`: records the creation stack of each new promise. */
function init(asyncId, type) {
  if (type === 'PROMISE') pending.set(asyncId, capture(init))
}

const hook = asyncHooks.createHook({
  init,
  promiseResolve(asyncId) {
    pending.delete(asyncId)
  },
  destroy(asyncId) {
    pending.delete(asyncId)
  },
})

/**
 * Starts tracking promises made from now on. Returns the tracker; while one is active,
 * calling again returns it unchanged. `untrack()` disables the hook and forgets them.
 */
function trackPromises() {
  if (active !== null) return active
  hook.enable()
  const tracker = {
    untrack() {
      if (active !== tracker) return
      active = null
      hook.disable()
      pending.clear()
    },
  }
  active = tracker
  return tracker
}

/** The site of each pending tracked promise. */
function pendingPromiseSites() {
  const out = []
  for (const [asyncId, holderOrSite] of pending) {
    const site = typeof holderOrSite === 'string' ? holderOrSite : siteOf(holderOrSite)
    pending.set(asyncId, site)
    out.push(site)
  }
  return out
}

module.exports = { trackPromises, pendingPromiseSites }

'use strict'

/**
 * The bookkeeping behind listener tracking: for each tracked emitter, its listeners per
 * event in the emitter's own order, each with the call site that added it.
 *
 * Removal paths that go through a method (`off`, `removeListener`, a `once` wrapper
 * firing, `removeEventListener`, a `{ signal }` aborting) are seen as they happen. The
 * ones that do not (`{ once: true }` on an EventTarget firing, node dropping a weak
 * handler, code editing `_events` by hand, `removeAllListeners`) are caught by
 * `reconcile`, which compares the table with the emitter's real listeners; it runs before
 * any count is emitted or read, so every count emitted is exact.
 *
 * A stack costs microseconds, so only some listeners are recorded with one: those that make
 * their (emitter, event) hold at least `captureFrom` listeners (a lone listener cannot be a
 * leak, and most listeners in a process are alone on their event) and, with
 * `sites: 'growth'`, that raise it to a new peak (a leak is growth; add/remove churn below
 * the peak is not, and costs no stack). The peak falls back when the count halves. A stack
 * is formatted only when the live sites are read (`liveSites()`, `listenerSites`), or when
 * its (emitter, event) has passed the threshold and not yet fallen back to half of it:
 * per-site counts are kept exact that long, so that `listener-leak` events come when the rule
 * says, and making them afresh on each crossing of the threshold would cost a pass over all
 * the event's listeners each time.
 */
const { EventEmitter, getEventListeners } = require('node:events')
const { capture, siteOf } = require('./call-site')
const { emitterName } = require('./emitter-name')
const { listenerLeaks, emitListenerLeak } = require('./listener-leaks')

const rawListeners = EventEmitter.prototype.rawListeners

/** One listener as added: the function itself (EventEmitter) or a weak reference (EventTarget). */
class Entry {
  constructor(fn, weak, capture, holder) {
    this.fn = fn
    this.weak = weak
    this.capture = capture
    this.holder = holder
    this.site = null
  }

  /** The listener function, or undefined once a weakly held one was collected. */
  listener() {
    return this.weak === null ? this.fn : this.weak.deref()
  }
}

/** The listeners of one event of one emitter. */
class Bucket {
  constructor() {
    this.entries = []
    /**
     * Live listeners per site: made when the event passes the threshold, then kept exact
     * through every add and removal until the event falls to half the threshold.
     */
    this.counts = null
    /** Count of each site at its last `listener-leak` event. */
    this.lastEmitted = null
    /** Most listeners the event has held since its count last halved (`sites: 'growth'`). */
    this.peak = 0
  }
}

/** Tracking state of one emitter; `settings` is shared by every emitter tracked the same way. */
class EmitterState {
  constructor(settings, isTarget) {
    this.settings = settings
    this.isTarget = isTarget
    this.buckets = new Map()
    this.ref = null
  }
}

const states = new WeakMap()
/** Emitters with at least one captured site, for the live sites; forgotten when collected. */
const withSites = new Set()
const forgetOnCollect = new FinalizationRegistry((ref) => withSites.delete(ref))
/** Settings for emitters met by the process-wide patches; null while `trackListeners` is off. */
let processWide = null

/** Tracking settings: `{ name, threshold, captureFrom, growthOnly, active }`. */
function makeSettings(name, threshold, captureFrom, sites) {
  return { name, threshold, captureFrom, growthOnly: sites === 'growth', active: true }
}

/** The state of an emitter tracked by `trackEmitter` or the process-wide patches, if any. */
function trackedState(emitter) {
  const state = states.get(emitter)
  return state !== undefined && state.settings.active ? state : undefined
}

/** The settings for an emitter without a state of its own: the process-wide ones, or null. */
function processWideFor(emitter) {
  return processWide === null || emitter === listenerLeaks ? null : processWide
}

/** `state` if there is one, else a new state of `emitter` under `settings`. */
function stateOf(emitter, state, settings, isTarget) {
  if (state !== undefined) return state
  const made = new EmitterState(settings, isTarget)
  states.set(emitter, made)
  return made
}

/** Tracks `emitter` with its own settings (from `trackEmitter`), keeping what is known already. */
function trackExplicitly(emitter, settings, isTarget) {
  const state = new EmitterState(settings, isTarget)
  const before = trackedState(emitter)
  if (before !== undefined) {
    state.buckets = before.buckets
    state.ref = before.ref
  }
  states.set(emitter, state)
}

/** Forgets `emitter` entirely. */
function forgetEmitter(emitter) {
  const state = states.get(emitter)
  if (state === undefined) return
  states.delete(emitter)
  if (state.ref !== null) unremember(state.ref)
}

/** Lists `emitter` among those with captured sites, until it is collected or forgotten. */
function remember(emitter, state) {
  state.ref = new WeakRef(emitter)
  withSites.add(state.ref)
  forgetOnCollect.register(emitter, state.ref, state.ref)
}

/** Takes the emitter behind `ref` off the list of those with captured sites. */
function unremember(ref) {
  withSites.delete(ref)
  forgetOnCollect.unregister(ref)
}

/** Turns the process-wide tracking on with `settings`, or off (null) forgetting its states. */
function setProcessWide(settings) {
  if (processWide !== null) {
    processWide.active = false
    for (const ref of withSites) {
      const emitter = ref.deref()
      if (emitter === undefined || states.get(emitter)?.settings === processWide) {
        if (emitter !== undefined) states.delete(emitter)
        unremember(ref)
      }
    }
  }
  processWide = settings
}

/** The site of an entry, formatted on first need; null if its stack was not captured. */
function siteKey(entry) {
  if (entry.site === null && entry.holder !== null) {
    entry.site = siteOf(entry.holder)
    entry.holder = null
  }
  return entry.site
}

/** Live listeners per site (null for those without a stack), formatting the sites. */
function countSites(entries) {
  const counts = new Map()
  for (const entry of entries) addCount(counts, siteKey(entry), 1)
  return counts
}

/** Adds `delta` to the count of `site`, forgetting the site when it falls to zero. */
function addCount(counts, site, delta) {
  const count = (counts.get(site) ?? 0) + delta
  if (count === 0) counts.delete(site)
  else counts.set(site, count)
}

/** Drops entries whose listener the emitter no longer holds. */
function reconcile(emitter, state, type, bucket) {
  const live = state.isTarget ? getEventListeners(emitter, type) : rawListeners.call(emitter, type)
  const remaining = new Map()
  for (const listener of live) remaining.set(listener, (remaining.get(listener) ?? 0) + 1)
  bucket.entries = bucket.entries.filter((entry) => {
    const left = remaining.get(entry.listener())
    if (!left) return false
    remaining.set(entry.listener(), left - 1)
    return true
  })
  if (bucket.counts !== null) bucket.counts = countSites(bucket.entries)
  settle(state, type, bucket, live.length)
}

/** Reconciles every event of `emitter`. */
function reconcileAll(emitter, state) {
  for (const [type, bucket] of state.buckets) reconcile(emitter, state, type, bucket)
}

/** The bucket of event `type`, made empty on first use. */
function bucketOf(state, type) {
  let bucket = state.buckets.get(type)
  if (bucket === undefined) {
    bucket = new Bucket()
    state.buckets.set(type, bucket)
  }
  return bucket
}

/** Whether a listener that brings its event to `count` listeners gets a stack; marks the peak. */
function earnsStack(settings, bucket, count) {
  if (count < settings.captureFrom) return false
  if (!settings.growthOnly) return true
  if (count <= bucket.peak) return false
  bucket.peak = count
  return true
}

/**
 * A listener was added to an EventEmitter (with `known`, its state if it has one) whose
 * event now holds `count` listeners, at least `captureFrom` (the stand-in checked: below
 * that nothing is recorded at all). `below` is the public function the user called: its
 * frame and those above it are left out of the captured stack.
 */
function addedToEmitter(emitter, known, settings, type, fn, prepend, below, count) {
  const state = stateOf(emitter, known, settings, false)
  const bucket = bucketOf(state, type)
  if (earnsStack(settings, bucket, count)) insert(emitter, state, type, bucket, new Entry(fn, null, false, capture(below)), prepend)
}

/**
 * Records a listener just added to an EventTarget (with `known`, its state if it has one),
 * unless the target already held it.
 * An EventTarget does not say cheaply how many listeners an event has, so every listener
 * is recorded, with a stack from the `captureFrom`th on.
 */
function addedToTarget(emitter, known, settings, type, listener, captureFlag, below) {
  const state = stateOf(emitter, known, settings, true)
  if (holdsOnTarget(emitter, state, type, listener, captureFlag)) return
  const bucket = bucketOf(state, type)
  const holder = earnsStack(settings, bucket, bucket.entries.length + 1) ? capture(below) : null
  insert(emitter, state, type, bucket, new Entry(null, new WeakRef(listener), captureFlag, holder), false)
}

/**
 * Puts `entry` in its bucket (first with `prepend`, as node does), counts its site while the
 * bucket keeps counts, and checks for a `listener-leak` event once the event is above the threshold.
 */
function insert(emitter, state, type, bucket, entry, prepend) {
  const { entries } = bucket
  if (prepend) entries.unshift(entry)
  else entries.push(entry)
  if (entry.holder !== null && state.ref === null) remember(emitter, state)
  if (bucket.counts !== null) addCount(bucket.counts, siteKey(entry), 1)
  if (entries.length > state.settings.threshold) grew(emitter, state, type, bucket, entry)
}

/** Each `listener-leak` event after a site's first waits until its count is this many times the last one's. */
const EVENT_GROWTH = 1.5

/**
 * Whether a site holding `count` listeners is due a `listener-leak` event: past `threshold`
 * for its first (`lastCount` 0), then at half again over `lastCount`, its count at the last.
 */
function isDue(count, lastCount, threshold) {
  return lastCount === 0 ? count > threshold : count >= lastCount * EVENT_GROWTH
}

/**
 * An event above the threshold gained `entry` (already counted if the bucket keeps counts):
 * make the counts if it has none, and emit a `listener-leak` event for the entry's site if due.
 */
function grew(emitter, state, type, bucket, entry) {
  const { threshold, name } = state.settings
  const site = siteKey(entry)
  let checked = false
  if (bucket.counts === null) {
    reconcile(emitter, state, type, bucket)
    bucket.counts = countSites(bucket.entries)
    checked = true
  }
  if (site === null) return
  const lastCount = bucket.lastEmitted?.get(site) ?? 0
  if (!isDue(bucket.counts.get(site) ?? 0, lastCount, threshold)) return
  if (!checked) reconcile(emitter, state, type, bucket)
  const count = bucket.counts.get(site) ?? 0
  if (!isDue(count, lastCount, threshold)) return
  ;(bucket.lastEmitted ??= new Map()).set(site, count)
  emitListenerLeak({
    emitter: name ?? emitterName(emitter),
    event: type,
    site,
    count,
    growth: count - lastCount,
    target: emitter,
  })
}

/**
 * Removes the entry at `index` from its bucket and uncounts its site, or drops the counts
 * once the event has fallen to half the threshold (they are made afresh if it passes the
 * threshold again).
 */
function drop(state, bucket, index) {
  const { entries } = bucket
  const entry = entries[index]
  if (index === entries.length - 1) entries.pop()
  else entries.splice(index, 1)
  if (bucket.counts === null) return
  if (entries.length <= state.settings.threshold / 2) bucket.counts = null
  else addCount(bucket.counts, siteKey(entry), -1)
}

/**
 * The event now holds `count` listeners in the emitter: forget it at zero (event names come
 * and go), and let the peak fall back once the count has halved.
 */
function settle(state, type, bucket, count) {
  if (count === 0) state.buckets.delete(type)
  else if (count <= bucket.peak / 2) bucket.peak = count
}

/**
 * `listener` was removed from an EventEmitter, whose event now holds `count` listeners:
 * forget the entry node removed (the last match).
 */
function removed(state, type, listener, count) {
  const bucket = state.buckets.get(type)
  if (bucket === undefined) return
  const { entries } = bucket
  for (let i = entries.length - 1; i >= 0; i--) {
    const fn = entries[i].fn
    if (fn === listener || fn.listener === listener) {
      drop(state, bucket, i)
      break
    }
  }
  settle(state, type, bucket, count)
}

/** Index of the entry for `listener` and `captureFlag` in an EventTarget's bucket, or -1. */
function indexOnTarget(bucket, listener, captureFlag) {
  const { entries } = bucket
  for (let i = 0; i < entries.length; i++) {
    if (entries[i].capture === captureFlag && entries[i].weak.deref() === listener) return i
  }
  return -1
}

/** `listener` was removed from an EventTarget for `captureFlag`. */
function removedFromTarget(state, type, listener, captureFlag) {
  const bucket = state.buckets.get(type)
  if (bucket === undefined) return
  const index = indexOnTarget(bucket, listener, captureFlag)
  if (index !== -1) drop(state, bucket, index)
  settle(state, type, bucket, bucket.entries.length)
}

/** Whether an EventTarget already holds `listener` for `captureFlag` (so adding it is a no-op). */
function holdsOnTarget(emitter, state, type, listener, captureFlag) {
  const bucket = state.buckets.get(type)
  if (bucket === undefined || indexOnTarget(bucket, listener, captureFlag) === -1) return false
  reconcile(emitter, state, type, bucket)
  return state.buckets.has(type) && indexOnTarget(bucket, listener, captureFlag) !== -1
}

/** Live listeners of one tracked emitter with a captured site, by event and site, most first. */
function sitesOf(emitter, state) {
  reconcileAll(emitter, state)
  const out = []
  for (const [event, bucket] of state.buckets) {
    for (const [site, count] of countSites(bucket.entries)) if (site !== null) out.push({ event, site, count })
  }
  return out.sort((a, b) => b.count - a.count)
}

/** Calls `visit(emitter, state)` for each live emitter that has at least one captured site. */
function forEachWithSites(visit) {
  for (const ref of withSites) {
    const emitter = ref.deref()
    const state = emitter === undefined ? undefined : trackedState(emitter)
    if (state !== undefined) visit(emitter, state)
  }
}

module.exports = {
  makeSettings,
  trackedState,
  processWideFor,
  trackExplicitly,
  forgetEmitter,
  setProcessWide,
  addedToEmitter,
  addedToTarget,
  removed,
  removedFromTarget,
  reconcile,
  reconcileAll,
  sitesOf,
  forEachWithSites,
}

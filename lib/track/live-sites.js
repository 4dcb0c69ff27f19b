'use strict'

/**
 * `liveSites()`: what is alive now, by creation site — listeners (of emitters tracked by
 * `trackEmitter`/`trackListeners`), timers (`trackTimers`), pending promises
 * (`trackPromises`) — and `compareLiveSites` for the growth between two readings. A reading
 * takes only what trackers recorded; it starts nothing and leaves nothing behind.
 * `census()` and `compareCensus()` are their former names, deprecated: "census" is the
 * diagnosis' count of reachable collections (lib/diagnose/census/).
 */
const { checkPositiveInteger, deprecated } = require('../shared/errors')
const { emitterName } = require('./emitter-name')
const table = require('./listener-table')
const { liveTimers } = require('./timers')
const { pendingPromiseSites } = require('./promises')

/** Listener groups: one per (site, event), over every emitter the site added to. */
function listenerGroups() {
  const groups = new Map()
  table.forEachWithSites((emitter, state) => {
    for (const { event, site, count } of table.sitesOf(emitter, state)) {
      const key = `${site}\0${String(event)}`
      let group = groups.get(key)
      if (group === undefined) {
        group = { kind: 'listener', site, event, count: 0, emitters: 0, emitter: '', most: 0 }
        groups.set(key, group)
      }
      group.count += count
      group.emitters++
      if (count > group.most) {
        group.most = count
        group.emitter = state.settings.name ?? emitterName(emitter)
      }
    }
  })
  return sorted([...groups.values()].map(({ most: _most, ...group }) => group))
}

/** Groups of `kind` counted by site. */
function siteGroups(kind, sites) {
  const counts = new Map()
  for (const site of sites) counts.set(site, (counts.get(site) ?? 0) + 1)
  return sorted([...counts].map(([site, count]) => ({ kind, site, count })))
}

/** `groups`, largest count first (in place). */
function sorted(groups) {
  return groups.sort((a, b) => b.count - a.count)
}

/**
 * Live listeners, intervals, timeouts and pending promises, each grouped by creation site
 * with counts, most first.
 */
function liveSites() {
  const timers = liveTimers()
  return {
    time: Date.now(),
    listeners: listenerGroups(),
    intervals: siteGroups('interval', timers.filter((t) => t.kind === 'interval').map((t) => t.site)),
    timeouts: siteGroups('timeout', timers.filter((t) => t.kind === 'timeout').map((t) => t.site)),
    promises: siteGroups('promise', pendingPromiseSites()),
  }
}

/** The fields of a reading that hold groups. */
const KINDS = ['listeners', 'intervals', 'timeouts', 'promises']

/** What identifies a group across readings: its kind and site (and event, for listeners). */
function groupKey(group) {
  return group.kind === 'listener' ? `listener\0${group.site}\0${String(group.event)}` : `${group.kind}\0${group.site}`
}

/** A `compareLiveSites` entry: where `group` is, and its growth from `was`. */
function growthOf(group, was) {
  const { kind, site, count } = group
  const where = kind === 'listener'
    ? { kind, site, event: group.event, emitter: group.emitter, emitters: group.emitters }
    : { kind, site }
  return { ...where, before: was, after: count, growth: count - was }
}

/**
 * The groups that grew from `before` to `after`, most growth first:
 * `[{ kind, site, event?, emitter?, emitters?, before, after, growth }]`.
 */
function compareLiveSites(before, after) {
  const counts = new Map()
  for (const kind of KINDS) for (const group of before[kind]) counts.set(groupKey(group), group.count)
  const out = []
  for (const kind of KINDS) {
    for (const group of after[kind]) {
      const was = counts.get(groupKey(group)) ?? 0
      if (group.count > was) out.push(growthOf(group, was))
    }
  }
  return out.sort((a, b) => b.growth - a.growth)
}

/** A reading of nothing: the baseline before the first call, so that it counts from when tracking started. */
const EMPTY = Object.freeze({ time: 0, listeners: [], intervals: [], timeouts: [], promises: [] })

/**
 * The sites that grew from one call to the next. Each caller keeps its own instance, so
 * its calls do not move anyone else's baseline: the watcher's reports have one, the public
 * `topGrowingSites()` another.
 */
class GrowingSites {
  /** @type {ReturnType<typeof liveSites>} */
  #baseline = EMPTY

  /**
   * The `limit` sites that grew most since the previous call (since tracking started, on
   * the first call), as `compareLiveSites` entries. `limit` is a positive integer (the callers
   * check it).
   */
  top(limit) {
    const now = liveSites()
    const growth = compareLiveSites(this.#baseline, now).slice(0, limit)
    this.#baseline = now
    return growth
  }
}

/** The baseline of the public `topGrowingSites()`, apart from the watcher's. */
const shared = new GrowingSites()

/**
 * The `limit` sites that grew most since the previous call of this function (since
 * tracking started, on the first call), as `compareLiveSites` entries.
 */
function topGrowingSites(limit = 10) {
  checkPositiveInteger('topGrowingSites()', 'limit', limit)
  return shared.top(limit)
}

/** Deprecated: `liveSites()`'s former name. */
const census = deprecated('census', liveSites)
/** Deprecated: `compareLiveSites()`'s former name. */
const compareCensus = deprecated('compareCensus', compareLiveSites)

module.exports = { liveSites, compareLiveSites, census, compareCensus, topGrowingSites, GrowingSites }

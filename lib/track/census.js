'use strict'

/**
 * `census()`: what is alive now, by creation site — listeners (of emitters tracked by
 * `trackEmitter`/`trackListeners`), timers (`trackTimers`), pending promises
 * (`trackPromises`) — and `compareCensus` for the growth between two censuses.
 * A census reads only what trackers recorded; it starts nothing and leaves nothing behind.
 */
const { checkPositiveInteger } = require('../errors')
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

function sorted(groups) {
  return groups.sort((a, b) => b.count - a.count)
}

/**
 * Live listeners, intervals, timeouts and pending promises, each grouped by creation site
 * with counts, most first.
 */
function census() {
  const timers = liveTimers()
  return {
    time: Date.now(),
    listeners: listenerGroups(),
    intervals: siteGroups('interval', timers.filter((t) => t.kind === 'interval').map((t) => t.site)),
    timeouts: siteGroups('timeout', timers.filter((t) => t.kind === 'timeout').map((t) => t.site)),
    promises: siteGroups('promise', pendingPromiseSites()),
  }
}

const KINDS = ['listeners', 'intervals', 'timeouts', 'promises']

function groupKey(group) {
  return group.kind === 'listener' ? `listener\0${group.site}\0${String(group.event)}` : `${group.kind}\0${group.site}`
}

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
function compareCensus(before, after) {
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

const EMPTY = { time: 0, listeners: [], intervals: [], timeouts: [], promises: [] }
let baseline = EMPTY

/**
 * For the watcher's reports: the `limit` sites that grew most since the previous call
 * (since tracking started, on the first call), as `compareCensus` entries.
 */
function topGrowingSites(limit = 10) {
  checkPositiveInteger('topGrowingSites', 'limit', limit)
  const now = census()
  const growth = compareCensus(baseline, now).slice(0, limit)
  baseline = now
  return growth
}

module.exports = { census, compareCensus, topGrowingSites }

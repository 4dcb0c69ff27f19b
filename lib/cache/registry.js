'use strict'

/**
 * Every BoundedMap, held weakly so that being registered never keeps a map alive.
 * `namedMaps()` lists the named ones with their stats, `namedMapSizes()` with their sizes
 * and bounds; `mapsFilling()` tells the detector
 * when heap growth is bounded caches filling up; `cachesThrashing(time)` names the maps
 * that have just begun thrashing. Unnamed maps are only ever counted by `mapsFilling()`.
 *
 * Thrashing is a cache whose working set outgrew it: full, it evicts entries that are
 * asked for again, so it misses and evicts on most lookups, and its hit ratio falls far
 * below the one it had while the working set fitted. `cachesThrashing` is meant to be
 * called once per sampling interval; each call ends one interval for every named map.
 * Periods are counted in calls: the recent period is the last `RECENT_INTERVALS`
 * intervals, the reference period the `REFERENCE_INTERVALS` before those (fewer while the
 * map is young). Counts are differences of the map's cumulative `stats()` between calls;
 * a period's hit ratio is its hits over its lookups (`get` calls). A named map begins
 * thrashing on the call where all of these hold:
 * - full: `size >= max`, or `bytes >= FULL_BYTES_SHARE * maxBytes`, on this call and the
 *   `MIN_FULL_CALLS - 1` calls before it;
 * - used: at least `MIN_LOOKUPS` lookups in the recent period, and in the reference period,
 *   so idle maps and maps without a past never count;
 * - evicting: evictions in the recent period are at least `EVICTION_SHARE` of its lookups
 *   (misses that are not followed by a set, or entries that expire, are not thrashing);
 * - collapsed: its hit ratio over the recent period is below `COLLAPSE_SHARE` times its hit
 *   ratio over the reference period.
 * It is reported once: the episode ends on a call that finds the map not full, or whose
 * recent hit ratio (over at least `MIN_LOOKUPS` lookups) is back to `RECOVERED_SHARE` of
 * the reference ratio it was reported with. Only then can it be reported again. A cache
 * that was always too small never had a better ratio, so it is not reported.
 *
 * Each named map judged has one small state object in a WeakMap, so being judged never
 * keeps a map alive: a ring of its counters at the last calls. A call costs a constant
 * amount of work per named map and allocates nothing per map beyond that state.
 */

/** A map bounded in bytes counts as full from this share of `maxBytes` (entries vary in size). */
const FULL_BYTES_SHARE = 0.95
/**
 * Intervals in the recent period: enough to smooth one odd interval out, few enough to
 * react within a minute at the watcher's default interval.
 */
const RECENT_INTERVALS = 3
/**
 * Intervals in the reference period, just before the recent one: the ratio the map had,
 * over long enough to still hold it while a collapse takes several intervals.
 */
const REFERENCE_INTERVALS = 12
/** Consecutive calls that must find the map full: one sample at the bound is not enough. */
const MIN_FULL_CALLS = 3
/** Lookups needed in each period, so that a ratio is more than a handful of chance lookups. */
const MIN_LOOKUPS = 100
/**
 * Evictions per lookup in the recent period. After a collapse over half the lookups miss,
 * so this asks that at least half the misses evicted.
 */
const EVICTION_SHARE = 0.25
/**
 * Collapsed: below half the reference ratio. A cache that hit 90% then misses on over 55%
 * of lookups instead of 10%.
 */
const COLLAPSE_SHARE = 0.5
/**
 * Recovered: back to three quarters of the reference ratio, well above the collapse line,
 * so a ratio hovering around that line is reported once.
 */
const RECOVERED_SHARE = 0.75

/** Cumulative counters kept per call, as columns of one row per call. */
const HITS = 0
const LOOKUPS = 1
const EVICTIONS = 2
const COLUMNS = 3
/** Rows kept: the call that ends each interval of both periods, and the one before them. */
const ROWS = RECENT_INTERVALS + REFERENCE_INTERVALS + 1

const refs = new Set()
const namedRefs = new Set()
const forgetOnCollect = new FinalizationRegistry((ref) => {
  refs.delete(ref)
  namedRefs.delete(ref)
})
const lastSize = new WeakMap()
const judged = new WeakMap()

/** Records `map` until it is garbage collected; called once its name is set. */
function registerMap(map) {
  const ref = new WeakRef(map)
  refs.add(ref)
  if (map.name !== undefined) namedRefs.add(ref)
  forgetOnCollect.register(map, ref)
}

/** The maps of `set` (of WeakRefs) still alive. */
function* alive(set) {
  for (const ref of set) {
    const map = ref.deref()
    if (map !== undefined) yield map
  }
}

/** Every map still alive, named or not. */
function liveMaps() {
  return alive(refs)
}

/**
 * The named maps still alive, each as `{ name, ...stats() }`.
 * @returns {Array<{name: string} & ReturnType<import('./bounded-map').BoundedMap['stats']>>}
 */
function namedMaps() {
  const out = []
  for (const map of alive(namedRefs)) out.push({ name: map.name, ...map.stats() })
  return out
}

/**
 * The sizes of the named maps still alive, each as `{ name, size, bytes, max, maxBytes }`
 * (`max`/`maxBytes` null when unbounded): what the leak diagnosis compares between floors.
 */
function namedMapSizes() {
  const out = []
  for (const map of alive(namedRefs)) {
    const { size, bytes } = map.stats()
    out.push({ name: map.name, size, bytes, max: bound(map.max), maxBytes: bound(map.maxBytes) })
  }
  return out
}

/** A bound as reported: null for none. */
function bound(limit) {
  return limit === Infinity ? null : limit
}

/**
 * How many maps grew since the last call and are still below their bounds: growth that
 * stops by itself at a known ceiling. The first call only records sizes.
 */
function mapsFilling() {
  let filling = 0
  for (const map of alive(refs)) {
    const { size, bytes } = map.stats()
    const before = lastSize.get(map)
    lastSize.set(map, size)
    if (before === undefined || size <= before) continue
    if (!isFull(map, size, bytes)) filling++
  }
  return filling
}

/** Whether a map with these `size` and `bytes` is at one of its bounds. */
function isFull(map, size, bytes) {
  return size >= map.max || bytes >= FULL_BYTES_SHARE * map.maxBytes
}

/**
 * The named maps that have just begun thrashing (see the module doc for the rule), each as
 * `{ name, size, max, bytes, maxBytes, hitRatio, earlierHitRatio, evictions, since }`:
 * `hitRatio` over the recent period, `earlierHitRatio` over the reference period,
 * `evictions` since the call before `since`, and `since` the `time` of the first of the
 * consecutive calls that found the map full. `max`/`maxBytes` are null when unbounded.
 * Work per call is constant per named map; each keeps one small state object.
 * @param {number} time now, in epoch ms; used only for `since`
 */
function cachesThrashing(time) {
  const started = []
  for (const map of alive(namedRefs)) {
    const entry = judge(map, time)
    if (entry !== null) started.push(entry)
  }
  return started
}

/** Records one more call for `map`; its report if it has just begun thrashing, else null. */
function judge(map, time) {
  const stats = map.stats()
  const state = record(map, stats)
  if (!isFull(map, stats.size, stats.bytes)) {
    state.fullCalls = 0
    state.episodeRatio = null
    return null
  }
  if (state.fullCalls === 0) {
    state.fullSince = time
    state.evictionsBefore = counter(state, EVICTIONS, Math.min(1, state.calls - 1))
  }
  state.fullCalls++
  if (state.calls <= RECENT_INTERVALS + 1) return null // no reference period yet
  const recentLookups = growth(state, LOOKUPS, RECENT_INTERVALS, 0)
  const recentRatio = growth(state, HITS, RECENT_INTERVALS, 0) / recentLookups // NaN when idle
  if (state.episodeRatio !== null) {
    const recovered = recentLookups >= MIN_LOOKUPS && recentRatio >= RECOVERED_SHARE * state.episodeRatio
    if (recovered) state.episodeRatio = null
    return null
  }
  const oldest = Math.min(state.calls - 1, RECENT_INTERVALS + REFERENCE_INTERVALS)
  const earlierLookups = growth(state, LOOKUPS, oldest, RECENT_INTERVALS)
  const earlierRatio = growth(state, HITS, oldest, RECENT_INTERVALS) / earlierLookups
  const thrashing =
    state.fullCalls >= MIN_FULL_CALLS &&
    recentLookups >= MIN_LOOKUPS &&
    earlierLookups >= MIN_LOOKUPS &&
    growth(state, EVICTIONS, RECENT_INTERVALS, 0) >= EVICTION_SHARE * recentLookups &&
    recentRatio < COLLAPSE_SHARE * earlierRatio
  if (!thrashing) return null
  state.episodeRatio = earlierRatio
  return {
    name: map.name,
    size: stats.size,
    max: bound(map.max),
    bytes: stats.bytes,
    maxBytes: bound(map.maxBytes),
    hitRatio: recentRatio,
    earlierHitRatio: earlierRatio,
    evictions: stats.evictions - state.evictionsBefore,
    since: state.fullSince,
  }
}

/** Appends this call's counters to `map`'s state, made on its first call; returns the state. */
function record(map, stats) {
  let state = judged.get(map)
  if (state === undefined) {
    // rows: a ring of the counters at the last ROWS calls. fullSince, evictionsBefore: of
    // the current run of full calls. episodeRatio: the reference hit ratio the current
    // episode was reported with; null outside an episode.
    state = {
      rows: new Float64Array(ROWS * COLUMNS),
      calls: 0,
      fullCalls: 0,
      fullSince: 0,
      evictionsBefore: 0,
      episodeRatio: null,
    }
    judged.set(map, state)
  }
  const row = (state.calls % ROWS) * COLUMNS
  state.rows[row + HITS] = stats.hits
  state.rows[row + LOOKUPS] = stats.hits + stats.misses
  state.rows[row + EVICTIONS] = stats.evictions
  state.calls++
  return state
}

/** The cumulative counter `column` as recorded `back` calls ago (0: this call). */
function counter(state, column, back) {
  return state.rows[((state.calls - 1 - back) % ROWS) * COLUMNS + column]
}

/** How much the counter `column` grew from `from` calls ago to `to` calls ago. */
function growth(state, column, from, to) {
  return counter(state, column, to) - counter(state, column, from)
}

module.exports = { registerMap, liveMaps, namedMaps, namedMapSizes, mapsFilling, cachesThrashing }

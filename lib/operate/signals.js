'use strict'

/**
 * The signals leakproof exports to monitoring systems, read on demand (at a scrape or an
 * export, never on a timer of its own): this thread's watcher (`status()`), every named
 * BoundedMap, and the listener-leak sites reported. `METRICS` describes each metric once,
 * with its Prometheus and its OpenTelemetry name; prometheus.js and otel.js only adapt it.
 *
 * Bounds on label sets (what a time-series database stores): `kind` has 3 values, `holder` and
 * `site` one pair per leaking kind (so at most 3 series), the same on every instance leaking
 * through the same code (lib/diagnose/holder-label.js), `result`
 * one per snapshot outcome (about 10), `map` one per named map (the application names
 * them; maps sharing a name are summed), listener-leak sites at most
 * `MAX_LEAKING_SITES` (50) per process, and `thread` one per worker thread running and
 * watched (64 at most), `pool` one per package that starts workers.
 */
const { currentWatcher } = require('../watch/watcher')
const { KINDS, DEFAULT_SCALE } = require('../watch/tally')
const { namedMaps } = require('../cache/registry')
const { pressureState } = require('../cache/map-pressure')
const { listenerLeakSites } = require('../track/listener-leaks')

/**
 * What one read gives: `watcher` (its `status()`, or null with none running), `maps`,
 * `pressure` (map-pressure.js's state), `listenerLeaks`.
 */
function readSignals() {
  const watcher = currentWatcher()
  return { watcher: watcher === null ? null : watcher.status(), maps: mapsByName(), pressure: pressureState(), listenerLeaks: listenerLeakSites() }
}

/** The named BoundedMaps' stats, summed over maps that share a name (`boundShare`: the least). */
function mapsByName() {
  const byName = new Map()
  for (const { name, size, bytes, hits, misses, evictions, expirations, boundShare } of namedMaps()) {
    const sum = byName.get(name) ?? { name, size: 0, bytes: 0, hits: 0, misses: 0, evictions: 0, expirations: 0, boundShare: 1 }
    sum.boundShare = Math.min(sum.boundShare, boundShare)
    sum.size += size
    sum.bytes += bytes
    sum.hits += hits
    sum.misses += misses
    sum.evictions += evictions
    sum.expirations += expirations
    byName.set(name, sum)
  }
  return [...byName.values()]
}

/** Each memory kind with its trend (zeros where it has no floor yet). */
function kinds(watcher) {
  return KINDS.map((kind) => {
    const trend = watcher.memory.find((m) => m.kind === kind)
    return { kind, floorBytes: trend?.floorBytes ?? null, slopeBytesPerSec: trend?.slopeBytesPerSec ?? 0, scale: trend?.scale ?? DEFAULT_SCALE, leaking: trend?.leaking ?? false }
  })
}

/**
 * A value of a metric: its labels (Prometheus names; `otelAttributes` maps them) and the
 * number. Each `values(signals)` returns the metric's current values.
 * @typedef {{ labels: Record<string, string>, value: number }} MetricValue
 */

/**
 * @typedef {{ prometheus: string, otel: string, unit: string, type: 'gauge' | 'counter', aggregate: 'sum' | 'max' | 'min',
 *   help: string, labels: string[], otelAttributes?: Record<string, string>, absentUntil?: string, values: (s: ReturnType<typeof readSignals>) => MetricValue[] }} MetricSpec
 */

/** The holder metrics' `site` is the holder's, not a listener site's. */
const HOLDER_ATTRIBUTES = Object.freeze({ site: 'leakproof.leak.holder.site' })

/**
 * Every metric: `prometheus` name (unit suffix and `_total` per Prometheus conventions),
 * `otel` name and `unit` (UCUM, OpenTelemetry conventions), `type` (`gauge` or `counter`),
 * `help`, `otelAttributes` (attribute names of its own for labels whose `OTEL_ATTRIBUTES` name
 * is another metric's), `aggregate` (how series of several processes combine: `'sum'`, `'max'` for a 0/1
 * flag, `'min'` for a margin, as prom-client's AggregatorRegistry takes it), `absentUntil`
 * (for a metric with no value until then: the moment it gets one), and `values(signals)`. None duplicates Node's default metrics (heap sizes, GC
 * durations): these are what the watcher concluded.
 * @type {ReadonlyArray<MetricSpec>}
 */
const METRICS = Object.freeze([
  {
    prometheus: 'leakproof_memory_floor_bytes',
    otel: 'leakproof.memory.floor',
    unit: 'By',
    type: 'gauge',
    aggregate: 'sum',
    help: 'Memory left after the newest full GC (heap, external) or read (native): the level a leak raises.',
    labels: ['kind'],
    values: (s) => (s.watcher === null ? [] : kinds(s.watcher).filter((k) => k.floorBytes !== null).map((k) => ({ labels: { kind: k.kind }, value: k.floorBytes }))),
  },
  {
    prometheus: 'leakproof_memory_slope_bytes_per_second',
    otel: 'leakproof.memory.slope',
    unit: 'By/s',
    type: 'gauge',
    aggregate: 'sum',
    help: "The floors' trend (Theil-Sen slope) on the time scale of the leak reported (scale: quarter-hour, hour, hours, day), else over the window of every floor (scale: minutes); 0 before two floors.",
    labels: ['kind', 'scale'],
    values: (s) => (s.watcher === null ? [] : kinds(s.watcher).map((k) => ({ labels: { kind: k.kind, scale: k.scale }, value: k.slopeBytesPerSec }))),
  },
  {
    prometheus: 'leakproof_leak_suspected',
    otel: 'leakproof.leak.suspected',
    unit: '1',
    type: 'gauge',
    aggregate: 'max',
    help: '1 while a leak the watcher reported still grows, else 0.',
    labels: ['kind'],
    values: (s) => (s.watcher === null ? [] : kinds(s.watcher).map((k) => ({ labels: { kind: k.kind }, value: k.leaking ? 1 : 0 }))),
  },
  {
    prometheus: 'leakproof_leak_holder_info',
    otel: 'leakproof.leak.holder',
    unit: '1',
    type: 'gauge',
    aggregate: 'max',
    help: "1 for what holds a leak that still grows: the holder its reports named (holder: path and class, site: its file), as the same label on every instance running the same code. One series per leaking kind; absent until a report names a holder, and once the leak ends.",
    labels: ['kind', 'holder', 'site'],
    otelAttributes: HOLDER_ATTRIBUTES,
    absentUntil: 'a report names the holder of a leak that still grows',
    values: (s) => (s.watcher === null ? [] : s.watcher.leakHolders.map(({ kind, holder, site }) => ({ labels: { kind, holder, site }, value: 1 }))),
  },
  {
    prometheus: 'leakproof_leaks_total',
    otel: 'leakproof.leaks',
    unit: '{leak}',
    type: 'counter',
    aggregate: 'sum',
    help: 'Leak events: a new leak, or one that got worse.',
    labels: ['kind'],
    values: (s) => (s.watcher === null ? [] : KINDS.map((kind) => ({ labels: { kind }, value: s.watcher.leaks[kind] ?? 0 }))),
  },
  {
    prometheus: 'leakproof_snapshots_total',
    otel: 'leakproof.snapshots',
    unit: '{snapshot}',
    type: 'counter',
    aggregate: 'sum',
    help: 'Heap snapshots by result: written, or the reason one was declined (pause, disk-budget, memory, cooldown, ...).',
    labels: ['result'],
    values: (s) => (s.watcher === null ? [] : Object.entries(s.watcher.snapshots.counts).map(([result, value]) => ({ labels: { result }, value }))),
  },
  {
    prometheus: 'leakproof_forced_gc_seconds_total',
    otel: 'leakproof.forced_gc.duration',
    unit: 's',
    type: 'counter',
    aggregate: 'sum',
    help: 'Time the full GCs the watcher forced to read a floor stopped the thread (what gcBudget bounds).',
    labels: [],
    values: (s) => (s.watcher === null ? [] : [{ labels: {}, value: s.watcher.forcedGc.seconds }]),
  },
  {
    prometheus: 'leakproof_restart_due',
    otel: 'leakproof.restart.due',
    unit: '1',
    type: 'gauge',
    aggregate: 'max',
    help: '1 once the restart policy found a restart due (a leak near its limit, its evidence written): the process is leaving; else 0. Only with the restart policy on.',
    labels: [],
    values: (s) => (s.watcher === null || !s.watcher.restart.on ? [] : [{ labels: {}, value: s.watcher.restart.due === null ? 0 : 1 }]),
  },
  {
    prometheus: 'leakproof_restart_time_left_seconds',
    otel: 'leakproof.restart.time_left',
    unit: 's',
    type: 'gauge',
    aggregate: 'min',
    help: 'Once a restart is due, the time left before its leak reaches the limit, by the newest trend: the margin the process leaves with. Absent until then.',
    labels: [],
    absentUntil: 'a restart is due',
    values: (s) => (s.watcher?.restart.due == null ? [] : [{ labels: {}, value: s.watcher.restart.due.timeLeftMs / 1000 }]),
  },
  {
    prometheus: 'leakproof_thread_heap_bytes',
    otel: 'leakproof.thread.heap',
    unit: 'By',
    type: 'gauge',
    aggregate: 'sum',
    help: "A worker thread's heap, as the main thread's watcher sees it: its floor where known, else its newest reading (at most 64 threads, each while it runs).",
    labels: ['thread', 'pool'],
    absentUntil: 'a worker thread runs',
    values: (s) => (s.watcher?.threads ?? []).filter((t) => (t.floorBytes ?? t.heapUsed) !== null).map((t) => ({ labels: threadLabels(t), value: t.floorBytes ?? t.heapUsed })),
  },
  {
    prometheus: 'leakproof_thread_leak_suspected',
    otel: 'leakproof.thread.leak.suspected',
    unit: '1',
    type: 'gauge',
    aggregate: 'max',
    help: "1 while a leak reported in a worker thread's heap still grows, else 0 (at most 64 threads, each while it runs).",
    labels: ['thread', 'pool'],
    absentUntil: 'a worker thread runs',
    values: (s) => (s.watcher?.threads ?? []).map((t) => ({ labels: threadLabels(t), value: t.leaking ? 1 : 0 })),
  },
  {
    prometheus: 'leakproof_thread_leak_holder_info',
    otel: 'leakproof.thread.leak.holder',
    unit: '1',
    type: 'gauge',
    aggregate: 'max',
    help: "1 for what holds a worker thread's leak that still grows, as leakproof_leak_holder_info names it (at most 64 threads).",
    labels: ['thread', 'pool', 'holder', 'site'],
    otelAttributes: HOLDER_ATTRIBUTES,
    absentUntil: "a report names the holder of a worker thread's leak",
    values: (s) => (s.watcher?.threads ?? []).filter((t) => t.holder != null).map((t) => ({ labels: { ...threadLabels(t), holder: t.holder.holder, site: t.holder.site }, value: 1 })),
  },
  ...mapMetrics(),
  {
    prometheus: 'leakproof_listener_leak_listeners',
    otel: 'leakproof.listener_leak.listeners',
    unit: '{listener}',
    type: 'gauge',
    aggregate: 'sum',
    help: 'Listeners added at one call site and still attached, at its newest listener-leak report (at most 50 sites).',
    labels: ['emitter', 'event', 'site'],
    values: (s) => s.listenerLeaks.map(({ emitter, event, site, count }) => ({ labels: { emitter, event, site }, value: count })),
  },
])

/** A worker thread's labels: its id (the thread runs, so the set is bounded by the threads watched at once) and the package that started it (`app` for the app's own). */
function threadLabels(thread) {
  return { thread: String(thread.threadId), pool: thread.pool ?? 'app' }
}

/**
 * The BoundedMap metrics, one label set per map name.
 * @returns {MetricSpec[]}
 */
function mapMetrics() {
  /**
   * A metric with one value per named map, `read` from its summed stats.
   * @param {Pick<MetricSpec, 'prometheus' | 'otel' | 'unit' | 'type' | 'help'>} spec
   * @param {(map: ReturnType<typeof mapsByName>[number]) => number} read
   * @returns {MetricSpec}
   */
  const perMap = (spec, read) => ({
    ...spec,
    aggregate: 'sum',
    labels: ['map'],
    values: (s) => s.maps.map((m) => ({ labels: { map: m.name }, value: read(m) })),
  })
  return [
    perMap({ prometheus: 'leakproof_boundedmap_entries', otel: 'leakproof.boundedmap.entries', unit: '{entry}', type: 'gauge', help: 'Entries in a named BoundedMap.' }, (m) => m.size),
    perMap({ prometheus: 'leakproof_boundedmap_bytes', otel: 'leakproof.boundedmap.size', unit: 'By', type: 'gauge', help: 'Bytes a named BoundedMap counts against maxBytes (0 without sizes).' }, (m) => m.bytes),
    perMap({ prometheus: 'leakproof_boundedmap_hits_total', otel: 'leakproof.boundedmap.hits', unit: '{lookup}', type: 'counter', help: 'Lookups (get) that found their key.' }, (m) => m.hits),
    perMap({ prometheus: 'leakproof_boundedmap_misses_total', otel: 'leakproof.boundedmap.misses', unit: '{lookup}', type: 'counter', help: 'Lookups (get) that did not.' }, (m) => m.misses),
    {
      prometheus: 'leakproof_boundedmap_evictions_total',
      otel: 'leakproof.boundedmap.evictions',
      unit: '{entry}',
      type: 'counter',
      aggregate: 'sum',
      help: 'Entries removed by the map itself: reason "capacity" (max or maxBytes) or "expired" (ttl).',
      labels: ['map', 'reason'],
      values: (s) => s.maps.flatMap((m) => [
        { labels: { map: m.name, reason: 'capacity' }, value: m.evictions },
        { labels: { map: m.name, reason: 'expired' }, value: m.expirations },
      ]),
    },
    {
      prometheus: 'leakproof_boundedmap_bound_ratio',
      otel: 'leakproof.boundedmap.bound_ratio',
      unit: '1',
      type: 'gauge',
      aggregate: 'min',
      help: 'The share of its bounds a named BoundedMap may hold now: 1, or less while it has shrunk under memory pressure (shrinkUnderPressure).',
      labels: ['map'],
      values: (s) => s.maps.map((m) => ({ labels: { map: m.name }, value: m.boundShare })),
    },
    {
      prometheus: 'leakproof_memory_pressure',
      otel: 'leakproof.memory.pressure',
      unit: '1',
      type: 'gauge',
      aggregate: 'max',
      help: '1 while memory is near its limit and the BoundedMaps that shrink under pressure hold a share of their bounds; else 0.',
      labels: [],
      values: (s) => [{ labels: {}, value: s.pressure.underPressure ? 1 : 0 }],
    },
    {
      prometheus: 'leakproof_memory_pressure_episodes_total',
      otel: 'leakproof.memory.pressure.episodes',
      unit: '{episode}',
      type: 'counter',
      aggregate: 'sum',
      help: 'Times memory pressure began and the BoundedMaps that shrink under it shrank (since the watcher, or the first such map, started).',
      labels: [],
      values: (s) => [{ labels: {}, value: s.pressure.episodes }],
    },
  ]
}

/** OpenTelemetry attribute names for the Prometheus label names. */
const OTEL_ATTRIBUTES = Object.freeze({
  kind: 'leakproof.memory.kind',
  scale: 'leakproof.memory.scale',
  result: 'leakproof.snapshot.result',
  map: 'leakproof.boundedmap.name',
  reason: 'leakproof.eviction.reason',
  emitter: 'leakproof.listener.emitter',
  event: 'leakproof.listener.event',
  site: 'leakproof.listener.site',
  thread: 'leakproof.thread.id',
  holder: 'leakproof.leak.holder.name',
  pool: 'leakproof.thread.pool',
})

/** The OpenTelemetry attribute name of `metric`'s Prometheus `label`. */
function otelAttribute(metric, label) {
  return metric.otelAttributes?.[label] ?? OTEL_ATTRIBUTES[label]
}

module.exports = { readSignals, METRICS, OTEL_ATTRIBUTES, otelAttribute }

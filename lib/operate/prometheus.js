'use strict'

/**
 * leakproof's metrics on a prom-client registry: `require('leakproof/prometheus')`.
 *
 * `registerMetrics(registry?, options?)` registers every metric of `METRICS`
 * (lib/operate/signals.js) on the registry, as a prom-client `Gauge` or `Counter` whose
 * `collect()` fills it at each scrape: nothing runs between scrapes, and the signals are
 * read once per scrape (every metric's `collect()` of one scrape runs in the same
 * synchronous turn, so the first read is kept until the next microtask). Each collect
 * starts from an empty metric, so the label sets of a map that was garbage-collected, or
 * of a watcher that was stopped, are gone at the next scrape rather than left at their
 * last value.
 *
 * prom-client is the application's own (an optional peer dependency), loaded on the first
 * call, never by the main entry. Docs: docs/metrics.md.
 */
/** @type {import('node:cluster').Cluster} */
// @ts-expect-error @types/node declares an ES default export; require() gives the cluster object itself
const cluster = require('node:cluster')
const errors = require('../shared/errors')
const { requirePeer } = require('./peer')
const signals = require('./signals')

const WHERE = 'registerMetrics()'
const KNOWN_OPTIONS = ['worker']

/** The handle of each registry that has leakproof's metrics: a second call returns it. */
const handles = new WeakMap()

/**
 * Registers leakproof's metrics on `registry` (prom-client's global `register` by default).
 * Registering again on the same registry returns the first handle (with the same options;
 * other options throw `ERR_LEAKPROOF_INVALID_OPTION`: `unregister()` first).
 * @param {import('prom-client').Registry} [registry]
 * @param {{ worker?: string | false }} [options] `worker`: the value of a `worker` label on
 *   every series (the cluster worker's id by default in a cluster worker, none elsewhere).
 * @returns {MetricsHandle}
 * @throws coded `ERR_LEAKPROOF_PEER_MISSING` without prom-client, `ERR_LEAKPROOF_INVALID_ARGUMENT`
 *   for a registry that is not one or has a metric of the same name of its own,
 *   `ERR_LEAKPROOF_INVALID_OPTION` / `_UNKNOWN_OPTION` for bad options.
 */
function registerMetrics(registry, options = {}) {
  errors.checkOptionsObject(WHERE, options, KNOWN_OPTIONS)
  const worker = resolveWorker(options.worker)
  const promClient = requirePeer('prom-client', `leakproof/prometheus: ${WHERE}`)
  const target = registry === undefined ? promClient.register : checkRegistry(registry)
  const registered = handles.get(target)
  if (registered !== undefined) {
    if (registered.worker === worker) return registered
    throw errors.invalidOptionRange(WHERE, 'options.worker', `${errors.describe(registered.worker)}, as when this registry got leakproof's metrics (unregister() them first)`, worker)
  }
  checkNamesFree(target)
  const handle = new MetricsHandle(promClient, target, worker)
  handles.set(target, handle)
  return handle
}

/**
 * What `registerMetrics()` returns: the `registry`, the metric `names`, the `worker` label's
 * value (null without one), and `unregister()`.
 */
class MetricsHandle {
  #metrics
  #warned = false

  constructor(promClient, registry, worker) {
    this.registry = registry
    this.worker = worker
    const read = readOncePerScrape(() => this.#readSignals())
    const extraLabels = worker === null ? {} : { worker }
    this.#metrics = signals.METRICS.map((spec) => ({ name: spec.prometheus, metric: createMetric(promClient, registry, spec, extraLabels, read) }))
    Object.freeze(this)
  }

  /** The names of the metrics registered. */
  get names() {
    return this.#metrics.map(({ name }) => name)
  }

  /** Removes leakproof's metrics from the registry (only those; calling it again does nothing). */
  unregister() {
    for (const { name, metric } of this.#metrics) {
      if (this.registry.getSingleMetric(name) === metric) this.registry.removeSingleMetric(name)
    }
    if (handles.get(this.registry) === this) handles.delete(this.registry)
  }

  /** The signals, or null when reading them failed (warned once until a read succeeds again). */
  #readSignals() {
    try {
      const read = signals.readSignals()
      this.#warned = false
      return read
    } catch (err) {
      if (!this.#warned) errors.warn(errors.WARNINGS.METRICS_ERROR, `leakproof/prometheus: reading the signals failed, so this scrape has no leakproof series: ${err?.stack ?? err}`)
      this.#warned = true
      return null
    }
  }
}

/** One prom-client metric for one row of `METRICS`, filled by its `collect()`. */
function createMetric(promClient, registry, spec, extraLabels, read) {
  const Metric = spec.type === 'counter' ? promClient.Counter : promClient.Gauge
  return new Metric({
    name: spec.prometheus,
    help: spec.help,
    labelNames: [...spec.labels, ...Object.keys(extraLabels)],
    registers: [registry],
    // Under cluster, AggregatorRegistry merges workers' series of equal labels (only when
    // the worker label is off): as the table says, a 0/1 flag stays 0/1, the rest add up.
    aggregator: spec.aggregate,
    collect() {
      fill(this, spec, extraLabels, read())
    },
  })
}

/** Replaces `metric`'s values with those `spec` gives for `read` (none when it is null). */
function fill(metric, spec, extraLabels, read) {
  metric.reset()
  // An unlabelled metric resets to one value of 0; absent is what "nothing to report" is.
  if (metric.labelNames.length === 0) metric.remove()
  if (read === null) return
  for (const { labels, value } of spec.values(read)) {
    const all = { ...labels, ...extraLabels }
    if (spec.type === 'counter') metric.inc(all, value)
    else metric.set(all, value)
  }
}

/**
 * A reader that calls `read` once per scrape: the first call reads, and later calls in the
 * same synchronous turn (the other metrics' `collect()` of that scrape) get the same read.
 */
function readOncePerScrape(read) {
  let kept = null
  return () => {
    if (kept === null) {
      kept = { value: read() }
      queueMicrotask(() => {
        kept = null
      })
    }
    return kept.value
  }
}

/** The `worker` label's value: the option, else the cluster worker's id, else null (no label). */
function resolveWorker(worker) {
  if (worker === undefined) return cluster.isWorker ? String(cluster.worker.id) : null
  if (worker === false) return null
  if (typeof worker !== 'string') throw errors.invalidOptionType(WHERE, 'options.worker', 'a string or false', worker)
  if (worker === '') throw errors.invalidOptionRange(WHERE, 'options.worker', 'a non-empty string or false', worker)
  return worker
}

/** Checks that `registry` is a prom-client registry (by its methods: any copy of prom-client). */
function checkRegistry(registry) {
  const methods = ['registerMetric', 'getSingleMetric', 'removeSingleMetric', 'getMetricsAsJSON']
  if (registry === null || typeof registry !== 'object' || !methods.every((m) => typeof registry[m] === 'function')) {
    throw errors.codedError(TypeError, errors.CODES.INVALID_ARGUMENT, `${WHERE}: registry must be a prom-client Registry; got ${errors.describe(registry)}`)
  }
  return registry
}

/** Throws before registering anything when the registry has a metric of one of leakproof's names. */
function checkNamesFree(registry) {
  const taken = signals.METRICS.map((spec) => spec.prometheus).filter((name) => registry.getSingleMetric(name) !== undefined)
  if (taken.length > 0) {
    throw errors.codedError(Error, errors.CODES.INVALID_ARGUMENT, `${WHERE}: registry already has metrics named ${taken.join(', ')} that leakproof did not register; remove them first`)
  }
}

module.exports = { registerMetrics }

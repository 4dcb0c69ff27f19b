'use strict'

/**
 * leakproof's signals as OpenTelemetry observable instruments (`leakproof/otel`).
 *
 * `registerInstruments(meterProvider?)` creates one instrument per entry of `METRICS`
 * (signals.js): gauges as ObservableGauge, counters as ObservableCounter (monotonic), with
 * the OTel name, unit and description there, and attributes named by `OTEL_ATTRIBUTES`.
 * One batch callback reads the signals once per collection for all of them: nothing runs
 * on a timer of leakproof's, and nothing runs while no reader collects.
 *
 * Only `@opentelemetry/api` is used, an optional peer dependency: it is required by name
 * from here, so Node looks for it from leakproof's own directory upwards, which finds the
 * app's copy when leakproof is installed in the app's `node_modules`; and the api keeps one
 * global MeterProvider per process, so the instruments land on the app's provider.
 */
const { readSignals, METRICS, otelAttribute } = require('./signals')
const errors = require('../shared/errors')
const { requirePeer } = require('./peer')
const { version } = require('../../package.json')

const API = '@opentelemetry/api'

/** The app's `@opentelemetry/api`, or a coded error that says what to install. */
function loadApi() {
  return requirePeer(API, 'leakproof/otel: registerInstruments()')
}

/** Checks that `meterProvider` is a MeterProvider (anything with `getMeter()`). */
function checkMeterProvider(meterProvider) {
  if (meterProvider === null || typeof meterProvider !== 'object' || typeof meterProvider.getMeter !== 'function') {
    throw errors.codedError(
      TypeError,
      errors.CODES.INVALID_ARGUMENT,
      `registerInstruments: meterProvider must be an OpenTelemetry MeterProvider (an object with getMeter()); got ${errors.describe(meterProvider)}`,
    )
  }
  return meterProvider
}

/** The instrument of `metric` on `meter`: an ObservableCounter for a counter, else an ObservableGauge. */
function createInstrument(meter, metric) {
  const options = { description: metric.help, unit: metric.unit }
  return metric.type === 'counter'
    ? meter.createObservableCounter(metric.otel, options)
    : meter.createObservableGauge(metric.otel, options)
}

/** Prometheus label names and values of `metric` as OpenTelemetry attributes. */
function toAttributes(labels, metric) {
  const attributes = {}
  for (const [label, value] of Object.entries(labels)) attributes[otelAttribute(metric, label)] = value
  return attributes
}

/**
 * What `registerInstruments` returns.
 * @typedef {{ unregister(): void }} OtelRegistration
 */

/**
 * Creates leakproof's instruments on a Meter named `leakproof` (with leakproof's version)
 * of `meterProvider`, by default the api's global one (`metrics.getMeterProvider()`: set
 * it first, e.g. with the SDK's `metrics.setGlobalMeterProvider`, or pass the provider).
 * Their values are read when the provider's readers collect: this thread's watcher (none
 * while no watcher runs), every named BoundedMap and the reported listener-leak sites.
 * `unregister()` removes the callback: the instruments then report nothing.
 * @param {import('@opentelemetry/api').MeterProvider} [meterProvider]
 * @returns {OtelRegistration}
 * @throws coded `ERR_LEAKPROOF_PEER_MISSING` without `@opentelemetry/api`,
 *   `ERR_LEAKPROOF_INVALID_ARGUMENT` for a `meterProvider` without `getMeter()`.
 */
function registerInstruments(meterProvider) {
  const api = loadApi()
  const provider = meterProvider === undefined ? api.metrics.getMeterProvider() : checkMeterProvider(meterProvider)
  const meter = provider.getMeter('leakproof', version)
  const instruments = METRICS.map((metric) => createInstrument(meter, metric))
  const observeAll = (result) => {
    const signals = readSignals()
    METRICS.forEach((metric, i) => {
      for (const { labels, value } of metric.values(signals)) result.observe(instruments[i], value, toAttributes(labels, metric))
    })
  }
  meter.addBatchObservableCallback(observeAll, instruments)
  let registered = true
  return {
    /** Removes the callback: later collections observe nothing of leakproof's. Idempotent. */
    unregister() {
      if (!registered) return
      registered = false
      meter.removeBatchObservableCallback(observeAll, instruments)
    },
  }
}

module.exports = { registerInstruments }

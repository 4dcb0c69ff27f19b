'use strict'

// Issue 13, "Done means": leakproof's signals read through the real OpenTelemetry metrics
// SDK (a MeterProvider with a PeriodicExportingMetricReader into its InMemoryMetricExporter,
// flushed by the test), from a real watcher at the fast settings of support/fixtures/fast-watch.js in
// this process with a real heap leak, named BoundedMaps and a tracked emitter. And, in child
// processes, an app with leakproof in its node_modules: with and without @opentelemetry/api.

const { describe, test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { execFileSync } = require('node:child_process')
const { EventEmitter } = require('node:events')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const {
  MeterProvider, PeriodicExportingMetricReader, InMemoryMetricExporter, AggregationTemporality, DataPointType, InstrumentType,
} = require('@opentelemetry/sdk-metrics')
const { watch, BoundedMap, trackEmitter, untrackEmitter, listenerLeaks } = require('leakproof')
const { registerInstruments } = require('leakproof/otel')
const { METRICS, otelAttribute } = require('../../lib/operate/signals')
const { CODES } = require('../../lib/shared/errors')
const { FAST_WATCH } = require('../support/fixtures/fast-watch')

const ROOT = path.join(__dirname, '..', '..')
const HEAP = { 'leakproof.memory.kind': 'heap' }

/**
 * A MeterProvider whose reader exports only when the test flushes (the interval is an hour),
 * with leakproof's instruments registered. `collect()` flushes and returns the newest export's
 * metrics by name; `collectErrors()` asks the reader directly and returns its errors.
 */
function pipeline() {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 })
  const provider = new MeterProvider({ readers: [reader] })
  const registration = registerInstruments(provider)
  return {
    registration,
    async collect() {
      await reader.forceFlush()
      const [scope, ...others] = exporter.getMetrics().at(-1).scopeMetrics
      assert.equal(others.length, 0)
      assert.equal(scope.scope.name, 'leakproof')
      assert.equal(scope.scope.version, require('../../package.json').version)
      return new Map(scope.metrics.map((m) => [m.descriptor.name, m]))
    },
    async collectErrors() {
      return (await reader.collect()).errors
    },
    shutdown: () => provider.shutdown(),
  }
}

/** The value of the data point of `metric` whose attributes include `attributes`; undefined if none. */
function valueAt(metric, attributes) {
  const matches = (point) => Object.entries(attributes).every(([key, value]) => point.attributes[key] === value)
  return metric?.dataPoints.find(matches)?.value
}

/** Resolves with the watcher's first `leak` event of `kind`. */
function nextLeak(watcher, kind) {
  return new Promise((resolve) => {
    const onLeak = (event) => {
      if (event.kind !== kind) return
      watcher.off('leak', onLeak)
      resolve(event)
    }
    watcher.on('leak', onLeak)
  })
}

/** Resolves once the watcher has a heap floor (after its first samples; its own timer is unref'd). */
function heapFloorTaken(watcher) {
  const taken = () => watcher.status().memory.some((m) => m.kind === 'heap' && m.floorBytes !== null)
  return new Promise((resolve) => {
    const keepAlive = setInterval(() => {}, 1000)
    const onSample = () => {
      if (!taken()) return
      watcher.off('sample', onSample)
      clearInterval(keepAlive)
      resolve()
    }
    watcher.on('sample', onSample)
  })
}

describe('leakproof/otel with the OpenTelemetry metrics SDK', () => {
  let watcher
  const sessions = new BoundedMap({ max: 3, name: 'otel-sessions' })
  const bus = trackEmitter(new EventEmitter(), { name: 'otel-bus', threshold: 3 })
  const onListenerLeak = () => {}

  before(async () => {
    // The leak tests' settings: a leak of a few MB/s is found within seconds. The restart
    // policy is on (its gauge is exported only then), and never due: a process up less than
    // a week restarts only when its limit is minutes away, and this one's is gigabytes away.
    watcher = watch({ ...FAST_WATCH, sites: false, restart: { minIntervalMs: 7 * 24 * 3600_000 } })
    listenerLeaks.on('listener-leak', onListenerLeak)
    for (let i = 0; i < 5; i++) bus.on('message', () => {}) // one site, past the threshold of 3
    for (const key of ['a', 'b', 'c', 'd', 'e']) sessions.set(key, key.repeat(100)) // two evicted for capacity
    sessions.get('e') // a hit
    sessions.get('a') // a miss
    await heapFloorTaken(watcher)
  })

  after(() => {
    watcher.stop()
    listenerLeaks.off('listener-leak', onListenerLeak)
    untrackEmitter(bus)
  })

  test('every metric of the table is an instrument with its OTel name, unit, description and kind', async () => {
    const otel = pipeline()
    const metrics = await otel.collect()
    for (const entry of METRICS) {
      const metric = metrics.get(entry.otel)
      // A gauge absent until its moment (a restart due) is checked below, on a status that has it.
      if (entry.absentUntil !== undefined && metric === undefined) continue
      assert.ok(metric, `${entry.otel} was exported`)
      assert.equal(metric.descriptor.unit, entry.unit, entry.otel)
      assert.equal(metric.descriptor.description, entry.help, entry.otel)
      if (entry.type === 'counter') {
        assert.equal(metric.descriptor.type, InstrumentType.OBSERVABLE_COUNTER, entry.otel)
        assert.equal(metric.dataPointType, DataPointType.SUM, entry.otel)
        assert.equal(metric.isMonotonic, true, entry.otel)
      } else {
        assert.equal(metric.descriptor.type, InstrumentType.OBSERVABLE_GAUGE, entry.otel)
        assert.equal(metric.dataPointType, DataPointType.GAUGE, entry.otel)
      }
      const expectedKeys = entry.labels.map((label) => otelAttribute(entry, label)).sort()
      for (const point of metric.dataPoints) assert.deepEqual(Object.keys(point.attributes).sort(), expectedKeys, entry.otel)
    }
    assert.equal(metrics.get('leakproof.memory.floor').descriptor.unit, 'By')
    assert.ok(valueAt(metrics.get('leakproof.memory.floor'), HEAP) > 0, 'a heap floor in bytes')
    await otel.shutdown()
  })

  test("a named BoundedMap's stats and a reported listener-leak site carry their attributes", async () => {
    const otel = pipeline()
    const metrics = await otel.collect()
    const map = { 'leakproof.boundedmap.name': 'otel-sessions' }
    assert.equal(valueAt(metrics.get('leakproof.boundedmap.entries'), map), 3)
    assert.equal(valueAt(metrics.get('leakproof.boundedmap.hits'), map), 1)
    assert.equal(valueAt(metrics.get('leakproof.boundedmap.misses'), map), 1)
    assert.equal(valueAt(metrics.get('leakproof.boundedmap.evictions'), { ...map, 'leakproof.eviction.reason': 'capacity' }), 2)
    assert.equal(valueAt(metrics.get('leakproof.boundedmap.evictions'), { ...map, 'leakproof.eviction.reason': 'expired' }), 0)
    const site = metrics.get('leakproof.listener_leak.listeners').dataPoints.find((p) => p.attributes['leakproof.listener.emitter'] === 'otel-bus')
    assert.ok(site, 'the otel-bus site is exported')
    assert.equal(site.attributes['leakproof.listener.event'], 'message')
    assert.match(site.attributes['leakproof.listener.site'], /operate\.otel\.test\.js:\d+:\d+$/)
    assert.ok(site.value >= 4, `listeners at the report: ${site.value}`)
    await otel.shutdown()
  })

  test('one collection reads the watcher once for all instruments, and counters only grow', async () => {
    const otel = pipeline()
    let reads = 0
    watcher.status = function () {
      reads++
      return Object.getPrototypeOf(this).status.call(this)
    }
    try {
      const first = await otel.collect()
      assert.equal(reads, 1, 'status() calls in one collection')
      for (let i = 0; i < 4; i++) sessions.get('missing')
      const second = await otel.collect()
      assert.equal(reads, 2)
      const map = { 'leakproof.boundedmap.name': 'otel-sessions' }
      assert.equal(valueAt(second.get('leakproof.boundedmap.misses'), map), valueAt(first.get('leakproof.boundedmap.misses'), map) + 4)
      assert.ok(valueAt(second.get('leakproof.forced_gc.duration'), {}) >= valueAt(first.get('leakproof.forced_gc.duration'), {}))
    } finally {
      delete watcher.status
      await otel.shutdown()
    }
  })

  test('after unregister() the instruments observe nothing new', async () => {
    const otel = pipeline()
    const map = { 'leakproof.boundedmap.name': 'otel-sessions' }
    const before = valueAt((await otel.collect()).get('leakproof.boundedmap.misses'), map)
    otel.registration.unregister()
    otel.registration.unregister() // twice is harmless
    sessions.get('missing')
    // The SDK repeats a cumulative series' last value: it must not have moved.
    const after = await otel.collect()
    assert.equal(valueAt(after.get('leakproof.boundedmap.misses'), map), before)
    assert.deepEqual(await otel.collectErrors(), [])
    await otel.shutdown()
  })

  test('a heap leak: leakproof.leak.suspected is 1 for kind heap, and leakproof.leaks counts it', { timeout: 45_000 }, async () => {
    const otel = pipeline()
    const leaked = new Map()
    const grow = setInterval(() => {
      for (let i = 0; i < 100; i++) leaked.set(leaked.size, { id: leaked.size, note: 'x'.repeat(1000) + leaked.size })
    }, 20)
    try {
      const event = await nextLeak(watcher, 'heap')
      const metrics = await otel.collect() // still growing: the leak is current
      assert.equal(valueAt(metrics.get('leakproof.leak.suspected'), HEAP), 1)
      assert.equal(metrics.get('leakproof.restart.due').dataPoints[0].value, 0, 'a leak alone makes no restart due')
      assert.ok(valueAt(metrics.get('leakproof.leaks'), HEAP) >= 1)
      assert.ok(valueAt(metrics.get('leakproof.memory.slope'), HEAP) > 0)
      assert.ok(valueAt(metrics.get('leakproof.memory.floor'), HEAP) > 0, `leak event: ${JSON.stringify(event)}`)
    } finally {
      clearInterval(grow)
      leaked.clear()
      await otel.shutdown()
    }
  })

  test('after watcher.stop() a collection succeeds, without the watcher and with the maps', async () => {
    const registeredBefore = pipeline()
    await registeredBefore.collect()
    watcher.stop()
    assert.deepEqual(await registeredBefore.collectErrors(), [])
    const registeredAfter = pipeline()
    const metrics = await registeredAfter.collect()
    assert.equal(metrics.get('leakproof.memory.floor')?.dataPoints.length ?? 0, 0, 'no watcher, no floor')
    assert.equal(valueAt(metrics.get('leakproof.boundedmap.entries'), { 'leakproof.boundedmap.name': 'otel-sessions' }), 3)
    assert.deepEqual(await registeredAfter.collectErrors(), [])
    await registeredBefore.shutdown()
    await registeredAfter.shutdown()
  })

  test('a meterProvider without getMeter() is refused with a coded error', () => {
    for (const bad of [42, 'provider', null, {}, { getMeter: 'x' }]) {
      assert.throws(() => registerInstruments(bad), (err) => {
        assert.ok(err instanceof TypeError)
        assert.equal(err.code, CODES.INVALID_ARGUMENT)
        assert.match(err.message, /^registerInstruments: meterProvider must be an OpenTelemetry MeterProvider \(an object with getMeter\(\)\); got /)
        return true
      })
    }
  })
})

describe('leakproof/otel in an app', () => {
  let appDir

  /** An app in a temporary dir with a copy of leakproof in its node_modules, and `@opentelemetry` if `withOtel`. */
  function makeApp(withOtel) {
    appDir = fs.mkdtempSync(path.join(os.tmpdir(), 'leakproof-otel-app-'))
    const installed = path.join(appDir, 'node_modules', 'leakproof')
    fs.cpSync(path.join(ROOT, 'lib'), path.join(installed, 'lib'), { recursive: true })
    for (const file of fs.readdirSync(ROOT).filter((f) => f === 'package.json' || f === 'index.js' || /^leakproof\..*\.node$/.test(f))) {
      fs.copyFileSync(path.join(ROOT, file), path.join(installed, file))
    }
    if (withOtel) fs.symlinkSync(path.join(ROOT, 'node_modules', '@opentelemetry'), path.join(appDir, 'node_modules', '@opentelemetry'), 'dir')
    fs.copyFileSync(path.join(__dirname, 'fixtures', 'otel-app.js'), path.join(appDir, 'app.js'))
    return JSON.parse(execFileSync(process.execPath, ['app.js'], { cwd: appDir, encoding: 'utf8', env: { ...process.env, NODE_PATH: '' } }))
  }

  after(() => fs.rmSync(appDir, { recursive: true, force: true }))

  test("finds the app's @opentelemetry/api and reports on the app's global MeterProvider", () => {
    const result = makeApp(true)
    assert.equal(result.registered, true)
    assert.ok(result.metrics.includes('leakproof.boundedmap.entries'), `collected: ${result.metrics}`)
    fs.rmSync(appDir, { recursive: true, force: true })
  })

  test('without @opentelemetry/api, registerInstruments() says what to install', () => {
    const result = makeApp(false)
    assert.equal(result.code, 'ERR_LEAKPROOF_PEER_MISSING')
    assert.match(result.message, /^leakproof\/otel: registerInstruments\(\) needs @opentelemetry\/api.*npm install @opentelemetry\/api/)
  })
})

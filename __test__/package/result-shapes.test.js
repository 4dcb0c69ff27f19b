'use strict'

// What crosses from Rust into JS, and what the watcher builds on it, has exactly the fields its
// public type declares, as options.test.js holds options to theirs: analyzeSnapshot() and its
// progress calls, diffSnapshots() (by ids and by paths), systemMemory(), the native monitor's
// events and trends (as they cross, against the generated binding.d.ts, and as the watcher
// emits them), status(), and every event the watcher emits (the JS-built ones too, and both
// kinds of report) on real runs, each against the listener type of its `on()`. Each value is compared, recursively, with the type the TypeScript
// compiler resolves from index.d.ts: a field in the value that the type does not declare, or a
// field the type requires that the value lacks, or a value of another kind (null where the
// type has none, a string no literal of the type allows), fails. And every field a type
// declares is seen at least once, so a field declared but never produced fails too.
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync, spawnSync } = require('node:child_process')
const v8 = require('node:v8')
const ts = require('typescript')
const { EventEmitter } = require('node:events')
const leakproof = require('../..')
const { trackEmitter, trackTimers } = leakproof
const { nextLeaks } = require('../support/listener-helpers')
const { INSTANT_WATCH } = require('../support/fixtures/fast-watch')
const { nativeBinding } = require('../../lib/shared/native')

const ROOT = path.join(__dirname, '..', '..')
const APP = path.join(__dirname, 'fixtures', 'result-shapes-app.js')
const EVENTS_APP = path.join(__dirname, 'fixtures', 'events-app.js')

// The public types, as a user's compiler sees them.
const program = ts.createProgram([path.join(ROOT, 'index.d.ts')], {
  strict: true,
  noEmit: true,
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.Node16,
  moduleResolution: ts.ModuleResolutionKind.Node16,
  types: ['node'],
  skipLibCheck: true,
})
const checker = program.getTypeChecker()

/** The types a module's file exports, by name. */
function exportedTypes(file) {
  const source = program.getSourceFile(path.join(ROOT, file))
  assert.ok(source, `${file} is part of the program`)
  const types = new Map()
  for (let symbol of checker.getExportsOfModule(checker.getSymbolAtLocation(source))) {
    if (symbol.flags & ts.SymbolFlags.Alias) symbol = checker.getAliasedSymbol(symbol)
    if (symbol.flags & (ts.SymbolFlags.Interface | ts.SymbolFlags.TypeAlias)) types.set(symbol.name, checker.getDeclaredTypeOfSymbol(symbol))
  }
  return types
}
const PUBLIC = exportedTypes('index.d.ts')
const BINDING = exportedTypes('binding.d.ts')
const publicType = (name) => PUBLIC.get(name) ?? assert.fail(`index.d.ts exports ${name}`)
const bindingType = (name) => BINDING.get(name) ?? assert.fail(`binding.d.ts exports ${name}`)

/** The properties of each object type seen in a value, by the type's name. */
const seen = new Map()
const typeName = (type) => (type.aliasSymbol ?? type.symbol)?.name ?? checker.typeToString(type)
const show = (type) => checker.typeToString(type)
const KINDS = { number: ts.TypeFlags.NumberLike, string: ts.TypeFlags.StringLike, boolean: ts.TypeFlags.BooleanLike, bigint: ts.TypeFlags.BigIntLike, symbol: ts.TypeFlags.ESSymbolLike }

/** Where `value` does not fit `type`, as lines naming the path (`where`) and what differs. */
function misfits(value, type, where, out = []) {
  if (value === null || value === undefined) {
    const flag = value === null ? ts.TypeFlags.Null : ts.TypeFlags.Undefined
    const members = type.isUnion() ? type.types : [type]
    if (!members.some((t) => t.flags & (flag | ts.TypeFlags.Any | ts.TypeFlags.Unknown))) out.push(`${where}: ${value}, typed ${show(type)}`)
    return out
  }
  const members = (type.isUnion() ? type.types : [type]).filter((t) => !(t.flags & (ts.TypeFlags.Null | ts.TypeFlags.Undefined)))
  if (members.some((t) => t.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown))) return out
  if (Array.isArray(value)) {
    const array = members.find((t) => checker.isArrayType(t))
    if (array === undefined) out.push(`${where}: an array, typed ${show(type)}`)
    else value.forEach((v, i) => misfits(v, checker.getTypeArguments(/** @type {ts.TypeReference} */ (array))[0], `${where}[${i}]`, out))
    return out
  }
  if (typeof value === 'object') {
    const objects = members.filter((t) => t.flags & ts.TypeFlags.Object || t.isIntersection())
    if (objects.length === 0) return [...out, `${where}: an object, typed ${show(type)}`]
    // Of a union of object types, the member the value fits best.
    const fits = objects.map((t) => ({ t, misfits: objectMisfits(value, t, where) })).sort((a, b) => a.misfits.length - b.misfits.length)
    objectMisfits(value, fits[0].t, where, true)
    out.push(...fits[0].misfits)
    return out
  }
  const kind = members.filter((t) => t.flags & (KINDS[typeof value] ?? 0))
  if (kind.length === 0) out.push(`${where}: ${typeof value} ${JSON.stringify(value)}, typed ${show(type)}`)
  else if (typeof value === 'string' && kind.every((t) => t.isStringLiteral()) && !kind.some((t) => /** @type {ts.StringLiteralType} */ (t).value === value)) {
    out.push(`${where}: ${JSON.stringify(value)}, typed ${show(type)}`)
  }
  return out
}

/** Where the object `value` does not fit the object type `type`; `note`: count its fields as seen. */
function objectMisfits(value, type, where, note = false) {
  const out = []
  const declared = new Map(checker.getPropertiesOfType(type).map((p) => [p.name, p]))
  for (const key of Object.keys(value)) if (!declared.has(key)) out.push(`${where}.${key}: not declared by ${show(type)}`)
  for (const [name, property] of declared) {
    if (!(name in value)) {
      if (!(property.flags & ts.SymbolFlags.Optional)) out.push(`${where}.${name}: declared by ${show(type)}, missing`)
      continue
    }
    if (note) seen.set(typeName(type), (seen.get(typeName(type)) ?? new Set()).add(name))
    misfits(value[name], checker.getTypeOfSymbol(property), `${where}.${name}`, out)
  }
  return out
}

/** Asserts that `value` fits `type` exactly. */
function assertFits(value, type, what) {
  assert.deepEqual(misfits(value, type, what), [], `${what} is not a ${show(type)}`)
}

/**
 * Asserts that every field each of `names` declares (`required`: but the optional ones) was
 * seen in some value; `elsewhere`: fields these runs cannot produce, held by another test.
 */
function assertAllSeen(names, { required = false, elsewhere = [] } = {}) {
  for (const name of names) {
    // Seen by the name the type resolves to: an alias (`MemoryTrend = Binding.Trend`) is its target's.
    const type = publicType(name)
    const properties = checker.getPropertiesOfType(type)
    const declared = properties.filter((p) => (!required || !(p.flags & ts.SymbolFlags.Optional)) && !elsewhere.includes(p.name)).map((p) => p.name)
    const missing = declared.filter((p) => !seen.get(typeName(type))?.has(p))
    assert.deepEqual(missing, [], `${name}'s fields never produced: ${missing.join(', ')}`)
  }
}

let dir
let before_
let after_
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leakproof-result-shapes-'))
  execFileSync(process.execPath, [APP, dir], { timeout: 60_000 })
  before_ = path.join(dir, 'before.heapsnapshot')
  after_ = path.join(dir, 'after.heapsnapshot')
})
after(() => fs.rmSync(dir, { recursive: true, force: true }))

test('analyzeSnapshot() and its progress calls have the fields of SnapshotSummary and AnalyzeProgress', async () => {
  const progress = []
  const summary = await leakproof.analyzeSnapshot(after_, { top: 20, onProgress: (p) => progress.push(p) })
  assertFits(summary, publicType('SnapshotSummary'), 'analyzeSnapshot()')
  assert.ok(progress.length > 0)
  progress.forEach((p, i) => assertFits(p, publicType('AnalyzeProgress'), `onProgress call ${i}`))
  assertAllSeen(['SnapshotSummary', 'ClassSummary', 'LargestObject', 'AnalyzeProgress'])
})

test('diffSnapshots() has the fields of SnapshotDiff, by ids and by paths, each shape filled in', async () => {
  const byIds = await leakproof.diffSnapshots(before_, after_)
  const byPaths = await leakproof.diffSnapshots(before_, after_, { match: 'paths' })
  assert.deepEqual([byIds.matchedBy, byPaths.matchedBy], ['ids', 'paths'])
  assertFits(byIds, publicType('SnapshotDiff'), 'diffSnapshots()')
  assertFits(byPaths, publicType('SnapshotDiff'), "diffSnapshots({ match: 'paths' })")
  assert.ok(byIds.growthRoots.some((r) => r.chain !== null) && byIds.growthRoots.some((r) => r.manyRoots !== null), 'the fixture leaks a chain and many roots')
  // A holder's built place and a map's failure come with built code only: diagnose/source-positions.test.js.
  assertAllSeen(['SnapshotDiff', 'SnapshotTotals', 'NewObjects', 'LeakSuspect', 'SuspectHolder', 'GrownCollection', 'NativeMemoryKind', 'GrowthRoot', 'GrowthChain', 'GrowthManyRoots'])
  assertAllSeen(['CodeHolder'], { elsewhere: ['generated', 'sourceMapError'] })
})

test('systemMemory() has the fields of SystemMemory, as the binding gives them and as index.js does', () => {
  assertFits(leakproof.systemMemory(), publicType('SystemMemory'), 'systemMemory()')
  assertFits(nativeBinding().systemMemory(false), bindingType('SystemMemory'), "the binding's systemMemory(false)")
  assertAllSeen(['SystemMemory'])
})

/** The settings of a native monitor that judges floors a second apart at test values. */
function monitorOptions(startedAt, overrides = {}) {
  const detector = { window: 30, minPoints: 8, warmupMs: 0, warmupEndsWhenServing: false, minDurationMs: 5000, minGrowthBytes: 1e6, minRateBytesPerSec: 1000, confidence: 0.999 }
  return { detector, intervalMs: 60_000, rssThreshold: 0.9, heapThreshold: 0.85, startedAt, ...overrides }
}

test("the native monitor's leak event and trends cross with the fields binding.d.ts declares", async () => {
  const startedAt = Date.now() - 60_000
  const events = []
  const monitor = new (nativeBinding().NativeMonitor)(monitorOptions(startedAt), (leak) => events.push(leak), () => {})
  try {
    assert.deepEqual(monitor.trends(), [], 'no trend before any floor')
    // The heap leaks towards a limit; external memory stays level, with no limit known.
    for (let i = 0; i < 30; i++) {
      monitor.recordFloor('heap', startedAt + i * 1000, 50e6 + 200_000 * i, 1e12, false, { cpuSecondsPerSecond: 0.1, requestsPerSecond: null })
      monitor.recordFloor('external', startedAt + i * 1000, 1e6, null, false, { cpuSecondsPerSecond: 0.1, requestsPerSecond: 20 })
    }
    for (let i = 0; i < 100 && events.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10))
    assert.ok(events.length > 0, 'a leak is reported')
    events.forEach((e, i) => assertFits(e, bindingType('Leak'), `leak event ${i}`))
    const trends = monitor.trends()
    assert.ok(trends.some((t) => t.leaking && typeof t.limitAt === 'number') && trends.some((t) => t.limitAt === null), JSON.stringify(trends))
    trends.forEach((t, i) => assertFits(t, bindingType('Trend'), `trends()[${i}]`))
  } finally {
    monitor.stop()
  }
})

test("the native monitor's RSS threshold event crosses with the fields binding.d.ts declares", async (t) => {
  if (leakproof.systemMemory().containerLimit === null) return t.skip('no container memory limit here: no RSS threshold')
  const events = []
  const monitor = new (nativeBinding().NativeMonitor)(monitorOptions(Date.now(), { intervalMs: 10, rssThreshold: 1e-6 }), () => {}, (threshold) => events.push(threshold))
  try {
    for (let i = 0; i < 200 && events.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10))
    assert.ok(events.length > 0, 'the RSS threshold is reported')
    assertFits(events[0], bindingType('RssThreshold'), 'the RSS threshold event')
  } finally {
    monitor.stop()
  }
})

test("the watcher's leak, heap threshold and sample events, and status(), have the fields of their public types", async (t) => {
  const watcher = leakproof.watch({ ...INSTANT_WATCH, heapThreshold: 0.001, sites: false, census: false })
  const kept = []
  const leak = setInterval(() => {
    for (let i = 0; i < 2000; i++) kept.push({ i, s: `x${i}` })
  }, 20)
  t.after(() => {
    clearInterval(leak)
    watcher.stop()
  })
  const events = { sample: [], leak: [], threshold: [] }
  for (const type of Object.keys(events)) watcher.on(type, (e) => events[type].push(e))
  for (let i = 0; i < 1000 && events.leak.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10))
  assert.ok(events.leak.length > 0 && events.threshold.length > 0, `${events.sample.length} samples, no leak or threshold yet`)
  await new Promise((resolve) => setTimeout(resolve, 200)) // a floor or more after the leak
  events.leak.forEach((e, i) => assertFits(e, publicType('LeakEvent'), `leak event ${i}`))
  events.threshold.forEach((e, i) => assertFits(e, publicType('ThresholdEvent'), `threshold event ${i}`))
  events.sample.forEach((e, i) => assertFits(e, publicType('SampleEvent'), `sample event ${i}`))
  const status = watcher.status()
  assertFits(status, publicType('WatcherStatus'), 'status()')
  assert.ok(status.memory.some((m) => m.limitAt === null) && status.memory.some((m) => typeof m.limitAt === 'number'), JSON.stringify(status.memory))
  // `thread` is on the events about a worker thread: __test__/watch/threads.test.js.
  assertAllSeen(['LeakEvent', 'MemoryTrend'], { elsewhere: ['thread'] })
  assert.ok(kept.length > 0)
})

/**
 * The watcher's events by name, as a user's listener is typed: from each `Watcher#on()`
 * overload whose event is a string literal, the type of its listener's argument.
 */
function watcherEvents() {
  const source = program.getSourceFile(path.join(ROOT, 'index.d.ts'))
  const symbol = checker.getExportsOfModule(checker.getSymbolAtLocation(source)).find((s) => s.name === 'Watcher')
  const watcher = checker.getDeclaredTypeOfSymbol(symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol)
  const events = new Map()
  for (const overload of checker.getTypeOfSymbol(watcher.getProperty('on')).getCallSignatures()) {
    const [event, listener] = overload.getParameters().map((p) => checker.getTypeOfSymbol(p))
    if (!event.isStringLiteral()) continue
    events.set(event.value, checker.getTypeOfSymbol(listener.getCallSignatures()[0].getParameters()[0]))
  }
  return events
}

/** Runs events-app.js's `scenario` in a directory of its own; the events it recorded, and its exit code. */
function recordEvents(scenario, names) {
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), `leakproof-events-${scenario}-`))
  const log = path.join(cwd, 'events.log')
  const run = spawnSync(process.execPath, [EVENTS_APP, scenario, path.join(cwd, 'dir'), log, JSON.stringify(names)], { cwd, encoding: 'utf8', timeout: 120_000 })
  const lines = fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').filter(Boolean) : []
  fs.rmSync(cwd, { recursive: true, force: true })
  return { status: run.status, stderr: run.stderr, events: lines.map((line) => v8.deserialize(Buffer.from(line, 'base64'))) }
}

test('every event the watcher emits, both kinds of report among them, has the fields of its listener type, on real runs', () => {
  const types = watcherEvents()
  const names = [...types.keys()]
  assert.equal(names.length, 13, `the events Watcher#on() types: ${names.join(', ')}`)
  // A leak followed to its pair's report and a restart (exit 75, as the policy leaves); BoundedMaps thrashing and shrinking.
  const leak = recordEvents('leak', names)
  assert.equal(leak.status, 75, `the leak scenario leaves by the restart policy: ${leak.stderr}`)
  const maps = recordEvents('maps', names)
  assert.equal(maps.status, 0, `the maps scenario ends once its events came: ${maps.stderr}`)
  const events = [...leak.events, ...maps.events]
  const byType = new Map()
  for (const e of events) byType.set(e.type, [...(byType.get(e.type) ?? []), e])
  assert.deepEqual(names.filter((name) => !byType.has(name)), [], 'every event type was emitted')
  for (const [type, emitted] of byType) emitted.forEach((e, i) => assertFits(e, types.get(type) ?? assert.fail(`${type}: not an event Watcher#on() types`), `${type} event ${i}`))
  const reports = byType.get('report')
  assert.deepEqual([...new Set(reports.map((r) => r.kind))].sort(), ['no-snapshot', 'pair'], 'both kinds of report')
  assert.ok(reports.some((r) => r.kind === 'no-snapshot' && r.suspects.length > 0), "the census' report names a holder")
  assert.ok(byType.get('heap-limit-snapshot').some((e) => e.path === null) && byType.get('heap-limit-snapshot').some((e) => e.path !== null), 'one adopted, one removed')
  assertAllSeen(['SampleEvent', 'ThresholdEvent', 'SnapshotSkippedEvent', 'HeapLimitSnapshotEvent', 'SitesEvent', 'PairReportEvent', 'NoSnapshotReportEvent', 'CensusSuspect', 'CacheThrashingEvent', 'MemoryPressureEvent', 'RestartDueEvent', 'RestartExitEvent', 'WatchErrorEvent'], { required: true })
})

test('listener-leak reports, listenerSites() and the live-sites readings have the fields of their types', async () => {
  const bus = trackEmitter(new EventEmitter(), { name: 'bus', threshold: 2 })
  const target = trackEmitter(new EventTarget(), { threshold: 2 })
  const tracker = trackTimers()
  const intervals = []
  const job = Symbol('job')
  try {
    const before = leakproof.liveSites()
    // The first report of each emitter, then a second of the bus, which has grown since.
    const reported = nextLeaks(3)
    const subscribe = (n) => {
      for (let i = 0; i < n; i++) bus.on(job, () => {})
    }
    subscribe(3)
    for (let i = 0; i < 3; i++) target.addEventListener('tick', () => {})
    await new Promise((resolve) => setImmediate(resolve))
    subscribe(3)
    for (let i = 0; i < 2; i++) intervals.push(setInterval(() => {}, 60_000))
    const leaks = await reported
    assert.deepEqual(leaks.map((leak) => leak.target), [bus, target, bus], 'the emitter itself, as its own report')
    assert.ok(leaks[2].growth < leaks[2].count, 'a later report counts what came since the previous one')
    // `target` is the user's own emitter, checked above by identity: its fields are its class's.
    const withoutTarget = (misfit) => !misfit.startsWith('listener-leak.target')
    leaks.forEach((leak, i) => assert.deepEqual(misfits(leak, publicType('ListenerLeak'), 'listener-leak').filter(withoutTarget), [], `listener-leak report ${i}`))
    const sites = leakproof.listenerSites(bus)
    assert.equal(sites[0].event, job)
    sites.forEach((site, i) => assertFits(site, publicType('ListenerSite'), `listenerSites(bus)[${i}]`))
    const after = leakproof.liveSites()
    assertFits(before, publicType('LiveSites'), 'liveSites() before')
    assertFits(after, publicType('LiveSites'), 'liveSites() after')
    const growth = leakproof.compareLiveSites(before, after)
    assert.deepEqual([...new Set(growth.map((g) => g.kind))].sort(), ['interval', 'listener'])
    growth.forEach((g, i) => assertFits(g, publicType('LiveSitesGrowth'), `compareLiveSites()[${i}]`))
    assertAllSeen(['ListenerLeak', 'ListenerSite', 'LiveSites', 'ListenerGroup', 'HandleGroup', 'LiveSitesGrowth'])
  } finally {
    for (const interval of intervals) clearInterval(interval)
    tracker.untrack()
    leakproof.untrackEmitter(bus)
    leakproof.untrackEmitter(target)
  }
})

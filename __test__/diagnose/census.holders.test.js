'use strict'

// The census of collections by reachability (lib/diagnose/census) names the holder of a leak where no
// heap snapshot fits. Each fixture in fixtures/census/ grows one collection between two passes
// and prints the census' result as one line of JSON; it runs in a child of its own, since the
// census walks the process it runs in (node:test's own objects stay out). The holders: a
// module-level Map, a library's dictionary held by the app, an emitter's listener array, an ES
// module's array, a #private Map, intervals, a Set of Buffers, a Map of zlib streams. Then
// hostile input, none of whose code may run, and a collection dropped between passes, which
// must be collected: the census keeps nothing it walked.
const { test, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFile } = require('node:child_process')
const { memoryCgroup } = require('../support/cgroup')

const FIXTURES = path.join(__dirname, 'fixtures', 'census')

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leakproof-census-test-'))
after(() => fs.rmSync(dir, { recursive: true, force: true }))

/**
 * Runs fixture `name` in a child of this Node (through `wrap`, an argv's wrapper: a cgroup's)
 * and resolves with the JSON line it printed.
 */
function runFixture(name, { execArgv = [], env = {}, wrap = (argv) => argv } = {}) {
  return new Promise((resolve, reject) => {
    const [command, ...args] = wrap([process.execPath, ...execArgv, path.join(FIXTURES, name)])
    const options = { env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024, timeout: 120_000 }
    execFile(command, args, options, (err, stdout, stderr) => {
      if (err) return reject(new Error(`${name} failed (${err.code ?? err.signal}): ${stderr}`))
      resolve(JSON.parse(stdout.trim().split('\n').at(-1)))
    })
  })
}

/** 1-based line and column of `text` on the line of `marker` in fixture `name`. */
function positionOf(name, marker, text) {
  const lines = fs.readFileSync(path.join(FIXTURES, name), 'utf8').split('\n')
  const line = lines.findIndex((l) => l.includes(marker))
  return { line: line + 1, column: lines[line].indexOf(text) + 1 }
}

/** Both passes complete, and each reports what it cost (never how long: tests check behaviour). */
function assertPasses(result) {
  for (const pass of result.passes) {
    assert.equal(pass.complete, true, JSON.stringify(pass.notReached))
    assert.ok(Number.isFinite(pass.cost.longestSliceMs) && pass.cost.longestSliceMs >= 0, JSON.stringify(pass.cost))
    assert.ok(pass.cost.slices >= 1 && pass.cost.visited > 0, JSON.stringify(pass.cost))
  }
}

/**
 * The first holder, checked against `expected` (`name`, `readablePath`, `className`, `kind`,
 * `before`, `after`, `member`); its description names it and the fixture's file.
 */
function assertFirstHolder(result, fixture, expected) {
  assertPasses(result)
  const file = path.join(FIXTURES, fixture)
  const [first] = result.holders
  assert.ok(first, `a holder on ${result.node}: ${JSON.stringify(result.passes[1].notReached)}`)
  const { holder } = first
  assert.deepEqual(
    [holder.name, first.readablePath, holder.className, holder.kind, holder.file, first.name],
    [expected.name, expected.readablePath, expected.className, expected.kind ?? 'module', file, expected.member],
    JSON.stringify(first),
  )
  assert.ok(holder.description.includes(expected.name) && holder.description.includes(file), holder.description)
  assert.ok(first.before < first.after, JSON.stringify(first))
  assert.deepEqual([first.before, first.after], [expected.before, expected.after])
  return first
}

test('The census finds the holder: a module-level Map (CommonJS)', async () => {
  const result = await runFixture('map.js')
  const first = assertFirstHolder(result, 'map.js', { name: 'cache', readablePath: 'cache', className: 'Map', member: 'Object', before: 1000, after: 3000 })
  assert.equal(first.holder.description, `cache (Map), a module-level variable of ${path.join(FIXTURES, 'map.js')}`)
  assert.equal(result.debuggerMs, 0, 'a CommonJS module is named from its own source: no Debugger round, no stop')
})

test('The census finds the holder: a module-level Map of a module whose code a compiler put in a function called at once (tsx, webpack)', async () => {
  const result = await runFixture('module-function.js')
  const first = assertFirstHolder(result, 'module-function.js', { name: 'cache', readablePath: 'cache', className: 'Map', member: 'Object', before: 1000, after: 3000 })
  assert.equal(first.holder.description, `cache (Map), a module-level variable of ${path.join(FIXTURES, 'module-function.js')}`)
})

test('The census finds the holder: a library\'s dictionary object, held by the app', async () => {
  // SessionStore#sessions, keyed by id, in node_modules/session-store; `store` is the app's.
  const result = await runFixture('session-app.js')
  const first = assertFirstHolder(result, 'session-app.js', { name: 'store', readablePath: 'store.sessions', className: 'Object', member: 'Object', before: 1000, after: 3000 })
  assert.match(first.holder.description, /^store\.sessions \(Object\), a module-level variable of /)
})

test('The census finds the holder: a listener array on a long-lived emitter', async () => {
  const result = await runFixture('listeners.js')
  assertFirstHolder(result, 'listeners.js', { name: 'bus', readablePath: 'bus._events.message', className: 'Array', member: 'Function', before: 1000, after: 3000 })
})

test('The census finds the holder: an array in an ES module\'s scope, reached through its request listener', async () => {
  const result = await runFixture('esm-scope.mjs')
  assertFirstHolder(result, 'esm-scope.mjs', { name: 'requests', readablePath: 'requests', className: 'Array', member: 'Object', before: 1000, after: 3000 })
})

/** Whether this Node strips TypeScript's types by default (22.18 and 23.6 on). */
const [MAJOR, MINOR] = process.versions.node.split('.').map(Number)
const stripsTypes = MAJOR > 23 || (MAJOR === 23 && MINOR >= 6) || (MAJOR === 22 && MINOR >= 18)

test('The census finds the holder in TypeScript run by type stripping: its file found by the source V8 runs, types blanked', { skip: stripsTypes ? false : `Node ${process.version} strips no types by default` }, async () => {
  const result = await runFixture('typed-scope.mts', { execArgv: ['--no-warnings'] })
  assertFirstHolder(result, 'typed-scope.mts', { name: 'requests', readablePath: 'requests', className: 'Array', member: 'Object', before: 1000, after: 3000 })
  assert.equal(result.debuggerMs, 0, 'named from the file: no Debugger round')
})

/**
 * The ES module service of esm-service.js, as its first report names it: `queue`, in the
 * closure of pLimit in the ES module package limit-queue, and `seen`, a module-level Map of
 * the app's routes.js ("type": "module"), each with its file, from no profile and with no
 * Debugger round: found by their source in the files the entry imports, before a round is
 * considered (`debuggerMs` would say one was taken).
 */
function assertEsmServiceNamed(result) {
  assertPasses(result)
  const pkg = path.join(result.serviceDir, 'node_modules', 'limit-queue', 'index.js')
  const routes = path.join(result.serviceDir, 'routes.js')
  const described = result.holders.map((h) => h.holder.description)
  assert.deepEqual(
    result.holders.slice(0, 2).map((h) => [h.holder.name, h.readablePath, h.holder.className, h.holder.kind, h.holder.file, h.before, h.after]),
    [
      ['queue', 'queue', 'Array', 'closure', pkg, 999, 2999],
      ['seen', 'seen', 'Map', 'module', routes, 500, 1500],
    ],
    JSON.stringify(described),
  )
  assert.equal(described[0], `queue (Array), a variable in the closure of pLimit in ${pkg}`)
  assert.equal(described[1], `seen (Map), a module-level variable of ${routes}`)
  assert.equal(result.debuggerMs, 0, 'named from the modules\' own files: no Debugger round, no stop')
}

test('The census names an ES module service\'s holders in the first report: a package\'s closure and the app\'s module, from an ES module entry', async () => {
  assertEsmServiceNamed(await runFixture('esm-service.js'))
})

test('The census names an ES module service\'s holders in the first report: ES modules loaded by import() from a CommonJS entry', async () => {
  assertEsmServiceNamed(await runFixture('esm-service.js', { env: { SERVICE_ENTRY: 'server.cjs', SERVICE_LOADS: 'import' } }))
})

test('The census names an ES module service\'s holders in the first report: ES modules loaded by require(esm)', async () => {
  assertEsmServiceNamed(await runFixture('esm-service.js', { env: { SERVICE_ENTRY: 'server.cjs', SERVICE_LOADS: 'require' } }))
})

/**
 * The holder of bundle.js' service, one file of several MB, as a report names it: with the
 * bundle's file (found by its source, or by a Debugger round: `debuggerMs` its stop), or, with
 * neither, by its line.
 */
function assertBundleHolder(result, { named }) {
  assertPasses(result)
  const [first] = result.holders
  assert.deepEqual([first?.holder.name, first?.holder.className, first?.holder.kind, first?.before, first?.after], ['cache', 'Map', 'module', 1000, 3000], JSON.stringify(first))
  const where = named ? result.bundle : `the script of the function at line ${first.holder.line}`
  assert.equal(first.holder.description, `cache (Map), a module-level variable of ${where}`)
}

test('A service bundled into one 9 MB file: its holder named by its source in the bundle, with no Debugger round', async () => {
  const result = await runFixture('bundle.js')
  assert.equal(result.debuggerMs, 0)
  assertBundleHolder(result, { named: true })
})

test('A 40 MB bundle, over what the census reads: no Debugger round, whose first stop grows with the source loaded, in the first report', async () => {
  const result = await runFixture('bundle.js', { env: { BUNDLE_MB: '40' } })
  assert.equal(result.debuggerMs, 0, 'the round is predicted over the census\' stop budget: none is taken')
  assertBundleHolder(result, { named: false })
})

test('A worker\'s census compares in one go: a Debugger round names a 9 MB bundle\'s holder, none is taken for a 24 MB bundle', async () => {
  const small = await runFixture('bundle.js', { env: { CENSUS_IN_ONE_GO: '1' } })
  assert.ok(small.debuggerMs > 0, 'the round is predicted within a worker\'s stop budget')
  assertBundleHolder(small, { named: true })
  const large = await runFixture('bundle.js', { env: { CENSUS_IN_ONE_GO: '1', BUNDLE_MB: '24' } })
  assert.equal(large.debuggerMs, 0, 'the round is predicted over a worker\'s stop budget: none is taken')
  assertBundleHolder(large, { named: false })
})

test('The census finds the holder: a #private Map of a class instance', async () => {
  const result = await runFixture('private-field.js')
  assertFirstHolder(result, 'private-field.js', { name: 'registry', readablePath: 'registry.#byId', className: 'Map', member: 'Object', before: 1000, after: 3000 })
})

test('The census finds the holder: a setInterval per request, by its callback\'s place', async () => {
  const result = await runFixture('intervals.js')
  const first = assertFirstHolder(result, 'intervals.js', {
    name: 'timers of 60000 ms', readablePath: 'timers of 60000 ms', className: 'TimersList', kind: 'timers', member: 'Timeout', before: 100, after: 300,
  })
  const { line, column } = positionOf('intervals.js', '// POLLER', '() =>')
  assert.deepEqual([first.holder.line, first.holder.column], [line, column])
  assert.equal(first.holder.description, `300 timers of 60000 ms, callback at ${path.join(FIXTURES, 'intervals.js')}:${line}:${column}`)
})

test('The census finds the holder: a Set of Buffers, with their bytes measured', async () => {
  const result = await runFixture('buffers.js')
  const first = assertFirstHolder(result, 'buffers.js', { name: 'uploads', readablePath: 'uploads', className: 'Set', member: 'Buffer', before: 1000, after: 3000 })
  assert.deepEqual([first.bytesPerEntry, first.bytesPerEntrySource], [1024, 'measured'])
})

test('The census finds the holder: a Map of zlib streams, by their native handle', async () => {
  const result = await runFixture('zlib-streams.js')
  const first = assertFirstHolder(result, 'zlib-streams.js', { name: 'feeds', readablePath: 'feeds', className: 'Map', member: 'Gzip', before: 100, after: 200 })
  assert.equal(first.memberHandle, 'Zlib')
})

test('Hostile input: no getter, trap or patched built-in runs, nothing crashes, and what was skipped is listed', async () => {
  const ranFile = path.join(dir, 'hostile-ran.txt')
  const result = await runFixture('hostile.js', { env: { CENSUS_RAN_FILE: ranFile } })
  // None of the fixtures' code ran, in this thread or the worker's.
  assert.equal(fs.existsSync(ranFile) ? fs.readFileSync(ranFile, 'utf8') : '', '')
  assert.deepEqual(result.ran, [])
  // The object of a million keys is a dictionary: one record of 1,000,000 entries, then the
  // holder of the 1,000 keys added.
  assertFirstHolder(result, 'hostile.js', { name: 'huge', readablePath: 'huge', className: 'Object', member: 'Object', before: 1_000_000, after: 1_001_000 })
  assert.deepEqual(result.passes[0].records.filter((r) => r.path === 'huge'), [{ path: 'huge', className: 'Object', entries: 1_000_000, kind: 'module', name: 'huge' }])
  // The Proxies were not looked into: the six in `proxies` and exports-proxy.js' exports at
  // least. Nor were the functions and objects the inspector would run code to describe: an
  // Error with getters (onError.lastError), a Proxy as a prototype, a bound getter.
  for (const pass of result.passes) {
    const skipped = new Map(pass.notReached.map((n) => [n.what, n]))
    assert.ok(skipped.get('Proxies')?.count >= 7, JSON.stringify(pass.notReached))
    assert.ok(skipped.has('closures of functions the inspector would run the service\'s code to describe'), JSON.stringify(pass.notReached))
    assert.ok(skipped.get('#private fields of objects the inspector would run the service\'s code to describe')?.count >= 3, JSON.stringify(pass.notReached))
    for (const { why } of pass.notReached) assert.equal(typeof why, 'string')
  }
  // The worker ran a census of its own meanwhile, and found its own leak.
  const { worker } = result
  assert.equal(worker.error, undefined)
  assert.deepEqual(worker.ran, [])
  assertFirstHolder(worker, 'hostile-worker.js', { name: 'jobs', readablePath: 'jobs', className: 'Map', member: 'Object', before: 1000, after: 3000 })
})

test('The census holds no reference between passes: a collection the app drops is collected', async () => {
  const result = await runFixture('dropped.js', { execArgv: ['--expose-gc'] })
  assertPasses(result)
  const sessions = (pass) => pass.records.filter((r) => r.name === 'sessions').map((r) => [r.path, r.entries])
  assert.deepEqual(sessions(result.passes[0]), [['sessions', 1000]], 'the first pass saw it')
  assert.equal(result.collected, true, 'the WeakRef was cleared')
  assert.equal(result.finalized, true, 'the FinalizationRegistry was called')
  assert.deepEqual(sessions(result.passes[1]), [])
  assert.deepEqual(result.holders, [])
})

test('The census counts chains no collection holds: an entry holding the one before on an emitter, a library\'s linked list', async () => {
  const result = await runFixture('chains.js')
  assertPasses(result)
  const file = path.join(FIXTURES, 'chains.js')
  const found = result.holders.map((h) => [h.holder.description, h.name, h.before, h.after])
  // Each chain is counted whole (1,000 links, then 31,000; the queue's tail is met first as
  // `pending.tail`, and a link is counted once), named by the variable that holds its first link.
  assert.deepEqual(found.slice(0, 2).sort(), [
    [`bus.latest (chain via .previous), a module-level variable of ${file}`, 'AuditEntry', 1000, 31_000],
    [`pending.head (chain via .next), a module-level variable of ${file}`, 'LinkNode', 999, 30_999],
  ], JSON.stringify(found))
  // A chain is one record, not one per link: no record under a link of either.
  for (const pass of result.passes) assert.deepEqual(pass.records.filter((r) => /^(bus\.latest|pending\.head)\[\*\]/.test(r.path)), [])
})

test('The census counts each link of a chain once: an LRU list entered from its Map does not grow, a ring counts what it gained', async () => {
  const lru = await runFixture('chains.js', { env: { LEAK_SHAPE: 'lru' } })
  assertPasses(lru)
  const list = (pass) => pass.records.filter((r) => r.path === 'module.exports.cache.head').map((r) => [r.className, r.entries])
  // 2,000 nodes, the tail met first as `cache.tail`; the Map's members enter the list in
  // many places and count nothing again.
  for (const pass of lru.passes) assert.deepEqual(list(pass), [['chain via .next', 1999]])
  assert.deepEqual(lru.holders, [])
  const ring = await runFixture('chains.js', { env: { LEAK_SHAPE: 'ring' } })
  const [first] = ring.holders
  assert.deepEqual([first?.readablePath, first?.before, first?.after], ['module.exports.ring.last', 1000, 2000], JSON.stringify(ring.holders))
})

test('The census counts sockets left open one per request by their handles', async () => {
  const result = await runFixture('chains.js', { env: { LEAK_SHAPE: 'sockets' } })
  assertPasses(result)
  const [first] = result.holders
  assert.equal(first?.holder.kind, 'handles', JSON.stringify(result.holders))
  assert.equal(first.name, 'Socket')
  assert.equal(first.memberHandle, 'TCP')
  // At least the 400 the app opened (the server's accepted ends may count too).
  assert.ok(first.after - first.before >= 400, JSON.stringify(first))
  assert.match(first.holder.description, /^\d+ open Socket handles, remote end 127\.0\.0\.1 for \d+ of \d+ read \(active handles, each a root of its own: no collection holds them\)$/)
})

test("The census counts the idle sockets of an http.Agent made per call, which the agents unref, by their handles", async () => {
  const result = await runFixture('agents.js')
  assertPasses(result)
  const [first] = result.holders
  assert.deepEqual([first?.holder.kind, first?.name, first?.memberHandle], ['handles', 'Socket', 'TCP'], JSON.stringify(result.holders))
  // The 400 made between the passes, still open (and the two pipes to the upstream's process).
  assert.ok(first.after - first.before >= 400, JSON.stringify(first))
  assert.match(first.holder.description, /^\d+ open Socket handles, remote end 127\.0\.0\.1:\d+ for \d+ of \d+ read \(/)
})

test('In a 1 GiB memory cgroup, the census names a chain, sockets by their handles, and a #private array of 500,000 without a large listing', async (t) => {
  const cgroup = memoryCgroup(`leakproof-census-shapes-${process.pid}`, 1024 ** 3)
  if (cgroup.missing !== undefined) return t.skip(cgroup.missing)
  try {
    const wrap = cgroup.command
    const [chains, sockets, large] = [
      await runFixture('chains.js', { wrap }),
      await runFixture('chains.js', { wrap, env: { LEAK_SHAPE: 'sockets' } }),
      await runFixture('large-collections.js', { wrap }),
    ]
    const first = (result) => `${result.holders[0]?.holder.description}`
    assert.match(first(chains), /^(bus\.latest \(chain via \.previous\)|pending\.head \(chain via \.next\)), a module-level variable/, first(chains))
    assert.match(first(sockets), /^\d+ open Socket handles/, first(sockets))
    assertFirstHolder(large, 'large-collections.js', { name: 'cache', readablePath: 'cache.#values', className: 'Array', member: 'Object', before: 500_000, after: 502_000 })
    for (const pass of large.passes) assert.ok(pass.cost.largestListing < 10_000, JSON.stringify(pass.cost))
    assert.equal(cgroup.oomKills(), 0)
    t.diagnostic(`longest slices in the cgroup on ${large.node}: ${[chains, sockets, large].flatMap((r) => r.passes.map((p) => p.cost.longestSliceMs.toFixed(1))).join(', ')} ms`)
  } finally {
    cgroup.remove()
  }
})

test('The census lists no large collection in one call: 500,000 entries in every place it reads, the one that grew named', async (t) => {
  const result = await runFixture('large-collections.js')
  assertFirstHolder(result, 'large-collections.js', { name: 'cache', readablePath: 'cache.#values', className: 'Array', member: 'Object', before: 500_000, after: 502_000 })
  const large = (pass) => pass.records.filter((r) => r.entries >= result.entries).map((r) => `${r.kind} ${r.path} (${r.className})`).sort()
  for (const pass of result.passes) {
    // Each was reached and counted: a variable's, a property's, a closure's, #private fields', a getter's closure's, an Array subclass.
    assert.deepEqual(large(pass), [
      'closure history (Array)', 'closure seen (Set)', 'module batch (Batch)', 'module byId (Map)', 'module cache.#index (Map)',
      'module cache.#keys (Array)', 'module cache.#values (Array)', 'module ids (Array)', 'module state.pending (Array)',
    ])
    // Yet no call listed more keys, nor an inspector's reply more properties, than a small
    // object has (a scope's variables, one of Node's tables: a few hundred): an array's keys
    // or an Array subclass' #private fields would have listed 500,001.
    assert.ok(pass.cost.largestListing > 0 && pass.cost.largestListing < 10_000, JSON.stringify(pass.cost))
    // The Array subclass' #private field was not asked for, and the pass says so.
    assert.ok(pass.notReached.some((n) => n.what.startsWith('#private fields of arrays, Maps and Sets')), JSON.stringify(pass.notReached))
  }
  // The closures were read again in the second pass (above), but the functions the first found
  // to close over their module's scope alone were not asked about again.
  const [firstCalls, secondCalls] = result.passes.map((p) => p.cost.inspectorCalls)
  assert.ok(secondCalls < 0.8 * firstCalls, `inspector calls per pass: ${firstCalls}, ${secondCalls}`)
  t.diagnostic(`longest slices on ${result.node}: ${result.passes.map((p) => `${p.cost.longestSliceMs.toFixed(1)} ms`).join(', ')}; largest listing ${result.passes.map((p) => p.cost.largestListing).join(', ')}; inspector calls ${firstCalls}, ${secondCalls}`)
})

test("leakproof's own modules and objects are not walked, a BoundedMap's entries are", async () => {
  const result = await runFixture('own-modules.js')
  // lib/cache/'s classes hold the service's data: their exports are walked as the service's.
  const cacheDir = `${path.sep}lib${path.sep}cache${path.sep}`
  assert.deepEqual(result.ownExports.filter((record) => !record.includes(cacheDir)), [], 'collections found under the exports of leakproof\'s own files')
  assert.deepEqual(result.kept.filter(([where]) => where === 'cache.#index' || where === 'sessions'), [['cache.#index', 3000], ['sessions', 3000]])
  assert.ok(result.cost.visited > 0, JSON.stringify(result.cost))
})

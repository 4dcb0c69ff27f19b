'use strict'

// Allocation sites that lead to the app: a site in a package or in Node's internals names its
// package and the app's frame that called into it, on hand-built sampling profiles (the
// protocol's shape) and in a real process that leaks through a package in node_modules. Sites
// name only what the service can change: never leakproof's own frames nor node:inspector's,
// and V8's built-ins count for their nearest caller with a script, as the pprof file folds them.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { execFile } = require('node:child_process')
const { SiteRanking, windowsFor } = require('../../lib/sites/sites')
const { sitesOfProfile } = require('../../lib/sites/profile-sites')
const { growingSites, siteThatMade } = require('../../lib/sites/growth')
const { HeapProfiles } = require('../../lib/sites/heap-profiles')
const { encodeSamplingProfile } = require('../../lib/sites/pprof')
const { isOwnFile } = require('../../lib/shared/code-origin')

const ROOT = path.join(__dirname, '..', '..')
const FIXTURE = path.join(__dirname, 'fixtures', 'sites-package-leak.js')

const APP = '/srv/app/app.js'
const SESSION_STORE = '/srv/app/node_modules/express-session/session/memory.js'
const METER = 'file:///srv/my%20app/node_modules/.pnpm/@opentelemetry+sdk-metrics@1.30.0/node_modules/@opentelemetry/sdk-metrics/build/src/Meter.js'
const HISTOGRAM = '/srv/app/node_modules/.pnpm/prom-client@15.1.0/node_modules/prom-client/lib/histogram.js'
const BOUNDED_MAP = `file://${path.join(ROOT, 'lib', 'cache', 'bounded-map.js')}`
const WATCHER = path.join(ROOT, 'lib', 'watch', 'watcher.js')
const SITES_JS = path.join(ROOT, 'lib', 'sites', 'sites.js')

/** A protocol call frame, from 1-based line and column. */
function frame(functionName, url, line, column = 1) {
  return { functionName, url, lineNumber: line - 1, columnNumber: column - 1 }
}

/** A profile node: its frame, the bytes allocated in it, its callees. */
function node(callFrame, selfSize, ...children) {
  return { callFrame, selfSize, children }
}

/** The site at `url` (and `line`, when given) among a `sitesOfProfile` result. */
function siteAt(sites, url, line) {
  const found = [...sites.values()].filter((site) => site.url === url && (line === undefined || site.line === line))
  assert.equal(found.length, 1, `one site at ${url}:${line}: ${JSON.stringify(found)}`)
  return found[0]
}

/** The app frames a site's bytes came through, with their bytes (`null` for none). */
function callersOf(site) {
  return [...site.callers.values()].map(({ appFrame, liveBytes }) => [appFrame && `${appFrame.functionName} ${appFrame.url}:${appFrame.line}`, liveBytes])
}

/**
 * The profile of a service that leaks through packages:
 * - app → express-session → node: (the bytes allocated in node: are the package's);
 * - app → leakproof → pnpm's @opentelemetry/sdk-metrics (scoped), at an encoded file URL;
 * - app → pnpm's prom-client;
 * - express-session's own prune timer, and a leakproof timer calling it: no app frame;
 * - Node's own timer: a node: site, no package, no app frame;
 * - app → leakproof → node: (charged to the app's line, as before).
 */
function serviceProfile() {
  const timers = frame('listOnTimeout', 'node:internal/timers', 555)
  return {
    head: node(frame('(root)', '', 0), 0,
      node(frame('handle', APP, 42, 16), 0,
        node(frame('set', SESSION_STORE, 119, 5), 1000,
          node(frame('stringify', 'node:internal/util', 10), 500)),
        node(frame('track', BOUNDED_MAP, 5), 0,
          node(frame('record', METER, 80, 3), 2000))),
      node(frame('observe', APP, 60), 0,
        node(frame('observe', HISTOGRAM, 73), 300)),
      node(timers, 70,
        node(frame('prune', SESSION_STORE, 200), 400)),
      node(frame('tick', WATCHER, 300), 0,
        node(frame('prune', SESSION_STORE, 200), 100),
        node(frame('sample', 'node:internal/util', 20), 60)),
      node(frame('report', APP, 90), 0,
        node(frame('set', BOUNDED_MAP, 9), 0,
          node(frame('emit', 'node:events', 1), 50)))),
  }
}

test('a site in a package names the package and the app frame nearest the allocation', () => {
  const sites = sitesOfProfile(serviceProfile())
  const store = siteAt(sites, SESSION_STORE, 119)
  assert.equal(store.liveBytes, 1500)
  assert.equal(store.package, 'express-session')
  assert.deepEqual(callersOf(store), [[`handle ${APP}:42`, 1500]])
  assert.deepEqual([...store.callers.values()][0].appFrame, { functionName: 'handle', url: APP, line: 42, column: 16 })

  const meter = siteAt(sites, METER)
  assert.equal(meter.package, '@opentelemetry/sdk-metrics')
  assert.deepEqual(callersOf(meter), [[`handle ${APP}:42`, 2000]], 'leakproof\'s frame between them is skipped')

  const histogram = siteAt(sites, HISTOGRAM)
  assert.equal(histogram.package, 'prom-client')
  assert.deepEqual(callersOf(histogram), [[`observe ${APP}:60`, 300]])
})

test('a package\'s own timer has no app frame, leakproof\'s frames are not the app\'s, and Node\'s sites have no package', () => {
  const sites = sitesOfProfile(serviceProfile())
  const prune = siteAt(sites, SESSION_STORE, 200)
  assert.equal(prune.package, 'express-session')
  assert.deepEqual(callersOf(prune), [[null, 500]])

  const timers = siteAt(sites, 'node:internal/timers')
  assert.equal(timers.package, null)
  assert.deepEqual(callersOf(timers), [[null, 70]])

  // With no application frame above, node: bytes stay Node's, but not under leakproof's own
  // timer: that is leakproof's work. The app's own sites get no fields.
  assert.ok(![...sites.values()].some((s) => s.url === 'node:internal/util' && s.line === 20), 'leakproof\'s work is no site')
  const report = siteAt(sites, APP, 90)
  assert.equal(report.liveBytes, 50)
  assert.ok(!('package' in report) && !('callers' in report), JSON.stringify(report))
  assert.ok(![...sites.values()].some((s) => s.url === BOUNDED_MAP), 'no site is leakproof\'s')
})

test('a package file directly in node_modules, or a Windows path, is read right', () => {
  const profile = {
    head: node(frame('(root)', '', 0), 0,
      node(frame('main', 'C:\\srv\\app\\main.js', 3), 0,
        node(frame('get', 'C:\\srv\\app\\node_modules\\@scope\\cache\\index.js', 7), 10),
        node(frame('loose', '/srv/app/node_modules/loose.js', 1), 20))),
  }
  const sites = sitesOfProfile(profile)
  assert.equal(siteAt(sites, 'C:\\srv\\app\\node_modules\\@scope\\cache\\index.js').package, '@scope/cache')
  const loose = siteAt(sites, '/srv/app/node_modules/loose.js')
  assert.ok(!('package' in loose), 'a file directly in node_modules is no package\'s')
})

test('the walk is iterative: a stack deeper than JavaScript\'s own is read', () => {
  const head = node(frame('(root)', '', 0), 0)
  let tip = node(frame('handle', APP, 42), 0)
  head.children.push(tip)
  for (let depth = 0; depth < 200_000; depth++) {
    const next = node(frame('recurse', SESSION_STORE, 119), 0)
    tip.children.push(next)
    tip = next
  }
  tip.selfSize = 64
  const store = siteAt(sitesOfProfile({ head }), SESSION_STORE)
  assert.deepEqual(callersOf(store), [[`handle ${APP}:42`, 64]])
})

test('growingSites names the caller whose bytes grew, keeps the ranking and the package site\'s key', () => {
  const profileWith = (steadyBytes, leakingBytes, renderBytes) => ({
    head: node(frame('(root)', '', 0), 0,
      node(frame('warmUp', APP, 10), 0, node(frame('set', SESSION_STORE, 119), steadyBytes)),
      node(frame('login', APP, 42), 0, node(frame('set', SESSION_STORE, 119), leakingBytes)),
      node(frame('render', APP, 70), renderBytes)),
  })
  const ranked = growingSites(sitesOfProfile(profileWith(5000, 100, 100)), sitesOfProfile(profileWith(5000, 900, 400)), 5)
  assert.deepEqual(ranked, [
    {
      functionName: 'set', url: SESSION_STORE, line: 119, column: 1, liveBytes: 5900, growthBytes: 800, made: [],
      package: 'express-session', appFrame: { functionName: 'login', url: APP, line: 42, column: 1 },
    },
    // The app's own site: as before, no package and no appFrame.
    { functionName: 'render', url: APP, line: 70, column: 1, liveBytes: 400, growthBytes: 300, made: [] },
  ])
})

/** A piscina worker's profile: the pool's message handler with its own bytes, the task module's below it. */
function poolWorkerProfile(poolBytes, taskBytes) {
  return {
    head: node(frame('(root)', '', 0), 0,
      node(frame('onMessage', '/srv/app/node_modules/piscina/dist/worker.js', 169), poolBytes, node(frame('render', '/srv/app/render.js', 8), taskBytes))),
  }
}

test('in a pool\'s worker, the pool\'s own sites with no app frame rank after the task module\'s, whatever they grew', () => {
  const before = sitesOfProfile(poolWorkerProfile(0, 0))
  const after = sitesOfProfile(poolWorkerProfile(5_100_000, 4_700_000))
  const order = (runtime) => growingSites(before, after, 5, runtime).map((site) => site.functionName)
  // Elsewhere (or a pool that is not this worker's): the most growth first, as ever.
  assert.deepEqual(order(null), ['onMessage', 'render'])
  assert.deepEqual(order('tinypool'), ['onMessage', 'render'])
  assert.deepEqual(order('piscina'), ['render', 'onMessage'])
})

test("a ranking in a pool's worker does not end on the pool's own site: it samples on until the task module's grows", async () => {
  const MiB = 2 ** 20
  // What each full GC of the worker leaves, window by window (the first before the ranking):
  // the pool's per-task garbage has its 4 samples' worth (2 MiB at 512 KiB) before the task module has any.
  const rank = async (runtime) => {
    const profiles = [poolWorkerProfile(0, 0), poolWorkerProfile(3 * MiB, 0), poolWorkerProfile(3 * MiB, 3 * MiB)]
    const profiler = { start: async () => {}, stop() {}, running: true, startedAt: 0, profile: async () => profiles[0] }
    const sampler = { profiler: () => profiler, afterFullGc: async () => (profiles.length > 1 ? profiles.shift() : profiles[0]), runtime }
    const options = { sitesSamplingBytes: 512 * 1024, sitesWindowMs: 1, top: 5 }
    const ranking = new SiteRanking(options, () => {}, new HeapProfiles({ maxDiskBytes: 1e9, maxSnapshots: 4, sitesSamplingBytes: 512 * 1024 }), sampler)
    const alive = setInterval(() => {}, 1000) // the ranking's windows do not keep the process alive
    const ranked = await ranking.rank(null).finally(() => clearInterval(alive))
    ranking.stop()
    return ranked.sites.map((site) => site.functionName)
  }
  assert.deepEqual(await rank('piscina'), ['render', 'onMessage'])
  // Elsewhere the first site with enough samples ends it, as ever.
  assert.deepEqual(await rank(null), ['onMessage'])
})

test('a site says which classes its growth was made for, and siteThatMade leads from a class to the app\'s line', () => {
  const DRIVER = '/srv/app/node_modules/pg/lib/client.js'
  const profileWith = (sockets, timers, driverSockets) => ({
    head: node(frame('(root)', '', 0), 0,
      // The app opens sockets through Node: `Socket` (and `Duplex`, its base) below its line.
      node(frame('openUpstream', APP, 40), 0,
        node(frame('connect', 'node:net', 230), 0,
          node(frame('Socket', 'node:net', 360), 100 * sockets,
            node(frame('Duplex', 'node:internal/streams/duplex', 60), 50 * sockets)))),
      // A package opens sockets too, for the app's query and for its own pool timer.
      node(frame('query', APP, 80), 0,
        node(frame('connect', DRIVER, 50), 0,
          node(frame('Socket', 'node:net', 360), 100 * driverSockets))),
      node(frame('listOnTimeout', 'node:internal/timers', 555), 0,
        node(frame('reconnect', DRIVER, 90), 0,
          node(frame('Socket', 'node:net', 360), 1000 * driverSockets))),
      node(frame('remind', APP, 20), 0,
        node(frame('setTimeout', 'node:timers', 140), 0,
          node(frame('Timeout', 'node:internal/timers', 180), 80 * timers)))),
  })
  const ranked = growingSites(sitesOfProfile(profileWith(10, 10, 10)), sitesOfProfile(profileWith(500, 20, 100)), 5)
  const opener = ranked.find((s) => s.functionName === 'openUpstream')
  assert.deepEqual(opener.made, [{ name: 'Socket', growthBytes: 490 * 150 }, { name: 'Duplex', growthBytes: 490 * 50 }])
  // The app's line of the most Socket growth, a package's site leading to its app frame; the
  // driver's own timer grew more sockets, but no line of the app made them.
  assert.equal(ranked.find((s) => s.functionName === 'reconnect').appFrame, null)
  assert.deepEqual(siteThatMade(ranked, 'Socket'), { functionName: 'openUpstream', url: APP, line: 40, column: 1, growthBytes: 490 * 150 })
  const fewerSockets = ranked.filter((s) => s.functionName !== 'openUpstream')
  assert.deepEqual(siteThatMade(fewerSockets, 'Socket'), { functionName: 'query', url: APP, line: 80, column: 1, growthBytes: 90 * 100 })
  assert.deepEqual(siteThatMade(ranked, 'Timeout'), { functionName: 'remind', url: APP, line: 20, column: 1, growthBytes: 10 * 80 })
  // A class no growing site made, or made only where no app frame called: no line.
  assert.equal(siteThatMade(ranked, 'Gzip'), null)
  assert.equal(siteThatMade(ranked.filter((s) => s.functionName === 'reconnect'), 'Socket'), null)
  assert.equal(siteThatMade([], 'Socket'), null)
})

/** Every site of a `sitesOfProfile` result, as `function url:line liveBytes`. */
function allSites(sites) {
  return [...sites.values()].map((site) => `${site.functionName} ${site.url}:${site.line} ${site.liveBytes}`).sort()
}

/**
 * A profile of a service whose process also runs leakproof's sampling, with hand-built ids for
 * pprof: the app's leak through built-ins, leakproof's reading of a profile from a timer and
 * from node:inspector's message callback, Node's own timer using a built-in, and V8's API
 * allocating with no script at all.
 */
function sampledServiceProfile() {
  let id = 0
  const at = (callFrame, selfSize, ...children) => ({ ...node(callFrame, selfSize, ...children), id: ++id })
  return {
    head: at(frame('(root)', '', 0), 0,
      // The app's leak: the bytes are allocated inside V8's built-ins it calls.
      at(frame('handle', APP, 42, 16), 0,
        at(frame('Map', '', 0), 3000,
          at(frame('set', '', 0), 4000)),
        at(frame('repeat', '', 0), 500)),
      // A package's function whose built-in allocates.
      at(frame('set', SESSION_STORE, 119, 5), 0, at(frame('push', '', 0), 700)),
      // leakproof's ranking, resumed from a timer: its own code and the built-ins it calls.
      at(frame('processTimers', 'node:internal/timers', 512), 0,
        at(frame('#rankSince', SITES_JS, 385), 0,
          at(frame('sitesOfProfile', SITES_JS, 99), 900,
            at(frame('Map', '', 0), 6000)),
          at(frame('setTimeout', 'node:timers', 140), 0,
            at(frame('insert', 'node:internal/priority_queue', 26), 800)))),
      // The inspector's answer (the profile itself), parsed in node:inspector's callback.
      at(frame('#onMessage', 'node:inspector', 81, 13), 0,
        at(frame('parse', '', 0), 50_000,
          at(frame('post', 'node:internal/inspector/network', 10), 300))),
      // Node's own timer using a built-in: Node's site, the nearest with a script.
      at(frame('listOnTimeout', 'node:internal/timers', 555), 70,
        at(frame('repeat', '', 0), 30)),
      // V8's API allocating with no script above it.
      at(frame('(V8 API)', '', 0), 0, at(frame('Map', '', 0), 2000))),
    samples: [],
  }
}

test('leakproof\'s own frames and node:inspector\'s are never a site, nor are the bytes of its sampling work', () => {
  const sites = sitesOfProfile(sampledServiceProfile())
  assert.deepEqual(allSites(sites), [
    `handle ${APP}:42 7500`,
    'listOnTimeout node:internal/timers:555 100',
    `set ${SESSION_STORE}:119 700`,
  ])
  // Ranked as the watcher and `leakproof sites` rank them: nothing of leakproof's or the inspector's.
  assert.deepEqual(growingSites(new Map(), sites, 10).map((site) => site.functionName), ['handle', 'set', 'listOnTimeout'])
})

test('leakproof\'s files are its own wherever it is installed, and the app that calls it is charged', () => {
  const installs = [
    path.join(ROOT, 'index.js'),
    `file://${path.join(ROOT, 'lib', 'sites', 'sites.js')}`,
    '/srv/app/node_modules/leakproof/lib/sites/sites.js',
    // A packed install, with pnpm: the package's folder in its store.
    '/srv/app/node_modules/.pnpm/leakproof@0.1.0/node_modules/leakproof/lib/sites/sites.js',
    'C:\\srv\\app\\node_modules\\leakproof\\index.js',
  ]
  for (const url of installs) {
    assert.ok(isOwnFile(url), url)
    // Run from Node's timer, leakproof's frame and the built-in under it are no site; called by
    // the app (a BoundedMap's set, say), they count for the app's line.
    const profile = {
      head: node(frame('(root)', '', 0), 0,
        node(frame('listOnTimeout', 'node:internal/timers', 555), 0,
          node(frame('sitesOfProfile', url, 99), 100, node(frame('Map', '', 0), 200))),
        node(frame('handle', APP, 42), 0,
          node(frame('set', url, 9), 10, node(frame('set', '', 0), 20)))),
    }
    assert.deepEqual(allSites(sitesOfProfile(profile)), [`handle ${APP}:42 30`], url)
  }
  // Not leakproof's: the repository's tests, another package whose name starts the same, an app folder of that name.
  for (const url of [FIXTURE, '/srv/app/node_modules/leakproof-extra/index.js', '/srv/leakproof/app.js']) {
    assert.ok(!isOwnFile(url), url)
  }
})

test('a built-in counts for its nearest caller with a script; with none at all it is no site', () => {
  const profile = {
    head: node(frame('(root)', '', 0), 0,
      node(frame('handle', APP, 42), 0,
        node(frame('Map', '', 0), 100, node(frame('set', '', 0), 200))),
      node(frame('processTicksAndRejections', 'node:internal/process/task_queues', 67), 0,
        node(frame('resolve', '', 0), 0, node(frame('repeat', '', 0), 300))),
      node(frame('(V8 API)', '', 0), 400, node(frame('Map', '', 0), 500)),
      node(frame('Map', '', 0), 600)),
  }
  assert.deepEqual(allSites(sitesOfProfile(profile)), [
    `handle ${APP}:42 300`,
    'processTicksAndRejections node:internal/process/task_queues:67 300',
  ])
})

/** pprof-format, the decoder @datadog/pprof uses (a devDependency's own dependency). */
function pprofFormat() {
  return require(require.resolve('pprof-format', { paths: [path.dirname(require.resolve('@datadog/pprof'))] }))
}

/** The stacks of an encoded pprof profile, leaf first, as `function url:line`, with their bytes, sorted. */
function pprofStacks(encoded) {
  const decoded = pprofFormat().Profile.decode(encoded)
  const strings = decoded.stringTable.strings
  const functions = new Map(decoded.function.map((fn) => [Number(fn.id), `${strings[Number(fn.name)]} ${strings[Number(fn.filename)]}:${Number(fn.startLine)}`]))
  const locations = new Map(decoded.location.map((location) => [Number(location.id), functions.get(Number(location.line[0].functionId))]))
  return decoded.sample.map((sample) => [sample.locationId.map((id) => locations.get(Number(id))).join(' < '), Number(sample.value[1])]).sort()
}

test('pprof folds built-ins by the same rule: into the site, else the nearest frame with a script; it leaves leakproof\'s own work out, as the ranking does', () => {
  const profile = sampledServiceProfile()
  const stacks = pprofStacks(encodeSamplingProfile(profile, { samplingIntervalBytes: 1024 }))
  assert.deepEqual(stacks, [
    // The service's: built-ins folded into the app's and the package's lines, and into Node's timer.
    [`handle ${APP}:42`, 7500],
    [`set ${SESSION_STORE}:119`, 700],
    ['listOnTimeout node:internal/timers:555', 100],
    // No script at all: every frame stays.
    ['Map :0 < (V8 API) :0', 2000],
  ].sort())
  // leakproof's own work (its ranking, node:inspector's messages: 58,000 bytes here) is not
  // in the file; the ranking's sites are the leaves of the service's stacks.
  const total = stacks.reduce((sum, [, bytes]) => sum + bytes, 0)
  assert.equal(total, 7500 + 700 + 100 + 2000)
  assert.ok(!stacks.some(([stack]) => stack.includes(SITES_JS) || stack.includes('node:inspector')), JSON.stringify(stacks))
  const leaves = new Set(stacks.map(([stack]) => stack.split(' < ')[0]))
  for (const site of sitesOfProfile(profile).values()) assert.ok(leaves.has(`${site.functionName} ${site.url}:${site.line}`), site.functionName)
})

test('a slow leak is sampled for more windows, up to ten; a fast one, or one of unknown rate, for three', () => {
  const KiB = 1024
  // 10 KB/s over 20 s windows at 512 KiB a sample: four samples take about 210 s, past ten windows.
  assert.equal(windowsFor(10_000, 512 * KiB, 20_000), 10)
  // 0.35 MB/s over 1 s windows: four samples take six windows.
  assert.equal(windowsFor(350_000, 512 * KiB, 1000), 6)
  // Four samples within a window: three windows, as ever (one may be blocked by a snapshot).
  assert.equal(windowsFor(5_000_000, 512 * KiB, 20_000), 3)
  for (const slope of [0, -1, NaN, undefined]) assert.equal(windowsFor(slope, 512 * KiB, 1000), 3)
})

// V8's sampling heap profiler can lose the liveness of samples taken in optimized code: the
// samples are there (includeObjectsCollectedByMajorGC shows them) but count as collected
// while the objects are held. Without an optimizing tier the same loop always gives ~13 MB
// of live samples; with one, it varies from run to run and on Node 24 and 26 (Maglev compiles
// sooner) it gave at most one 16 KB sample in every run of 2026-11-23 (docs/sites.md,
// "A limit of V8: samples lost in optimized code"). The test runs where sampling sees these allocations.
const SAMPLING_MISSES_ALLOCATIONS = Number(process.versions.node.split('.')[0]) >= 24 && 'V8\'s sampling heap profiler of Node 24+ counts samples taken in Maglev-compiled code as collected (docs/sites.md, "A limit of V8: samples lost in optimized code")'

test('a real process that leaks through a package in node_modules: the top site is the package\'s, and leads to the app\'s line', { skip: SAMPLING_MISSES_ALLOCATIONS }, async () => {
  const stdout = await new Promise((resolve, reject) => {
    execFile(process.execPath, ['--expose-gc', '--allow-natives-syntax', FIXTURE], { timeout: 60_000 }, (err, out, stderr) => {
      if (err) reject(new Error(`${err.message}\n${stderr}`))
      else resolve(out)
    })
  })
  const sites = JSON.parse(stdout)
  const [top] = sites
  // The fixture ranks from the same process, leakproof's reading of profiles and all: none of that is a site.
  for (const site of sites) {
    assert.ok(site.url !== '' && !isOwnFile(site.url) && !site.url.startsWith('node:inspector'), JSON.stringify(site))
  }
  // The profile counts per function: a frame's line is where its function starts.
  const handleLine = fs.readFileSync(FIXTURE, 'utf8').split('\n').findIndex((line) => line.includes('// app frame')) + 1
  assert.equal(top.package, 'fake-store', JSON.stringify(top))
  assert.match(top.url, /[\\/]node_modules[\\/]fake-store[\\/]index\.js$/)
  assert.equal(top.functionName, 'set')
  assert.equal(top.appFrame.url, FIXTURE)
  assert.equal(top.appFrame.functionName, 'handle')
  assert.equal(top.appFrame.line, handleLine)
})

'use strict'

/**
 * The sampling profiles behind the `sites` rankings, where people look at memory: a real
 * leaking service's `.heapprofile` read by the real DevTools frontend of a headless Chromium,
 * its pprof read by `go tool pprof` (Debian's golang), both with the leaking function first;
 * `leakproof sites`; the profile written before the snapshot when the heap passes its
 * threshold; the files private, atomic and within the disk budget; hostile files refused.
 */
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const readline = require('node:readline')
const { spawn, spawnSync } = require('node:child_process')
const { SiteProfiler } = require('../../lib/sites/profiler')
const { HeapProfiles, readHeapProfile, rankProfile } = require('../../lib/sites/heap-profiles')
const { encodeSamplingProfile } = require('../../lib/sites/pprof')
const { SnapshotStore } = require('../../lib/capture/snapshots')
const { CODES } = require('../../lib/shared/errors')
const { debianTool, launchChromium, missingTool } = require('../support/debian-tools')
const { readWithDevTools } = require('../support/devtools-heapprofile')

const ROOT = path.join(__dirname, '..', '..')
const BIN = path.join(ROOT, 'bin', 'leakproof.js')
const SERVICE = path.join(__dirname, '..', 'support', 'fixtures', 'leaking-service.js')
/**
 * The service's settings: ~6 MB/s of sessions, found within seconds; the `sites` ranking
 * writes its profile, then the heap passes its threshold (48 MB: well after the leak, found at
 * about 15 MB, started the ranking's sampling), which writes a profile before the threshold
 * snapshot; a `before-snapshot` line as each snapshot starts; leakproof/http on a port of its own.
 */
const SERVICE_OPTIONS = {
  durationMs: 120_000,
  perSecond: 3000,
  admin: true,
  beforeSnapshot: true,
  heapThresholdBytes: 48 * 1024 * 1024,
  events: ['leak', 'threshold', 'snapshot', 'snapshot-skipped', 'sites', 'error'],
  watch: { cooldownMs: 0, followUpGrowthBytes: 1024 ** 3 },
}
/** The admin token of the service's leakproof/http. */
const TOKEN = 'profiles-test-token-0123456789'

let dir
/** The service's run: its events, and the `before-snapshot` lines (support/fixtures/leaking-service.js). */
let run
let go = null

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leakproof-profiles-'))
  go = debianTool('golang-go', 'go')
  run = runService(path.join(dir, 'service'))
})

after(() => {
  fs.rmSync(dir, { recursive: true, force: true })
})

/** GET `path` of the service with the token: `{ status, type, body }` (body a Buffer). */
async function fetchAdmin(port, pathname) {
  const response = await fetch(`http://127.0.0.1:${port}${pathname}`, { headers: { authorization: `Bearer ${TOKEN}` } })
  return { status: response.status, type: response.headers.get('content-type'), body: Buffer.from(await response.arrayBuffer()) }
}

/**
 * Runs the leaking service until the threshold's snapshot starts (or 120 s pass), then kills
 * it. GETs leakproof/http's profile/heap as it starts and at its first `sites` event. Resolves
 * with `{ events, dir, before, after }`, the two answers.
 */
function runService(serviceDir) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SERVICE, JSON.stringify({ ...SERVICE_OPTIONS, dir: serviceDir })], { env: { ...process.env, ADMIN_TOKEN: TOKEN }, stdio: ['ignore', 'pipe', 'inherit'] })
    const events = []
    const fetched = {}
    const fetching = []
    let port
    const lines = readline.createInterface({ input: child.stdout })
    lines.on('line', (line) => {
      const event = JSON.parse(line)
      events.push(event)
      if (event.port !== undefined) {
        port = event.port
        fetching.push(fetchAdmin(port, '/leakproof/profile/heap').then((answer) => { fetched.before = answer }))
      }
      if (event.type === 'sites' && fetched.after === undefined) {
        fetched.after = null
        fetching.push(fetchAdmin(port, '/leakproof/profile/heap').then((answer) => { fetched.after = answer }))
      }
      if (event.type === 'before-snapshot' && event.reason === 'threshold') Promise.allSettled(fetching).then(() => child.kill('SIGKILL'))
    })
    child.on('error', reject)
    child.on('close', () => Promise.all(fetching).then(() => resolve({ events, dir: serviceDir, ...fetched }), reject))
  })
}

/**
 * The last `sites` event that carries its profile's files: the watcher keeps `maxSnapshots`
 * profiles, so on a slow machine, where more rankings come before the threshold, an earlier
 * event's files may have been deleted, as they should be.
 */
function lastProfiledSites(events) {
  const sites = events.findLast((e) => e.type === 'sites' && e.profile !== undefined)
  assert.ok(sites, `a sites event with its profile: ${JSON.stringify(events.filter((e) => e.type !== 'sample').map((e) => e.type))}`)
  return sites
}

/** A call frame of a hand-built profile, from 1-based line and column. */
function frame(functionName, url, line, column = 1) {
  return { functionName, scriptId: '1', url, lineNumber: line - 1, columnNumber: column - 1 }
}

/** A node of a hand-built profile. */
function node(id, callFrame, selfSize, ...children) {
  return { callFrame, selfSize, id, children }
}

/** The bytes of a profile's tree. */
function totalSelfSize(head) {
  let total = 0
  const stack = [head]
  while (stack.length > 0) {
    const n = stack.pop()
    total += n.selfSize
    stack.push(...n.children)
  }
  return total
}

/** `go tool pprof ARGS FILE`'s output (the test skips where go could not be installed). */
function pprof(t, file, ...args) {
  if (go.missing !== undefined) return missingTool(t, go.missing)
  const result = spawnSync(go.path, ['tool', 'pprof', ...args, file], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, HOME: process.env.HOME ?? os.tmpdir() } })
  assert.equal(result.status, 0, `go tool pprof: ${result.stderr}`)
  return result.stdout
}

/** The function names of `go tool pprof -top`'s rows, first row first. */
function topFunctions(output) {
  const lines = output.split('\n')
  const header = lines.findIndex((line) => /^\s*flat\s+flat%/.test(line))
  assert.ok(header >= 0, output)
  return lines.slice(header + 1).filter((line) => line.trim() !== '').map((line) => line.trim().split(/\s+/).slice(5).join(' '))
}

test('a leaking service: the sites event names its profile files, private and complete, and the ranking\'s function is first in leakproof sites', async () => {
  const { events, dir: serviceDir } = await run
  const sites = lastProfiledSites(events)
  assert.equal(sites.sites[0].functionName, 'handle')
  for (const file of [sites.profile.heapprofile, sites.profile.pprof]) {
    assert.equal(path.dirname(file), serviceDir)
    assert.equal(fs.statSync(file).mode & 0o777, 0o600, file)
  }
  assert.equal(fs.statSync(serviceDir).mode & 0o777, 0o700)
  assert.deepEqual(fs.readdirSync(serviceDir).filter((name) => name.endsWith('.tmp')), [], 'no temporary file left')
  const { profile } = await readHeapProfile(sites.profile.heapprofile)
  assert.equal(rankProfile(profile, 1)[0].functionName, 'handle')

  const cli = spawnSync(process.execPath, [BIN, 'sites', serviceDir, '--json'], { encoding: 'utf8' })
  assert.equal(cli.status, 0, cli.stderr)
  const printed = JSON.parse(cli.stdout)
  assert.equal(printed.sites[0].functionName, 'handle')
  assert.equal(printed.sites[0].url, SERVICE)
  const text = spawnSync(process.execPath, [BIN, 'sites', sites.profile.heapprofile, '--top', '3'], { encoding: 'utf8' })
  assert.equal(text.status, 0, text.stderr)
  assert.match(text.stdout.split('\n')[1], new RegExp(`^ {2}1\\. +[\\d.]+ [KM]B {2}handle ${SERVICE.replace(/[.]/g, '\\.')}:\\d+:\\d+$`))
})

test('near the heap limit (past heapThreshold) the profile is written first, then the snapshot starts', async () => {
  const { events } = await run
  const threshold = events.find((e) => e.type === 'threshold' && e.kind === 'heap')
  assert.ok(threshold, 'the heap passed its threshold')
  const started = events.find((e) => e.type === 'before-snapshot' && e.reason === 'threshold')
  assert.ok(started, 'the threshold snapshot started')
  assert.ok(started.profiles.some((name) => name.endsWith('-threshold.heapprofile')), `a threshold profile before the snapshot: ${started.profiles}`)
  assert.ok(events.indexOf(threshold) < events.indexOf(started))
})

test('the .heapprofile opens in the DevTools frontend of a real Chromium, the leaking function first', async (t) => {
  const { events } = await run
  const sites = lastProfiledSites(events)
  const launched = await launchChromium()
  if (launched.missing !== undefined) return missingTool(t, launched.missing)
  try {
    const text = fs.readFileSync(sites.profile.heapprofile, 'utf8')
    const read = await readWithDevTools(launched.browser, text)
    const { profile } = await readHeapProfile(sites.profile.heapprofile)
    assert.equal(read.total, totalSelfSize(profile.head), 'DevTools counts every byte of the profile')
    // The file is V8's own tree: DevTools' Bottom-Up lists V8's built-ins (String.prototype.repeat,
    // Map.prototype.set: no script) apart from the function that called them. The first
    // function of a script is the leaking one.
    const first = read.rows.find((row) => row.url !== '')
    assert.equal(first.functionName, 'handle', JSON.stringify(read.rows.slice(0, 4)))
    assert.equal(first.url, SERVICE)
    t.diagnostic(`DevTools of ${read.browserVersion}: ${read.rows.length} functions, ${read.total} bytes`)
  } finally {
    await launched.browser.close()
  }
})

test('the pprof file is read by go tool pprof with the leaking function at the top', async (t) => {
  const { events } = await run
  const sites = lastProfiledSites(events)
  const top = pprof(t, sites.profile.pprof, '-top', '-sample_index=space')
  if (top === undefined) return
  assert.equal(topFunctions(top)[0], 'handle', top)
  assert.match(top, /Type: space/)
  const objects = pprof(t, sites.profile.pprof, '-top', '-sample_index=objects')
  assert.equal(topFunctions(objects)[0], 'handle', objects)
})

test('leakproof/http serves the newest profile as pprof behind the token: 404 before the first, then go tool pprof reads it', async (t) => {
  const { before: none, after: served } = await run
  assert.equal(none.status, 404)
  assert.equal(JSON.parse(none.body).error.code, 'no_profile')
  assert.equal(served.status, 200)
  assert.equal(served.type, 'application/octet-stream')
  assert.deepEqual([...served.body.subarray(0, 2)], [0x1f, 0x8b], 'gzipped')
  const file = path.join(dir, 'served.pb.gz')
  fs.writeFileSync(file, served.body)
  const top = pprof(t, file, '-top')
  if (top === undefined) return
  assert.equal(topFunctions(top)[0], 'handle', top)
})

test('pprof: values, stacks ending at the site, and positions as go tool pprof reads them', async (t) => {
  const app = '/srv/app.js'
  const profile = {
    head: node(1, frame('(root)', '', 0), 0,
      node(2, frame('serve', app, 10), 100,
        node(3, frame('repeat', '', 0), 4000), // a built-in: folded into serve
        node(4, frame('handle', app, 20, 3), 0,
          node(5, frame('set', '', 0), 7000),
          node(6, frame('write', 'node:internal/streams/writable', 500), 300))),
      node(7, frame('listOnTimeout', 'node:internal/timers', 555), 50)),
    samples: [{ size: 64, nodeId: 3, ordinal: 1 }, { size: 64, nodeId: 5, ordinal: 2 }, { size: 64, nodeId: 5, ordinal: 3 }],
  }
  const file = path.join(dir, 'hand.pb')
  fs.writeFileSync(file, encodeSamplingProfile(profile, { samplingIntervalBytes: 1024, timeMs: Date.UTC(2026, 10, 23), durationMs: 5000 }))
  const raw = pprof(t, file, '-raw')
  if (raw === undefined) return
  assert.match(raw, /PeriodType: space bytes\nPeriod: 1024\n/)
  assert.match(raw, /Duration: 5s/)
  assert.match(raw, /objects\/count space\/bytes\[dflt\]/)
  const locations = new Map([...raw.matchAll(/^\s+(\d+): 0x0 M=\d+ (\S+) (\S*):(\d+) s=(\d+)$/gm)].map(([, id, fn, file, line]) => [id, `${fn} ${file}:${line}`]))
  const samples = [...raw.matchAll(/^\s+(\d+)\s+(\d+): ([\d ]+?) ?$/gm)].map(([, objects, bytes, stack]) => ({
    objects: Number(objects),
    bytes: Number(bytes),
    stack: stack.split(' ').map((id) => locations.get(id)),
  }))
  const sorted = samples.sort((a, b) => b.bytes - a.bytes)
  // One object of 64 B sampled at 1 KiB stands for 1 / (1 - e^-(64/1024)) = 16.5 objects.
  assert.deepEqual(sorted, [
    { objects: 33, bytes: 7300, stack: [`handle ${app}:20`, `serve ${app}:10`] },
    { objects: 17, bytes: 4100, stack: [`serve ${app}:10`] },
    { objects: 1, bytes: 50, stack: ['listOnTimeout node:internal/timers:555'] },
  ])
})

test('profiles share the snapshots\' disk budget: the oldest profiles go first, snapshots are never deleted for one, and no room is an error', async () => {
  const profilesDir = path.join(dir, 'budget')
  const profiler = new SiteProfiler(4096)
  await profiler.start()
  const kept = Array.from({ length: 2000 }, (_, i) => ({ i, pad: 'p'.repeat(100) + i }))
  const profile = await profiler.profile()
  profiler.stop()
  assert.ok(kept.length > 0)
  // What one profile writes (its .heapprofile and its .pb.gz, both without leakproof's own
  // work), measured in a roomy directory of its own.
  const probe = await new HeapProfiles({ dir: path.join(dir, 'budget-probe'), maxDiskBytes: 1e9, maxSnapshots: 4, sitesSamplingBytes: 4096 }).add(profile, { reason: 'leak', startedAt: Date.now() })
  const size = fs.statSync(probe.heapprofile).size + fs.statSync(probe.pprof).size
  // Room for two profiles and a half: the third deletes the first.
  const budget = 2 * size + Math.floor(size / 2)
  const profiles = new HeapProfiles({ dir: profilesDir, maxDiskBytes: budget, maxSnapshots: 4, sitesSamplingBytes: 4096 })
  const first = await profiles.add(profile, { reason: 'leak', startedAt: Date.now() - 1000, time: Date.now() - 2000 })
  await profiles.add(profile, { reason: 'leak', startedAt: Date.now() - 1000, time: Date.now() - 1000 })
  const third = await profiles.add(profile, { reason: 'threshold', startedAt: Date.now() - 1000 })
  assert.equal(fs.existsSync(first.heapprofile), false, 'the oldest profile was deleted for the newest')
  assert.equal(fs.existsSync(third.heapprofile), true)
  assert.equal(profiles.newest(), third)

  // A snapshot of this process filling the budget: never deleted for a profile, which is refused instead.
  const snapshot = path.join(profilesDir, `leakproof-2026-01-01T00-00-00-000Z-${process.pid}-0-0-leak.heapsnapshot`)
  fs.writeFileSync(snapshot, Buffer.alloc(budget))
  await assert.rejects(profiles.add(profile, { reason: 'leak', startedAt: Date.now() }), /no room for a sampling profile/)
  assert.equal(fs.existsSync(snapshot), true)
  assert.equal(profiles.newest().reason, 'leak', 'kept in memory all the same')
  assert.equal(profiles.newest().heapprofile, null)

  // And a snapshot's room counts the profiles: the store deletes them (the oldest first) to make room.
  const storeDir = path.join(dir, 'store')
  const store = new HeapProfiles({ dir: storeDir, maxDiskBytes: 1e9, maxSnapshots: 4, sitesSamplingBytes: 4096 })
  const old = await store.add(profile, { reason: 'leak', startedAt: Date.now() })
  const profileBytes = fs.statSync(old.heapprofile).size + fs.statSync(old.pprof).size
  // Stopped in beforeSnapshot, which runs once the room is made: no snapshot of this process is written.
  const beforeSnapshot = () => {
    throw new Error('room made')
  }
  const snapshots = new SnapshotStore({ dir: storeDir, maxSnapshots: 4, maxDiskBytes: 250_000 + profileBytes - 1, cooldownMs: 0, memoryFactor: 1, writer: 'in-process', beforeSnapshot })
  await assert.rejects(snapshots.capture('leak', { heapUsed: 1, predicted: { bytes: 250_000, pauseMs: 1 }, maxPauseMs: Infinity }), /room made/)
  assert.equal(fs.existsSync(old.heapprofile), false, 'the profile made room for the snapshot')
})

test("an evaluation a main thread makes in a watched worker is leakproof's work, whatever frame of the worker it interrupted", async () => {
  const inspector = require('node:inspector')
  const { withoutOwnWork, ownEvaluation } = require('../../lib/sites/own-work')
  const { sitesOfProfile } = require('../../lib/sites/profile-sites')
  const session = new inspector.Session()
  session.connect()
  const post = (method, params = {}) => new Promise((resolve, reject) => session.post(method, params, (err, result) => (err ? reject(err) : resolve(result))))
  const kept = "(globalThis.evaluationKept = Array.from({ length: 4000 }, (_, i) => ({ i, text: 'kept' + i }))).length"
  /** The evaluated script's subtree of a real sampling profile (V8 gives it no URL), taken as `expression` runs. */
  const evaluated = async (expression) => {
    await post('HeapProfiler.startSampling', { samplingInterval: 256 })
    await post('Runtime.evaluate', { expression, returnByValue: true })
    const { profile } = await post('HeapProfiler.getSamplingProfile')
    await post('HeapProfiler.stopSampling')
    const scripts = []
    const stack = [profile.head]
    while (stack.length > 0) {
      const at = stack.pop()
      if (at.callFrame.url === 'node:inspector') scripts.push(...at.children.filter((child) => child.callFrame.url === '' && child.callFrame.functionName === ''))
      stack.push(...at.children)
    }
    // The one holding what it kept; node:inspector's other calls show anonymous built-ins too.
    return scripts.sort((a, b) => bytes(b) - bytes(a))[0]
  }
  const bytes = (n) => n.selfSize + n.children.reduce((sum, child) => sum + bytes(child), 0)
  try {
    const own = await evaluated(ownEvaluation(kept))
    const plain = await evaluated(kept)
    assert.ok(bytes(own) > 100_000 && bytes(plain) > 100_000, `${bytes(own)} and ${bytes(plain)} bytes sampled`)
    // V8 runs the evaluation at an interrupt, on top of what the worker runs: piscina's
    // message handler, or a task of the pool.
    const POOL = '/srv/app/node_modules/piscina/dist/worker.js'
    const TASK = '/srv/app/memo-render.js'
    const worker = (script) => ({
      head: node(1, frame('(root)', '', 0), 0,
        node(2, frame('onMessage', POOL, 169), 3000, script, node(3, frame('render', TASK, 8), 5000, structuredClone(script)))),
    })
    const siteBytes = (profile) => Object.fromEntries([...sitesOfProfile(profile).values()].map((site) => [site.functionName, site.liveBytes]))
    // Its work is left out of the profile written and charged to no site; the worker's own bytes stay.
    const ownKept = withoutOwnWork(worker(own))
    assert.ok(bytes(ownKept.head) - 8000 < 0.01 * bytes(own), `${bytes(ownKept.head) - 8000} bytes of the evaluation kept`)
    const ownSites = siteBytes(worker(own))
    assert.ok(ownSites.onMessage - 3000 < 0.01 * bytes(own) && ownSites.render - 5000 < 0.01 * bytes(own), JSON.stringify(ownSites))
    // An expression evaluated as it is would be charged to the frame it interrupted.
    const plainSites = siteBytes(worker(plain))
    assert.ok(plainSites.onMessage - 3000 > 0.9 * bytes(plain), JSON.stringify(plainSites))
  } finally {
    session.disconnect()
  }
})

test('without a dir the profile is kept in memory only', async () => {
  const profiles = new HeapProfiles({ maxDiskBytes: 1e9, maxSnapshots: 4, sitesSamplingBytes: 4096 })
  const entry = await profiles.add({ head: node(1, frame('(root)', '', 0), 0), samples: [] }, { reason: 'leak', startedAt: 1 })
  assert.equal(entry.heapprofile, null)
  assert.equal(entry.pprof, null)
  assert.equal(profiles.newest(), entry)
})

test('hostile or missing profiles get a coded error, and the CLI exit code 1 (2 for bad arguments)', async () => {
  const bad = path.join(dir, 'hostile')
  fs.mkdirSync(bad)
  const cases = {
    'truncated.heapprofile': '{"head":{"callFrame":{"functionName":"a","url":"","lineNumber":0,"columnNumber":0},"selfSize":1,"id":1,"children":[',
    'array.heapprofile': '[1,2,3]',
    'no-children.heapprofile': JSON.stringify({ head: { callFrame: frame('a', '', 1), selfSize: 1, id: 1 } }),
    'negative.heapprofile': JSON.stringify({ head: node(1, frame('a', '', 1), -5) }),
    'samples.heapprofile': JSON.stringify({ head: node(1, frame('a', '', 1), 0), samples: 'all of them' }),
  }
  for (const [name, text] of Object.entries(cases)) {
    const file = path.join(bad, name)
    fs.writeFileSync(file, text)
    await assert.rejects(readHeapProfile(file), (err) => err.code === CODES.PROFILE_UNREADABLE && err.message.startsWith(file), name)
  }
  // A chain deeper than JavaScript's stack (written as text: JSON.stringify would overflow):
  // checked, ranked and encoded without overflowing it.
  const depth = 200_000
  const opening = (id) => `{"callFrame":${JSON.stringify(frame(`f${id}`, '/srv/deep.js', 1 + (id % 50)))},"selfSize":0,"id":${id},"children":[`
  const leaf = JSON.stringify(node(depth, frame('leaf', '/srv/deep.js', 1), 64))
  const deepFile = path.join(dir, 'deep.heapprofile')
  fs.writeFileSync(deepFile, `{"head":${Array.from({ length: depth - 1 }, (_, i) => opening(i + 1)).join('')}${leaf}${']}'.repeat(depth - 1)},"samples":[]}`)
  const { profile } = await readHeapProfile(deepFile)
  assert.equal(rankProfile(profile, 1)[0].functionName, 'leaf')
  assert.ok(encodeSamplingProfile(profile, { samplingIntervalBytes: 1024 }).length > 0)

  const empty = path.join(dir, 'empty')
  fs.mkdirSync(empty)
  await assert.rejects(readHeapProfile(empty), (err) => err.code === CODES.PROFILE_UNREADABLE && /holds no \.heapprofile/.test(err.message))
  await assert.rejects(readHeapProfile(path.join(dir, 'missing')), (err) => err.code === CODES.PROFILE_UNREADABLE && /ENOENT/.test(err.message))

  const cli = (...args) => spawnSync(process.execPath, [BIN, 'sites', ...args], { encoding: 'utf8' })
  const truncated = cli(path.join(bad, 'truncated.heapprofile'))
  assert.equal(truncated.status, 1)
  assert.match(truncated.stderr, /not JSON .*\[ERR_LEAKPROOF_PROFILE_UNREADABLE\]/)
  assert.equal(cli(empty).status, 1)
  assert.equal(cli().status, 2)
  assert.equal(cli(empty, empty).status, 2)
  assert.equal(cli(empty, '--top', '0').status, 2)
})

test("the profile written leaves leakproof's own work out, as the pprof does; the service's bytes and samples stay", () => {
  const { withoutOwnWork } = require('../../lib/sites/own-work')
  const frame = (functionName, url) => ({ functionName, url, scriptId: '1', lineNumber: 0, columnNumber: 0 })
  const census = path.join(__dirname, '..', '..', 'lib', 'diagnose', 'census', 'walk.js')
  const bounded = path.join(__dirname, '..', '..', 'lib', 'cache', 'bounded-map.js')
  const node = (id, functionName, url, selfSize, children = []) => ({ id, callFrame: frame(functionName, url), selfSize, children })
  const profile = {
    head: node(1, '(root)', '', 0, [
      node(2, 'handle', SERVICE, 100, [node(3, 'set', bounded, 40, [node(4, 'set', '', 50)])]),
      node(5, 'pass', census, 10, [node(6, 'post', 'node:inspector', 500)]),
      node(7, 'processTimers', 'node:internal/timers', 7, [node(8, 'walk', census, 3)]),
    ]),
    samples: [2, 3, 4, 5, 6, 6, 7, 8].map((nodeId, ordinal) => ({ nodeId, ordinal, size: 1 })),
  }
  const kept = withoutOwnWork(profile)
  const shape = (n) => [n.callFrame.functionName, n.selfSize, n.children.map(shape)]
  // The service's call into a BoundedMap stays the service's; the census' work goes, and its
  // caller with nothing else left below it; Node's timer stays with its own bytes.
  assert.deepEqual(shape(kept.head), ['(root)', 0, [['handle', 100, [['set', 40, [['set', 50, []]]]]], ['processTimers', 7, []]]])
  assert.deepEqual(kept.samples.map((s) => s.nodeId), [2, 3, 4, 7])
  assert.equal(profile.head.children.length, 3, 'the profile given is left as it was')

})

'use strict'

// The holder as a label (lib/diagnose/holder-label.js), what a fleet groups by: the same code
// leaking must give one label value on every instance and after every restart, though its
// holder's text carries a random id, a temp path and counts. Real census runs of one service
// copied into two temp directories (two instances), the first run again (a restart); then the
// rules on their own, the report shapes and hostile fields, and what the watcher keeps of it
// (Tally: one label per leaking kind, kept while a pair confirms it or the leak gets worse).
const { test, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFile } = require('node:child_process')
const { holderLabel, stablePath, stableText } = require('../../lib/diagnose/holder-label')
const { Tally } = require('../../lib/watch/tally')

const TAKE_CENSUS = path.join(__dirname, 'fixtures', 'census', 'take-census.js')

/** A service whose leak's holder is reached through a key with a random id, its entries' keys carrying the pid. */
const SERVICE = `'use strict'
const { censusAround, printAndExit } = require(${JSON.stringify(TAKE_CENSUS)})
const { ownHolderLabel } = require(${JSON.stringify(path.join(__dirname, '..', '..', 'lib', 'diagnose', 'holder-label.js'))})
const crypto = require('node:crypto')
const registry = {}
const tenant = 'tenant_' + crypto.randomBytes(6).toString('hex')
registry[tenant] = { sessions: new Map() }
function handleRequest(id) {
  registry[tenant].sessions.set('s' + id + '-' + process.pid, { id, at: Date.now() })
}
module.exports = { handleRequest }
let served = 0
const serve = (count) => { for (const end = served + count; served < end; served++) handleRequest(served) }
serve(1000)
censusAround(() => serve(Number(process.env.DURING))).then((result) => {
  // The label this process writes into its report (the watcher's), beside the census' holders.
  printAndExit({ ...result, own: ownHolderLabel({ kind: 'no-snapshot', suspects: result.holders }) })
})
`

const roots = []
after(() => {
  for (const root of roots) fs.rmSync(root, { recursive: true, force: true })
})

/**
 * A copy of SERVICE in folder `pod` of a temp directory (a new one without `root`), as a deploy
 * or a pod would have it: `<root>/<pod>/app/service.js`.
 */
function installService(pod, root = fs.mkdtempSync(path.join(os.tmpdir(), 'leakproof-holder-label-'))) {
  roots.push(root)
  const file = path.join(root, pod, 'app', 'service.js')
  fs.mkdirSync(path.dirname(file), { recursive: true })
  fs.writeFileSync(file, SERVICE)
  return file
}

/** The census' result of one run of `file`, its leak `during` requests long. */
function runService(file, during) {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [file], { env: { ...process.env, DURING: String(during) }, timeout: 120_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`${file} failed (${err.code ?? err.signal}): ${stderr}`))
      resolve(JSON.parse(stdout.trim().split('\n').at(-1)))
    })
  })
}

/** A report without a snapshot as the watcher emits it, its suspects the census' holders. */
function censusReport(holders, fields = {}) {
  return { type: 'report', kind: 'no-snapshot', time: 1_000, pid: 1, threadId: 0, path: null, leak: { kind: 'heap', since: 0 }, suspects: holders, ...fields }
}

test('one service leaking on instances in temp directories and after a restart gives one label, with no id, temp path or count in it', async () => {
  const first = installService('srv')
  const second = installService('srv')
  const runs = await Promise.all([runService(first, 2000), runService(second, 3000)])
  runs.push(await runService(first, 2500))
  const holders = runs.map((run) => run.holders[0])
  for (const holder of holders) assert.ok(holder, 'the census named a holder')
  // What the labels are made from differs between the runs: the id and the path.
  assert.equal(new Set(holders.map((h) => h.holder.description)).size, 3, holders.map((h) => h.holder.description).join('\n'))
  const labels = runs.map((run) => holderLabel(censusReport(run.holders)))
  for (const label of labels) assert.deepEqual(label, labels[0])
  assert.deepEqual(labels[0], { holder: 'registry.tenant_*.sessions (Map)', site: 'srv/app/service.js', share: null })
  for (const run of runs) assert.deepEqual(run.own, { holder: labels[0].holder, site: 'service.js' })
})

test("copies in folders of one directory: the path tells them apart, the label the process writes (its main script's folder) does not", async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'leakproof-holder-label-'))
  const runs = await Promise.all([runService(installService('pod-a', root), 2000), runService(installService('pod-b', root), 2500)])
  const fromPaths = runs.map((run) => holderLabel(censusReport(run.holders)).site)
  assert.deepEqual(fromPaths, ['pod-a/app/service.js', 'pod-b/app/service.js'])
  for (const run of runs) assert.deepEqual(run.own, { holder: 'registry.tenant_*.sessions (Map)', site: 'service.js' })
  // Readers (the page, the MCP server, the metric) take the label the report carries.
  assert.deepEqual(holderLabel(censusReport(runs[0].holders, { holderLabel: runs[0].own })), { ...runs[0].own, share: null })
})

test("one service started from another script of its package (a built entry, a launcher): the label the process writes is relative to the package's folder", async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'leakproof-holder-label-'))
  const service = installService('pod', root)
  const pkg = path.join(root, 'pod')
  fs.writeFileSync(path.join(pkg, 'package.json'), '{ "name": "pod" }\n')
  fs.mkdirSync(path.join(pkg, 'bin'))
  const launcher = path.join(pkg, 'bin', 'start.js')
  fs.writeFileSync(launcher, `require(${JSON.stringify(service)})\n`)
  const runs = await Promise.all([runService(service, 2000), runService(launcher, 2000)])
  for (const run of runs) assert.deepEqual(run.own, { holder: 'registry.tenant_*.sessions (Map)', site: 'app/service.js' })
})

test('paths: a package from node_modules on, a temp directory and the install prefix left out, ids as *', () => {
  const cases = [
    ['/srv/app/src/session.ts', 'app/src/session.ts'],
    ['file:///srv/app/src/session.ts', 'app/src/session.ts'],
    ['/tmp/leakproof-fleet-Ab12Cd/svc/service.js', 'svc/service.js'],
    ['/private/var/folders/x1/y2z/T/build-9/dist/main.js', 'dist/main.js'],
    ['C:\\deploy\\v2\\dist\\main.js', 'v2/dist/main.js'],
    ['/app/node_modules/.pnpm/lru@1.2.3/node_modules/lru/index.js', 'lru/index.js'],
    ['/home/u/site/.next/server/chunks/3fa9b2c1d4e5.js', 'server/chunks/*.js'],
    ['main.js', 'main.js'],
    [path.join(os.tmpdir(), 'run-Xy12', 'svc', 'main.js'), 'svc/main.js'],
  ]
  for (const [file, expected] of cases) assert.equal(stablePath(file), expected, file)
})

test('text: addresses, UUIDs, hex and random ids, and numbers of four digits or more are replaced; words and small numbers kept', () => {
  assert.equal(stableText('sessions[u-12345] at 0x7ffd5e8c'), 'sessions[u-*] at *')
  assert.equal(stableText('job 550e8400-e29b-41d4-a716-446655440000 of pid 4,957'), 'job * of pid *')
  assert.equal(stableText('cache_deadbeef12.items of sess_Xk9aP2qLr7Tz'), 'cache_*.items of sess_*')
  // A random hex id may have no letter: it reads as the one that has.
  assert.equal(stableText('tenant_123456789012'), stableText('tenant_12ab34cd56ef'))
  assert.equal(stableText('utf8Buffer  timers of 100 ms, sha256, getUser2ById3'), 'utf8Buffer timers of 100 ms, sha256, getUser2ById3')
})

test('report shapes: a pair names its first growth root, then grown collections, then suspects; a site is a file, a function place cut to its name', () => {
  const codeHolder = { name: 'store.sessions', className: 'Map', kind: 'module', file: '/srv/app/store.js', line: 12, column: 7, description: 'store.sessions (Map), a module-level variable of /srv/app/store.js' }
  const pair = { kind: 'pair', growthRoots: [{ name: '(GC roots)', holder: null }, { name: 'Map', share: 0.93, holder: codeHolder }], grownCollections: [], suspects: [] }
  assert.deepEqual(holderLabel(pair), { holder: 'store.sessions (Map)', site: 'srv/app/store.js', share: 0.93 })
  const fromCollections = { kind: 'pair', growthRoots: [], grownCollections: [{ holder: { ...codeHolder, className: 'function handle at /srv/app/store.js:40:3', file: undefined } }], suspects: [] }
  assert.deepEqual(holderLabel(fromCollections), { holder: 'store.sessions (function handle)', site: '', share: null })
  // Many roots: no file of their own; not the line that made them either, which the sites
  // ranking finds for some reports and not for others.
  const handles = censusReport([{ readablePath: 'Socket handles', share: 2, holder: { name: 'Socket handles', className: 'Socket', kind: 'handles', file: null, line: null }, madeAt: { url: 'file:///srv/app/upstream.js', line: 31, column: 5 } }])
  assert.deepEqual(holderLabel(handles), { holder: 'Socket handles (Socket)', site: '', share: 1 })
  assert.deepEqual(holderLabel(censusReport([{ ...handles.suspects[0], madeAt: null }])), holderLabel(handles))
  // Node's module cache holds all the app loaded: the app's own holder is named before it.
  const moduleCache = { name: 'Object', share: 1, holder: { name: '$Module._cache', className: 'Object', kind: 'module', file: 'node:internal/modules/helpers', description: '' } }
  const rendered = { holder: { name: 'rendered', className: 'Map', kind: 'module', file: '/srv/app/render.js', line: 6 } }
  assert.deepEqual(holderLabel({ kind: 'pair', growthRoots: [moduleCache], grownCollections: [rendered], suspects: [] }), { holder: 'rendered (Map)', site: 'srv/app/render.js', share: null })
  assert.equal(holderLabel({ kind: 'pair', growthRoots: [moduleCache], grownCollections: [], suspects: [] }).holder, '$Module._cache (Object)')
  assert.equal(holderLabel(censusReport([])), null)
  assert.equal(holderLabel({ kind: 'pair', growthRoots: [], grownCollections: [], suspects: [{ name: 'Object', holder: null }] }), null)
})

test("words: what a module exports as the module writes it; a built holder's path without a compiler's import alias, a written one's as it is", () => {
  const exported = { name: 'module.exports.container.audit.trail', className: 'Map', kind: 'module', file: '/srv/app/container.js' }
  assert.equal(holderLabel({ kind: 'pair', growthRoots: [{ holder: exported }], grownCollections: [], suspects: [] }).holder, 'container.audit.trail (Map)')
  assert.equal(holderLabel(censusReport([{ readablePath: 'module.exports', holder: { ...exported, className: 'Object' } }])).holder, 'module.exports (Object)')
  const built = (path) => censusReport([{ readablePath: path, holder: { name: path.split('.')[0], className: 'Map', kind: 'closure', file: '/srv/app/src/main.ts', generated: { file: '/srv/app/dist/main.js' } } }])
  const aliases = ['container_1', 'import_container', '_container__WEBPACK_IMPORTED_MODULE_0__', 'express__WEBPACK_IMPORTED_MODULE_2___default', '_container']
  for (const alias of aliases) assert.equal(holderLabel(built(`${alias}.container.trail`)).holder, 'container.trail (Map)', alias)
  // A path that is the alias alone, or starts from no alias, stays.
  assert.equal(holderLabel(built('container_1')).holder, 'container_1 (Map)')
  assert.equal(holderLabel(built('container.trail')).holder, 'container.trail (Map)')
  // A private field as code writes it, whichever evidence: the pair's edge is `["#byId"]`.
  const privateField = { name: 'registry["#byId"]', className: 'Map', kind: 'module', file: '/srv/app/registry.js' }
  assert.equal(holderLabel({ kind: 'pair', growthRoots: [{ holder: privateField }], grownCollections: [], suspects: [] }).holder, 'registry.#byId (Map)')
  // In code people write (no source map placed it), `retry_2` and `_cache` are the user's.
  const written = censusReport([{ readablePath: 'retry_2.pending', holder: { name: 'retry_2', className: 'Map', kind: 'module', file: '/srv/app/retry.js' } }])
  assert.equal(holderLabel(written).holder, 'retry_2.pending (Map)')
})

test("where it is declared: a collection in a field of the app's class is labelled by the class and field, in the class's file, whatever path reached it", () => {
  const owner = { className: 'AuditService', field: 'trail', file: '/srv/app/src/audit.service.ts', line: 9, column: 1 }
  const viaContainer = censusReport([{ readablePath: 'module.exports.container.audit.trail', holder: { name: 'module.exports', className: 'Map', kind: 'exports', file: '/srv/app/src/container.ts', owner } }])
  const viaHandler = { kind: 'pair', growthRoots: [{ holder: { name: 'svc.trail', className: 'Map', kind: 'closure', file: '/srv/app/src/routes.ts', owner } }], grownCollections: [], suspects: [] }
  const label = { holder: 'AuditService.trail (Map)', site: 'app/src/audit.service.ts', share: null }
  assert.deepEqual(holderLabel(viaContainer), label)
  assert.deepEqual(holderLabel(viaHandler), label)
  assert.equal(holderLabel(censusReport([{ readablePath: 'svc.#trail', holder: { name: 'svc', className: 'Map', kind: 'module', file: '/srv/app/a.js', owner: { ...owner, field: '#trail' } } }])).holder, 'AuditService.#trail (Map)')
  // A chain's links and many roots are no field's: their path names them.
  const chain = { kind: 'pair', growthRoots: [{ chain: { links: 40 }, holder: { name: 'queue.head', className: 'Job', kind: 'module', file: '/srv/app/q.js', owner } }], grownCollections: [], suspects: [] }
  assert.equal(holderLabel(chain).holder, 'queue.head (Job)')
  assert.equal(holderLabel(censusReport([{ readablePath: 'q.head', holder: { name: 'q', className: 'chain via .next', kind: 'module', file: '/srv/app/q.js', owner } }])).holder, 'q.head (chain via .next)')
  // An owner without its class, field or file is no owner.
  for (const odd of [null, 'x', { ...owner, field: '' }, { ...owner, file: 7 }, { className: 'A' }]) {
    assert.equal(holderLabel(censusReport([{ readablePath: 'a.b', holder: { name: 'a', className: 'Map', kind: 'module', file: '/srv/app/a.js', owner: odd } }])).holder, 'a.b (Map)', JSON.stringify(odd))
  }
})

test('hostile or old reports give null or a cut label, never a throw', () => {
  for (const report of [null, 7, 'text', {}, { kind: 'pair' }, { kind: 'pair', growthRoots: 'x' }, { suspects: [null, 5, { holder: 'text' }] }]) {
    assert.equal(holderLabel(report), null, JSON.stringify(report))
  }
  const odd = holderLabel(censusReport([{ readablePath: 42, share: Number.NaN, holder: { name: ['x'], className: null, kind: 5, file: 9, line: 'x' } }]))
  assert.deepEqual(odd, { holder: '(unnamed) (?)', site: '', share: null })
  const long = holderLabel(censusReport([{ readablePath: `a.${'b'.repeat(500)}`, holder: { name: 'a', className: 'Map', file: `/${'d/'.repeat(300)}f.js`, line: 3 } }]))
  assert.equal(long.holder.length, 96)
  assert.ok(long.holder.endsWith('…'))
  assert.equal(long.site, 'd/d/f.js')
})

test('the watcher keeps one label per leaking kind and worker thread: a pair confirming keeps it, another holder replaces it, a leak getting worse keeps it', () => {
  const tally = new Tally()
  const holder = (name, fields = {}) => ({ readablePath: name, holder: { name, className: 'Map', kind: 'module', file: '/srv/app/a.js', line: 4, ...fields } })
  tally.note('leak', { kind: 'heap', since: 500, time: 900, threadId: 0 })
  tally.note('report', censusReport([holder('cache')], { time: 1_000 }))
  assert.deepEqual(tally.holders.map(({ kind, holder: h, site }) => [kind, h, site]), [['heap', 'cache (Map)', 'srv/app/a.js']])
  // The pair names the same holder at another place in the file (here none): the label stays as it was.
  const root = { share: 0.9, holder: { name: 'cache', className: 'Map', kind: 'module', file: '/srv/app/a.js' } }
  tally.note('report', { kind: 'pair', time: 2_000, threadId: 0, path: '/d/r.json', leaking: [{ kind: 'heap' }, { kind: 'external' }], growthRoots: [root], grownCollections: [], suspects: [] })
  assert.deepEqual(tally.holders.map(({ kind, holder: h, site, time }) => [kind, h, site, time]), [['heap', 'cache (Map)', 'srv/app/a.js', 2_000], ['external', 'cache (Map)', 'srv/app/a.js', 2_000]])
  // A worker thread's report is its own thread's, not this one's kinds.
  tally.note('report', censusReport([holder('other')], { time: 2_500, threadId: 3 }))
  assert.equal(tally.holders.find((h) => h.kind === 'heap').holder, 'cache (Map)')
  assert.equal(tally.threadHolder(3).holder, 'other (Map)')
  assert.equal(tally.threadHolder(4), null)
  tally.note('report', censusReport([holder('queue')], { time: 3_000 }))
  assert.equal(tally.holders.find((h) => h.kind === 'heap').holder, 'queue (Map)')
  // A leak that got worse keeps it, though its window now starts after the report: the
  // window slides along a leak that lasts, and a gap would resolve the alert grouped by it.
  tally.note('leak', { kind: 'heap', since: 4_000, time: 9_000, threadId: 0 })
  assert.deepEqual(tally.holders.map((h) => [h.kind, h.holder]), [['heap', 'queue (Map)'], ['external', 'cache (Map)']])
  tally.note('leak', { kind: 'heap', since: 4_000, time: 9_000, threadId: 3 })
  assert.equal(tally.threadHolder(3).holder, 'other (Map)')
})

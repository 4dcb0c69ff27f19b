'use strict'

// Leaks outside the JS heap get a holder too (issue 29): a real http service started with
// `-r leakproof/register` at `leakproof run`'s settings, under loopback load from another
// process, leaks one way per case (see support/fixtures/native-leaks-service.js). Each case waits
// for the watcher's report and checks it names the kind that leaks and what holds its
// memory: by a snapshot pair where snapshots are on, by the census where they are off, and,
// for an addon's own malloc, that no JS object holds it and what to run next.

const { describe, it, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { RUN_SETTINGS } = require('../../lib/leak-test/run')
const { buildLeakAddon } = require('../support/fixtures/native-leak-addon/build')
const { runLeakingService, leakKinds } = require('../support/native-leaks-run')

/** How long a case waits for its report after the leak starts: detection takes 30-60 s at these settings. */
const REPORT_WITHIN_MS = 150_000

let workDir
let addonPath

before(() => {
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'leakproof-native-leaks-'))
  addonPath = buildLeakAddon(path.join(workDir, 'addon'))
})

after(() => fs.rmSync(workDir, { recursive: true, force: true }))

/**
 * The service leaking `kind` at `leakproof run`'s settings (`settings` on top), snapshots
 * `snapshots` ('auto' or 'off'), until a report `accept` takes.
 */
function reportOf(kind, { load, snapshots, accept, settings = {} }) {
  const dir = path.join(workDir, `${kind}-${snapshots}`)
  const env = { ...RUN_SETTINGS, ...settings, LEAKPROOF_SNAPSHOTS: snapshots, LEAK_ADDON: addonPath }
  return runLeakingService(kind, { dir, env, load, accept, withinMs: REPORT_WITHIN_MS })
}

/** The pair report's grown collection whose holder is named `name` (a variable, or its path: `pool.idle`), if any. */
const grownHeldBy = (report, name) => report.grownCollections?.find((c) => c.holder?.name === name)

describe('leaks outside the heap, each named with its kind and holder', { concurrency: true }, () => {
  it('zlib streams kept per client in a Map: the Map, its Gzip streams and their zlib memory (pair)', { timeout: 240_000 }, async () => {
    const { report, seen, all } = await reportOf('zlib', { load: { perSecond: 12 }, snapshots: 'auto', accept: (r) => r.kind === 'pair' })
    assert.ok(report, `no pair report: ${seen}`)
    const feeds = grownHeldBy(report, 'feeds')
    assert.ok(feeds, JSON.stringify(report.grownCollections, null, 1))
    assert.equal(feeds.memberClass, 'Gzip')
    assert.equal(feeds.nativeKinds[0].name, 'Node / zlib_memory')
    // Each stream's deflate state (~285 KB) is under the Map, whatever the pair was matched by.
    assert.ok(feeds.nativeBytes / feeds.after > 200_000, JSON.stringify(feeds))
    assert.ok(leakKinds(all).some((k) => k === 'external' || k === 'native'), seen)
  })

  it('zlib streams with snapshots off: the census lists the Map over Zlib handles first', { timeout: 240_000 }, async () => {
    const { report, seen } = await reportOf('zlib', { load: { perSecond: 12 }, snapshots: 'off', accept: (r) => r.kind === 'no-snapshot' && r.leak.kind !== 'heap' })
    assert.ok(report, `no census report of an external or native leak: ${seen}`)
    const [first] = report.suspects
    assert.ok(first, JSON.stringify(report.census))
    assert.match(first.holder.description, /^feeds \(Map\), a module-level variable of .*native-leaks-service\.js$/)
    assert.equal(first.memberHandle, 'Zlib')
  })

  it('upload bodies kept in an array of recent uploads: the array and the ArrayBuffers it holds (pair)', { timeout: 240_000 }, async () => {
    const { report, seen, all } = await reportOf('uploads', { load: { perSecond: 60, uploadBytes: 32 * 1024 }, snapshots: 'auto', accept: (r) => r.kind === 'pair' })
    assert.ok(report, `no pair report: ${seen}`)
    const uploads = grownHeldBy(report, 'recentUploads')
    assert.ok(uploads, JSON.stringify(report.grownCollections, null, 1))
    assert.ok(uploads.nativeKinds.some((k) => k.name === 'system / JSArrayBufferData'), JSON.stringify(uploads))
    assert.ok(uploads.nativeBytes > 4 * 2 ** 20, JSON.stringify(uploads))
    assert.ok(leakKinds(all).includes('external'), seen)
  })

  it('sockets a pool keeps open: the pool and its Socket objects (pair)', { timeout: 240_000 }, async () => {
    const { report, seen } = await reportOf('sockets', { load: { perSecond: 40 }, snapshots: 'auto', accept: (r) => r.kind === 'pair' })
    assert.ok(report, `no pair report: ${seen}`)
    const pool = grownHeldBy(report, 'pool.idle')
    assert.ok(pool, JSON.stringify(report.grownCollections, null, 1))
    assert.match(pool.holder.description, /^pool\.idle \(Array\), a module-level variable of .*native-leaks-service\.js$/)
    assert.equal(pool.memberClass, 'Socket')
  })

  it('crypto Hash objects kept per request, snapshots off: the census names the Map over Hash handles', { timeout: 240_000 }, async () => {
    // A Hash keeps ~200 bytes: at 300 requests a second the heap grows ~60 KB/s, which takes
    // 70 s to reach run's 4 MiB; 1 MiB is reached within its 20 s minimum duration.
    const settings = { LEAKPROOF_MIN_GROWTH_BYTES: String(2 ** 20) }
    const { report, seen } = await reportOf('hashes', { load: { perSecond: 300 }, snapshots: 'off', settings, accept: (r) => r.kind === 'no-snapshot' && r.suspects.length > 0 })
    assert.ok(report, `no census report with suspects: ${seen}`)
    const checksums = report.suspects.find((s) => s.holder.name === 'checksums')
    assert.ok(checksums, JSON.stringify(report.suspects, null, 1))
    assert.equal(checksums.name, 'Hash')
    assert.equal(checksums.memberHandle, 'Hash')
  })

  it("an addon's own malloc: native, no JS object holds it, with the mappings that grew and the next step (pair)", { timeout: 240_000 }, async () => {
    const { report, seen, all } = await reportOf('addon', { load: { perSecond: 12 }, snapshots: 'auto', accept: (r) => r.kind === 'pair' && r.native != null })
    assert.ok(report, `no report with a native verdict: ${seen}`)
    assert.ok(leakKinds(all).includes('native'), seen)
    assert.equal(report.native.verdict, 'no JS object holds it', JSON.stringify(report.native))
    assert.ok(report.native.mappings.length > 0, JSON.stringify(report.native))
    assert.ok(report.native.addons.some((a) => a.endsWith('.node')), JSON.stringify(report.native.addons))
    assert.ok(report.native.next.some((n) => /heaptrack/.test(n.command)), JSON.stringify(report.native.next))
  })

  it("an addon's own malloc with snapshots off: the census finds no holder over native handles, and says so", { timeout: 240_000 }, async () => {
    const { report, seen } = await reportOf('addon', { load: { perSecond: 12 }, snapshots: 'off', accept: (r) => r.native != null })
    assert.ok(report, `no report with a native verdict: ${seen}`)
    assert.equal(report.native.verdict, 'no JS object holds it', JSON.stringify(report.native))
    assert.ok(report.native.next.length > 0)
  })
})

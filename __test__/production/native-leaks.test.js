'use strict'

// Leaks outside the heap at the defaults (issue 29), as a new user met them: only
// LEAKPROOF_DIR and LEAKPROOF_LOG beside `-r leakproof/register`, loopback load from another
// process. A price feed keeping a gzip stream per client in a module-level Map (~300 KB of
// zlib state each, outside the heap) got a `leak` of external and native memory and then
// nothing, while RSS tripled: the follow-up waited for the heap, which barely grew. Now its
// pair must come and name the Map, its Gzip streams and their zlib memory. An addon that
// mallocs and never frees must be reported as native with no JS object holding it, the
// mappings that grew and what to run next. Both run side by side, for at most 6 minutes.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { buildLeakAddon } = require('../support/fixtures/native-leak-addon/build')
const { runLeakingService, leakKinds } = require('../support/native-leaks-run')

const REPORT_WITHIN_MS = 360_000
const MiB = 2 ** 20

test('at the defaults, a zlib leak gets its pair and a malloc leak its plain answer', { timeout: 480_000 }, async (t) => {
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'leakproof-native-defaults-'))
  try {
    const addon = buildLeakAddon(path.join(workDir, 'addon'))
    const run = (kind, accept) => runLeakingService(kind, { dir: path.join(workDir, kind), env: { LEAK_ADDON: addon }, load: { perSecond: 12 }, accept, withinMs: REPORT_WITHIN_MS })
    const [zlib, malloc] = await Promise.all([run('zlib', (r) => r.kind === 'pair'), run('addon', (r) => r.kind === 'pair' && r.native != null)])

    assert.ok(zlib.report, `zlib: no pair report within ${REPORT_WITHIN_MS / 1000} s: ${zlib.seen}`)
    const feeds = zlib.report.grownCollections.find((c) => c.holder?.name === 'feeds')
    assert.ok(feeds, JSON.stringify(zlib.report.grownCollections, null, 1))
    assert.equal(feeds.memberClass, 'Gzip')
    assert.equal(feeds.nativeKinds[0].name, 'Node / zlib_memory')
    // Each stream's deflate state (~285 KB) is under the Map, whatever the pair was matched by.
    const perStream = feeds.nativeBytes / feeds.after
    assert.ok(perStream > 200_000, JSON.stringify(feeds))
    assert.ok(leakKinds(zlib.all).some((k) => k !== 'heap'), zlib.seen)
    t.diagnostic(`zlib: ${zlib.seen}; pair report ${Math.round((zlib.report.time - zlib.leakStartedAt) / 1000)} s after the leak began: ${feeds.holder.description}, ${feeds.before} → ${feeds.after} Gzip holding ${Math.round(feeds.nativeBytes / MiB)} MiB of zlib memory (${Math.round(perStream / 1024)} KiB a stream), matched by ${zlib.report.matchedBy}`)

    assert.ok(malloc.report, `addon: no report with a native verdict within ${REPORT_WITHIN_MS / 1000} s: ${malloc.seen}`)
    assert.ok(leakKinds(malloc.all).includes('native'), malloc.seen)
    const native = malloc.report.native
    assert.equal(native.verdict, 'no JS object holds it', JSON.stringify(native))
    assert.ok(native.addons.some((a) => a.endsWith('leak_addon.node')), JSON.stringify(native.addons))
    assert.ok(native.mappings.some((m) => m.kind === 'malloc-heap' || m.kind === 'anonymous'), JSON.stringify(native.mappings))
    assert.ok(native.next.some((n) => n.command.startsWith('heaptrack ')), JSON.stringify(native.next))
    t.diagnostic(`addon: ${malloc.seen}; ${malloc.report.kind} report ${Math.round((malloc.report.time - malloc.leakStartedAt) / 1000)} s after the leak began: ${native.explanation}`)
  } finally {
    fs.rmSync(workDir, { recursive: true, force: true })
  }
})

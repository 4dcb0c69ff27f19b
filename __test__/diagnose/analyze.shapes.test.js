'use strict'

// The holder of a leak in the shapes real libraries make, on real snapshots of an http service
// (fixtures/shapes-app.js): a chain on a long-lived emitter (each audit entry holds the one
// before), a library's linked-list queue pushed and never shifted, upstream sockets opened one
// per request and never closed (one root per object), intervals never cleared, and a Map whose
// newest entry is also on the keep-alive socket (a shared path). Each is named first among the
// growth roots, in the code's words, by node id and by retainer path. Set
// LEAKPROOF_PRINT_HOLDERS=1 to print them.
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')
const { diffSnapshots } = require('../..')
const { firstHolder } = require('../../lib/diagnose/report-text')

const APP = path.join(__dirname, 'fixtures', 'shapes-app.js')
const REQUESTS = 3000

let dir
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leakproof-shapes-'))
})
after(() => fs.rmSync(dir, { recursive: true, force: true }))

/**
 * Runs the app leaking in `shape` for `requests` requests and diffs its two snapshots: by node
 * id, and (`byPaths`) by retainer path, as snapshots that forked children write are.
 */
async function diffOf(shape, requests = REQUESTS) {
  const out = fs.mkdtempSync(path.join(dir, `${shape}-`))
  execFileSync(process.execPath, [APP, shape, out, String(requests)], { timeout: 120_000 })
  const files = [path.join(out, 'before.heapsnapshot'), path.join(out, 'after.heapsnapshot')]
  const diff = await diffSnapshots(...files)
  diff.byPaths = await diffSnapshots(...files, { match: 'paths' })
  if (process.env.LEAKPROOF_PRINT_HOLDERS) {
    for (const r of diff.growthRoots) {
      process.stdout.write(`# ${process.version} ${shape}: ${r.name} ${(r.share * 100).toFixed(0)}% ${r.holder?.description ?? r.readablePath.join(' → ')} chain ${JSON.stringify(r.chain)} roots ${JSON.stringify(r.manyRoots)}\n`)
    }
  }
  return diff
}

/** Asserts that `holder` is the module-level variable `name` of the app. */
function assertAppVariable(holder, name) {
  assert.deepEqual([holder?.name, holder?.kind, holder?.file], [name, 'module', APP], JSON.stringify(holder))
}

test('a chain on a long-lived emitter is named by the emitter, with its length before and after', async () => {
  const diff = await diffOf('emitter-chain')
  const [first] = diff.growthRoots
  assert.equal(first.name, 'AuditBus')
  assertAppVariable(first.holder, 'bus')
  assert.deepEqual(first.chain, { class: 'AuditEntry', via: 'previous', before: 100, after: 100 + REQUESTS })
  // The suspect class is held by the same variable, not by one of the chain's links.
  assertAppVariable(diff.suspects.find((s) => s.name === 'AuditEntry').holder, 'bus')
  // By paths, counted by its links' key.
  const [byPath] = diff.byPaths.growthRoots
  assertAppVariable(byPath?.holder, 'bus')
  assert.deepEqual(byPath.chain, { class: 'AuditEntry', via: 'previous', before: 100, after: 100 + REQUESTS })
})

test("a library's linked list is named by the queue that holds its head", async () => {
  const diff = await diffOf('linked-list')
  const [first] = diff.growthRoots
  assert.equal(first.name, 'Queue')
  assertAppVariable(first.holder, 'pending')
  assert.equal(first.chain.class, 'LinkNode')
  assert.equal(first.chain.via, 'next')
  assert.equal(first.chain.before, 100)
  // The tail is held by the queue itself, not by the link before it.
  assert.ok(first.chain.after >= 100 + REQUESTS - 1 && first.chain.after <= 100 + REQUESTS, JSON.stringify(first.chain))
  for (const name of ['LinkNode', 'Job']) {
    const suspect = diff.suspects.find((s) => s.name === name)
    assertAppVariable(suspect.holder, 'pending')
    // The path through the list is written once with its length, not a step per link.
    assert.ok(suspect.readablePath.length < 20, suspect.readablePath.join(' → '))
    assert.match(suspect.readablePath.join(' → '), /next \(LinkNode\) ×\d[\d,]* in a row/)
  }
  const [byPath] = diff.byPaths.growthRoots
  assertAppVariable(byPath?.holder, 'pending')
  // By paths too, the first suspect is held by the queue (what a chain's holder holds is grown).
  assertAppVariable(diff.byPaths.suspects[0]?.holder, 'pending')
  assert.deepEqual([byPath.chain.class, byPath.chain.via, byPath.chain.after - byPath.chain.before], ['LinkNode', 'next', REQUESTS])
})

test('sockets left open one per request are counted as many roots holding Socket', async () => {
  const requests = 300
  const diff = await diffOf('sockets', requests)
  const [first] = diff.growthRoots
  assert.equal(first.name, '(GC roots)')
  assert.equal(first.manyRoots.holds, 'Socket')
  // Each request opened a client socket and the upstream server accepted one: at least one new
  // root a request (V8 hangs some handles from the roots through their wrappers instead).
  assert.ok(first.manyRoots.count >= requests, JSON.stringify(first.manyRoots))
  assert.ok(first.share > 0.5, `share ${first.share}`)
  const [byPath] = diff.byPaths.growthRoots
  assert.equal(byPath?.manyRoots?.holds, 'Socket', JSON.stringify(diff.byPaths.growthRoots))
  assert.ok(byPath.manyRoots.count >= requests, JSON.stringify(byPath.manyRoots))
})

test('an http.Agent made per upstream call is named by its sockets\' roots, not by the Node variable that reaches them', async () => {
  const requests = 300
  const diff = await diffOf('agent-per-call', requests)
  const described = (list) => JSON.stringify(list.map((r) => r.holder?.description ?? null))
  const handles = /^\d[\d,]* new Socket handles \(TCP roots, each a root of its own: no collection holds them\)$/
  for (const d of [diff, diff.byPaths]) {
    const [first] = d.growthRoots
    // Each agent's socket stays open, idle and unref'd; the upstream's end too (in this process).
    assert.equal(first?.manyRoots?.holds, 'Socket', JSON.stringify(d.growthRoots))
    assert.ok(first.manyRoots.count >= requests, JSON.stringify(first.manyRoots))
    assert.deepEqual([first.holder?.kind, first.holder?.name, first.holder?.file ?? null], ['handles', 'Socket handles', null])
    assert.match(first.holder.description, handles)
    // What names the leak first names the roots: no suspect is held by the variable of Node's
    // own code that reaches a socket (`s` of installListeners in node:_http_agent).
    assert.equal(firstHolder({ kind: 'pair', ...d }), first.holder.description)
    assert.ok(d.suspects.every((s) => !/node:/.test(s.holder?.description ?? '')), described(d.suspects))
  }
})

test('intervals started per request and never cleared are named by their timer list, with what they hold', async () => {
  const diff = await diffOf('timers')
  const [first] = diff.growthRoots
  assert.equal(first.name, 'TimersList')
  assert.equal(first.memberClass, 'Timeout')
  assert.equal(first.holder?.name, 'timerListMap[60000]', JSON.stringify(first.holder))
  // By paths, Node's doubly linked list reads as one chain (half reached each way).
  const [byPath] = diff.byPaths.growthRoots
  assert.equal(byPath?.chain?.class, 'Timeout', JSON.stringify(diff.byPaths.growthRoots))
  assert.equal(byPath.chain.after - byPath.chain.before, REQUESTS)
})

test('a leak also reachable through a shared keep-alive socket is named by the Map that grew', async () => {
  const diff = await diffOf('shared-path')
  const [first] = diff.growthRoots
  assert.equal(first.name, 'Map')
  assertAppVariable(first.holder, 'sessions')
  assert.equal(first.memberClass, 'Session')
  assertAppVariable(diff.suspects.find((s) => s.name === 'Session').holder, 'sessions')
})

'use strict'

// The demo's leak shape on real snapshots (fixtures/closure-leak.js): a Map that only
// a closure variable holds, grown between two snapshots while timers with closures are alive.
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')
const { diffSnapshots } = require('../..')

const SESSIONS = 20000
let dir
/** Writes the snapshot pair into `DIR/NAME/` and returns its two paths. */
function snapshots(name, mode) {
  const out = path.join(dir, name)
  fs.mkdirSync(out)
  const args = [path.join(__dirname, 'fixtures', 'closure-leak.js'), out, String(SESSIONS)]
  execFileSync(process.execPath, mode === undefined ? args : [...args, mode])
  return [path.join(out, 'before.heapsnapshot'), path.join(out, 'after.heapsnapshot')]
}
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leakproof-closure-'))
})
after(() => fs.rmSync(dir, { recursive: true, force: true }))

test('the suspect path ends at the closure variable holding the bulk of the new objects', async () => {
  const d = await diffSnapshots(...snapshots('plain'))
  const [top] = d.suspects
  assert.equal(top.name, 'Object')
  assert.equal(top.count, 2 * SESSIONS) // a session and its cart item each
  const route = top.retainerPath.join(' → ')
  assert.match(route, /→ sessions \(Map\) → table → Object ×20,000$/)
  assert.doesNotMatch(route, /Watcher/)
  assert.equal(top.heldBy.name, 'Map')
  assert.equal(top.heldBy.instances, 2 * SESSIONS)
  const map = d.grownCollections[0]
  assert.deepEqual([map.name, map.id, map.before, map.after], ['Map', top.heldBy.id, 1000, 1000 + SESSIONS])
  assert.equal(map.retainerPath.at(-1), 'sessions (Map)')
})

test("the watcher's allocation-site sampling keeps object ids comparable", async () => {
  const d = await diffSnapshots(...snapshots('sites', 'sites'))
  assert.deepEqual([d.grownCollections[0].name, d.grownCollections[0].after], ['Map', 1000 + SESSIONS])
})

test('by id, snapshots whose object ids were cleared in between are refused, not misreported', async () => {
  const [first, second] = snapshots('reset', 'reset-ids')
  // The default ('auto') matches them by path instead: analyze.paths.test.js.
  await assert.rejects(diffSnapshots(first, second, { match: 'ids' }), (err) => {
    assert.equal(err.code, 'ERR_LEAKPROOF_SNAPSHOT_IDS_MISMATCH')
    assert.equal(err.file, second)
    assert.match(err.message, /cannot be compared by id/)
    return true
  })
})

'use strict'

// The diff by retainer path on real snapshots. Snapshots written by two processes of one
// program (as forked children write them) number their objects independently, so the id diff
// refuses them; matched by path they still name the leak. On pairs written by one process,
// both matchings must name the same leak.
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')
const { diffSnapshots } = require('../..')

const FIXTURES = path.join(__dirname, 'fixtures')
const SESSION_LEAK = path.join(FIXTURES, 'session-leak.js')
const SESSIONS = 1000
let dir
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leakproof-paths-'))
})
after(() => fs.rmSync(dir, { recursive: true, force: true }))

/** Runs session-leak.js in its own process with `sessions` sessions; returns the snapshot. */
function childSnapshot(name, sessions) {
  const out = path.join(dir, `${name}.heapsnapshot`)
  execFileSync(process.execPath, [SESSION_LEAK, String(sessions), out])
  return out
}

/** Runs `script DIR ...args` and returns DIR. */
function run(script, ...args) {
  const out = fs.mkdtempSync(path.join(dir, 'run-'))
  execFileSync(process.execPath, [path.join(FIXTURES, script), out, ...args.map(String)])
  return out
}

let pair
function childPair() {
  pair ??= [childSnapshot('first', SESSIONS), childSnapshot('second', 3 * SESSIONS)]
  return pair
}

test('snapshots of two processes are matched by path: the grown Map, its variable and its sessions', async () => {
  const [first, second] = childPair()
  const d = await diffSnapshots(first, second)
  assert.equal(d.matchedBy, 'paths')
  const [map] = d.grownCollections
  assert.deepEqual([map.name, map.before, map.after], ['Map', SESSIONS, 3 * SESSIONS])
  assert.deepEqual([map.holder?.name, map.holder?.kind, map.holder?.file], ['sessions', 'module', SESSION_LEAK])
  assert.match(map.holder.description, /^sessions \(Map\), a module-level variable of .*session-leak\.js/)
  const [top] = d.suspects
  assert.equal(top.name, 'UserSession')
  assert.equal(top.count, 2 * SESSIONS) // the growth of the class, not "new" objects
  assert.equal(top.heldBy?.name, 'Map')
  assert.equal(top.holder?.name, 'sessions')
  assert.match(top.retainerPath.at(-1), /^UserSession ×3,000$/) // every session the Map holds
  assert.equal(d.newByClass.find((c) => c.name === 'UserSession')?.count, 2 * SESSIONS)
})

test('forced to ids, the same pair is refused as before', async () => {
  const [first, second] = childPair()
  await assert.rejects(diffSnapshots(first, second, { match: 'ids' }), (err) => {
    assert.equal(err.code, 'ERR_LEAKPROOF_SNAPSHOT_IDS_MISMATCH')
    assert.equal(err.file, second)
    return true
  })
})

test('the match option is checked', async () => {
  const [first, second] = childPair()
  for (const bad of ['fuzzy', 1, null, 'IDS']) {
    await assert.rejects(diffSnapshots(first, second, { match: bad }), (err) => {
      assert.ok(err instanceof TypeError)
      assert.equal(err.code, 'ERR_LEAKPROOF_INVALID_OPTION')
      assert.match(err.message, /options\.match must be one of ids, paths, auto; got /)
      assert.ok(err.message.endsWith(typeof bad === 'string' ? JSON.stringify(bad) : String(bad)))
      return true
    })
  }
})

test('truncated snapshots keep their coded errors when matched by path', async () => {
  const [first, second] = childPair()
  const cut = path.join(dir, 'cut.heapsnapshot')
  fs.writeFileSync(cut, fs.readFileSync(first).subarray(0, 100_000))
  for (const [a, b, which] of [[cut, second, cut], [first, cut, cut]]) {
    await assert.rejects(diffSnapshots(a, b, { match: 'paths' }), (err) => {
      assert.equal(err.code, 'ERR_LEAKPROOF_SNAPSHOT_TRUNCATED')
      assert.equal(err.file, which)
      return true
    })
  }
})

/**
 * What both matchings must agree on: the first grown collection, the first suspect's class and
 * holder (not its count: by path it is the class's net growth, not its new objects).
 */
function leak(d) {
  const [g] = d.grownCollections
  const [s] = d.suspects
  return {
    grown: [g?.name, g?.holder?.name, g?.holder?.file, g?.before, g?.after],
    suspect: [s?.name, s?.heldBy?.name, s?.holder?.name, s?.holder?.file],
  }
}

// Pairs written by one process, where ids are shared: [scenario, snapshots].
const SCENARIOS = {
  'session-store (write-snapshots.js)': () => {
    const out = run('write-snapshots.js', 2000)
    return [path.join(out, '1.heapsnapshot'), path.join(out, '2.heapsnapshot')]
  },
  'three snapshots (write-snapshots.js, stillAliveIn)': () => {
    const out = run('write-snapshots.js', 2000)
    return [1, 2, 3].map((i) => path.join(out, `${i}.heapsnapshot`))
  },
  'http service (holder-app.js)': () => {
    const out = run('holder-app.js', 2000)
    return [path.join(out, 'before.heapsnapshot'), path.join(out, 'after.heapsnapshot')]
  },
  'required module (holder-main.js)': () => {
    const out = run('holder-main.js', 2000)
    return [path.join(out, 'before.heapsnapshot'), path.join(out, 'after.heapsnapshot')]
  },
  'table kept since the baseline (holder-table.js)': () => {
    const out = run('holder-table.js')
    return [path.join(out, 'before.heapsnapshot'), path.join(out, 'after.heapsnapshot')]
  },
  'closure variable (closure-leak.js)': () => {
    const out = run('closure-leak.js', 5000)
    return [path.join(out, 'before.heapsnapshot'), path.join(out, 'after.heapsnapshot')]
  },
}

for (const [scenario, make] of Object.entries(SCENARIOS)) {
  test(`${scenario}: ids and paths name the same leak`, async () => {
    const [first, second, third] = make()
    const options = third === undefined ? {} : { stillAliveIn: third }
    const byIds = await diffSnapshots(first, second, { ...options, match: 'ids' })
    const byPaths = await diffSnapshots(first, second, { ...options, match: 'paths' })
    const auto = await diffSnapshots(first, second, options)
    assert.deepEqual([byIds.matchedBy, byPaths.matchedBy, auto.matchedBy], ['ids', 'paths', 'ids'])
    assert.ok(byIds.grownCollections.length > 0 && byIds.suspects.length > 0)
    assert.deepEqual(leak(byPaths), leak(byIds))
  })
}

test('snapshots whose ids were cleared in one process are matched by path, and find the Map', async () => {
  const out = run('closure-leak.js', 5000, 'reset-ids')
  const d = await diffSnapshots(path.join(out, 'before.heapsnapshot'), path.join(out, 'after.heapsnapshot'))
  assert.equal(d.matchedBy, 'paths')
  assert.deepEqual([d.grownCollections[0].name, d.grownCollections[0].holder?.name], ['Map', 'sessions'])
  assert.equal(d.suspects[0].heldBy?.name, 'Map')
})

test('CLI: --match, and the report says how the snapshots were matched', () => {
  const { spawnSync } = require('node:child_process')
  const bin = path.join(__dirname, '..', '..', 'bin', 'leakproof.js')
  const cli = (...args) => spawnSync(process.execPath, [bin, 'diff', ...args], { encoding: 'utf8' })
  const [first, second] = childPair()
  const byPaths = cli(first, second, '--top', '1')
  assert.equal(byPaths.status, 0, byPaths.stderr)
  assert.match(byPaths.stdout, /^Matched by retainer path/m)
  assert.match(byPaths.stdout, / {2}1\. UserSession: 2,000 new/)
  const byIds = cli(first, second, '--match=ids')
  assert.equal(byIds.status, 1)
  assert.match(byIds.stderr, /ERR_LEAKPROOF_SNAPSHOT_IDS_MISMATCH/)
  assert.equal(cli(first, second, '--match', 'fuzzy').status, 2)
})

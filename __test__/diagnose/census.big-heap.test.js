'use strict'

// The census at a leak on a heap of many objects (issue 67): a search service's catalog of
// 300,000 products, in a Map or an array, with every query kept in a module-level array on top
// (fixtures/census/search-catalog.js), diagnosed as the watcher does when no snapshot can be
// had. The holder is named as on a small heap, and the census' work does not grow with the
// heap: it visits, asks the inspector and lists as much beside 300,000 products as beside
// 3,000, and no call lists more keys than a small object has. (Its time is measured, not
// tested: bench/census.js, part three, on 2.6 million products.)
const { test } = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { execFile } = require('node:child_process')

const FIXTURE = path.join(__dirname, 'fixtures', 'census', 'search-catalog.js')

/** Runs the fixture with `env` in a child of this Node; resolves with the JSON line it printed. */
function runFixture(env) {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [FIXTURE], { env: { ...process.env, ...env }, maxBuffer: 16 * 1024 * 1024, timeout: 120_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`search-catalog.js failed (${err.code ?? err.signal}): ${stderr}`))
      resolve(JSON.parse(stdout.trim().split('\n').at(-1)))
    })
  })
}

/** The report names `recentSearches`, the module-level array of the fixture, first, and it grew. */
function assertNamed(result) {
  const [first] = result.suspects
  assert.ok(first, JSON.stringify(result.census))
  assert.deepEqual([first.holder.name, first.readablePath, first.holder.className, first.holder.kind, first.holder.file], ['recentSearches', 'recentSearches', 'Array', 'module', FIXTURE], JSON.stringify(first))
  assert.equal(first.holder.description, `recentSearches (Array), a module-level variable of ${FIXTURE}`)
  assert.ok(first.after > first.before, JSON.stringify(first))
  assert.equal(result.census.debuggerMs, 0, 'named from its own source: no Debugger round')
}

/** What each pass did, as counts: objects visited, inspector calls, the most keys one call listed. */
function work(result) {
  return result.census.passes.map(({ cost }) => ({ visited: cost.visited, inspectorCalls: cost.inspectorCalls, largestListing: cost.largestListing }))
}

for (const catalog of ['map', 'array']) {
  test(`The census names the holder beside a catalog of 300,000 products in ${catalog === 'map' ? 'a Map' : 'an array'}, with no more work than beside 3,000`, async (t) => {
    const large = await runFixture({ ITEMS: '300000', CATALOG: catalog })
    const small = await runFixture({ ITEMS: '3000', CATALOG: catalog })
    assertNamed(large)
    assertNamed(small)
    assert.equal(large.contextsMade, 0, 'no vm context made in the diagnosis')
    for (const pass of [...large.census.passes, ...small.census.passes]) {
      assert.ok(pass.cost.slices > 1, JSON.stringify(pass.cost))
    }
    assert.ok(!large.census.notReached.some((n) => n.what.startsWith('objects past') || n.what.startsWith('the rest')), JSON.stringify(large.census.notReached))
    // The catalog is followed by its first members only: the same objects, calls and listings
    // at either size (the queries kept differ by a few between runs: within 2%).
    const [largeWork, smallWork] = [work(large), work(small)]
    largeWork.forEach((pass, i) => {
      for (const field of ['visited', 'inspectorCalls']) {
        const ratio = pass[field] / smallWork[i][field]
        assert.ok(ratio > 0.98 && ratio < 1.02, `pass ${i + 1} ${field}: ${pass[field]} beside 300,000 products, ${smallWork[i][field]} beside 3,000`)
      }
      // No call listed the catalog, nor an inspector's reply described it: the most keys one
      // call listed is a scope's or one of Node's tables' (a few thousand at most).
      assert.ok(pass.largestListing < 10_000, JSON.stringify(pass))
      assert.equal(pass.largestListing, smallWork[i].largestListing)
    })
    t.diagnostic(`${large.node}, ${catalog}: ${JSON.stringify(largeWork)}; slices ${large.census.passes.map((p) => p.cost.slices).join(', ')}`)
  })
}

test('The globals the census leaves out as standard are a fresh realm\'s, listed: no vm context is made at a pass', () => {
  // Making a context at a pass, on a large heap, set off a memory-reducing full GC that stopped
  // the service for up to 750 ms: the names are listed instead, and must cover this Node's.
  const { standardGlobalNames } = require('../../lib/diagnose/census/reflect')
  const fresh = require('node:vm').runInNewContext('Object.getOwnPropertyNames(globalThis)')
  assert.deepEqual(Array.from(fresh).filter((name) => !standardGlobalNames().has(name)), [], `${process.version}: a global V8 added`)
})

'use strict'

// Memory behaviour needs a real garbage collector: each check runs in a child process
// started with --expose-gc, so the numbers are not disturbed by the test runner.

const test = require('node:test')
const assert = require('node:assert/strict')
const { execFileSync } = require('node:child_process')
const path = require('node:path')

const root = path.join(__dirname, '..', '..')

/** Runs a fixture under fixtures/ with --expose-gc and parses the JSON it prints. */
function runWithGc(fixture, ...args) {
  const out = execFileSync(process.execPath, ['--expose-gc', path.join(__dirname, 'fixtures', fixture), ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 120_000,
  })
  return JSON.parse(out)
}

for (const policy of ['lru', 's3-fifo', 'tinylfu']) {
  test(`${policy}: a million sets of distinct keys keep the heap bounded`, () => {
    const result = runWithGc('cache-million-sets.js', policy)
    assert.equal(result.size, 10000)
    // Allow for GC noise, but nowhere near what 1M entries would need (a plain Map of
    // 200k of them grows the heap by plainGrowth).
    assert.ok(result.after - result.warm < result.plainGrowth / 10, JSON.stringify(result))
  })
}

test('a named map is not kept alive by the registry', () => {
  const result = runWithGc('cache-registry-release.js')
  assert.deepStrictEqual(result.before.map((m) => [m.name, m.size]), [['sessions', 1]])
  assert.equal(result.collected, true)
  assert.deepStrictEqual(result.after, [])
})

test('a map with a pending expiry timer can still be collected, and exits promptly', () => {
  const result = runWithGc('cache-timer-release.js')
  assert.equal(result.collected, true)
})

test('a dropped map with a pending expiry timer releases its columns before the timer fires', () => {
  const { before, held, after } = runWithGc('cache-timer-columns.js')
  // 200,000 slots hold several MB of typed columns; nearly all must be gone.
  assert.ok(held - before > 4e6, JSON.stringify({ before, held, after }))
  assert.ok(after - before < (held - before) / 10, JSON.stringify({ before, held, after }))
})

'use strict'

// Memory behaviour needs a real garbage collector: each check runs in a child process
// started with --expose-gc, so the numbers are not disturbed by the test runner.

const test = require('node:test')
const assert = require('node:assert/strict')
const { execFileSync } = require('node:child_process')
const path = require('node:path')

const root = path.join(__dirname, '..')

function runWithGc(source) {
  const out = execFileSync(process.execPath, ['--expose-gc', '-e', source], {
    cwd: root,
    encoding: 'utf8',
    timeout: 120_000,
  })
  return JSON.parse(out)
}

for (const policy of ['lru', 's3-fifo']) {
  test(`${policy}: a million sets of distinct keys keep the heap bounded`, () => {
    const result = runWithGc(`
      const { BoundedMap } = require('.')
      const used = () => { gc(); gc(); return process.memoryUsage().heapUsed }
      const map = new BoundedMap({ max: 10000, policy: '${policy}' })
      for (let i = 0; i < 50000; i++) map.set('k' + i, { i, pad: 'x'.repeat(20) + i })
      const warm = used()
      for (let i = 0; i < 1000000; i++) map.set('key:' + i, { i, pad: 'x'.repeat(20) + i })
      const after = used()
      // The same churn into a plain Map, for scale.
      const plain = new Map()
      for (let i = 0; i < 200000; i++) plain.set('key:' + i, { i, pad: 'x'.repeat(20) + i })
      const plainGrowth = used() - after
      console.log(JSON.stringify({ warm, after, size: map.size, plainGrowth }))
    `)
    assert.equal(result.size, 10000)
    // Allow for GC noise, but nowhere near what 1M entries would need (a plain Map of
    // 200k of them grows the heap by plainGrowth).
    assert.ok(result.after - result.warm < result.plainGrowth / 10, JSON.stringify(result))
  })
}

test('a named map is not kept alive by the registry', () => {
  const result = runWithGc(`
    const { BoundedMap, namedMaps } = require('.')
    let map = new BoundedMap({ max: 10, name: 'sessions' })
    map.set('a', 1)
    const before = namedMaps()
    const ref = new WeakRef(map)
    map = null
    setTimeout(() => {
      gc()
      setTimeout(() => {
        gc()
        console.log(JSON.stringify({ before, collected: ref.deref() === undefined, after: namedMaps() }))
      }, 10)
    }, 10)
  `)
  assert.deepStrictEqual(result.before.map((m) => [m.name, m.size]), [['sessions', 1]])
  assert.equal(result.collected, true)
  assert.deepStrictEqual(result.after, [])
})

test('a map with a pending expiry timer can still be collected, and exits promptly', () => {
  const result = runWithGc(`
    const { BoundedMap } = require('.')
    let map = new BoundedMap({ ttl: 3600000, max: 10 })
    map.set('a', Buffer.alloc(1024))
    const ref = new WeakRef(map)
    map = null
    setTimeout(() => { gc(); setTimeout(() => { gc(); console.log(JSON.stringify({ collected: ref.deref() === undefined })) }, 10) }, 10)
  `)
  assert.equal(result.collected, true)
})

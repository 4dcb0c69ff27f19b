'use strict'

const test = require('node:test')
const assert = require('node:assert/strict')
const native = require('../../lib/shared/native')
const { systemMemory } = require('../..')

test('systemMemory reads this process RSS from the kernel (Linux)', { skip: process.platform !== 'linux' }, () => {
  const m = systemMemory()
  const rssFromNode = process.memoryUsage().rss
  assert.equal(typeof m.rss, 'number')
  // Read at slightly different moments: close, not equal.
  assert.ok(Math.abs(m.rss - rssFromNode) < rssFromNode * 0.2, `${m.rss} vs ${rssFromNode}`)
  if (m.containerLimit !== null) assert.ok(m.containerLimit > 0)
  if (m.containerUsage !== null) assert.ok(m.containerUsage > 0)
})

test('systemMemory gives every field, null where the platform does not say', (t) => {
  // The addon leaves out what it could not read, as a platform without cgroups would.
  t.mock.method(native, 'nativeBinding', () => ({ systemMemory: () => ({ rss: 4096 }) }))
  assert.deepEqual(systemMemory(), { rss: 4096, containerLimit: null, containerUsage: null, mallocInUse: null })
})

test('mallocInUse follows what malloc holds, such as a Buffer\'s bytes (glibc)', async () => {
  const glibc = process.platform === 'linux' && Boolean(process.report.getReport().header.glibcVersionRuntime)
  if (!glibc) return assert.equal(systemMemory().mallocInUse, null)
  // A count defers the next by a thousand times its cost (some ms): wait that out.
  const counted = async () => {
    for (;;) {
      const { mallocInUse } = systemMemory()
      if (mallocInUse !== null) return mallocInUse
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
  }
  const before = await counted()
  const held = Buffer.alloc(64 * 1024 * 1024, 1)
  const during = await counted()
  assert.ok(during - before >= 60 * 1024 * 1024, `${before} -> ${during}`)
  assert.equal(held.length, 64 * 1024 * 1024)
})

'use strict'

const test = require('node:test')
const assert = require('node:assert/strict')
const { systemMemory } = require('..')

test('systemMemory reads this process RSS from the kernel (Linux)', { skip: process.platform !== 'linux' }, () => {
  const m = systemMemory()
  const rssFromNode = process.memoryUsage().rss
  assert.equal(typeof m.rss, 'number')
  // Read at slightly different moments: close, not equal.
  assert.ok(Math.abs(m.rss - rssFromNode) < rssFromNode * 0.2, `${m.rss} vs ${rssFromNode}`)
  if (m.containerLimit !== undefined) assert.ok(m.containerLimit > 0)
  if (m.containerUsage !== undefined) assert.ok(m.containerUsage > 0)
})

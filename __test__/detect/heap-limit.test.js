'use strict'

// The heap limit a floor runs into (lib/detect/heap-limit.js): the old generation's where
// `--max-old-space-size` sets it, not V8's heap_size_limit, which also counts the young
// generation's reserve (192 MB on Node 24 beside a 128 MB old generation).
const test = require('node:test')
const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const path = require('node:path')
const { heapLimit, oldSpaceLimitBytes } = require('../../lib/detect/heap-limit')

const MB = 1024 * 1024

test('--max-old-space-size is read from the command line over NODE_OPTIONS, in either spelling, and a bad one is ignored', () => {
  assert.equal(oldSpaceLimitBytes(['--max-old-space-size=128'], ''), 128 * MB)
  assert.equal(oldSpaceLimitBytes([], '--inspect --max_old_space_size=512'), 512 * MB)
  assert.equal(oldSpaceLimitBytes(['--max-old-space-size', '64'], '--max-old-space-size=512'), 64 * MB)
  assert.equal(oldSpaceLimitBytes(['--max-old-space-size=lots'], ''), null)
  assert.equal(oldSpaceLimitBytes(['--max-old-space-size=0'], ''), null)
  assert.equal(oldSpaceLimitBytes([], ''), null)
  assert.equal(heapLimit(320 * MB, 128 * MB), 128 * MB)
  assert.equal(heapLimit(100 * MB, 128 * MB), 100 * MB, 'never above heap_size_limit')
  assert.equal(heapLimit(320 * MB, null), 320 * MB)
})

test("a watched process's samples carry the old generation's limit, whatever heap_size_limit says", () => {
  const script = `
    const v8 = require('node:v8')
    const watcher = require(${JSON.stringify(path.join(__dirname, '..', '..'))}).watch({ intervalMs: 100 })
    const alive = setInterval(() => {}, 1000) // the watcher does not keep the process alive
    watcher.once('sample', (sample) => {
      clearInterval(alive)
      console.log(JSON.stringify({ heapLimit: sample.heapLimit, heapSizeLimit: v8.getHeapStatistics().heap_size_limit }))
      watcher.stop()
    })`
  const run = spawnSync(process.execPath, ['--max-old-space-size=128', '-e', script], { encoding: 'utf8', timeout: 60_000 })
  assert.equal(run.status, 0, run.stderr)
  const { heapLimit: seen, heapSizeLimit } = JSON.parse(run.stdout)
  assert.equal(seen, 128 * MB)
  assert.ok(heapSizeLimit > 128 * MB, 'V8 counts the young generation too')
})

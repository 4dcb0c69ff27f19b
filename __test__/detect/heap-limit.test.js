'use strict'

// The heap limit a floor runs into (lib/shared/heap-limit.js): the old generation's, where
// `--max-old-space-size` sets it and where V8 sizes it itself, not V8's heap_size_limit, which
// also counts the young generation's reserve (192 MB on Node 24 beside a 128 MB old generation,
// 48 MB beside 512 MB in a 1 GiB container).
const test = require('node:test')
const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const path = require('node:path')
const { heapLimit, oldSpaceLimitBytes, defaultOldSpaceBytes } = require('../../lib/shared/heap-limit')
const { memoryCgroup } = require('../support/cgroup')

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
  assert.equal(heapLimit(320 * MB, null), defaultOldSpaceBytes(320 * MB))
})

test('without the flag, the old generation V8 sized: heap_size_limit less its young generation, by V8 version', () => {
  // heap_size_limit as measured: a 24 GiB machine (4 GiB old generation), a 1 GiB container (512 MiB).
  const measured = [
    [11, 4_345_298_944, 549_453_824], // Node 20
    [12, 4_345_298_944, 549_453_824], // Node 22
    [13, 4_496_293_888, 587_202_560], // Node 24
    [14, 4_395_630_592, 562_036_736], // Node 26
  ]
  for (const [v8Major, machine, container] of measured) {
    assert.equal(defaultOldSpaceBytes(machine, { v8Major, semiSpaceMb: null, youngMb: null }), 4096 * MB, `V8 ${v8Major}`)
    assert.equal(defaultOldSpaceBytes(container, { v8Major, semiSpaceMb: null, youngMb: null }), 512 * MB, `V8 ${v8Major}`)
  }
  // A later V8 is taken for the newest measured; set sizes win.
  assert.equal(defaultOldSpaceBytes(4_395_630_592, { v8Major: 15, semiSpaceMb: null, youngMb: null }), 4096 * MB)
  assert.equal(defaultOldSpaceBytes(4_395_630_592, { v8Major: 14, semiSpaceMb: 8, youngMb: null }), 4_395_630_592 - 24 * MB)
  assert.equal(defaultOldSpaceBytes(4_395_630_592, { v8Major: 14, semiSpaceMb: null, youngMb: 48 }), 4_395_630_592 - 48 * MB)
})

test('in a 1 GiB container without the flag, the heap limit a sample says is within 5% of where the heap stops', async (t) => {
  const cgroup = memoryCgroup(`leakproof-heap-limit-${process.pid}`, 1024 ** 3)
  if (cgroup.missing !== undefined) return t.skip(cgroup.missing)
  // Prints the first sample's heapLimit, then the heap (all of it kept) as it fills up, until V8 kills it.
  const script = `
    const v8 = require('node:v8')
    const watcher = require(${JSON.stringify(path.join(__dirname, '..', '..'))}).watch({ intervalMs: 50, sites: false, census: false })
    const alive = setInterval(() => {}, 1000) // the watcher does not keep the process alive
    watcher.once('sample', (sample) => {
      clearInterval(alive)
      console.log(JSON.stringify({ heapLimit: sample.heapLimit }))
      watcher.stop()
      const kept = []
      const fill = () => {
        for (let i = 0; i < 10; i++) kept.push(new Array(25_000).fill(i))
        console.log(JSON.stringify({ used: v8.getHeapStatistics().used_heap_size }))
        setImmediate(fill)
      }
      fill()
    })`
  try {
    const [command, ...args] = cgroup.command([process.execPath, '-e', script])
    const run = spawnSync(command, args, { encoding: 'utf8', timeout: 120_000 })
    assert.notEqual(run.status, 0, 'it died at its heap limit')
    const lines = run.stdout.trim().split('\n').map((l) => JSON.parse(l))
    const { heapLimit: said } = lines[0]
    const stopped = Math.max(...lines.slice(1).map((l) => l.used))
    assert.ok(Math.abs(said - stopped) <= 0.05 * stopped, `heapLimit ${said}, stopped at ${stopped} (heap_size_limit counts the young generation too)`)
    t.diagnostic(`heapLimit ${(said / MB).toFixed(0)} MB, the heap stopped at ${(stopped / MB).toFixed(0)} MB`)
  } finally {
    cgroup.remove()
  }
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

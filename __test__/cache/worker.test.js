'use strict'

// In a worker thread the primitives behave as on the main thread, and leave nothing
// behind that keeps the worker alive.

const test = require('node:test')
const assert = require('node:assert/strict')
const { Worker } = require('node:worker_threads')
const path = require('node:path')
const util = require('node:util')
const { BoundedMap } = require('../..')

test('BoundedMap, RingBuffer and systemMemory work in a worker, which then exits by itself', async () => {
  const worker = new Worker(path.join(__dirname, 'fixtures', 'worker-primitives.js'))
  // Listened for from the start: 'exit' can come in the same turn as the last 'message'.
  const exited = new Promise((resolve) => worker.once('exit', resolve))
  const message = await new Promise((resolve, reject) => {
    worker.once('message', resolve)
    worker.once('error', reject)
  })
  assert.equal(message.size, 100)
  assert.deepStrictEqual(message.ring, [90, 91, 92, 93, 94, 95, 96, 97, 98, 99])
  assert.equal(message.rss, process.platform === 'linux' ? 'number' : 'undefined')
  // The map's expiry timer is pending for an hour: the worker must still exit on its own.
  const code = await exited
  assert.equal(code, 0)
})

test('util.inspect shows the entries', () => {
  const map = new BoundedMap({ max: 5 }, [['a', 1], ['b', { c: 2 }]])
  assert.equal(util.inspect(map), "BoundedMap(2) { 'a' => 1, 'b' => { c: 2 } }")
})

test('without a watcher, a map with shrinkUnderPressure in a worker with a small heap shrinks by its own reading of that heap', async () => {
  const worker = new Worker(path.join(__dirname, 'fixtures', 'worker-pressure.js'), { resourceLimits: { maxOldGenerationSizeMb: 64 } })
  const exited = new Promise((resolve) => worker.once('exit', resolve))
  const messages = []
  await new Promise((resolve, reject) => {
    worker.on('message', (message) => {
      messages.push(message)
      if (message.done) resolve()
    })
    worker.once('error', reject)
  })
  const last = messages.at(-1)
  assert.equal(last.boundShare, 0.5, `shrank: ${JSON.stringify(last)}`)
  assert.equal(last.size, 2500)
  assert.ok(last.leakedMb < 64, `before the heap was full: ${last.leakedMb} MiB leaked`)
  assert.equal(await exited, 0, 'and the worker exits by itself: the reading timer is unref\'d')
})

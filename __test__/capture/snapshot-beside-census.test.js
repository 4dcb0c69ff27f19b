'use strict'

// A snapshot and a census pass of the same heap kept apart (lib/shared/heap-walks.js): a pass
// under way holds the objects it has yet to visit, and a snapshot written meanwhile showed
// them held by leakproof's CensusPass, which a pair's diff named as a main thread's holder.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const { setTimeout: sleep } = require('node:timers/promises')
const { HeapWalks } = require('../../lib/shared/heap-walks')
const { Census } = require('../../lib/diagnose/census/census')
const { SnapshotStore } = require('../../lib/capture/snapshots')
const { forkUnavailable } = require('../../lib/capture/child-snapshot')
const { tempDir } = require('../support/temp-dir')

test('a snapshot waits for the walk under way, and a walk asked for meanwhile begins after it', async () => {
  const walks = new HeapWalks()
  const order = []
  const endFirstWalk = await walks.beginWalk()
  const snapshot = walks.quietForSnapshot().then((release) => {
    order.push('snapshot')
    return release
  })
  const secondWalk = walks.beginWalk().then((end) => {
    order.push('second walk')
    return end
  })
  await sleep(5)
  assert.deepEqual(order, [], 'nothing goes while the first walk is under way')
  endFirstWalk()
  endFirstWalk() // a second call does nothing
  const release = await snapshot
  await sleep(5)
  assert.deepEqual(order, ['snapshot'], 'the walk asked for while the snapshot waited has not begun')
  release()
  const endSecondWalk = await secondWalk
  assert.deepEqual(order, ['snapshot', 'second walk'])
  endSecondWalk()
  // Two snapshots at once do not wait for each other.
  const [a, b] = await Promise.all([walks.quietForSnapshot(), walks.quietForSnapshot()])
  a()
  b()
})

/** How many objects of class `name` snapshot `file` holds. */
function instancesIn(file, name) {
  const { snapshot, nodes, strings } = JSON.parse(fs.readFileSync(file, 'utf8'))
  const fields = snapshot.meta.node_fields
  const [typeAt, nameAt] = [fields.indexOf('type'), fields.indexOf('name')]
  const objectType = snapshot.meta.node_types[0].indexOf('object')
  let count = 0
  for (let i = 0; i < nodes.length; i += fields.length) if (nodes[i + typeAt] === objectType && strings[nodes[i + nameAt]] === name) count++
  return count
}

/**
 * A census of this heap (`options`) and a snapshot store whose snapshots `writer` writes, both
 * ended with the test; the process is kept alive meanwhile (the census' timers keep nothing alive).
 */
function censusAndStore(t, options, writer) {
  const census = new Census(options)
  const alive = setInterval(() => {}, 1000)
  t.after(() => {
    census.stop()
    clearInterval(alive)
  })
  const store = new SnapshotStore({ dir: tempDir(t, 'beside-census'), maxSnapshots: 4, maxDiskBytes: 2 ** 40, cooldownMs: 0, memoryFactor: 1, writer })
  return { census, store }
}

const held = Array.from({ length: 40_000 }, (_, i) => ({ i, next: { i } }))

// The pass is still under way when the snapshot would be written: 50 ms in for an in-process
// one, and after the first fork's settling time (1.5 s) for a forked child's.
for (const [writer, sliceMs] of [['in-process', 1], ['fork', 0.1]]) {
  const skip = writer === 'fork' ? (forkUnavailable() ?? false) : false
  test(`a snapshot (${writer}) asked for during a census pass shows none of the pass' objects`, { skip }, async (t) => {
    const { census, store } = censusAndStore(t, { sliceMs }, writer)
    const pass = census.pass()
    await sleep(50)
    const result = await store.capture('on-demand', { heapUsed: 20e6, predicted: { bytes: 40e6, pauseMs: 50 }, maxPauseMs: Infinity })
    assert.ok(result.path !== undefined, JSON.stringify(result))
    const { records } = await pass
    assert.ok(records.size > 0, 'the pass recorded the held array')
    assert.equal(instancesIn(result.path, 'CensusPass'), 0)
    assert.equal(held.length, 40_000)
  })
}

test("a census pass asked for with a forked child's snapshot (a leak's census and baseline) begins after the fork, not the fork after the pass", { skip: forkUnavailable() ?? false }, async (t) => {
  const { census, store } = censusAndStore(t, {}, 'fork')
  const written = store.capture('leak', { heapUsed: 20e6, predicted: { bytes: 40e6, pauseMs: 50 }, maxPauseMs: Infinity })
  const pass = await census.pass()
  const result = await written
  assert.ok(result.forkedAt !== undefined, JSON.stringify(result))
  assert.ok(pass.time >= result.forkedAt, `the pass began ${result.forkedAt - pass.time} ms before the fork`)
  assert.equal(instancesIn(result.path, 'CensusPass'), 0)
})

'use strict'

// The snapshot cost model: what it predicts before any snapshot, and how this process's own
// snapshots correct it. The measurements behind its constants are bench/snapshot-cost.js.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const v8 = require('node:v8')
const { SnapshotCost, modelFileBytes, modelPauseMs } = require('../../lib/capture/snapshot-cost')

const MB = 1e6

test('a bigger heap is predicted a bigger file and a longer pause; Node 20 pauses longer than 24', () => {
  const cost = new SnapshotCost(24)
  const small = cost.predict(20 * MB)
  const big = cost.predict(300 * MB)
  assert.equal(small.basis, 'model')
  assert.ok(big.bytes > 10 * small.bytes && big.pauseMs > 10 * small.pauseMs, JSON.stringify({ small, big }))
  assert.ok(new SnapshotCost(20).predict(300 * MB).pauseMs > big.pauseMs)
  // The large-object space has its own rate (big arrays write an edge per element).
  assert.notEqual(modelFileBytes(300 * MB, 0.5), modelFileBytes(300 * MB, 0))
})

test("a real snapshot corrects the next prediction to this process's own figures", () => {
  const cost = new SnapshotCost()
  const heap = 50 * MB
  const first = cost.predict(heap)
  // A process whose snapshots are a third of the model's size, and twice as slow to write.
  const real = { bytes: Math.round(first.bytes / 3), durationMs: 2 * modelPauseMs(first.bytes / 3, Number(process.versions.node.split('.')[0])) }
  cost.learn(first, real)
  const second = cost.predict(heap)
  assert.equal(second.basis, 'learned')
  assert.ok(Math.abs(second.bytes / real.bytes - 1) < 0.01, `${second.bytes} vs ${real.bytes}`)
  assert.ok(Math.abs(second.pauseMs / real.durationMs - 1) < 0.01, `${second.pauseMs} vs ${real.durationMs}`)
})

test('one odd snapshot moves the model at most 128 times either way, and an empty one not at all', () => {
  const cost = new SnapshotCost(24)
  const first = cost.predict(100 * MB)
  cost.learn(first, { bytes: 0, durationMs: 0 })
  const after = cost.predict(100 * MB)
  assert.equal(after.basis, 'model')
  // Within what this heap's large-object share may move between the two calls.
  assert.ok(Math.abs(after.bytes / first.bytes - 1) < 0.05, `${after.bytes} vs ${first.bytes}`)
  cost.learn(first, { bytes: first.bytes * 1e6, durationMs: 1 })
  assert.ok(Math.abs(cost.predict(100 * MB).bytes / (first.bytes * 128) - 1) < 0.01)
})

test('the prediction for this heap is within 1.5 times of a real snapshot of it', () => {
  const records = Array.from({ length: 200_000 }, (_, i) => ({ i, name: `record ${i}`, at: [i, i + 1] }))
  const heap = process.memoryUsage().heapUsed
  const predicted = new SnapshotCost().predict(heap)
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'leakproof-cost-')), 'x.heapsnapshot')
  v8.writeHeapSnapshot(file)
  const ratio = predicted.bytes / fs.statSync(file).size
  fs.rmSync(path.dirname(file), { recursive: true })
  assert.ok(ratio > 1 / 1.5 && ratio < 1.5, `predicted ÷ real = ${ratio.toFixed(2)} (${records.length} records)`)
})

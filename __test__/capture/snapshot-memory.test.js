'use strict'

// The memory a snapshot needs before it starts: the model, what a child's measured peak
// teaches it, `snapshotMemoryFactor` over both, and the store's check that declines with
// what was needed and what was available. The measurements are bench/snapshot-memory.js's.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { SnapshotMemory, GRAPH_PER_FILE_BYTE, IN_PROCESS_GRAPH_PER_FILE_BYTE, FIXED_BYTES } = require('../../lib/capture/snapshot-memory')
const { SnapshotStore } = require('../../lib/capture/snapshots')
const { modelFileBytes } = require('../../lib/capture/snapshot-cost')

const MB = 1e6
const GB = 1e9

function tempDir(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leakproof-snapshot-memory-'))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}

test("a child needs V8's graph, several times the file, and the live heap it may copy; in-process, the largest graph measured", () => {
  const memory = new SnapshotMemory()
  const child = memory.need({ fileBytes: 400 * MB, liveHeapBytes: 280 * MB, child: true })
  const inProcess = memory.need({ fileBytes: 400 * MB, liveHeapBytes: 280 * MB, child: false })
  assert.equal(child.basis, 'model')
  assert.equal(child.graphBytes, GRAPH_PER_FILE_BYTE * 400 * MB + FIXED_BYTES)
  assert.equal(child.copiedBytes, 280 * MB)
  assert.equal(child.bytes, child.graphBytes + child.copiedBytes)
  assert.equal(inProcess.copiedBytes, 0)
  assert.equal(inProcess.bytes, IN_PROCESS_GRAPH_PER_FILE_BYTE * 400 * MB + FIXED_BYTES)
  assert.ok(inProcess.bytes > child.graphBytes, 'no child to be killed in the service\'s place: the most measured')
  const bigger = memory.need({ fileBytes: 800 * MB, liveHeapBytes: 560 * MB, child: true })
  assert.ok(bigger.bytes > 1.9 * child.bytes)
})

// Children of a catalog service measured on Node 24 (docs/benchmarks/capture.md, "What a
// child costs a service's cgroup"): the live heap, and the growth of the service's memory
// cgroup while the child wrote, the file kept out of the page cache. The watcher's first
// check has only the heap: the file is snapshot-cost.js's prediction for it.
const MEASURED = [
  { heap: 89 * MB, cgroup: 0.9 * GB },
  { heap: 257 * MB, cgroup: 2.32 * GB },
  { heap: 282 * MB, cgroup: 2.91 * GB },
  { heap: 1004 * MB, cgroup: 8.47 * GB },
  { heap: 1997 * MB, cgroup: 17.83 * GB },
]

test('before any child is measured, the model asks 1 to 1.5 times what children took', () => {
  for (const m of MEASURED) {
    const { bytes } = new SnapshotMemory().need({ fileBytes: modelFileBytes(m.heap, 0), liveHeapBytes: m.heap, child: true })
    const ratio = bytes / m.cgroup
    assert.ok(ratio >= 1 && ratio <= 1.5, `${m.heap / MB} MB heap: asked ${bytes}, took ${m.cgroup} (${ratio.toFixed(2)}×)`)
  }
})

test("the issue's 1 GB heap: a follow-up that the old rule declined on 23.3 GB available now fits", () => {
  // A 0.96 GB heap whose learned file is 1.92 GB; its child peaked at 9.35 GB resident.
  const heap = 0.96 * GB
  const file = 1.92 * GB
  const old = 12 * file + heap
  const { bytes } = new SnapshotMemory().need({ fileBytes: file, liveHeapBytes: heap, child: true })
  assert.ok(old > 23.3 * GB && bytes < 23.3 * GB && bytes > 9.35 * GB, JSON.stringify({ old, bytes }))
})

test("a child's measured peak teaches the next prediction, within bounds", () => {
  const memory = new SnapshotMemory()
  memory.learn({ fileBytes: 470 * MB, peakPrivateBytes: 2.6 * GB })
  const learned = memory.need({ fileBytes: 470 * MB, liveHeapBytes: 282 * MB, child: true })
  assert.equal(learned.basis, 'learned')
  assert.ok(Math.abs(learned.graphBytes - (2.6 * GB + FIXED_BYTES)) < 1e3, JSON.stringify(learned))
  // A file of huge strings: a tiny file, a child of a normal size. Capped at 30 per byte.
  memory.learn({ fileBytes: 1 * MB, peakPrivateBytes: 1 * GB })
  assert.equal(memory.need({ fileBytes: 1 * MB, liveHeapBytes: 0, child: true }).graphBytes, 30 * MB + FIXED_BYTES)
  // A child read before it grew: at least 2 per byte.
  memory.learn({ fileBytes: 1 * GB, peakPrivateBytes: 1 * MB })
  assert.equal(memory.need({ fileBytes: 1 * GB, liveHeapBytes: 0, child: true }).graphBytes, 2 * GB + FIXED_BYTES)
})

test('absurd readings teach nothing, and absurd inputs fit nowhere', () => {
  const memory = new SnapshotMemory()
  for (const reading of [
    { fileBytes: 0, peakPrivateBytes: GB },
    { fileBytes: -5, peakPrivateBytes: GB },
    { fileBytes: GB, peakPrivateBytes: 0 },
    { fileBytes: GB, peakPrivateBytes: Number.NaN },
    { fileBytes: Infinity, peakPrivateBytes: GB },
    { fileBytes: GB, peakPrivateBytes: Infinity },
    { fileBytes: GB, peakPrivateBytes: undefined },
  ]) {
    memory.learn(reading)
  }
  assert.equal(memory.need({ fileBytes: GB, liveHeapBytes: GB, child: true }).basis, 'model')
  for (const input of [
    { fileBytes: Number.NaN, liveHeapBytes: GB },
    { fileBytes: GB, liveHeapBytes: -1 },
    { fileBytes: undefined, liveHeapBytes: GB },
    { fileBytes: GB, liveHeapBytes: null },
    { fileBytes: Infinity, liveHeapBytes: GB },
  ]) {
    assert.equal(memory.need({ ...input, child: true }).bytes, Infinity, JSON.stringify(input))
  }
  assert.equal(memory.need({ fileBytes: 0, liveHeapBytes: 0, child: true }).bytes, FIXED_BYTES)
})

test('snapshotMemoryFactor replaces the model and what was learned: that multiple of the file, and the heap for a child', () => {
  const memory = new SnapshotMemory({ factor: 12 })
  memory.learn({ fileBytes: GB, peakPrivateBytes: 5 * GB })
  const need = memory.need({ fileBytes: GB, liveHeapBytes: 0.5 * GB, child: true })
  assert.deepEqual(need, { bytes: 12.5 * GB, graphBytes: 12 * GB, copiedBytes: 0.5 * GB, basis: 'snapshotMemoryFactor' })
})

test('a snapshot that does not fit is declined for memory, saying what it needed and what was available', async (t) => {
  // A heap beyond any machine's memory, written in-process: no child is forked.
  const store = new SnapshotStore({ dir: tempDir(t), maxSnapshots: 2, maxDiskBytes: 2 ** 60, cooldownMs: 0, writer: 'in-process' })
  const result = await store.capture('leak', { heapUsed: 2 ** 46, predicted: { bytes: 2 ** 46, pauseMs: 1 }, maxPauseMs: Infinity })
  assert.equal(result.skipped, 'memory', JSON.stringify(result))
  const [, needed, available] = /^about (\d+) bytes of memory needed \(.*snapshot graph.*\), (\d+) available/.exec(result.detail) ?? []
  assert.equal(Number(needed), IN_PROCESS_GRAPH_PER_FILE_BYTE * 2 ** 46 + FIXED_BYTES, result.detail)
  assert.ok(Number(available) > 0 && Number(available) < Number(needed), result.detail)
})

'use strict'

// Native memory in a diff, on real snapshots (fixtures/native-streams.js): a Map of
// gzip streams, whose zlib memory lives outside the heap, and an Array of big Buffers, beside a
// Map that gains more entries but holds far fewer bytes.
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')
const { diffSnapshots, nativeKindsText } = require('../../lib/diagnose/analyze')

let dir
let diff
before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leakproof-native-'))
  execFileSync(process.execPath, [path.join(__dirname, 'fixtures', 'native-streams.js'), dir])
  diff = await diffSnapshots(path.join(dir, 'before.heapsnapshot'), path.join(dir, 'after.heapsnapshot'))
})
after(() => fs.rmSync(dir, { recursive: true, force: true }))

/** The grown collection held by the variable `name`. */
function held(name) {
  const found = diff.grownCollections.find((c) => c.holder?.name === name)
  assert.ok(found, JSON.stringify(diff.grownCollections.map((c) => [c.holder?.name, c.before, c.after])))
  return found
}

test('a Map of gzip streams says it holds Gzip objects and their zlib memory', () => {
  const feeds = held('feeds')
  assert.deepEqual([feeds.name, feeds.before, feeds.after, feeds.memberClass], ['Map', 50, 150, 'Gzip'])
  assert.ok(feeds.nativeBytes - feeds.nativeBytesBefore > 10e6, JSON.stringify(feeds))
  assert.ok(feeds.nativeBytes <= feeds.retainedSize)
  assert.equal(feeds.nativeKinds[0].name, 'Node / zlib_memory')
  assert.equal(feeds.nativeKinds[0].count, 150)
  assert.equal(nativeKindsText(feeds), 'zlib')
  const gzip = diff.suspects.find((s) => s.name === 'Gzip')
  assert.ok(gzip.nativeBytes > 10e6 && gzip.nativeBytes <= gzip.retainedSize, JSON.stringify(gzip))
})

test('the native nodes Node numbers afresh in each snapshot are new only with their streams', () => {
  const newOf = (name) => diff.newByClass.find((c) => c.name === name)?.count
  // By id all 150 streams' native nodes look new; by their owners (the Zlib handles) 100 are.
  assert.equal(newOf('Gzip'), 100)
  assert.equal(newOf('Node / zlib_memory'), 100)
  assert.equal(newOf('Node / ZlibStream'), 100)
  // They retain most of the new bytes, so they are suspects of their own.
  for (const name of ['Node / ZlibStream', 'Node / zlib_memory']) {
    const suspect = diff.suspects.find((s) => s.name === name)
    assert.equal(suspect?.count, 100, JSON.stringify(diff.suspects.map((s) => [s.name, s.count])))
  }
  // ArrayBuffer contents keep their ids: as new as their ArrayBuffers, the 40 new Buffers' among them.
  const contents = newOf('system / JSArrayBufferData')
  assert.ok(contents >= 40 && contents <= newOf('ArrayBuffer'), `${contents} of ${newOf('ArrayBuffer')}`)
})

test('the streams rank above a Map that gained more entries holding fewer bytes', () => {
  const order = diff.grownCollections.map((c) => c.holder?.name)
  const tiny = held('tiny')
  assert.ok(tiny.after - tiny.before > held('feeds').after - held('feeds').before)
  assert.ok(order.indexOf('feeds') < order.indexOf('tiny'), order.join(', '))
  assert.deepEqual([tiny.memberClass, tiny.nativeBytes, tiny.nativeKinds], ['Object', 0, []])
})

test('an Array of big Buffers holds ArrayBuffer contents', () => {
  const blobs = held('blobs')
  assert.deepEqual([blobs.name, blobs.before, blobs.after, blobs.memberClass], ['Array', 20, 60, 'Buffer'])
  assert.equal(blobs.nativeKinds[0].name, 'system / JSArrayBufferData')
  assert.equal(blobs.nativeKinds[0].count, 60)
  assert.equal(blobs.nativeBytes - blobs.nativeBytesBefore, 40 * 64 * 1024)
  assert.equal(nativeKindsText(blobs), 'ArrayBuffer contents')
})

test('matched by paths, the native memory before is unknown', async () => {
  const byPaths = await diffSnapshots(path.join(dir, 'before.heapsnapshot'), path.join(dir, 'after.heapsnapshot'), { match: 'paths' })
  const feeds = byPaths.grownCollections.find((c) => c.holder?.name === 'feeds')
  assert.equal(feeds.memberClass, 'Gzip')
  assert.equal(feeds.nativeBytesBefore, null)
  assert.ok(feeds.nativeBytes > 30e6, JSON.stringify(feeds))
})

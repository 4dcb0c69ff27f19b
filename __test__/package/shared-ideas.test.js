'use strict'

// The ideas several parts share, each in one module: the watcher's file names
// (lib/shared/file-names.js) and byte counts for people (lib/shared/bytes-text.js).
const test = require('node:test')
const assert = require('node:assert/strict')
const { threadId } = require('node:worker_threads')
const { SUFFIXES, watcherFileName, tempName, tempSnapshotWriter, isWatcherFile, profileKind, reportPathOf, parseWatcherName } = require('../../lib/shared/file-names')
const { bytesText, signedBytesText } = require('../../lib/shared/bytes-text')

const TIME = Date.parse('2026-11-24T13:05:09.042Z')

test('a watcher file name reads back as the time, process, thread and reason it was made with', () => {
  for (const suffix of Object.values(SUFFIXES)) {
    for (const sequence of [undefined, 0, 12]) {
      const name = watcherFileName(TIME, { sequence, reason: 'follow-up', suffix })
      assert.ok(isWatcherFile(name, suffix), name)
      assert.deepEqual(parseWatcherName(name), { time: TIME, pid: process.pid, threadId, reason: 'follow-up', suffix })
    }
  }
  assert.equal(watcherFileName(TIME, { sequence: 3, reason: 'leak', suffix: SUFFIXES.snapshot }), `leakproof-2026-11-24T13-05-09-042Z-${process.pid}-${threadId}-3-leak.heapsnapshot`)
  assert.equal(watcherFileName(TIME, { reason: 'diagnosis', suffix: SUFFIXES.report }), `leakproof-2026-11-24T13-05-09-042Z-${process.pid}-${threadId}-diagnosis.report.json`)
})

test('names of other files are not the watcher\'s', () => {
  for (const name of ['x.heapsnapshot', 'leakproof-.heapsnapshot', 'leakproof-2026-11-24T13-05-09-042Z-1-0-leak.heapsnapshot.1', 'Heap.20261124.heapsnapshot', '']) {
    assert.equal(parseWatcherName(name), null, name)
  }
  const impossible = parseWatcherName('leakproof-2026-19-44T13-05-09-042Z-7-0-leak.heapsnapshot')
  assert.deepEqual(impossible, { time: null, pid: 7, threadId: 0, reason: 'leak', suffix: SUFFIXES.snapshot }, 'a stamp that is no date gives no time')
})

test("a temporary snapshot names its writer; a pair's report sits beside its follow-up", () => {
  const name = watcherFileName(TIME, { sequence: 1, reason: 'leak', suffix: SUFFIXES.snapshot })
  assert.equal(tempSnapshotWriter(tempName(name)), process.pid)
  assert.equal(tempSnapshotWriter(name), null, 'a finished snapshot has no writer')
  assert.equal(tempSnapshotWriter(tempName(watcherFileName(TIME, { sequence: 1, reason: 'x', suffix: SUFFIXES.heapprofile }))), null)
  assert.equal(reportPathOf(`/var/snaps/${name}`), `/var/snaps/${name.replace('.heapsnapshot', '.report.json')}`)
})

test("a heap profile's kind is read from its ending, whoever wrote the file", () => {
  assert.equal(profileKind(watcherFileName(TIME, { sequence: 0, reason: 'leak', suffix: SUFFIXES.heapprofile })), 'heapprofile')
  assert.equal(profileKind('Heap-20261124T130509.heapprofile'), 'heapprofile')
  assert.equal(profileKind('heap.pb.gz'), 'pprof')
  for (const other of ['x.heapsnapshot', 'x.report.json', 'x.pb', 'x.heapprofile.tmp']) assert.equal(profileKind(other), null, other)
})

test('bytes read the same everywhere: SI units, a sign when asked, a dash when unknown', () => {
  const cases = [[0, '0 B'], [999, '999 B'], [1000, '1.0 KB'], [340_000, '340.0 KB'], [1_234_567, '1.2 MB'], [2 ** 20, '1.0 MB'], [1.234e9, '1.23 GB'], [-1_500_000, '-1.5 MB']]
  for (const [bytes, text] of cases) assert.equal(bytesText(bytes), text, String(bytes))
  for (const unknown of [NaN, Infinity, null, undefined, '12']) assert.equal(bytesText(unknown), '–')
  assert.equal(signedBytesText(64e6), '+64.0 MB')
  assert.equal(signedBytesText(-2e5), '-200.0 KB')
})

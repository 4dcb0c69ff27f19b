'use strict'

// The diagnosis of a leak that gets no snapshot, in real processes that leak: a named
// BoundedMap, an array of objects and a tracked emitter's listeners grow, V8's own heap
// statistics and object counts are read, and the report is written into a real directory.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFile } = require('node:child_process')

const FIXTURE = path.join(__dirname, 'fixtures', 'diagnosis-leak.js')
const MiB = 1024 * 1024
const COUNTING = 'live objects by constructor (v8.queryObjects)'

/** Runs the fixture; resolves with the lines it printed, parsed. */
function runLeak(dir, snapshotMaxPauseMs, where = 'main') {
  return new Promise((resolve, reject) => {
    const args = ['--expose-gc', FIXTURE, dir ?? '-', String(snapshotMaxPauseMs), where]
    execFile(process.execPath, args, { timeout: 120_000, maxBuffer: 16 * MiB }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`${err.message}\n${stderr}`))
      // The counts are the watcher's doing, not the app's: Node's warning about them is left out.
      if (/queryObjects/.test(stderr)) return reject(new Error(`a warning reached the app:\n${stderr}`))
      resolve(stdout.trim().split('\n').map((line) => JSON.parse(line)))
    })
  })
}

function tempDir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'leakproof-diagnosis-'))
}

/** The one `report` event among `lines`, and what `diagnose` resolved with. */
function reportOf(lines) {
  const reports = lines.filter((l) => l.type === 'report')
  assert.equal(reports.length, 1, JSON.stringify(lines))
  const { resolved, leakedObjects } = lines.find((l) => 'resolved' in l)
  const { type, ...report } = reports[0]
  assert.equal(type, 'report')
  assert.deepStrictEqual(resolved, report)
  return { report, leakedObjects }
}

/** The checks every report of the fixture's leak passes, whatever the budget. */
function checkLeakFound(report, fixtureThread) {
  assert.equal(report.kind, 'no-snapshot')
  assert.equal(report.threadId, fixtureThread)
  assert.deepStrictEqual(report.heapSnapshot, { taken: false, why: 'declined', detail: 'predicted pause 9000 ms' })
  assert.equal(report.leak.kind, 'heap')
  assert.ok(!('type' in report.leak) && !('pid' in report.leak))
  // The array and the map's entries went into the old space; several MiB of it.
  const [top] = report.heapSpaces.grew
  assert.equal(top.space, 'old_space', JSON.stringify(report.heapSpaces))
  assert.ok(top.growthBytes > 4 * MiB && top.afterBytes - top.beforeBytes === top.growthBytes)
  assert.ok(report.heapSpaces.since < report.heapSpaces.until)
  const [sessions] = report.collections.boundedMaps
  assert.equal(sessions.name, 'sessions')
  assert.ok(sessions.size > sessions.sizeBefore && sessions.sizeBefore > 0, JSON.stringify(sessions))
  assert.equal(sessions.max, 10_000_000)
  const [listeners] = report.collections.handles
  assert.equal(listeners.emitter, 'bus')
  assert.match(listeners.site, /diagnosis-leak\.js:\d+:\d+$/)
  assert.ok(listeners.growth >= 6)
  assert.match(report.sites.sites[0].url, /diagnosis-leak\.js$/)
  const notLookedAt = report.notLookedAt.map((n) => n.what)
  assert.ok(notLookedAt.some((w) => w.startsWith('retainers')))
  const snapshot = report.notLookedAt.find((n) => n.what === 'heap snapshot')
  assert.match(snapshot.why, /^declined: .*snapshotMaxPauseMs: predicted pause 9000 ms$/)
  assert.ok(report.lookedAt.some((w) => w.startsWith('V8 heap spaces')))
}

test('a leak without a snapshot is reported: growing map, old space, listeners, sites, object counts; the file is private and whole', async () => {
  const dir = path.join(tempDir(), 'reports')
  const lines = await runLeak(dir, 120_000)
  const { report, leakedObjects } = reportOf(lines)
  checkLeakFound(report, 0)
  assert.deepStrictEqual(lines.filter((l) => l.type === 'error'), [])
  // Counted: every constructor, within the budget; every leaked object (array and map) is an Object.
  const counts = Object.fromEntries(report.objectCounts.counts.map((c) => [c.constructor, c.count]))
  assert.deepStrictEqual(Object.keys(counts), ['Object', 'Array', 'Map', 'Set', 'Promise'])
  assert.ok(counts.Object >= 2 * leakedObjects, `${counts.Object} objects, ${leakedObjects} leaked`)
  assert.ok(report.objectCounts.pauseMs > 0 && report.objectCounts.heapBytes > 0)
  assert.ok(!report.notLookedAt.some((n) => n.what.startsWith(COUNTING)))
  // Written where the dir said, made private, complete, the same as the event.
  assert.equal(path.dirname(report.path), dir)
  assert.match(path.basename(report.path), new RegExp(`^leakproof-.+-${report.pid}-0-diagnosis\\.report\\.json$`))
  assert.equal(fs.statSync(dir).mode & 0o777, 0o700)
  assert.equal(fs.statSync(report.path).mode & 0o777, 0o600)
  assert.deepStrictEqual(fs.readdirSync(dir), [path.basename(report.path)])
  assert.deepStrictEqual(JSON.parse(fs.readFileSync(report.path, 'utf8')), report)
})

test('object counts that would pause longer than the budget are not taken, and the report says why', async () => {
  const lines = await runLeak(undefined, 1)
  const { report } = reportOf(lines)
  checkLeakFound(report, 0)
  assert.equal(report.objectCounts, null)
  const skipped = report.notLookedAt.find((n) => n.what.startsWith(COUNTING))
  assert.ok(skipped, JSON.stringify(report.notLookedAt))
  assert.match(skipped.what, /Object, Array, Map, Set, Promise$/)
  assert.match(skipped.why, /pause the event loop about \d+ ms at this heap \(\d+ MiB\); snapshotMaxPauseMs is 1$/)
  // No dir: emitted only.
  assert.equal(report.path, null)
  assert.deepStrictEqual(lines.filter((l) => l.type === 'error'), [])
})

test('in a worker thread the diagnosis works, and leaves nothing that keeps the worker alive', async () => {
  const dir = tempDir()
  const lines = await runLeak(dir, 1, 'worker')
  const { report } = reportOf(lines)
  assert.ok(report.threadId > 0)
  checkLeakFound(report, report.threadId)
  assert.match(path.basename(report.path), new RegExp(`-${report.threadId}-diagnosis\\.report\\.json$`))
  assert.deepStrictEqual(JSON.parse(fs.readFileSync(report.path, 'utf8')), report)
  // The worker ended on its own: nothing left running in it (its exit is the last line).
  assert.deepStrictEqual(lines.at(-1), { type: 'worker-exit', code: 0 })
})

test('a dir that cannot be written: an error event, the report still emitted, nothing thrown into the app', async () => {
  const file = path.join(tempDir(), 'a-file')
  fs.writeFileSync(file, '')
  const lines = await runLeak(path.join(file, 'reports'), 1)
  const { report } = reportOf(lines)
  assert.equal(report.path, null)
  const errors = lines.filter((l) => l.type === 'error')
  assert.equal(errors.length, 1)
  assert.equal(errors[0].during, 'diagnosis')
  assert.match(errors[0].error, /ENOTDIR/)
})

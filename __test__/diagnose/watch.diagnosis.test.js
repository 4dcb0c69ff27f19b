'use strict'

// The diagnosis of a leak that gets no snapshot, in real processes that leak: a named
// BoundedMap, an array of objects and a tracked emitter's listeners grow, V8's own heap
// statistics are read, the census names the array by its variable, and the report is written
// into a real directory; sockets left open one per call are counted by their handles, with
// their remote end and the app's line that made them.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const net = require('node:net')
const path = require('node:path')
const { execFile } = require('node:child_process')
const { tempDir } = require('../support/temp-dir')

const FIXTURE = path.join(__dirname, 'fixtures', 'diagnosis-leak.js')
const MiB = 1024 * 1024

/**
 * Runs the fixture (`census`: 'on' or 'off'; `env`, its environment's additions); resolves
 * with the lines it printed, parsed.
 */
function runLeak(dir, census, where = 'main', env = {}) {
  return new Promise((resolve, reject) => {
    const args = ['--expose-gc', FIXTURE, dir ?? '-', census, where]
    execFile(process.execPath, args, { timeout: 120_000, maxBuffer: 16 * MiB, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`${err.message}\n${stderr}`))
      resolve(stdout.trim().split('\n').map((line) => JSON.parse(line)))
    })
  })
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
  const snapshot = report.notLookedAt.find((n) => n.what === 'heap snapshot')
  assert.match(snapshot.why, /^declined: .*snapshotMaxPauseMs: predicted pause 9000 ms$/)
  assert.ok(report.lookedAt.some((w) => w.startsWith('V8 heap spaces')))
}

/** The census named the array, a module-level variable of the fixture, among the suspects. */
function checkCensusFound(report) {
  assert.equal(report.evidence, 'census')
  const recent = report.suspects.find((s) => s.readablePath === 'recent')
  assert.ok(recent, JSON.stringify(report.suspects, null, 1))
  assert.equal(recent.holder.kind, 'module')
  assert.equal(recent.holder.className, 'Array')
  assert.equal(recent.holder.description, `recent (Array), a module-level variable of ${FIXTURE}`)
  assert.ok(recent.after > recent.before && recent.before > 0, JSON.stringify(recent))
  assert.equal(recent.bytesPerEntrySource, 'slope')
  assert.ok(report.census.passes.length >= 2)
  for (const pass of report.census.passes) assert.ok(pass.cost.visited > 0 && pass.cost.slices > 0 && pass.cost.longestSliceMs > 0)
  assert.ok(report.census.since < report.census.until)
  assert.ok(report.lookedAt.some((w) => w.startsWith('collections reachable from the code')))
  assert.ok(!report.suspects.some((s) => s.holder.file?.includes(`${path.sep}lib${path.sep}`)), 'none of leakproof\'s own')
}

test('a leak without a snapshot is reported: growing map, old space, listeners, sites, the census\' holder; the file is private and whole', async (t) => {
  const dir = path.join(tempDir(t, 'diagnosis'), 'reports')
  const lines = await runLeak(dir, 'on')
  const { report } = reportOf(lines)
  checkLeakFound(report, 0)
  checkCensusFound(report)
  assert.deepStrictEqual(lines.filter((l) => l.type === 'error'), [])
  // Written where the dir said, made private, complete, the same as the event.
  assert.equal(path.dirname(report.path), dir)
  assert.match(path.basename(report.path), new RegExp(`^leakproof-.+-${report.pid}-0-diagnosis\\.report\\.json$`))
  assert.equal(fs.statSync(dir).mode & 0o777, 0o700)
  assert.equal(fs.statSync(report.path).mode & 0o777, 0o600)
  assert.deepStrictEqual(fs.readdirSync(dir), [path.basename(report.path)])
  assert.deepStrictEqual(JSON.parse(fs.readFileSync(report.path, 'utf8')), report)
})

test('with census: false there is no census, and the report says so', async () => {
  const lines = await runLeak(undefined, 'off')
  const { report } = reportOf(lines)
  checkLeakFound(report, 0)
  assert.equal(report.census, null)
  assert.deepStrictEqual(report.suspects, [])
  assert.equal(report.evidence, 'sites')
  const skipped = report.notLookedAt.find((n) => n.what.startsWith('collections reachable'))
  assert.equal(skipped?.why, 'census: false')
  // No dir: emitted only.
  assert.equal(report.path, null)
  assert.deepStrictEqual(lines.filter((l) => l.type === 'error'), [])
})

test('in a worker thread the diagnosis works, and leaves nothing that keeps the worker alive', async (t) => {
  const dir = tempDir(t, 'diagnosis')
  const lines = await runLeak(dir, 'on', 'worker')
  const { report } = reportOf(lines)
  assert.ok(report.threadId > 0)
  checkLeakFound(report, report.threadId)
  checkCensusFound(report)
  assert.match(path.basename(report.path), new RegExp(`-${report.threadId}-diagnosis\\.report\\.json$`))
  assert.deepStrictEqual(JSON.parse(fs.readFileSync(report.path, 'utf8')), report)
  // The worker ended on its own: nothing left running in it (its exit is the last line).
  assert.deepStrictEqual(lines.at(-1), { type: 'worker-exit', code: 0 })
})

test('a dir that cannot be written: an error event, the report still emitted, nothing thrown into the app', async (t) => {
  const file = path.join(tempDir(t, 'diagnosis'), 'a-file')
  fs.writeFileSync(file, '')
  const lines = await runLeak(path.join(file, 'reports'), 'off')
  const { report } = reportOf(lines)
  assert.equal(report.path, null)
  const errors = lines.filter((l) => l.type === 'error')
  assert.equal(errors.length, 1)
  assert.equal(errors[0].during, 'diagnosis')
  assert.match(errors[0].error, /ENOTDIR/)
})

/**
 * An upstream server on 127.0.0.1, another process's as a service's database or API is, that
 * keeps every connection open until the test ends; resolves with its port.
 */
async function upstreamServer(t) {
  const accepted = new Set()
  const upstream = net.createServer((socket) => accepted.add(socket))
  await new Promise((resolve) => upstream.listen(0, '127.0.0.1', resolve))
  t.after(() => {
    upstream.close()
    for (const socket of accepted) socket.destroy()
  })
  return upstream.address().port
}

/** The line of the fixture's `openUpstream` (the profile counts per function: where it starts). */
function openUpstreamLine() {
  return fs.readFileSync(FIXTURE, 'utf8').split('\n').findIndex((l) => l.startsWith('function openUpstream(')) + 1
}

test('sockets left open one per call, no collection holding them: their count, remote end and the line that made them', async (t) => {
  const port = await upstreamServer(t)
  const { report } = reportOf(await runLeak(undefined, 'on', 'main', { UPSTREAM_PORT: String(port) }))
  assert.equal(report.evidence, 'census')
  const [first] = report.suspects
  assert.equal(first?.holder.kind, 'handles', JSON.stringify(report.suspects, null, 1))
  assert.equal(first.holder.className, 'Socket')
  assert.ok(first.after > first.before && first.after >= 240, JSON.stringify(first))
  // Every socket of the pass was read; the newest may still be connecting, its end not yet known.
  assert.deepStrictEqual({ ...first.remoteEnd, count: 0 }, { end: `127.0.0.1:${port}`, count: 0, of: Math.min(first.after, 1000) })
  assert.ok(first.remoteEnd.count >= first.remoteEnd.of - 10, JSON.stringify(first.remoteEnd))
  const line = openUpstreamLine()
  assert.deepStrictEqual({ ...first.madeAt, column: 0, growthBytes: 0 }, { functionName: 'openUpstream', url: FIXTURE, line, column: 0, growthBytes: 0 })
  assert.ok(first.madeAt.growthBytes > 0)
  assert.equal(first.holder.description, `${first.after} open Socket handles, remote end 127.0.0.1:${port} for ${first.remoteEnd.count} of ${first.remoteEnd.of} read (active handles, each a root of its own: no collection holds them), made in openUpstream (${FIXTURE}:${line})`)
})

test('sites ranked after the report went out still give its sockets their line, in the report a pair confirms', async (t) => {
  const port = await upstreamServer(t)
  const lines = await runLeak(undefined, 'on', 'main', { UPSTREAM_PORT: String(port), LATE_SITES: '1' })
  const { report } = reportOf(lines)
  const [first] = report.suspects
  assert.equal(report.sites, null)
  assert.ok(report.notLookedAt.some((n) => n.what === 'allocation sites' && /still being ranked/.test(n.why)), JSON.stringify(report.notLookedAt))
  assert.deepEqual([first.holder.kind, first.madeAt], ['handles', null])
  assert.doesNotMatch(first.holder.description, /made in/)
  const { later } = lines.find((l) => 'later' in l)
  const [now] = later.suspects
  assert.deepEqual([now.madeAt.functionName, now.madeAt.url, now.madeAt.line], ['openUpstream', FIXTURE, openUpstreamLine()])
  assert.equal(now.holder.description, `${first.holder.description}, made in openUpstream (${FIXTURE}:${openUpstreamLine()})`)
  assert.equal(later.path, report.path)
})

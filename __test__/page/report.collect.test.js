'use strict'

/**
 * collect(): the report's reading of a watcher's directory into its MODEL, on real files —
 * a real leaking service's log, snapshots and report; logs written as the event log writes
 * them; bad input of every kind; and a big log read in bounded memory.
 */
const test = require('node:test')
const assert = require('node:assert')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { collect } = require('../../lib/page/collect')
const { FloorPoints } = require('../../lib/page/points')
const { CODES } = require('../../lib/shared/errors')
const { eventLine, sampleLine, bigLogHeap, writeBigLog } = require('./fixtures/report-logs')
const { rng } = require('../support/helpers')
const { startLeakingRun } = require('./fixtures/leaking-run')
const { tempDir } = require('../support/temp-dir')
const { spawnSync } = require('node:child_process')
const { DEFAULT_NAME } = require('../../lib/page')

const BIN = path.join(__dirname, '..', '..', 'bin', 'leakproof.js')

const T0 = 1_795_000_000_000
const MiB = 1024 * 1024

/**
 * The real leaking service's run (fixtures/leaking-run.js) into a directory of its own, removed
 * once the file's tests are done; resolves with `{ dir, pid, code, stderr }`.
 */
async function startLeakingService() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leakproof-report-run-'))
  const exited = startLeakingRun(test, dir)
  test.after(() => fs.rmSync(dir, { recursive: true, force: true })) // after the run's own, which stops it
  return { dir, ...(await exited) }
}
const leakingRun = startLeakingService()

test('a dir that does not exist, a file, or not a string is refused with a coded error', async (t) => {
  const dir = tempDir(t, 'report')
  const file = path.join(dir, 'file.log')
  fs.writeFileSync(file, '')
  await assert.rejects(collect(path.join(dir, 'nope')), { code: CODES.REPORT_DIR, message: /^report: dir must be a readable directory; got ".*nope", which does not exist$/ })
  await assert.rejects(collect(file), { code: CODES.REPORT_DIR, message: /which is not a directory$/ })
  await assert.rejects(collect(42), { name: 'TypeError', code: CODES.INVALID_ARGUMENT, message: 'report: dir must be a path to a directory; got 42' })
  await assert.rejects(collect(dir, { maxPoints: 1 }), { code: CODES.INVALID_OPTION, message: 'report: options.maxPoints must be an integer of 2 or more; got 1' })
  await assert.rejects(collect(dir, { points: 5 }), { code: CODES.UNKNOWN_OPTION })
})

test('a directory this process cannot list is refused with a coded error', { skip: process.getuid?.() === 0 && 'root lists every directory' }, async (t) => {
  const dir = tempDir(t, 'report')
  fs.chmodSync(dir, 0)
  t.after(() => fs.chmodSync(dir, 0o700))
  await assert.rejects(collect(dir), { code: CODES.REPORT_DIR, message: /cannot be read/ })
})

test('an empty directory gives a MODEL without processes that says why', async (t) => {
  const model = await collect(tempDir(t, 'report'))
  assert.deepStrictEqual(model.processes, [])
  assert.deepStrictEqual(model.files, { logs: [], reports: [], snapshots: [] })
  assert.ok(model.notes.some((n) => /nothing from leakproof in this directory/.test(n)), model.notes.join('\n'))
  assert.doesNotThrow(() => JSON.parse(JSON.stringify(model)))
})

test('a truncated last line and garbage lines are counted and noted; the rest is read', async (t) => {
  const dir = tempDir(t, 'report')
  const lines = [0, 1, 2].map((i) => sampleLine(T0 + i * 1000, 10, 0, { heap: 1e6 + i }))
  const truncated = eventLine('leak', T0 + 3000, 10, 0, { kind: 'heap' }).slice(0, 30)
  fs.writeFileSync(path.join(dir, 'app.jsonl'), lines[0] + 'garbage here\n\n' + lines[1] + lines[2] + truncated)
  const model = await collect(dir)
  assert.equal(model.processes.length, 1)
  assert.deepStrictEqual(model.processes[0].floors.heap, [1e6, 1e6 + 1, 1e6 + 2])
  assert.deepStrictEqual(model.processes[0].leaks, [])
  assert.ok(model.notes.includes('app.jsonl: skipped 2 lines that are not JSON (a truncated last line, or garbage)'), model.notes.join('\n'))
})

test('a line longer than 64 MiB is counted as unreadable, never held whole', async (t) => {
  const dir = tempDir(t, 'report')
  const file = path.join(dir, 'app.log')
  fs.writeFileSync(file, sampleLine(T0, 11, 0, { heap: 1 }))
  fs.appendFileSync(file, Buffer.alloc(65 * 1024 * 1024, 'x'))
  fs.appendFileSync(file, '\n' + sampleLine(T0 + 1000, 11, 0, { heap: 2 }))
  const model = await collect(dir)
  assert.deepStrictEqual(model.processes[0].floors.heap, [1, 2])
  assert.ok(model.notes.includes('app.log: skipped 1 line that is not JSON (a truncated last line, or garbage)'), model.notes.join('\n'))
})

test('events other than samples are kept to the newest 500 of each kind, listener leaks one per site, with a note', async (t) => {
  const dir = tempDir(t, 'report')
  const lines = []
  for (let i = 0; i < 600; i++) lines.push(eventLine('leak', T0 + i, 12, 0, { kind: 'heap', since: T0, slopeBytesPerSec: 1, current: i, urgent: false, projectedLimitAt: null }))
  for (let i = 0; i < 3; i++) lines.push(eventLine('listener-leak', T0 + i, 12, 0, { emitter: 'Socket', event: 'data', site: 'a.js:1', count: 10 * (i + 1), growth: 10 }))
  lines.push(eventLine('listener-leak', T0, 12, 0, { emitter: 'Socket', event: 'end', site: 'a.js:1', count: 7, growth: 7 }))
  fs.writeFileSync(path.join(dir, 'a.log'), lines.join(''))
  const model = await collect(dir)
  const [proc] = model.processes
  assert.deepStrictEqual(proc.leaks.map((l) => l.current), Array.from({ length: 500 }, (_, i) => i + 100))
  assert.deepStrictEqual(proc.listenerLeaks.map((l) => [l.event, l.count]), [['end', 7], ['data', 30]])
  assert.ok(model.notes.includes('pid 12: 600 leak events, the newest 500 shown'), model.notes.join('\n'))
  assert.ok(!model.notes.some((n) => /listener-leak sites/.test(n)), model.notes.join('\n'))
})

test('past 64 processes, the others are counted in a note; events of unknown types are noted', async (t) => {
  const dir = tempDir(t, 'report')
  const lines = Array.from({ length: 70 }, (_, i) => sampleLine(T0, 1000 + i, 0, { heap: i }))
  lines.push(eventLine('future-event', T0, 1000, 0))
  fs.writeFileSync(path.join(dir, 'many.log'), lines.join(''))
  const model = await collect(dir)
  assert.equal(model.processes.length, 64)
  assert.equal(model.processes.at(-1).pid, 1063)
  assert.ok(model.notes.includes('6 more processes or threads not shown (the first 64 are)'), model.notes.join('\n'))
  assert.ok(model.notes.includes('many.log: skipped events of types this report does not know (future-event)'), model.notes.join('\n'))
})

test("another program's logs are listed in a note and skipped", async (t) => {
  const dir = tempDir(t, 'report')
  fs.writeFileSync(path.join(dir, 'access.log'), '127.0.0.1 - - [22/Nov/2026:18:50:00 +0000] "GET / HTTP/1.1" 200 612 "-" "curl/8.5"\n')
  fs.writeFileSync(path.join(dir, 'app.log'), '{"level":30,"time":1795000000000,"msg":"listening","type":"info"}\n')
  fs.writeFileSync(path.join(dir, 'other.jsonl'), '{"type":"sample","time":1795000000000,"pid":"not a number"}\n')
  fs.writeFileSync(path.join(dir, 'binary.dat'), Buffer.from([0, 1, 2, 255, 254, 10, 0]))
  const model = await collect(dir)
  assert.deepStrictEqual(model.processes, [])
  assert.deepStrictEqual(model.files.logs, [])
  for (const name of ['access.log', 'app.log', 'other.jsonl', 'binary.dat']) {
    assert.ok(model.notes.includes(`${name}: not a leakproof event log; skipped`), model.notes.join('\n'))
  }
})

test('its own earlier pages, whatever their name, are skipped without a note; an HTML file of another kind is noted', async (t) => {
  const dir = tempDir(t, 'report')
  const elsewhere = tempDir(t, 'report')
  fs.writeFileSync(path.join(dir, 'app.jsonl'), sampleLine(T0, 12, 0, { heap: 1e6 }) + '\n')
  // Another tool's page, which names leakproof only in its body.
  fs.writeFileSync(path.join(dir, 'index.html'), '<!DOCTYPE html>\n<html><head><title>Coverage</title></head><body><h1>leakproof report</h1></body></html>\n')
  const run = () => spawnSync(process.execPath, [BIN, 'report', dir], { encoding: 'utf8' })
  const first = run()
  assert.equal(first.status, 0, first.stderr)
  assert.equal(first.stdout, `${path.join(dir, DEFAULT_NAME)}\n`)
  // The page written elsewhere and brought back under another name, and an old page's head (no generator, only its title).
  const other = spawnSync(process.execPath, [BIN, 'report', dir, '-o', path.join(elsewhere, 'page.html')], { encoding: 'utf8' })
  assert.equal(other.status, 0, other.stderr)
  fs.renameSync(path.join(elsewhere, 'page.html'), path.join(dir, 'leak-2026-11-29.htm'))
  const page = fs.readFileSync(path.join(dir, DEFAULT_NAME), 'utf8')
  fs.writeFileSync(path.join(dir, 'older.html'), page.replace(/<meta name="generator"[^>]*>\n/, ''))
  assert.notEqual(fs.readFileSync(path.join(dir, 'older.html'), 'utf8'), page, 'the older page has no generator')
  const second = run()
  assert.equal(second.status, 0, second.stderr)
  const noted = second.stderr.split('\n').filter((line) => /skipped/.test(line))
  assert.deepStrictEqual(noted, ['leakproof: index.html: not a leakproof event log; skipped'], second.stderr)
  const model = await collect(dir)
  assert.deepStrictEqual(model.files.logs.map((log) => log.name), ['app.jsonl'])
})

test('two processes and a worker thread in one log, with its rotated generation: one entry each, oldest lines first', async (t) => {
  const dir = tempDir(t, 'report')
  const older = sampleLine(T0, 100, 0, { heap: 1 }) + sampleLine(T0, 200, 0, { heap: 10 })
  const newer = [
    sampleLine(T0 + 1000, 100, 0, { heap: 2 }),
    sampleLine(T0 + 1000, 100, 3, { heap: 100 }),
    sampleLine(T0 + 1000, 200, 0, { heap: 11 }),
    eventLine('leak', T0 + 2000, 100, 3, { kind: 'heap', since: T0, slopeBytesPerSec: 50, current: 100, urgent: false, projectedLimitAt: null, scale: 'hour', scaleSpanMs: 3_840_000, test: 'trend' }),
    eventLine('listener-leak', T0 + 2500, 200, 0, { emitter: 'Socket', event: 'data', site: 'app.js:4', count: 20, growth: 20 }),
    eventLine('listener-leak', T0 + 2600, 200, 0, { emitter: 'Socket', event: 'data', site: 'app.js:4', count: 40, growth: 20 }),
  ].join('')
  fs.writeFileSync(path.join(dir, 'events.log.1'), older)
  fs.writeFileSync(path.join(dir, 'events.log'), newer)
  const model = await collect(dir)
  assert.deepStrictEqual(model.processes.map((p) => p.label), ['pid 100', 'pid 200', 'pid 100, thread 3'])
  const [main, other, worker] = model.processes
  assert.deepStrictEqual(main.floors.heap, [1, 2])
  assert.deepStrictEqual(main.floors.time, [T0, T0 + 1000])
  assert.deepStrictEqual(other.floors.heap, [10, 11])
  assert.deepStrictEqual(worker.floors.heap, [100])
  assert.deepStrictEqual(worker.leaks.map((l) => [l.time, l.scale, l.scaleSpanMs, l.test]), [[T0 + 2000, 'hour', 3_840_000, 'trend']])
  assert.deepStrictEqual(main.leaks, [])
  assert.deepStrictEqual(other.listenerLeaks, [{ emitter: 'Socket', event: 'data', site: 'app.js:4', count: 40 }])
  assert.deepStrictEqual(model.files.logs.map((f) => f.name), ['events.log.1', 'events.log'])
  assert.equal(main.containerLimit, 536_870_912)
  assert.deepStrictEqual(main.floors.native, [40_000_000, 40_000_000])
})

test('a log just rotated (empty, its lines in .1) is a log; another empty file is noted', async (t) => {
  const dir = tempDir(t, 'report')
  fs.writeFileSync(path.join(dir, 'events.log.1'), sampleLine(T0, 5, 0, { heap: 3 }))
  fs.writeFileSync(path.join(dir, 'events.log'), '')
  fs.writeFileSync(path.join(dir, 'notes.txt'), '\n\n')
  const model = await collect(dir)
  assert.deepStrictEqual(model.files.logs, [{ name: 'events.log.1', bytes: fs.statSync(path.join(dir, 'events.log.1')).size }, { name: 'events.log', bytes: 0 }])
  assert.deepStrictEqual(model.processes[0].floors.heap, [3])
  assert.deepStrictEqual(model.notes.filter((n) => /empty/.test(n)), ['notes.txt: empty; skipped'])
})

test('a log without samples (older leakproof) has no floors, and the MODEL says so', async (t) => {
  const dir = tempDir(t, 'report')
  fs.writeFileSync(path.join(dir, 'old.log'), eventLine('leak', T0, 7, 0, { kind: 'heap', since: T0 - 60_000, slopeBytesPerSec: 9, current: 5e6, urgent: false, projectedLimitAt: null }))
  const model = await collect(dir)
  const [proc] = model.processes
  assert.deepStrictEqual(proc.floors, { time: [], heap: [], external: [], native: [], rss: [] })
  assert.equal(proc.floorsTotal, 0)
  assert.equal(proc.leaks.length, 1)
  assert.ok(model.notes.some((n) => n.startsWith('pid 7: no floors: the log has no `sample` events')), model.notes.join('\n'))
})

test('a restart: when it was due and why, and the margin it left with, evidence kept and lost', async (t) => {
  const dir = tempDir(t, 'report')
  const evidence = { reports: ['/d/r.report.json'], snapshots: ['/d/a.heapsnapshot', '/d/b.heapsnapshot'], profiles: [] }
  fs.writeFileSync(path.join(dir, 'w.log'), [
    eventLine('restart-due', T0, 7, 0, { kind: 'heap', limitAt: T0 + 120_000, timeLeftMs: 120_000, beforeMinInterval: true, evidence: { settled: true, ...evidence } }),
    eventLine('restart-exit', T0 + 40_000, 7, 0, { exitCode: 75, drained: true, drainMs: 300, margin: { limitAt: T0 + 95_000, timeLeftMs: 55_000, bytesLeft: 24_000_000, evidence: { ...evidence, snapshots: ['/d/b.heapsnapshot'], lost: ['/d/a.heapsnapshot'] } } }),
  ].join(''))
  const [proc] = (await collect(dir)).processes
  assert.deepStrictEqual(proc.restarts, [
    { time: T0, step: 'due', kind: 'heap', timeLeftMs: 120_000, bytesLeft: null, beforeMinInterval: true, settled: true, kept: 3, lost: null },
    { time: T0 + 40_000, step: 'exit', kind: null, timeLeftMs: 55_000, bytesLeft: 24_000_000, beforeMinInterval: false, settled: null, kept: 2, lost: 1 },
  ])
})

test('samples without native, rss and containerLimit (before they were logged) give null columns and a note', async (t) => {
  const dir = tempDir(t, 'report')
  fs.writeFileSync(path.join(dir, 'a.log'), sampleLine(T0, 8, 0, { heap: 5, withNative: false }))
  const model = await collect(dir)
  const [proc] = model.processes
  assert.deepStrictEqual(proc.floors, { time: [T0], heap: [5], external: [1_800_000], native: [null], rss: [null] })
  assert.equal(proc.containerLimit, null)
  assert.equal(proc.heapLimit, 4_345_298_944)
  assert.ok(model.notes.includes('pid 8: the samples have no native or rss floors (a log written by an older leakproof, or not measured here)'), model.notes.join('\n'))
})

test('report files: attached by the pid in their content or name, preferred to the event, broken ones noted', async (t) => {
  const dir = tempDir(t, 'report')
  const pairName = 'leakproof-2026-11-22T18-50-44-907Z-300-2-1-follow-up.report.json'
  const diagnosisName = 'leakproof-2026-11-22T18-51-00-000Z-999-0-diagnosis.report.json'
  const suspect = (holder) => ({ name: 'Session', count: 5, bytes: 50, retainedSize: 500, share: 0.9, holder: { description: holder }, readablePath: ['sessions (Map)', 'table', 'Session ×5'] })
  fs.writeFileSync(path.join(dir, 'w.log'), eventLine('report', T0, 300, 2, { path: `/elsewhere/${pairName}`, kind: 'pair', suspects: [suspect('from the event')] }))
  fs.writeFileSync(path.join(dir, pairName), JSON.stringify({ kind: 'pair', suspects: [suspect('from the file')], grownCollections: [{ name: 'Map', before: 1, after: 9, retainedSize: 3, readablePath: ['a', 'b'] }], growingHandles: [] }))
  const storeSite = {
    functionName: 'set', url: '/srv/node_modules/express-session/session/memory.js', line: 119, column: 5, liveBytes: 6, growthBytes: 4,
    package: 'express-session', appFrame: { functionName: 'f', url: 'file:///app.js', line: 3, column: 9 },
  }
  fs.writeFileSync(path.join(dir, diagnosisName), JSON.stringify({
    kind: 'no-snapshot', time: T0 + 5000, pid: 301, threadId: 0, sites: { windowMs: 1000, sites: [{ functionName: 'f', url: 'file:///app.js', line: 3, column: 9, liveBytes: 10, growthBytes: 8 }, storeSite] },
    collections: { boundedMaps: [{ name: 'users', maps: 1, sizeBefore: 2, size: 20 }], handles: [] }, lookedAt: ['heap spaces'], notLookedAt: [{ what: 'heap snapshot', why: 'declined' }],
  }))
  fs.writeFileSync(path.join(dir, 'leakproof-2026-11-22T18-52-00-000Z-300-2-3-follow-up.report.json'), '{"kind":"pair","suspe')
  const model = await collect(dir)
  assert.deepStrictEqual(model.processes.map((p) => p.label), ['pid 300, thread 2', 'pid 301'])
  const [pair] = model.processes[0].reports
  assert.deepStrictEqual(pair, {
    time: T0, kind: 'pair', name: pairName, native: null, lookedAt: null, notLookedAt: null, growingHandles: [], evidence: null, growthRoots: [],
    suspects: [{ name: 'Session', count: 5, retainedSize: 500, share: 0.9, holder: 'from the file', path: 'sessions (Map) → table → Session ×5' }],
    grownCollections: [{ name: 'Map', before: 1, after: 9, path: 'a → b' }],
  })
  const diagnosed = model.processes[1]
  assert.deepStrictEqual(diagnosed.reports[0].grownCollections, [{ name: 'users', before: 2, after: 20 }])
  assert.deepStrictEqual(diagnosed.reports[0].notLookedAt, [{ what: 'heap snapshot', why: 'declined' }])
  assert.equal(diagnosed.reports[0].time, T0 + 5000)
  assert.deepStrictEqual(diagnosed.sites, [
    { functionName: 'f', url: 'file:///app.js', line: 3, column: 9, built: null, growthBytes: 8, liveBytes: 10, package: null, appFrame: null },
    { ...storeSite, built: null, growthBytes: 4, liveBytes: 6, appFrame: { ...storeSite.appFrame, built: null } },
  ])
  assert.ok(model.notes.some((n) => n.startsWith('leakproof-2026-11-22T18-52-00-000Z-300-2-3-follow-up.report.json: not a readable report (')), model.notes.join('\n'))
  assert.equal(model.files.reports.length, 3)
})

test('heap profiles are listed by name, kind, size and mtime, not read, and not noted as logs', async (t) => {
  const dir = tempDir(t, 'report')
  const heapprofile = 'leakproof-2026-11-22T18-50-44-907Z-300-0-1-sites.heapprofile'
  const pprof = 'leakproof-2026-11-22T18-50-44-907Z-300-0-1-sites.pb.gz'
  fs.writeFileSync(path.join(dir, heapprofile), JSON.stringify({ head: { callFrame: { functionName: '(root)' }, selfSize: 0, children: [] }, samples: [] }))
  fs.writeFileSync(path.join(dir, pprof), Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0]))
  fs.writeFileSync(path.join(dir, 'Heap-20261122T185100.heapprofile'), 'not JSON: never parsed')
  fs.writeFileSync(path.join(dir, 'access.log'), 'GET / 200\n')
  const model = await collect(dir)
  const profile = (name, kind) => {
    const stats = fs.statSync(path.join(dir, name))
    return { name, kind, bytes: stats.size, mtime: stats.mtimeMs }
  }
  assert.deepStrictEqual(model.profiles, [
    profile('Heap-20261122T185100.heapprofile', 'heapprofile'), profile(heapprofile, 'heapprofile'), profile(pprof, 'pprof'),
  ])
  assert.deepStrictEqual(model.notes.filter((n) => /skipped$/.test(n)), ['access.log: not a leakproof event log; skipped'])
  assert.deepStrictEqual(model.files, { logs: [], reports: [], snapshots: [] })
})

/** A native leak's verdict as the watcher writes it, with one malformed mapping and one malformed next step. */
const nativeVerdict = {
  growthBytes: 9_560_877,
  heldByJsBytes: null,
  verdict: 'no JS object holds it',
  mallocGrowthBytes: 9_000_000,
  mappings: [{ kind: 'malloc-heap', label: "malloc's main heap ([heap], grown with brk)", beforeBytes: 1_802_240, afterBytes: 20_340_736, growthBytes: 18_538_496 }, { kind: 'odd', growthBytes: 'many' }],
  addons: ['/srv/node_modules/leaky/leaky.node'],
  explanation: 'Native memory grew by 9.1 MiB and no JS object holds it.',
  next: [{ what: 'restart under heaptrack', command: 'heaptrack -o /tmp/heaptrack.run node app.js' }, { what: 'no command' }],
}

test("a no-snapshot report's census suspects (class, holder, path, entries, bytes per entry), its evidence and a native leak's verdict", async (t) => {
  const dir = tempDir(t, 'report')
  const name = 'leakproof-2026-11-22T18-51-00-000Z-302-0-diagnosis.report.json'
  const holder = { name: 'store', className: 'Object', kind: 'module', file: '/srv/app.js', line: 4, column: 1, description: 'store.sessions (Object), a module-level variable of /srv/app.js' }
  const census = { name: 'Session', holder, readablePath: 'store.sessions', collections: 1, before: 120, after: 4_800, entriesPerSec: 78, bytesPerEntry: 2_400, bytesPerEntrySource: 'slope', share: null, memberHandle: null }
  const gzips = { ...census, name: 'Gzip', readablePath: 'streams[*]', collections: 3, bytesPerEntry: 65_536, bytesPerEntrySource: 'measured', share: 0.42, memberHandle: 'Zlib', holder: { ...holder, description: 'streams (Array), a module-level variable of /srv/app.js' } }
  fs.writeFileSync(path.join(dir, name), JSON.stringify({
    kind: 'no-snapshot', time: T0, pid: 302, threadId: 0, evidence: 'census', suspects: [census, gzips],
    collections: { boundedMaps: [], handles: [] }, lookedAt: ['census'], notLookedAt: [], native: nativeVerdict,
  }))
  const model = await collect(dir)
  const [report] = model.processes[0].reports
  assert.equal(report.evidence, 'census')
  assert.deepStrictEqual(report.native, {
    verdict: 'no JS object holds it',
    growthBytes: 9_560_877,
    explanation: nativeVerdict.explanation,
    mappings: [{ label: "malloc's main heap ([heap], grown with brk)", growthBytes: 18_538_496 }, { label: 'odd', growthBytes: null }],
    next: [{ what: 'restart under heaptrack', command: 'heaptrack -o /tmp/heaptrack.run node app.js' }],
  })
  assert.deepStrictEqual(report.suspects, [
    { name: 'Session', holder: holder.description, path: 'store.sessions', collections: 1, before: 120, after: 4_800, entriesPerSec: 78, bytesPerEntry: 2_400, bytesPerEntrySource: 'slope', share: null, memberHandle: null },
    { name: 'Gzip', holder: 'streams (Array), a module-level variable of /srv/app.js', path: 'streams[*]', collections: 3, before: 120, after: 4_800, entriesPerSec: 78, bytesPerEntry: 65_536, bytesPerEntrySource: 'measured', share: 0.42, memberHandle: 'Zlib' },
  ])
})

test('names with <script> pass through as data, unchanged', async (t) => {
  const dir = tempDir(t, 'report')
  const evil = '</script><script>alert(1)</script>'
  fs.writeFileSync(path.join(dir, 'x.log'), [
    sampleLine(T0, 9, 0, { heap: 1 }),
    eventLine('listener-leak', T0, 9, 0, { emitter: evil, event: evil, site: evil, count: 11, growth: 11 }),
    eventLine('error', T0, 9, 0, { during: 'report', error: evil }),
    eventLine('report', T0, 9, 0, { path: null, kind: 'pair', suspects: [{ name: evil, count: 1, retainedSize: 2, holder: { description: evil }, readablePath: [evil, evil] }] }),
  ].join(''))
  const model = await collect(dir)
  const [proc] = model.processes
  assert.deepStrictEqual(proc.listenerLeaks, [{ emitter: evil, event: evil, site: evil, count: 11 }])
  assert.equal(proc.errors[0].error, evil)
  assert.deepStrictEqual(proc.reports[0].suspects[0], { name: evil, count: 1, retainedSize: 2, share: null, holder: evil, path: `${evil} → ${evil}` })
})

test('FloorPoints keeps at most max points, each the lowest of a run of neighbours (checked against every floor)', () => {
  const random = rng(14)
  for (const [total, max] of [[0, 2], [1, 2], [7, 2], [1000, 1000], [1001, 1000], [5000, 7], [20_000, 2000], [3333, 100]]) {
    const floors = new FloorPoints(max)
    const all = []
    for (let i = 0; i < total; i++) {
      const point = { time: i, heap: random.int(1000), external: random() < 0.1 ? null : random.int(50), native: null, rss: random.int(10) }
      all.push(point)
      floors.add({ ...point })
    }
    const kept = floors.columns()
    const told = `total ${total}, max ${max}`
    assert.equal(floors.total, total, told)
    assert.ok(kept.time.length <= max, told)
    assert.ok(total <= max ? kept.time.length === total : kept.time.length > max / 2, `${told}: ${kept.time.length} points`)
    for (const key of ['heap', 'external', 'rss']) {
      const values = all.map((p) => p[key]).filter((v) => v !== null)
      assert.equal(Math.min(...kept[key].filter((v) => v !== null)), Math.min(...values), `${told}: the lowest ${key} floor is kept`)
    }
    assert.ok(kept.native.every((v) => v === null), told)
    for (let i = 0; i < kept.time.length; i++) {
      // A point is at the time of its run's lowest heap floor, and neighbours' runs cover every floor between them.
      assert.equal(all[kept.time[i]].heap, kept.heap[i], told)
      if (i === 0) continue
      assert.ok(kept.time[i] > kept.time[i - 1], told)
      const between = all.slice(kept.time[i - 1] + 1, kept.time[i])
      assert.ok(between.every((p) => p.heap >= Math.min(kept.heap[i - 1], kept.heap[i])), told)
    }
  }
})

// A quarter of a GiB, read in at most half its size (a reader that held the log, or its lines,
// would need all of it and more): the bound is what is checked, and a 1 GiB log took 20-40 s of
// the suite to write and read for the same finding. Alone it grows RSS by 3-10 MiB; in the
// suite on a loaded 2-core machine, once by 64 MiB (V8 collecting later), at a bound of a quarter.
// The default maxPoints (2000) makes each point the lowest of up to 512 floors in a row, the
// runs doubling as they fill.
const BIG_LOG_BYTES = 256 * MiB
const BIG_LOG_RSS_BOUND = BIG_LOG_BYTES / 2

test('a big log (256 MiB) is read in bounded memory and its floors drawn as at most maxPoints points, with a note', async (t) => {
  const dir = tempDir(t, 'report')
  const lines = await writeBigLog(path.join(dir, 'big.log'), BIG_LOG_BYTES)
  assert.ok(fs.statSync(path.join(dir, 'big.log')).size >= BIG_LOG_BYTES)
  const before = process.memoryUsage().rss
  let peak = before
  const sampler = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss) }, 20)
  const started = performance.now()
  const model = await collect(dir)
  clearInterval(sampler)
  peak = Math.max(peak, process.memoryUsage().rss)
  t.diagnostic(`${lines} lines read in ${Math.round(performance.now() - started)} ms; rss grew by ${Math.round((peak - before) / MiB)} MiB at most`)
  assert.ok(peak - before < BIG_LOG_RSS_BOUND, `rss grew by ${Math.round((peak - before) / MiB)} MiB reading a ${BIG_LOG_BYTES / MiB} MiB log`)
  const [proc] = model.processes
  assert.equal(proc.floorsTotal, lines)
  assert.equal(proc.downsampled, true)
  assert.ok(proc.floors.time.length <= 2000 && proc.floors.time.length > 1000, `${proc.floors.time.length} points`)
  assert.equal(proc.floors.heap[0], bigLogHeap(0))
  assert.ok(proc.floors.heap.every((h, i) => i === 0 || h >= proc.floors.heap[i - 1]), 'the lowest of each run: the sawtooth is gone')
  assert.equal(proc.forcedGcs.length, 500)
  assert.ok(model.notes.includes(`pid 4242: ${lines.toLocaleString('en-US')} floors drawn as ${proc.floors.time.length.toLocaleString('en-US')} (each point the lowest of up to 512 floors in a row)`), model.notes.join('\n'))
  assert.ok(model.notes.includes(`pid 4242: ${Math.ceil(lines / 10).toLocaleString('en-US')} forced GCs, the newest 500 shown`), model.notes.join('\n'))
  assert.ok(JSON.stringify(model).length < 1024 * 1024, 'the MODEL stays small')
})

test("a real leaking service's directory: its floors, leak, snapshots and pair report", async () => {
  const run = await leakingRun
  assert.equal(run.code, 0, run.stderr)
  const logText = fs.readFileSync(path.join(run.dir, 'leakproof.log'), 'utf8')
  const events = logText.trim().split('\n').map((l) => JSON.parse(l))
  const told = JSON.stringify(events.filter((e) => e.type !== 'sample')).slice(0, 4000)
  const model = await collect(run.dir)
  assert.deepStrictEqual(model.processes.map((p) => [p.pid, p.threadId]), [[run.pid, 0]])
  const [proc] = model.processes
  const samples = events.filter((e) => e.type === 'sample')
  assert.equal(proc.floorsTotal, samples.length)
  assert.equal(proc.downsampled, false)
  assert.deepStrictEqual(proc.floors.heap, samples.map((s) => s.heapUsed))
  assert.ok(proc.floors.heap.at(-1) > 2 * proc.floors.heap[0], `the heap floors grow: ${proc.floors.heap}`)
  const leak = events.find((e) => e.type === 'leak')
  assert.deepStrictEqual([proc.leaks[0].time, proc.leaks[0].kind], [leak.time, 'heap'])
  const onDisk = fs.readdirSync(run.dir).filter((n) => n.endsWith('.heapsnapshot')).sort()
  assert.ok(onDisk.length >= 2, told)
  assert.deepStrictEqual(model.files.snapshots, onDisk.map((name) => ({ name, bytes: fs.statSync(path.join(run.dir, name)).size })))
  assert.deepStrictEqual(proc.snapshots.map((s) => s.name).sort(), onDisk)
  assert.deepStrictEqual(proc.snapshots.slice(0, 2).map((s) => s.role), ['baseline', 'follow-up'])
  const pairs = proc.reports.filter((r) => r.kind === 'pair')
  assert.equal(pairs.length, 1, 'the report event and its file are one report')
  const holder = pairs[0].suspects.find((s) => s.holder !== null)
  assert.match(holder?.holder ?? '', /^sessions \(Map\), a module-level variable of .*leaking-service\.js/, JSON.stringify(pairs[0].suspects))
  assert.match(holder.path, / → sessions \(Map\) → /)
  assert.ok(pairs[0].suspects.length <= 10)
  assert.match(proc.sites[0].url, /leaking-service\.js$/)
  assert.deepStrictEqual(model.files.logs, [{ name: 'leakproof.log', bytes: Buffer.byteLength(logText) }])
  // The sites' profiles: listed, not warned about (issue 28).
  const profilesOnDisk = fs.readdirSync(run.dir).filter((n) => n.endsWith('.heapprofile') || n.endsWith('.pb.gz')).sort()
  assert.ok(profilesOnDisk.length >= 2, told)
  assert.deepStrictEqual(model.profiles.map((p) => p.name).sort(), profilesOnDisk)
  assert.deepStrictEqual(model.notes.filter((n) => /not a leakproof event log/.test(n)), [])
})

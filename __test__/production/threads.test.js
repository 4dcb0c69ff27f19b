'use strict'

// Every thread watched, at the default timings (issue 55): one service whose work runs in
// worker threads, three of them leaking at once (a piscina pool whose task module memoizes
// renders, a Worker whose handler keeps listeners, a Worker started with `execArgv: []`),
// run as users run it (`-r leakproof/register`, only LEAKPROOF_DIR and LEAKPROOF_LOG set),
// roomy and in a 1 GiB memory cgroup. Each leak is reported with its thread, its holder named
// first in the worker's words within 60 s of its leak event (in the cgroup, where the
// snapshots of workers watched from the main thread do not fit, by a census taken in each
// worker), and the main loop is never stopped over 250 ms.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawn } = require('node:child_process')
const { once } = require('node:events')
const { firstHolder } = require('../../lib/diagnose/report-text')
const { memoryCgroup } = require('../support/cgroup')
const { loggedSoFar } = require('../support/event-log')

const REGISTER = path.join(__dirname, '..', '..', 'register.js')
const APP = path.join(__dirname, '..', 'watch', 'fixtures', 'threads-app.js')
const WORKERS = path.join(__dirname, '..', 'watch', 'fixtures', 'thread-workers')
const MiB = 1024 * 1024
/** All three holders must be named by then. */
const RUN_MS = 420_000
/** Each holder within this of its thread's first leak event, and no stop of the main loop longer than this. */
const HOLDER_WITHIN_MS = 60_000
const MAX_STOP_MS = 250

/** The holder each leaking worker must be named by, by the file it runs in. */
const EXPECTED = [
  { what: 'the piscina pool', holder: `rendered (Map), a module-level variable of ${path.join(WORKERS, 'memo-render.js')}`, is: (thread) => thread.pool === 'piscina', watchedFrom: 'main' },
  { what: 'the Worker keeping listeners', holder: `settings._events.change (Array), a module-level variable of ${path.join(WORKERS, 'listening-handler.js')}`, is: (thread) => thread.script === path.join(WORKERS, 'listening-handler.js'), watchedFrom: 'self' },
  { what: 'the Worker without the preload', holder: `results (Map), a module-level variable of ${path.join(WORKERS, 'memo-handler.js')}`, is: (thread) => thread.script === path.join(WORKERS, 'memo-handler.js'), watchedFrom: 'main' },
]

/**
 * Each expected leak's first report naming a holder and the first leak event of the thread it
 * is about (a pool has two workers: each has its own), else its first leak event; and a
 * snapshot declined for memory. Any may be missing yet.
 */
function found(events) {
  return EXPECTED.map((expected) => {
    const about = events.filter((e) => e.thread !== undefined && expected.is(e.thread))
    const report = about.find((e) => e.type === 'report' && firstHolder(e) !== null)
    const leak = about.find((e) => e.type === 'leak' && (report === undefined || e.threadId === report.threadId))
    const declined = about.find((e) => e.type === 'snapshot-skipped' && e.skipped === 'memory')
    return { ...expected, leak, report, declined }
  })
}

/**
 * Runs the service (in `cgroup` where given) until all three holders are named or RUN_MS;
 * checks what it reported: the holders of the workers watched from the main thread named by a
 * census taken in them, which needs no room for a snapshot.
 */
async function runService(t, cgroup) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leakproof-threads-'))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  const log = path.join(dir, 'events.jsonl')
  const argv = [process.execPath, '-r', REGISTER, APP, 'all', String(RUN_MS)]
  const [command, ...args] = cgroup === null ? argv : cgroup.command(argv)
  const env = { PATH: process.env.PATH, LEAKPROOF_DIR: path.join(dir, 'evidence'), LEAKPROOF_LOG: log }
  const service = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'inherit'] })
  const exited = once(service, 'exit')
  let longestStop = 0
  service.stdout.on('data', (chunk) => {
    for (const [, ms] of String(chunk).matchAll(/^stop (\d+)$/gm)) longestStop = Math.max(longestStop, Number(ms))
  })
  const startedAt = Date.now()
  const poll = setInterval(() => {
    if (found(loggedSoFar(log)).every((f) => f.report !== undefined)) service.kill('SIGTERM')
  }, 2000)
  await exited
  clearInterval(poll)
  const results = found(loggedSoFar(log))
  for (const { what, leak, report } of results) {
    t.diagnostic(`${what}: leak ${leak ? `${Math.round((leak.time - startedAt) / 1000)} s in` : 'none'}, report ${report ? `${Math.round((report.time - leak.time) / 1000)} s after it, ${report.kind}: ${firstHolder(report)}` : 'none'}`)
  }
  t.diagnostic(`Node ${process.version}${cgroup === null ? ', roomy' : `, 1 GiB cgroup v${cgroup.version}`}: the main loop's longest stop ${longestStop} ms`)
  for (const expected of results) {
    const { what, holder, leak, report, watchedFrom } = expected
    assert.ok(leak, `${what}: no leak event`)
    assert.equal(leak.thread.watchedFrom, watchedFrom, what)
    assert.ok(report, `${what}: no report named a holder${expected.declined ? ' (its snapshot was declined for memory)' : ''}`)
    // Named by the census taken in the worker: at its leak, before any snapshot is tried.
    if (watchedFrom === 'main') assert.deepEqual([report.kind, report.evidence], ['no-snapshot', 'census'], what)
    assert.ok(leak.thread.threadId !== 0 && report.threadId === leak.threadId, `${what}: reported as thread ${report.threadId}`)
    assert.equal(firstHolder(report), holder, `${what}`)
    assert.ok(report.time - leak.time <= HOLDER_WITHIN_MS, `${what}: the holder ${Math.round((report.time - leak.time) / 1000)} s after the leak event`)
  }
  assert.ok(longestStop <= MAX_STOP_MS, `the main loop stopped ${longestStop} ms`)
  // The main thread's own memory did not leak: the workers' heaps are not its native memory.
  assert.deepEqual(loggedSoFar(log).filter((e) => e.threadId === 0 && e.type === 'leak').map((e) => e.kind), [])
}

// One after the other: run at once (with a third process beside them), the roomy service's
// main loop once waited 301 ms for a core.
test.describe('three leaks in worker threads', () => {
  test('roomy: each named with its thread within 60 s of its leak event', { timeout: RUN_MS + 60_000 }, (t) => runService(t, null))

  test('in a 1 GiB memory cgroup: each named with its thread, those watched from the main thread by a census in the worker, no OOM kill', { timeout: RUN_MS + 60_000 }, async (t) => {
    const cgroup = memoryCgroup(`leakproof-threads-${process.pid}`, 1024 * MiB)
    if (cgroup.missing !== undefined) return t.skip(cgroup.missing)
    try {
      // A worker watched from the main thread, whose snapshot does not fit (about 10 times its
      // file beside three growing heaps), gets its holder from a census taken in it.
      await runService(t, cgroup)
      assert.equal(cgroup.oomKills(), 0, 'the OOM killer took nothing')
    } finally {
      cgroup.remove()
    }
  })
})

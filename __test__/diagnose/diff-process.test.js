'use strict'

// The watcher's pair diffed in a child process at the lowest priority (lib/diagnose/diff-process.js):
// the in-process diff's result and coded errors, the child's own end as a coded error, the
// watcher's stop() ending it, and nothing kept alive. A named pipe given as a snapshot holds
// the child in its read for as long as a test needs it running.
const { test, before, after, mock } = require('node:test')
const assert = require('node:assert/strict')
const childProcess = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { once } = require('node:events')
const { Worker } = require('node:worker_threads')
const { diffSnapshots } = require('../..')
const { Reports } = require('../../lib/diagnose/reports')
const { diffInChild, childEnv } = require('../../lib/diagnose/diff-process')
const { tempDir } = require('../support/temp-dir')

const LINUX = process.platform === 'linux'
let dir
let snap
// A diff's child keeps no process alive (the last test): this file's own work is kept alive as a
// service's is, by a handle of its own.
const alive = setInterval(() => {}, 1000)
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leakproof-diff-process-'))
  childProcess.execFileSync(process.execPath, [path.join(__dirname, 'fixtures', 'write-snapshots.js'), dir, '2000'])
  snap = (i) => path.join(dir, `${i}.heapsnapshot`)
})
after(() => {
  clearInterval(alive)
  fs.rmSync(dir, { recursive: true, force: true })
})

/** A named pipe in `t`'s own directory: a snapshot whose read blocks until the test ends. */
function blockingSnapshot(t) {
  const fifo = path.join(tempDir(t, 'fifo'), 'blocked.heapsnapshot')
  childProcess.execFileSync('mkfifo', [fifo])
  return fifo
}

/** The nice value of process `pid` (/proc/PID/stat), or null once it is gone. */
function niceOf(pid) {
  try {
    return Number(fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[16])
  } catch {
    return null
  }
}

/** Resolves once `check()` holds; rejects after `timeoutMs`. */
async function until(check, timeoutMs = 10_000) {
  const end = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > end) throw new Error(`not within ${timeoutMs} ms: ${check}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** Whether process `pid` is gone (a zombie counts as gone: it runs nothing). */
function gone(pid) {
  const nice = niceOf(pid)
  return nice === null || / Z /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(')')[1] ?? '')
}

/** A Reports whose events are collected, and the children it forks. */
function watchedReports(t) {
  const events = []
  const children = []
  const fork = childProcess.fork
  mock.method(childProcess, 'fork', function (...args) {
    const child = fork.apply(this, args)
    children.push({ child, options: args[2] })
    return child
  })
  t.after(() => mock.restoreAll())
  return { reports: new Reports(10, (type, fields) => events.push({ type, ...fields })), events, children }
}

test("the watcher's pair is diffed in a child process, started clean, with the in-process diff's result", async (t) => {
  const { reports, events, children } = watchedReports(t)
  process.env.LEAKPROOF_DIR = dir
  t.after(() => delete process.env.LEAKPROOF_DIR)
  await reports.write(snap(1), snap(2))
  assert.equal(children.length, 1)
  const [{ child, options }] = children
  assert.notEqual(child.pid, process.pid)
  assert.deepEqual(options.execArgv, [])
  assert.equal(options.env.LEAKPROOF_DIR, undefined)
  const report = events.find((e) => e.type === 'report')
  assert.ok(report, JSON.stringify(events))
  const here = await diffSnapshots(snap(1), snap(2), { top: 10 })
  assert.deepEqual(
    [report.matchedBy, report.newCount, report.newBytes, report.newByClass, report.suspects[0]],
    [here.matchedBy, here.newCount, here.newBytes, here.newByClass, here.suspects[0]],
  )
  assert.equal(report.suspects[0].name, 'Session')
})

test("the child's environment starts no watcher and no preload: LEAKPROOF_* and NODE_OPTIONS are left out, the addon's path kept", () => {
  const env = childEnv({ PATH: '/bin', NODE_OPTIONS: '-r leakproof/register --max-old-space-size=8192', LEAKPROOF_DIR: '/tmp/x', LEAKPROOF_SNAPSHOT_SIGNAL: 'SIGUSR2', LEAKPROOF_NATIVE_PATH: '/opt/leakproof.node' })
  assert.deepEqual(env, { PATH: '/bin', LEAKPROOF_NATIVE_PATH: '/opt/leakproof.node' })
})

test("a truncated or malformed pair gives the analyzer's coded error through the child", async (t) => {
  const truncated = path.join(tempDir(t, 'bad'), 'truncated.heapsnapshot')
  const whole = fs.readFileSync(snap(2))
  fs.writeFileSync(truncated, whole.subarray(0, whole.length >> 1))
  const malformed = path.join(path.dirname(truncated), 'malformed.heapsnapshot')
  fs.writeFileSync(malformed, '{"snapshot":{"meta":{}},"nodes":[1,2,"x"]}')
  for (const [file, code] of [[truncated, 'ERR_LEAKPROOF_SNAPSHOT_TRUNCATED'], [malformed, 'ERR_LEAKPROOF_SNAPSHOT_MALFORMED']]) {
    const here = await diffSnapshots(snap(1), file).catch((err) => err)
    const inChild = await diffInChild(snap(1), file).result.catch((err) => err)
    assert.equal(here.code, code, here.message)
    assert.deepEqual([inChild.code, inChild.message, inChild.offset, inChild.file], [here.code, here.message, here.offset, here.file])
  }
  const { reports, events } = watchedReports(t)
  await reports.write(snap(1), truncated)
  assert.deepEqual(events.map((e) => [e.type, e.code, e.during]), [['error', 'ERR_LEAKPROOF_SNAPSHOT_TRUNCATED', 'report']])
})

test('a diff child killed by SIGKILL gives a coded error, not a hang', { skip: !LINUX && 'named pipes and /proc' }, async (t) => {
  const diff = diffInChild(snap(1), blockingSnapshot(t))
  // Its priority is set as it starts, before it reads anything.
  await until(() => niceOf(diff.pid) === os.constants.priority.PRIORITY_LOW)
  process.kill(diff.pid, 'SIGKILL')
  const err = await diff.result.catch((e) => e)
  assert.equal(err.code, 'ERR_LEAKPROOF_DIFF_PROCESS', err.stack)
  assert.deepEqual([err.signal, err.killed], ['SIGKILL', false])
  assert.match(err.message, /ended by SIGKILL before its result \(the OOM killer, or killed by hand\)/)
})

test("the watcher's stop() during a diff ends its child, and no report or error follows", { skip: !LINUX && 'named pipes and /proc' }, async (t) => {
  const { reports, events, children } = watchedReports(t)
  const writing = reports.write(snap(1), blockingSnapshot(t))
  await until(() => children.length === 1 && niceOf(children[0].child.pid) !== null)
  const { pid } = children[0].child
  reports.stop()
  await writing
  await until(() => gone(pid))
  assert.deepEqual(events, [])
})

test('a pending diff keeps no process alive: the service exits, and its diff child with it', { skip: !LINUX && 'named pipes and /proc' }, async (t) => {
  const fifo = blockingSnapshot(t)
  const script = `
    const { diffInChild } = require(${JSON.stringify(require.resolve('../../lib/diagnose/diff-process'))})
    const diff = diffInChild(${JSON.stringify(snap(1))}, ${JSON.stringify(fifo)})
    diff.result.catch(() => {})
    console.log(diff.pid)`
  const service = childProcess.spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  service.stdout.on('data', (d) => (out += d))
  const timer = setTimeout(() => service.kill('SIGKILL'), 10_000)
  const [code, signal] = await once(service, 'exit')
  clearTimeout(timer)
  assert.deepEqual([code, signal], [0, null], 'the service exited by itself')
  const pid = Number(out.trim())
  assert.ok(pid > 0, out)
  await until(() => gone(pid))
})

test('a worker thread diffs its pair in a child too', async () => {
  const worker = new Worker(
    `
    const { parentPort, workerData } = require('node:worker_threads')
    const { Reports } = require(${JSON.stringify(require.resolve('../../lib/diagnose/reports'))})
    const events = []
    // The worker's own work keeps it alive, as a service's does: the diff does not.
    const busy = setInterval(() => {}, 1000)
    new Reports(10, (type, fields) => events.push({ type, ...fields }), { thread: { threadId: 1 } })
      .write(workerData[0], workerData[1])
      .then(() => parentPort.postMessage(events.map((e) => [e.type, e.thread?.threadId, e.suspects?.[0]?.name ?? e.error])))
      .finally(() => clearInterval(busy))`,
    { eval: true, workerData: [snap(1), snap(2)] },
  )
  const exited = once(worker, 'exit').then(([code]) => [['exited', code]])
  const events = await Promise.race([once(worker, 'message').then(([m]) => m), exited])
  assert.deepEqual(events, [['report', 1, 'Session']])
  await exited
})

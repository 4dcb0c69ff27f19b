'use strict'

// Heap snapshots written by forked children (lib/capture/child-snapshot.js, src/core/capture/fork):
// a complete private file while the parent keeps running, the watcher's events, and every
// fault: a child killed at any moment, a full disk in the child, a child that would wait for
// a thread fork did not copy, a hung child, fork() itself failing, the parent killed while
// its child writes, memory too short to fork, and a worker thread (which is not forked).

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawn, spawnSync, execFileSync } = require('node:child_process')
const { Worker } = require('node:worker_threads')
const { once } = require('node:events')
const { nativeBinding } = require('../../lib/shared/native')
const { writeInChild, forkUnavailable } = require('../../lib/capture/child-snapshot')
const { SnapshotStore } = require('../../lib/capture/snapshots')
const { watch, analyzeSnapshot } = require('../..')
const { tempDir } = require('../support/temp-dir')

const FIXTURE = path.join(__dirname, 'fixtures', 'fork-store.js')
const isRoot = process.getuid?.() === 0
/** Why this node cannot run as user nobody (its binary under root's home, say), or false. */
function nobodyCannotRunNode() {
  const run = spawnSync(process.execPath, ['-e', '0'], { uid: 65534, gid: 65534 })
  return run.status === 0 ? false : `user nobody cannot run ${process.execPath} (${run.error?.code ?? `exit ${run.status}`})`
}
const skip = forkUnavailable() ?? false

/** A job for writeInChild in a new directory (removed when test `t` is done): its paths. */
function job(t, dir = tempDir(t, 'fork')) {
  const tempPath = path.join(dir, '.leakproof-test.heapsnapshot.tmp')
  return { dir, tempPath, finalPath: path.join(dir, 'leakproof-test.heapsnapshot'), predictedPauseMs: 1000 }
}

/** Runs `fn` in a forked child with the native API; resolves with how the child ended. */
function forkRaw(fn, limits = { deadlineMs: 60_000, stallMs: 1000 }) {
  return new Promise((resolve) => nativeBinding().forkSnapshot(fn, limits, resolve))
}

test('a forked child writes a complete, private snapshot while this process keeps running', { skip }, async (t) => {
  const held = Array.from({ length: 50_000 }, (_, i) => ({ i, name: `item-${i}` }))
  const { dir, ...paths } = job(t)
  let ticks = 0
  const ticker = setInterval(() => ticks++, 5)
  const result = await writeInChild(paths)
  clearInterval(ticker)
  assert.equal(result.skipped, undefined, JSON.stringify(result))
  assert.equal(result.attempts >= 1, true)
  assert.ok(ticks > 0, 'the event loop ran while the child wrote')
  assert.deepEqual(fs.readdirSync(dir), ['leakproof-test.heapsnapshot'], 'the temporary file is gone')
  const st = fs.statSync(paths.finalPath)
  assert.equal(st.size, result.bytes)
  assert.equal(st.mode & 0o777, 0o600)
  assert.ok(result.liveHeapBytes > 0 && result.stopMs >= result.forkMs && result.childMs > 0, JSON.stringify(result))
  assert.ok(result.childPeakPrivateBytes > 0 && result.childPeakRssBytes > 0, `the child's memory was read: ${JSON.stringify(result)}`)
  const summary = await analyzeSnapshot(paths.finalPath)
  assert.ok(summary.nodes > held.length, `the child's snapshot holds this heap: ${summary.nodes} nodes`)
})

test('the watcher writes a snapshot asked for on demand from a child, and the event says so', { skip }, async (t) => {
  const dir = tempDir(t, 'fork')
  const watcher = watch({ dir, nearHeapLimit: false })
  try {
    const events = []
    watcher.on('snapshot', (e) => events.push(e))
    const result = await watcher.snapshot().done
    assert.equal(result.writer, 'child', JSON.stringify(result))
    assert.equal(result.role, 'baseline')
    assert.ok(result.childMs > 0 && result.durationMs >= 0, JSON.stringify(result))
    assert.ok(result.forkedAt <= Date.now() - result.childMs, 'forkedAt is when the child began')
    assert.equal(result.overBudgetBecause, undefined, "a child's snapshot is not over the pause budget")
    assert.deepEqual(events.map((e) => e.writer), ['child'])
    assert.ok(fs.statSync(result.path).size > 0)
  } finally {
    watcher.stop()
  }
})

/** Sends `signal` to `pid`, unless it has ended already (a child that found it would wait for a thread fork did not copy ends by itself). */
function killUnlessEnded(pid, signal) {
  try {
    process.kill(pid, signal)
  } catch (err) {
    if (err.code !== 'ESRCH') throw err
  }
}

test('a child that crashes at any moment leaves no file, and the fork is tried again', { skip }, async (t) => {
  const held = Array.from({ length: 200_000 }, (_, i) => ({ i }))
  const { dir, ...paths } = job(t)
  const delays = [0, 5, 50, 300]
  const result = await writeInChild({
    ...paths,
    onChild: (child) => setTimeout(() => killUnlessEnded(child.pid, 'SIGSEGV'), delays.shift() ?? 0),
  })
  assert.equal(result.skipped, 'fork-failed', JSON.stringify(result))
  assert.equal(result.attempts, 4)
  assert.equal(result.failures.length, 4)
  // A child may also find, before the signal lands, that it would wait for a thread fork did
  // not copy (a busy machine): that is a failure tried again too.
  for (const failure of result.failures) assert.match(failure, /crashed \(signal 11\)|would have waited for a thread fork does not copy/)
  assert.ok(result.failures.some((failure) => /crashed \(signal 11\)/.test(failure)), JSON.stringify(result.failures))
  assert.deepEqual(fs.readdirSync(dir), [], 'neither a snapshot nor a temporary file is left')
  assert.ok(held.length > 0)
})

test('about to die at the heap limit, a child that crashed at once is tried again; one that failed after a second is not', { skip }, async (t) => {
  const held = Array.from({ length: 50_000 }, (_, i) => ({ i }))
  const first = job(t)
  let children = 0
  const retried = await writeInChild({
    ...first,
    aboutToDie: true,
    onChild: (child) => children++ === 0 && process.kill(child.pid, 'SIGSEGV'),
  })
  assert.equal(retried.skipped, undefined, JSON.stringify(retried))
  assert.equal(retried.attempts, 2)
  assert.match(retried.failures[0], /crashed \(signal 11\)/)
  // The second child: stopped at once, then crashed past the second (its signal lands on SIGCONT).
  const { dir, ...second } = job(t)
  const late = await writeInChild({
    ...second,
    aboutToDie: true,
    onChild: (child) => {
      process.kill(child.pid, 'SIGSTOP')
      setTimeout(() => {
        process.kill(child.pid, 'SIGSEGV')
        process.kill(child.pid, 'SIGCONT')
      }, 1_200)
    },
  })
  assert.equal(late.skipped, 'fork-failed', JSON.stringify(late))
  assert.equal(late.attempts, 1)
  assert.deepEqual(fs.readdirSync(dir), [], 'neither a snapshot nor a temporary file is left')
  assert.ok(held.length > 0)
})

test('a child killed by SIGKILL (the OOM killer) is not tried again, and leaves no file', { skip }, async (t) => {
  const held = Array.from({ length: 200_000 }, (_, i) => ({ i }))
  const { dir, ...paths } = job(t)
  const result = await writeInChild({ ...paths, onChild: (child) => setTimeout(() => process.kill(child.pid, 'SIGKILL'), 20) })
  assert.equal(result.skipped, 'child-killed', JSON.stringify(result))
  assert.equal(result.attempts, 1)
  assert.match(result.detail, /OOM killer/)
  assert.deepEqual(fs.readdirSync(dir), [])
  assert.ok(held.length > 0)
})

/** Mounts a tmpfs of `bytes` (root only) on a directory removed when test `t` is done; returns its path, or null where mounting is not allowed. */
function mountTmpfs(t, bytes) {
  const dir = tempDir(t, 'fork')
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', dir], { stdio: 'ignore' })
    return dir
  } catch {
    return null
  }
}

test('a child that finds the disk full fails once, says why, and leaves nothing', { skip: skip || (!isRoot && 'needs root to mount a tmpfs') }, async (t) => {
  const dir = mountTmpfs(t, 256 * 1024)
  if (dir === null) return t.skip('mounting is not allowed here')
  try {
    const result = await writeInChild(job(t, dir))
    assert.equal(result.skipped, 'write-failed', JSON.stringify(result))
    assert.equal(result.attempts, 1, 'a full disk is not tried again')
    assert.match(result.detail, /ENOSPC|no space|cut short/i)
    assert.deepEqual(fs.readdirSync(dir), [])
  } finally {
    execFileSync('umount', [dir], { stdio: 'ignore' })
  }
})

test('a child that would wait for a thread fork did not copy exits at once with a code that says so', { skip }, async () => {
  const end = await forkRaw(() => {
    // Waits on a futex nobody in the child can wake: V8 parks the thread on a condition variable.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0)
    return 'woke'
  })
  assert.deepEqual({ end: end.end, code: end.code }, { end: 'exited', code: 70 })
})

test('a child asleep without progress is killed as hung', { skip }, async () => {
  const end = await forkRaw(() => {
    execFileSync('sleep', ['5'])
    return 'slept'
  })
  assert.equal(end.end, 'hung', JSON.stringify(end))
})

test('a child whose work throws exits 1 with the message', { skip }, async () => {
  const end = await forkRaw(() => {
    throw new Error('no room for it')
  })
  assert.deepEqual({ end: end.end, code: end.code }, { end: 'exited', code: 1 })
  assert.match(end.resultText, /no room for it/)
})

/** Runs fork-store.js as user nobody with fork() limited away; its result line. */
async function cannotFork(maxPauseMs) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leakproof-fork-nproc-'))
  fs.chmodSync(dir, 0o777)
  const child = spawn(process.execPath, [FIXTURE, path.join(dir, 'snapshots'), 'nproc', String(maxPauseMs)], { uid: 65534, gid: 65534, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', (d) => (out += d))
  child.stderr.on('data', (d) => (err += d))
  await once(child, 'exit')
  fs.rmSync(dir, { recursive: true, force: true })
  const line = out.trim().split('\n').pop()
  assert.ok(line, `no result from the fixture: ${err}`)
  return JSON.parse(line)
}

test('when fork() fails, a snapshot within the pause budget is written in-process, and one over it is declined', { skip: skip || (!isRoot && 'needs root to run the fixture as another user') || nobodyCannotRunNode() }, async () => {
  const fallback = await cannotFork(2000)
  assert.equal(fallback.writer, 'in-process', JSON.stringify(fallback))
  assert.match(fallback.forkFailures[0], /fork failed: Resource temporarily unavailable/)
  assert.ok(fallback.bytes > 0)
  const declined = await cannotFork(1)
  assert.equal(declined.skipped, 'fork-failed', JSON.stringify(declined))
  assert.match(declined.detail, /Resource temporarily unavailable/)
})

/**
 * Starts fork-store.js's `kill-me` capture into `snapshots` and stops its child with SIGSTOP
 * once it is writing. Resolves with the parent and the child's pid, or with `childPid` 0 and
 * the parent's last line when the capture ended without a child caught writing (its children
 * exited at once, codes 70/71, on every attempt: a busy machine's helper threads).
 */
async function childStoppedMidWrite(snapshots) {
  const parent = spawn(process.execPath, [FIXTURE, snapshots, 'kill-me'], { stdio: ['ignore', 'pipe', 'inherit'] })
  let printed = ''
  parent.stdout.on('data', (d) => (printed += d))
  await new Promise((resolve) => {
    parent.stdout.on('data', (d) => d.includes('"temp"') && resolve())
    parent.on('exit', resolve)
  })
  // The temporary file is made before each fork, which waits a moment (SETTLE_MS), and a
  // child that exits at once (codes 70/71) is forked again with a new one: kill the parent
  // only once a child has started writing into its file, not before or between attempts. The
  // child is stopped (SIGSTOP) first, and found still writing after that, so that it cannot
  // finish its file before the kill lands, however loaded the machine; its parent-death
  // signal (SIGKILL) ends it stopped or not.
  const writing = () => fs.readdirSync(snapshots).some((n) => n.endsWith('.tmp') && fs.statSync(path.join(snapshots, n), { throwIfNoEntry: false })?.size > 0)
  // The live child: one that exited at once may still be listed, as a zombie.
  const childOf = () => {
    const listed = fs.readFileSync(`/proc/${parent.pid}/task/${parent.pid}/children`, 'utf8').trim().split(/\s+/).map(Number)
    return listed.find((pid) => pid > 0 && !isZombie(pid)) ?? 0
  }
  // The child runs at the lowest priority: on a machine busy with the suite it got too little
  // CPU to start writing within the minute this waits (CI, Node 24). Once seen, it is raised to
  // the normal priority (as root may), which the kill-while-writing tested here does not depend on.
  const raise = (pid) => {
    try {
      os.setPriority(pid, 0)
    } catch {
      // Not root, or gone: it writes at its own pace.
    }
  }
  let childPid = 0
  for (let i = 0; i < 2400 && childPid === 0 && parent.exitCode === null; i++) {
    const child = fs.readdirSync(snapshots).some((n) => n.endsWith('.tmp')) ? childOf() : 0
    if (child > 0) raise(child)
    const candidate = writing() ? child : 0
    if (candidate > 0 && fs.existsSync(`/proc/${candidate}/stat`) && !isZombie(candidate)) {
      process.kill(candidate, 'SIGSTOP')
      if (writing() && !isZombie(candidate)) childPid = candidate
      else process.kill(candidate, 'SIGCONT')
    }
    if (childPid === 0) await new Promise((r) => setTimeout(r, 25))
  }
  if (childPid === 0) parent.kill('SIGKILL')
  return { parent, childPid, printed: printed.trim().split('\n').at(-1) }
}

test('a parent killed while its child writes takes the child with it, and the child removes its temporary file', { skip }, async (t) => {
  const dir = tempDir(t, 'fork')
  let snapshots
  let caught
  const missed = []
  for (let run = 1; run <= 3; run++) {
    snapshots = path.join(dir, `snapshots-${run}`)
    caught = await childStoppedMidWrite(snapshots)
    if (caught.childPid > 0) break
    missed.push(caught.printed)
  }
  const { parent, childPid } = caught
  assert.ok(childPid > 0, `a child started writing its snapshot and was stopped mid-write, in one of 3 runs; the parents printed: ${missed.join(' | ')}`)
  const temps = () => fs.readdirSync(snapshots).filter((n) => n.endsWith('.tmp'))
  assert.equal(temps().length, 1, 'the child is writing its temporary file')
  const exited = parent.exitCode === null && parent.signalCode === null ? once(parent, 'exit') : null
  parent.kill('SIGKILL')
  await exited
  // The parent's death signals the child, which was stopped to be caught mid-write: it acts on it once continued.
  process.kill(childPid, 'SIGCONT')
  for (let i = 0; i < 200 && fs.existsSync(`/proc/${childPid}/stat`) && !isZombie(childPid); i++) await new Promise((r) => setTimeout(r, 50))
  assert.ok(!fs.existsSync(`/proc/${childPid}/stat`) || isZombie(childPid), 'the child died with its parent')
  assert.deepEqual(fs.readdirSync(snapshots), [], 'it removed its temporary file, and wrote no snapshot')
})

function isZombie(pid) {
  try {
    return / Z /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\)/, ''))
  } catch {
    return true
  }
}

test('memory too short for a child declines the snapshot before forking', { skip }, async (t) => {
  const dir = tempDir(t, 'fork')
  const store = new SnapshotStore({ dir, maxSnapshots: 4, maxDiskBytes: 2 ** 40, cooldownMs: 0, memoryFactor: 1e6, writer: 'fork' })
  const result = await store.capture('leak', { heapUsed: 1e6, predicted: { bytes: 1e9, pauseMs: 10 }, maxPauseMs: 2000 })
  assert.equal(result.skipped, 'memory', JSON.stringify(result))
  assert.deepEqual(fs.readdirSync(dir), [])
})

test('a child\'s memory check counts the live heap the service may copy meanwhile; an in-process write\'s does not', { skip }, async (t) => {
  const dir = tempDir(t, 'fork')
  // A small file, but a heap beyond any machine's memory: only the child's check refuses it.
  const context = { heapUsed: 2 ** 50, predicted: { bytes: 1e6, pauseMs: 10 }, maxPauseMs: 2000 }
  const child = new SnapshotStore({ dir, maxSnapshots: 4, maxDiskBytes: 2 ** 40, cooldownMs: 0, memoryFactor: 1, writer: 'fork' })
  const refused = await child.capture('leak', context)
  assert.equal(refused.skipped, 'memory', JSON.stringify(refused))
  const inProcess = new SnapshotStore({ dir, maxSnapshots: 4, maxDiskBytes: 2 ** 40, cooldownMs: 0, memoryFactor: 1, writer: 'in-process' })
  const written = await inProcess.capture('leak', context)
  assert.ok(written.bytes > 0, JSON.stringify(written))
})

test('in a worker thread the snapshot is written in-process, and the event says why', async (t) => {
  const dir = tempDir(t, 'fork')
  const code = `
    const { parentPort } = require('node:worker_threads')
    const { watch } = require(${JSON.stringify(path.join(__dirname, '..', '..'))})
    const w = watch({ dir: ${JSON.stringify(dir)}, nearHeapLimit: false })
    w.snapshot().done.then((r) => { w.stop(); parentPort.postMessage(r) })`
  const worker = new Worker(code, { eval: true })
  const [result] = await once(worker, 'message')
  await worker.terminate()
  assert.equal(result.writer, 'in-process', JSON.stringify(result))
  assert.match(result.forkUnavailable, process.platform === 'linux' ? /worker thread/ : /Linux only/)
})

'use strict'

// Heap snapshots written by V8 for real, into real directories: private modes, atomic
// rename, retention, cooldown, every reason to skip, and the temporary files of killed
// writers removed as the next watcher starts.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { execFileSync, spawn, spawnSync } = require('node:child_process')
const { once } = require('node:events')
const { SnapshotStore } = require('../../lib/capture/snapshots')
const { watcherFileName, tempName, SUFFIXES } = require('../../lib/shared/file-names')
const { watch } = require('../..')
const { SnapshotCost } = require('../../lib/capture/snapshot-cost')
const { forkUnavailable } = require('../../lib/capture/child-snapshot')
const { lineOf } = require('../support/listener-helpers')
const { tempDir } = require('../support/temp-dir')

const isRoot = process.getuid?.() === 0

function store(dir, overrides = {}) {
  return new SnapshotStore({ dir, maxSnapshots: 3, maxDiskBytes: 2 ** 30, cooldownMs: 0, memoryFactor: 1, ...overrides })
}

const cost = new SnapshotCost()

/** What the store is told of a snapshot of this heap: its size, its predicted cost, no pause limit. */
function costOf(maxPauseMs = Infinity) {
  const heapUsed = process.memoryUsage().heapUsed
  return { heapUsed, predicted: cost.predict(heapUsed), maxPauseMs }
}

/** Mounts a tmpfs (root only) on a directory removed when test `t` is done; returns its path, or null where mounting is not allowed. */
function mountTmpfs(t, options) {
  if (!isRoot || process.platform !== 'linux') return null
  const dir = tempDir(t, 'snap')
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], { stdio: 'ignore' })
    return dir
  } catch {
    return null
  }
}

function unmount(dir) {
  execFileSync('umount', [dir], { stdio: 'ignore' })
}

const LEAKING_SERVICE = path.join(__dirname, '..', 'support', 'fixtures', 'leaking-service.js')
const SNAPSHOTS_JS = path.join(__dirname, '..', '..', 'lib', 'capture', 'snapshots.js')
const TEMP_WRITER = path.join(__dirname, 'fixtures', 'temp-writer.js')
const SNAPSHOT_ON_SIGNAL = path.join(__dirname, 'fixtures', 'snapshot-on-signal.js')
/** snapshot-file.js' UNLOCKED_MS: an unlocked temporary file younger than this is judged again later. */
const UNLOCKED_MS = 2_000

/**
 * Starts `command` (temp-writer.js, perhaps in a pid namespace of its own), a live writer holding
 * its temporary snapshot; killed when test `t` is done. Resolves with the file's name.
 */
async function liveWriter(t, [command, ...args]) {
  const live = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] })
  t.after(() => live.kill('SIGKILL'))
  const [name] = await once(live.stdout.setEncoding('utf8'), 'data')
  return name.trim()
}

/** The temporary name of a snapshot process `pid` would start writing now, as the store names it. */
function tempNameOfWriter(pid) {
  return tempName(watcherFileName(Date.now(), { sequence: 0, reason: 'leak', suffix: SUFFIXES.snapshot }).replace(`-${process.pid}-`, `-${pid}-`))
}

/** The pid of a process that has exited. */
function deadPid() {
  return spawnSync(process.execPath, ['-e', '0']).pid
}

/** The temporary files in `dir`. */
function temps(dir) {
  return fs.readdirSync(dir).filter((name) => name.endsWith('.tmp'))
}

/** Polls `check` every 5 ms until it holds, for at most `ms`: whether it did. */
async function within(ms, check) {
  const until = Date.now() + ms
  while (!check()) {
    if (Date.now() > until) return false
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  return true
}

test('a snapshot is private, complete, and appears under its final name only', async (t) => {
  const parent = tempDir(t, 'snap')
  const dir = path.join(parent, 'snaps')
  const result = await store(dir).capture('leak', costOf())
  assert.equal(result.reason, 'leak')
  assert.ok(result.bytes > 0 && result.durationMs >= 0)
  assert.equal(fs.statSync(dir).mode & 0o777, 0o700)
  assert.equal(fs.statSync(result.path).mode & 0o777, 0o600)
  assert.deepStrictEqual(fs.readdirSync(dir), [path.basename(result.path)])
  assert.match(path.basename(result.path), /^leakproof-.*-leak\.heapsnapshot$/)
  const snapshot = JSON.parse(fs.readFileSync(result.path, 'utf8'))
  assert.ok(snapshot.snapshot.meta.node_fields.includes('id'))
})

test('retention keeps the newest maxSnapshots files, never the ones to keep', async (t) => {
  const dir = tempDir(t, 'snap')
  const s = store(dir, { maxSnapshots: 2 })
  const first = await s.capture('leak', costOf())
  const second = await s.capture('leak-worse', costOf())
  const third = await s.capture('follow-up', { ...costOf(), keep: [first.path] })
  assert.deepStrictEqual(s.list().map((f) => f.path).sort(), [first.path, third.path].sort())
  assert.ok(!fs.existsSync(second.path))
})

test('processes sharing a dir keep a budget each: a live sibling\'s files are never rotated away, a gone writer\'s are', async (t) => {
  const dir = tempDir(t, 'snap')
  fs.chmodSync(dir, 0o700)
  // Files as a cluster's workers name theirs: a live sibling's (this test runner, the parent;
  // written since it started, or its pid would count as reused) and those of a worker that
  // exited, older than anything this process writes.
  const fileOf = (pid, reason, ageMs) => {
    const file = path.join(dir, watcherFileName(Date.now() - ageMs, { sequence: 0, reason, suffix: SUFFIXES.snapshot }).replace(`-${process.pid}-`, `-${pid}-`))
    fs.writeFileSync(file, '{}', { mode: 0o600 })
    const at = (Date.now() - ageMs) / 1000
    fs.utimesSync(file, at, at)
    return file
  }
  const sibling = [fileOf(process.ppid, 'leak', 0), fileOf(process.ppid, 'follow-up', 0)]
  const gone = deadPid()
  const left = [fileOf(gone, 'leak', 40_000), fileOf(gone, 'follow-up', 30_000)]
  const s = store(dir, { maxSnapshots: 2 })
  const first = await s.capture('leak', costOf())
  // Two of this process's and two of a gone writer's: the gone writer's go first, oldest first.
  assert.ok(!fs.existsSync(left[0]) && fs.existsSync(left[1]))
  const second = await s.capture('follow-up', costOf())
  const third = await s.capture('leak-worse', { ...costOf(), keep: [first.path] })
  assert.ok(!fs.existsSync(left[1]) && !fs.existsSync(second.path))
  assert.ok(fs.existsSync(first.path) && fs.existsSync(third.path))
  // The sibling's pair is whole, though the directory holds more than maxSnapshots.
  assert.ok(sibling.every((file) => fs.existsSync(file)))
  assert.equal(s.list().length, 4)
})

test('a second snapshot within the cooldown is skipped with the reason', async (t) => {
  const dir = tempDir(t, 'snap')
  const s = store(dir, { cooldownMs: 60_000 })
  assert.ok('path' in (await s.capture('leak', costOf())))
  const skipped = await s.capture('leak', costOf())
  assert.equal(skipped.skipped, 'cooldown')
  assert.equal(s.list().length, 1)
})

test('a spent disk budget skips the snapshot', async (t) => {
  const dir = tempDir(t, 'snap')
  const skipped = await store(dir, { maxDiskBytes: 1000 }).capture('leak', costOf())
  assert.equal(skipped.skipped, 'disk-budget')
  assert.deepStrictEqual(fs.readdirSync(dir), [])
})

test('too little free memory skips the snapshot', async (t) => {
  const skipped = await store(tempDir(t, 'snap'), { memoryFactor: 1e9 }).capture('leak', costOf())
  assert.equal(skipped.skipped, 'memory')
})

test('a directory that cannot be written skips the snapshot', async (t) => {
  // A path under a regular file can never be created, whoever runs the test.
  const file = path.join(tempDir(t, 'snap'), 'a-file')
  fs.writeFileSync(file, '')
  const skipped = await store(path.join(file, 'snaps')).capture('leak', costOf())
  assert.equal(skipped.skipped, 'dir-not-writable')
})

test('a read-only file system skips the snapshot', { skip: !isRoot && 'needs root to mount a read-only tmpfs' }, async (t) => {
  const dir = mountTmpfs(t, 'ro,size=1m')
  if (dir === null) return t.skip('mounting is not allowed here')
  try {
    const skipped = await store(dir).capture('leak', costOf())
    assert.equal(skipped.skipped, 'dir-not-writable')
  } finally {
    unmount(dir)
  }
})

test('a disk that fills up during the write leaves no file, and gives the space back', { skip: !isRoot && 'needs root to mount a tmpfs' }, async (t) => {
  const size = Math.ceil(costOf().predicted.bytes * 1.5)
  const dir = mountTmpfs(t, `size=${size}`)
  if (dir === null) return t.skip('mounting is not allowed here')
  try {
    // The checks pass; then, just before V8 writes, something else fills the disk.
    const filler = path.join(dir, 'filler')
    const s = store(dir, {
      beforeSnapshot: () => {
        const fd = fs.openSync(filler, 'w')
        const block = Buffer.alloc(64 * 1024)
        try {
          for (;;) fs.writeSync(fd, block)
        } catch (err) {
          assert.equal(err.code, 'ENOSPC')
        } finally {
          fs.closeSync(fd)
        }
        fs.truncateSync(filler, fs.statSync(filler).size - 16 * 1024)
      },
    })
    const result = await s.capture('leak', costOf())
    assert.equal(result.skipped, 'write-failed', JSON.stringify(result))
    assert.deepStrictEqual(fs.readdirSync(dir), ['filler'])
    // Nothing holds the deleted partial file open: its space is free again.
    const held = fs.readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return fs.readlinkSync(`/proc/self/fd/${fd}`).startsWith(dir)
      } catch {
        return false
      }
    })
    assert.deepStrictEqual(held, [])
  } finally {
    unmount(dir)
  }
})

test('the watcher writes a baseline and a follow-up snapshot of a leaking service', async (t) => {
  const dir = tempDir(t, 'snap')
  // The follow-up waits for the service to recover from the baseline's pause (three times
  // it): on a loaded machine that can take half a minute. The load is paced (~2 MB/s kept):
  // unpaced, the service held a core and the children, at nice 19, wrote its ever larger heap
  // in 24-43 s each on a busy machine, past the run's minute; paced, the pair is in within 20 s.
  const options = { dir, durationMs: 60_000, perSecond: 1000, until: 'report', done: true, watch: { cooldownMs: 0, snapshotWriter: 'fork', followUpGrowthBytes: 2 * 1024 * 1024 } }
  const out = execFileSync(process.execPath, [LEAKING_SERVICE, JSON.stringify(options)], {
    encoding: 'utf8',
    timeout: 200_000,
    maxBuffer: 64 * 1024 * 1024,
  })
  const events = out.trim().split('\n').map((l) => JSON.parse(l))
  const snaps = events.filter((e) => e.type === 'snapshot')
  const told = JSON.stringify(events.filter((e) => e.type !== 'sample'))
  assert.ok(snaps.length >= 2, told)
  assert.equal(snaps[0].role, 'baseline')
  assert.equal(snaps[1].role, 'follow-up')
  assert.equal(snaps[1].baseline, snaps[0].path)
  for (const s of snaps) assert.equal(fs.statSync(s.path).mode & 0o777, 0o600)
  const report = events.find((e) => e.type === 'report' && e.kind === 'pair')
  assert.deepEqual(report && [report.kind, report.baseline, report.followUp], ['pair', snaps[0].path, snaps[1].path], told)
  // The census named the holder at the leak, before the follow-up was due, and the pair says so.
  const early = events.find((e) => e.type === 'report' && e.kind === 'no-snapshot')
  assert.equal(early?.heapSnapshot.why, 'pair-pending', told)
  assert.ok(early.time < report.time)
  // Its census began with the leak, beside the baseline's writer, not once the baseline was written.
  assert.ok(early.census.passes[0].time < snaps[0].time, `census from ${early.census.passes[0].time}, baseline written at ${snaps[0].time}`)
  assert.match(early.suspects[0]?.holder?.description ?? '', /^sessions \(Map\), a module-level variable of .*leaking-service\.js$/, JSON.stringify(early.suspects))
  assert.equal(report.evidence, 'pair and census', JSON.stringify(report.census))
  assert.deepEqual(report.census.holders[0], { holder: early.suspects[0].holder.description, confirmed: true })
  // One label for the Map whichever evidence named it: the metric's series stays as it was.
  assert.deepEqual(report.holderLabel, { holder: 'sessions (Map)', site: '__test__/support/fixtures/leaking-service.js' }, 'relative to the folder of the package.json nearest the main script')
  assert.deepEqual(early.holderLabel, report.holderLabel)
  // The Map that leaks grew; the watcher's own bookkeeping, filling meanwhile, is not listed.
  assert.match(report.grownCollections[0].holder.file, /leaking-service\.js$/, JSON.stringify(report.grownCollections))
  const ownCode = path.join(__dirname, '..', '..', 'lib') + path.sep
  assert.deepEqual(report.grownCollections.filter((c) => c.holder?.file?.startsWith(ownCode)), [])
  // Writing the snapshots and diffing the pair take GBs of native memory for seconds, on
  // purpose: no native leak is read into them.
  assert.deepEqual(events.filter((e) => e.type === 'leak' && e.kind === 'native'), [], told)
  assert.ok(fs.readdirSync(dir).every((name) => !name.endsWith('.tmp')))
  const sites = events.find((e) => e.type === 'sites')
  assert.ok(sites, `allocation sites are ranked after a heap leak: ${told}`)
  assert.match(sites.sites[0]?.url ?? '', /leaking-service\.js$/, JSON.stringify(sites))
  // Sampled over one to three windows of sitesWindowMs (1 s in the service).
  assert.ok([1000, 2000, 3000].includes(sites.windowMs), JSON.stringify(sites))
})

test('a leak whose snapshot would stop the service too long is declined, and reported without one', async (t) => {
  const dir = tempDir(t, 'snap')
  // A heap limit far enough that the leak is not urgent: an urgent one is snapshotted whatever
  // the budget (watch.capture.test.js).
  const options = { dir, durationMs: 60_000, until: 'report', done: true, watch: { cooldownMs: 0, snapshotMaxPauseMs: 1, snapshotWriter: 'in-process', followUpGrowthBytes: 2 * 1024 * 1024 } }
  const args = ['--max-old-space-size=32768', LEAKING_SERVICE, JSON.stringify(options)]
  const out = execFileSync(process.execPath, args, {
    encoding: 'utf8',
    timeout: 90_000,
    maxBuffer: 64 * 1024 * 1024,
  })
  const events = out.trim().split('\n').map((l) => JSON.parse(l))
  assert.ok(events.some((e) => e.type === 'leak' && e.urgent === false), 'the leak is not urgent')
  const declined = events.find((e) => e.type === 'snapshot-skipped')
  assert.equal(declined?.skipped, 'pause', JSON.stringify(events.filter((e) => e.type.startsWith('snapshot'))))
  assert.ok(declined.predicted.pauseMs > 1 && declined.predicted.bytes > 0)
  assert.equal(events.filter((e) => e.type === 'snapshot').length, 0)
  const report = events.find((e) => e.type === 'report')
  assert.ok(report, 'a report comes without a snapshot')
  assert.equal(report.kind, 'no-snapshot')
  assert.equal(report.heapSnapshot.why, 'declined')
  assert.match(report.sites.sites[0].url, /leaking-service\.js$/, JSON.stringify(report.sites))
  assert.equal(report.heapSpaces.grew[0].space, 'old_space', JSON.stringify(report.heapSpaces))
  assert.ok(report.notLookedAt.some((n) => n.what === 'heap snapshot' && /snapshotMaxPauseMs/.test(n.why)))
  assert.equal(fs.statSync(report.path).mode & 0o777, 0o600)
  assert.ok(fs.readdirSync(dir).every((name) => !name.endsWith('.heapsnapshot')))
})

test("the app's own topGrowingSites() calls do not change what the watcher's report compares against", (t) => {
  const fixture = path.join(__dirname, 'fixtures', 'watch-report-growth.js')
  const out = execFileSync(process.execPath, [fixture, tempDir(t, 'snap')], { encoding: 'utf8', timeout: 60_000 })
  const result = JSON.parse(out)
  assert.equal(result.error, undefined, out)
  // The three intervals were started before the app's call: the report, the watcher's first,
  // counts them from when tracking started all the same.
  const site = new RegExp(`^${fixture}:${lineOf('GROWING-SITE', fixture)}:\\d+$`)
  const grown = result.growingHandles.find((g) => site.test(g.site))
  assert.deepEqual(grown && [grown.kind, grown.growth], ['interval', 3], out)
})

test('a writer killed as its snapshot starts leaves its temporary file; the next watcher on the dir removes it at once, not a live writer\'s', async (t) => {
  const dir = tempDir(t, 'snap')
  // A service that writes snapshots of a heap holding "secrets", in-process, one after the other.
  const service = `
    const { SnapshotStore } = require(${JSON.stringify(SNAPSHOTS_JS)})
    globalThis.secrets = Array.from({ length: 200000 }, (_, i) => ({ i, password: 'hunter' + i }))
    const store = new SnapshotStore({ dir: process.argv[1], maxSnapshots: 2, maxDiskBytes: 2 ** 31, cooldownMs: 0, memoryFactor: 1, writer: 'in-process' })
    const again = () => store.capture('leak', { heapUsed: 1e6, predicted: { bytes: 1e6, pauseMs: 1 }, maxPauseMs: Infinity }).then(again)
    again()`
  const killed = spawn(process.execPath, ['-e', service, dir], { stdio: 'ignore' })
  assert.ok(await within(30_000, () => temps(dir).length > 0), 'the service started a snapshot')
  killed.kill('SIGKILL')
  await once(killed, 'exit')
  const [left] = temps(dir)
  assert.ok(left, 'the killed service left its temporary file')
  assert.match(left, new RegExp(`-${killed.pid}-`))
  // Another service, alive, writing into the same dir.
  const liveTemp = await liveWriter(t, [process.execPath, TEMP_WRITER, dir])

  const started = Date.now()
  const watcher = watch({ dir, nearHeapLimit: false, sites: false, forceGc: false })
  const errors = []
  watcher.on('error', (e) => errors.push(e))
  try {
    assert.ok(await within(1000, () => !temps(dir).includes(left)), `removed within a second of the watcher's start: ${temps(dir)}`)
    const tookMs = Date.now() - started
    assert.deepEqual(temps(dir), [liveTemp], "the live service's temporary file stays")
    // And after the watcher looked again at the files written too recently to judge.
    await new Promise((resolve) => setTimeout(resolve, UNLOCKED_MS + 500))
    assert.deepEqual(temps(dir), [liveTemp], "the live service's temporary file stays")
    assert.deepEqual(errors, [])
    t.diagnostic(`removed ${tookMs} ms after watch()`)
  } finally {
    watcher.stop()
  }
})

/**
 * Starts the service of fixtures/snapshot-on-signal.js on `dir` with `writer`, asks it for a
 * snapshot, and resolves once the snapshot's temporary file has its first bytes (V8 writes it):
 * `{ service, temp, child }`, `child` the pid of the forked child writing it (0 in-process).
 */
async function serviceWriting(t, dir, writer) {
  const service = spawn(process.execPath, [SNAPSHOT_ON_SIGNAL, dir, writer], { stdio: ['ignore', 'pipe', 'inherit'] })
  t.after(() => service.kill('SIGKILL'))
  let printed = ''
  service.stdout.setEncoding('utf8').on('data', (d) => (printed += d))
  assert.ok(await within(60_000, () => printed.includes('"ready"')), `the service started: ${printed}`)
  service.kill('SIGUSR2')
  const writing = () => temps(dir).find((name) => (fs.statSync(path.join(dir, name), { throwIfNoEntry: false })?.size ?? 0) > 0)
  assert.ok(await within(120_000, () => writing() !== undefined || service.exitCode !== null), `the snapshot started: ${printed}`)
  const children = () => fs.readFileSync(`/proc/${service.pid}/task/${service.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)
  return { service, temp: writing(), child: writer === 'fork' ? children()[0] ?? 0 : 0, printed: () => printed }
}

test('a service stopped by SIGTERM while it writes a snapshot in-process: the next start on the dir, another pid, removes its temporary file, not a live writer\'s', async (t) => {
  const dir = tempDir(t, 'snap')
  const { service, temp, printed } = await serviceWriting(t, dir, 'in-process')
  assert.ok(temp, `the service was writing its snapshot: ${printed()}`)
  service.kill('SIGTERM')
  await once(service, 'exit')
  assert.equal(service.signalCode, 'SIGTERM')
  assert.deepEqual(temps(dir), [temp], 'a process stopped mid-write leaves its temporary file: it ran no code on the way out')
  const liveTemp = await liveWriter(t, [process.execPath, TEMP_WRITER, dir])

  const watcher = watch({ dir, nearHeapLimit: false, sites: false, forceGc: false })
  const errors = []
  watcher.on('error', (e) => errors.push(e))
  try {
    assert.ok(await within(1000, () => !temps(dir).includes(temp)), `removed as the watcher started: ${temps(dir)}`)
    await new Promise((resolve) => setTimeout(resolve, UNLOCKED_MS + 500))
    assert.deepEqual(temps(dir), [liveTemp], "the live writer's temporary file stays")
    assert.deepEqual(fs.readdirSync(dir).filter((name) => !name.startsWith('.')), [], 'and no snapshot was written')
    assert.deepEqual(errors, [])
  } finally {
    watcher.stop()
  }
})

test('a service stopped by SIGTERM while its forked child writes leaves no temporary file: the child removes it and dies', { skip: forkUnavailable() ?? false }, async (t) => {
  const dir = tempDir(t, 'snap')
  const { service, temp, child, printed } = await serviceWriting(t, dir, 'fork')
  assert.ok(temp && child > 0, `a child was writing the snapshot: ${printed()}`)
  service.kill('SIGTERM')
  await once(service, 'exit')
  assert.equal(service.signalCode, 'SIGTERM')
  assert.ok(await within(10_000, () => temps(dir).length === 0), `the temporary file is removed: ${temps(dir)}`)
  assert.ok(await within(10_000, () => !fs.existsSync(`/proc/${child}/stat`) || / Z /.test(fs.readFileSync(`/proc/${child}/stat`, 'utf8').replace(/^.*\)/, ''))), 'the child is gone')
  assert.deepEqual(fs.readdirSync(dir), [], 'nothing is left')
})

/**
 * The command that runs `args` as a process of a new pid namespace (a container's view), whose
 * pid there is `pid`: 1 (the namespace's first), or another number; null where that cannot be
 * done here (not root, no unshare, namespaces not allowed).
 */
function inPidNamespace(pid, args) {
  if (!isRoot || process.platform !== 'linux') return null
  const probe = spawnSync('unshare', ['--pid', '--fork', '--kill-child', '--mount-proc', 'true'], { stdio: 'ignore' })
  if (probe.status !== 0) return null
  const quoted = args.map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ')
  // The shell's child gets the pid after ns_last_pid; the trailing `:` keeps the shell from exec'ing it.
  const script = pid === 1 ? `exec ${quoted}` : `echo ${pid - 1} > /proc/sys/kernel/ns_last_pid && ${quoted}; :`
  // --kill-child: the namespace's first process dies with unshare, and every other one with it.
  return ['unshare', '--pid', '--fork', '--kill-child', '--mount-proc', 'sh', '-c', script]
}

/** A pid no process of this machine has now, high among the pids (where few processes are). */
function freePid() {
  const max = Number(fs.readFileSync('/proc/sys/kernel/pid_max', 'utf8'))
  let pid = max - 1000
  while (fs.existsSync(`/proc/${pid}`)) pid--
  return pid
}

test('writers in another pid namespace: a live one\'s temporary file stays though its pid names no process here; a dead one\'s goes though its pid names a live one here', async (t) => {
  const dir = tempDir(t, 'snap')
  const absent = freePid()
  const liveCommand = inPidNamespace(absent, [process.execPath, TEMP_WRITER, dir])
  if (liveCommand === null) return t.skip('pid namespaces need root and unshare')
  const liveTemp = await liveWriter(t, liveCommand)
  assert.match(liveTemp, new RegExp(`-${absent}-`), 'named with its pid in its namespace')
  assert.ok(!fs.existsSync(`/proc/${absent}`), 'which names no process here')
  // A container's service, its pid 1, killed while writing: pid 1 here is this machine's init, alive since boot.
  const [unshare, ...args] = inPidNamespace(1, [process.execPath, TEMP_WRITER, dir])
  const dead = spawn(unshare, args, { stdio: ['ignore', 'pipe', 'inherit'] })
  const [deadName] = await once(dead.stdout.setEncoding('utf8'), 'data')
  const deadTemp = deadName.trim()
  assert.match(deadTemp, /-1-0-0-leak\./)
  const [writerHere] = fs.readFileSync(`/proc/${dead.pid}/task/${dead.pid}/children`, 'utf8').trim().split(/\s+/).map(Number)
  dead.kill('SIGKILL')
  await once(dead, 'exit')
  assert.ok(await within(5000, () => !fs.existsSync(`/proc/${writerHere}`)), 'the dead writer is gone')

  const watcher = watch({ dir, nearHeapLimit: false, sites: false, forceGc: false })
  const errors = []
  watcher.on('error', (e) => errors.push(e))
  try {
    // Its lock is free, and pid 1 here does not hold it open: removed once too old to be a writer's first instant.
    assert.ok(await within(UNLOCKED_MS + 3000, () => !temps(dir).includes(deadTemp)), `the dead writer's file is removed: ${temps(dir)}`)
    assert.deepEqual(temps(dir), [liveTemp], "the live writer's file stays: it holds its lock")
    assert.deepEqual(errors, [])
  } finally {
    watcher.stop()
  }
})

test("a watcher with a dir but snapshots off removes a dead writer's temporary file all the same", async (t) => {
  const dir = tempDir(t, 'snap')
  const left = tempNameOfWriter(deadPid())
  fs.writeFileSync(path.join(dir, left), '{"snapshot":{')
  const watcher = watch({ dir, snapshots: 'off', nearHeapLimit: false, sites: false, forceGc: false })
  try {
    assert.ok(await within(1000, () => temps(dir).length === 0), `removed as the watcher started: ${temps(dir)}`)
  } finally {
    watcher.stop()
  }
})

test('a temporary file of this pid from before this process started is removed; a link, a folder or a file of another name never is', async (t) => {
  const dir = tempDir(t, 'snap')
  const dead = deadPid()
  const outside = path.join(tempDir(t, 'snap'), 'not-a-snapshot')
  fs.writeFileSync(outside, 'keep me')
  const earlierRun = tempNameOfWriter(process.pid).replace('-0-leak', '-1-leak')
  fs.writeFileSync(path.join(dir, earlierRun), '{"snapshot":{')
  // A container restarted as the same pid: its temporary file is older than this process.
  const beforeStart = (Date.now() - process.uptime() * 1000 - 60_000) / 1000
  fs.utimesSync(path.join(dir, earlierRun), beforeStart, beforeStart)
  // This process's, written since it started (another thread's watcher, say): being written.
  const ours = tempNameOfWriter(process.pid)
  fs.writeFileSync(path.join(dir, ours), '')
  const link = tempNameOfWriter(dead)
  fs.symlinkSync(outside, path.join(dir, link))
  const folder = tempNameOfWriter(dead).replace('-0-leak', '-2-leak')
  fs.mkdirSync(path.join(dir, folder))
  const otherName = `.leakproof-notes-${dead}.tmp`
  fs.writeFileSync(path.join(dir, otherName), '')

  store(dir)
  assert.ok(await within(1000, () => !fs.existsSync(path.join(dir, earlierRun))), 'the earlier run\'s file is removed')
  assert.deepEqual(fs.readdirSync(dir).sort(), [ours, link, folder, otherName].sort())
  assert.equal(fs.readFileSync(outside, 'utf8'), 'keep me')
})

test('a leftover that cannot be removed is told once, as a cleanup error (a warning when no one listens)', async (t) => {
  const dir = isRoot ? mountTmpfs(t, 'size=1m') : tempDir(t, 'snap')
  if (dir === null) return t.skip('mounting is not allowed here')
  const dead = deadPid()
  const names = [tempNameOfWriter(dead), tempNameOfWriter(dead).replace('-0-leak', '-1-leak')]
  for (const name of names) fs.writeFileSync(path.join(dir, name), '')
  // Root may delete from any directory it can write: a read-only file system stops it.
  if (isRoot) execFileSync('mount', ['-o', 'remount,ro', dir], { stdio: 'ignore' })
  else fs.chmodSync(dir, 0o500)
  try {
    const errors = []
    store(dir, { onError: (error, during) => errors.push({ message: error.message, during }) })
    assert.ok(await within(1000, () => errors.length > 0), 'an error is told')
    await new Promise((resolve) => setTimeout(resolve, 50))
    assert.equal(errors.length, 1, JSON.stringify(errors))
    assert.equal(errors[0].during, 'cleanup')
    for (const name of names) assert.ok(errors[0].message.includes(name), errors[0].message)
    assert.match(errors[0].message, isRoot ? /EROFS/ : /EACCES/)
    // Told to no one, it is a process warning.
    const warned = once(process, 'warning')
    store(dir)
    const [warning] = await warned
    assert.equal(warning.code, 'LEAKPROOF_WATCH_ERROR')
    assert.match(warning.message, /^leakproof watcher: cleanup: could not remove/)
  } finally {
    if (isRoot) unmount(dir)
    else fs.chmodSync(dir, 0o700)
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

'use strict'

// What operators drive: watcher.status(), snapshots on demand (watcher.snapshot() and
// LEAKPROOF_SNAPSHOT_SIGNAL), events on diagnostics_channel, and an afterSnapshot hook that
// uploads the file to a real HTTP server.

const test = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const diagnosticsChannel = require('node:diagnostics_channel')
const fs = require('node:fs')
const http = require('node:http')
const path = require('node:path')
const { once } = require('node:events')
const { pipeline } = require('node:stream/promises')
const { execFileSync, spawn } = require('node:child_process')
const { Worker } = require('node:worker_threads')
const { watch } = require('../..')
const { tempDir } = require('../support/temp-dir')
const { INSTANT_WATCH } = require('../support/fixtures/fast-watch')

const root = path.join(__dirname, '..', '..')

/** Resolves with the next `type` event of `watcher`. */
const next = (watcher, type) => once(watcher, type).then(([event]) => event)

/**
 * A watcher that snapshots a small heap fast; stopped when the test ends. The watcher keeps
 * nothing alive on its own: a timer stands in for the service while the test waits.
 */
function startWatcher(t, options = {}) {
  let watcher
  const service = setInterval(() => {}, 1000)
  // Stopped before its directory goes (after hooks run in the order they were added).
  t.after(() => {
    watcher?.stop()
    clearInterval(service)
  })
  // In-process: the operator's request overriding the pause budget is what some tests check.
  watcher = watch({ intervalMs: 100, dir: tempDir(t, 'ondemand'), snapshotMaxPauseMs: 1, snapshotWriter: 'in-process', ...options })
  return watcher
}

test('events are published on diagnostics_channel leakproof:<type>, as emitted', async (t) => {
  const published = []
  const onSample = (event) => published.push(event)
  diagnosticsChannel.subscribe('leakproof:sample', onSample)
  t.after(() => diagnosticsChannel.unsubscribe('leakproof:sample', onSample))
  const watcher = startWatcher(t, { dir: undefined })
  const emitted = await next(watcher, 'sample')
  assert.equal(published.at(-1), emitted)
  assert.equal(emitted.type, 'sample')
})

test('status() tells what the watcher sees and has done, as JSON; after stop() it says so', async (t) => {
  const watcher = startWatcher(t)
  // The Rust thread takes the floor a moment after the sample event: the second sample's
  // status holds the first floor at least.
  await next(watcher, 'sample')
  await next(watcher, 'sample')
  const status = watcher.status()
  assert.deepEqual(JSON.parse(JSON.stringify(status)), status)
  assert.equal(status.running, true)
  assert.equal(status.pid, process.pid)
  const heap = status.memory.find((m) => m.kind === 'heap')
  assert.ok(heap.floorBytes > 0 && typeof heap.slopeBytesPerSec === 'number' && heap.scale === 'minutes' && heap.leaking === false, JSON.stringify(heap))
  assert.deepEqual(status.leaks, { heap: 0, external: 0, native: 0 })
  assert.deepEqual(status.snapshots, { on: true, dir: watcher.options.dir, writing: false, counts: { written: 0 } })
  assert.ok(status.forcedGc.count >= 1 && status.forcedGc.seconds > 0, JSON.stringify(status.forcedGc))
  watcher.stop()
  const stopped = watcher.status()
  assert.equal(stopped.running, false)
  assert.deepEqual(stopped.memory, [])
})

test('snapshot() on demand: a baseline past the pause budget, then the follow-up and its report, then the cooldown', async (t) => {
  const kept = new Map()
  const watcher = startWatcher(t, { cooldownMs: 60_000 })
  const first = watcher.snapshot()
  assert.equal(first.role, 'baseline')
  assert.match(first.id, new RegExp(`^${process.pid}-`))
  // Not written yet (the write waits for the next turn of the loop), but held.
  assert.equal(watcher.status().snapshots.writing, true)
  assert.throws(() => watcher.snapshot(), { code: 'ERR_LEAKPROOF_SNAPSHOT_IN_PROGRESS' })
  const baseline = await first.done
  // The budget is 1 ms: the operator's request overrides it, and the event says so.
  assert.equal(baseline.role, 'baseline')
  assert.equal(baseline.reason, 'on-demand')
  assert.equal(baseline.requestedBy, 'api')
  assert.equal(baseline.id, first.id)
  assert.equal(baseline.overBudgetBecause, 'requested on demand (api)')
  assert.equal(fs.statSync(baseline.path).mode & 0o777, 0o600)

  for (let i = 0; i < 50_000; i++) kept.set(i, { i, text: `entry ${i}` })
  const reported = next(watcher, 'report')
  const second = watcher.snapshot('http')
  assert.equal(second.role, 'follow-up')
  const followUp = await second.done
  assert.equal(followUp.baseline, baseline.path)
  assert.equal(followUp.requestedBy, 'http')
  const report = await reported
  assert.equal(report.kind, 'pair')
  assert.ok(report.newCount >= 50_000, String(report.newCount))
  assert.equal(watcher.latestReport(), report)

  // A new pair waits for the cooldown, and says how long.
  assert.throws(() => watcher.snapshot(), (err) => {
    assert.equal(err.code, 'ERR_LEAKPROOF_SNAPSHOT_COOLDOWN')
    assert.ok(err.retryAfterMs > 50_000 && err.retryAfterMs <= 60_000, String(err.retryAfterMs))
    return true
  })
  assert.deepEqual(watcher.status().snapshots.counts, { written: 2 })
  assert.equal(watcher.status().reports, 1)
  assert.equal(kept.size, 50_000)
})

test('snapshot() on demand still respects the disk budget', async (t) => {
  const watcher = startWatcher(t, { maxDiskBytes: 1000 })
  const skipped = await watcher.snapshot().done
  assert.equal(skipped.skipped, 'disk-budget')
  assert.equal(skipped.requestedBy, 'api')
  assert.deepEqual(watcher.status().snapshots.counts, { written: 0, 'disk-budget': 1 })
  assert.deepEqual(fs.readdirSync(watcher.options.dir), [])
})

test('snapshot() without a dir, with snapshots off, or after stop() is refused with a code', (t) => {
  const plain = startWatcher(t, { dir: undefined })
  assert.throws(() => plain.snapshot(), { code: 'ERR_LEAKPROOF_SNAPSHOTS_OFF' })
  plain.stop()
  const off = startWatcher(t, { snapshots: 'off' })
  assert.throws(() => off.snapshot(), { code: 'ERR_LEAKPROOF_SNAPSHOTS_OFF' })
  off.stop()
  assert.throws(() => off.snapshot(), { code: 'ERR_LEAKPROOF_WATCHER_STOPPED' })
})

test('a bad snapshotSignal is refused with a code; in a worker thread too', async (t) => {
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGUSR1', 'SIGKILL', 'SIGNOPE', 'sigusr2', 12]) {
    assert.throws(() => watch({ dir: tempDir(t, 'ondemand'), snapshotSignal: signal }), { code: 'ERR_LEAKPROOF_INVALID_OPTION' }, String(signal))
  }
  assert.throws(() => watch({ snapshotSignal: 'SIGUSR2' }), { code: 'ERR_LEAKPROOF_INVALID_OPTION', message: /dir/ })
  const code = `
    const { parentPort } = require('node:worker_threads')
    const { watch } = require(${JSON.stringify(root)})
    try { watch({ dir: ${JSON.stringify(tempDir(t, 'ondemand'))}, snapshotSignal: 'SIGUSR2' }).stop(); parentPort.postMessage('started') }
    catch (err) { parentPort.postMessage(err.code + ': ' + err.message) }`
  const worker = new Worker(code, { eval: true })
  const [answer] = await once(worker, 'message')
  assert.match(answer, /^ERR_LEAKPROOF_INVALID_OPTION: .*worker thread/)
})

test('LEAKPROOF_SNAPSHOT_SIGNAL: a baseline, then the follow-up and its report, in the log; the listener keeps nothing alive', async (t) => {
  let child = null
  // Gone before its directory goes (after hooks run in the order they were added).
  t.after(async () => {
    if (child === null || child.exitCode !== null || child.signalCode !== null) return
    child.kill('SIGKILL')
    await once(child, 'exit')
  })
  const dir = tempDir(t, 'ondemand')
  const log = path.join(dir, 'events.jsonl')
  // 25,000 small objects a second kept: a growing heap whose snapshots take a second or two
  // (at 250,000 a second, the test took 14-34 s).
  const app = `
    const kept = []
    setInterval(() => { for (let i = 0; i < 500; i++) kept.push({ i }) }, 20)
    process.stdout.write('ready\\n')`
  const env = { ...process.env, LEAKPROOF_DIR: dir, LEAKPROOF_LOG: log, LEAKPROOF_SNAPSHOT_SIGNAL: 'SIGUSR2', LEAKPROOF_INTERVAL_MS: '200' }
  child = spawn(process.execPath, ['-r', path.join(root, 'register.js'), '-e', app], { env, stdio: ['ignore', 'pipe', 'inherit'] })
  await once(child.stdout, 'data')
  const events = () => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [])
  const waitFor = async (what) => {
    for (let i = 0; i < 300; i++) {
      const found = events().find(what)
      if (found) return found
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    assert.fail(`not in the log after 30 s: ${JSON.stringify(events().filter((e) => e.type !== 'sample'))}`)
  }
  child.kill('SIGUSR2')
  const baseline = await waitFor((e) => e.type === 'snapshot')
  assert.deepEqual([baseline.role, baseline.reason, baseline.requestedBy], ['baseline', 'on-demand', 'signal'])
  child.kill('SIGUSR2')
  const report = await waitFor((e) => e.type === 'report')
  assert.equal(report.kind, 'pair')
  assert.equal(report.baseline, baseline.path)
  // A third: the pair is done and the cooldown (10 min by default) runs; said in the log.
  child.kill('SIGUSR2')
  const refused = await waitFor((e) => e.type === 'snapshot-skipped')
  assert.deepEqual([refused.skipped, refused.requestedBy], ['cooldown', 'signal'])

  // The signal listener alone does not keep a process alive.
  const idle = execFileSync(process.execPath, ['-r', path.join(root, 'register.js'), '-e', "process.stdout.write('done')"], { env, encoding: 'utf8', timeout: 20_000 })
  assert.equal(idle, 'done')
})

test('afterSnapshot can stream the finished file to an HTTP server; a hook that fails is an error event, the snapshot stays', async (t) => {
  const received = []
  const server = http.createServer(async (req, res) => {
    const hash = crypto.createHash('sha256')
    let bytes = 0
    for await (const chunk of req) {
      hash.update(chunk)
      bytes += chunk.length
    }
    received.push({ url: req.url, method: req.method, bytes, sha256: hash.digest('hex') })
    res.end()
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.after(() => server.close())
  const { port } = server.address()
  const upload = async ({ path: file }) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'PUT', path: `/snapshots/${path.basename(file)}` })
    const answered = once(req, 'response')
    await pipeline(fs.createReadStream(file), req)
    const [res] = await answered
    res.resume()
    if (res.statusCode !== 200) throw new Error(`upload answered ${res.statusCode}`)
  }
  const watcher = startWatcher(t, { afterSnapshot: upload })
  const written = await watcher.snapshot().done
  const onDisk = fs.readFileSync(written.path)
  assert.deepEqual(received, [{
    url: `/snapshots/${path.basename(written.path)}`,
    method: 'PUT',
    bytes: onDisk.length,
    sha256: crypto.createHash('sha256').update(onDisk).digest('hex'),
  }])
  watcher.stop()

  const failing = startWatcher(t, { afterSnapshot: async () => { throw new Error('bucket unreachable') } })
  const errored = next(failing, 'error')
  const kept = await failing.snapshot().done
  assert.equal((await errored).during, 'afterSnapshot')
  assert.ok(fs.existsSync(kept.path))
  assert.deepEqual(failing.status().snapshots.counts, { written: 1 })
})

test("a snapshot asked for in a leak handler does not cost the leak its census: the report names the holder while the pair waits", async (t) => {
  const watcher = startWatcher(t, { ...INSTANT_WATCH, sites: false })
  const grow = setInterval(() => {
    for (let i = 0; i < 1000; i++) leakedSessions.set(leakedSessions.size, { id: leakedSessions.size, token: `token ${leakedSessions.size}` })
  }, 20)
  t.after(() => {
    clearInterval(grow)
    leakedSessions.clear()
  })
  // The operator's handler runs before the watcher acts on the leak: its snapshot is being written then.
  let requested = null
  let leak = null
  watcher.once('leak', (event) => {
    leak = event
    requested = watcher.snapshot('ops')
  })
  const reported = next(watcher, 'report')
  const timeout = new Promise((resolve) => setTimeout(resolve, 60_000, null).unref())
  const report = await Promise.race([reported, timeout])
  assert.ok(requested !== null, 'the handler asked for a snapshot')
  assert.ok(report !== null, 'a report within a minute of the leak')
  assert.equal(report.kind, 'no-snapshot')
  assert.deepEqual([report.leak.kind, report.leak.time], [leak.kind, leak.time], 'the report is about the leak whose handler asked for the snapshot')
  assert.equal(report.evidence, 'census')
  assert.equal(report.heapSnapshot.why, 'pair-pending')
  assert.match(report.heapSnapshot.detail, /another snapshot .* was being written at the leak/)
  assert.equal(report.suspects[0]?.holder.name, 'leakedSessions', JSON.stringify(report.suspects.map((s) => s.holder.description)))
  // The operator's snapshot is the pair's baseline.
  assert.equal((await requested.done).role, 'baseline')
})

/** The leak of the test above, at module level as a service's would be. */
const leakedSessions = new Map()

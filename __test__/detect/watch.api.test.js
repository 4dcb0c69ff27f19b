'use strict'

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const { EventEmitter } = require('node:events')
const path = require('node:path')
const { execFileSync } = require('node:child_process')
const { Worker } = require('node:worker_threads')
const { watch } = require('../..')
const { lineOf } = require('../support/listener-helpers')
const { tempDir } = require('../support/temp-dir')

const root = path.join(__dirname, '..', '..')

/** The path of a fixture. */
const fixture = (name) => path.join(__dirname, 'fixtures', name)

test('bad options are refused with the option named', () => {
  const cases = [
    [{ intervalMs: 0 }, RangeError, /intervalMs/],
    [{ intervalMs: '5' }, TypeError, /intervalMs/],
    [{ warmupMs: -1 }, RangeError, /warmupMs/],
    [{ forceGcAfterMs: -1 }, RangeError, /forceGcAfterMs/],
    [{ forceGcAfterMs: Infinity }, RangeError, /forceGcAfterMs/],
    [{ forceGcAfterMs: '60000' }, TypeError, /forceGcAfterMs/],
    [{ confidence: 1 }, RangeError, /confidence/],
    [{ confidence: 0 }, RangeError, /confidence/],
    [{ heapThreshold: 1.5 }, RangeError, /heapThreshold/],
    [{ window: 5, minPoints: 8 }, RangeError, /window/],
    [{ minPoints: 2 }, RangeError, /minPoints/],
    [{ snapshots: 'on' }, RangeError, /snapshots/],
    [{ dir: '' }, TypeError, /dir/],
    [{ forceGc: 'yes' }, TypeError, /forceGc/],
    [{ maxSnapshots: 1.5 }, RangeError, /maxSnapshots/],
    [{ beforeSnapshot: 1 }, TypeError, /beforeSnapshot/],
    [{ interval: 100 }, TypeError, /interval/],
  ]
  for (const [options, Ctor, mentions] of cases) {
    assert.throws(() => watch(options), (err) => {
      assert.ok(err instanceof Ctor, `${JSON.stringify(options)}: ${err}`)
      assert.match(err.message, mentions)
      assert.match(err.code, /^ERR_LEAKPROOF_(INVALID|UNKNOWN)_OPTION$/)
      return true
    })
  }
})

test('one watcher per thread; stop() ends it and a new one can start', () => {
  const w = watch({ intervalMs: 50, sites: false })
  assert.equal(watch(), w)
  assert.throws(() => watch({ intervalMs: 50 }), { code: 'ERR_LEAKPROOF_ALREADY_WATCHING' })
  w.stop()
  w.stop()
  const again = watch({ intervalMs: 50, sites: false })
  assert.notEqual(again, w)
  again.stop()
})

test('the watcher takes floors (forcing a GC when none ran) and stop() leaves nothing running', () => {
  const out = execFileSync(process.execPath, [fixture('watch-floors-and-stop.js')], { encoding: 'utf8', timeout: 30_000 })
  const r = JSON.parse(out)
  assert.ok(r.samples >= 5, out)
  assert.ok(r.forced >= 1, 'an idle process runs no major GC: the watcher asks for one')
  assert.deepStrictEqual(r.after, r.before)
  assert.equal(r.stats.running, false)
  if (process.platform === 'linux') {
    assert.equal(r.threadsWhileRunning, 1, 'one monitor thread while running')
    assert.equal(r.threadsAfter, 0, 'no native thread after stop()')
  }
})

test('floors that hint at growth bring full GCs sooner, a bounded run of them; an idle process gets only its first two floors and the quiet ones', () => {
  // A warm-up longer than the run: growth is suspected all along, never reported, so the run
  // of forced GCs on suspicion meets its bound.
  const run = (leaking) => JSON.parse(execFileSync(process.execPath, [fixture('watch-suspicion.js'), leaking ? 'leaking' : 'idle'], { encoding: 'utf8', timeout: 30_000 }))
  const count = (reasons, reason) => reasons.filter((r) => r === reason).length
  // The run's bound: max(minPoints, ceil(minDurationMs / intervalMs) + 1) + 4 = 15, and one
  // more per 10 intervals after (a timer never fires sooner than its interval).
  const { reasons: leaking, ms } = run(true)
  const suspected = count(leaking, 'suspected-growth')
  const said = `forced on suspicion: ${suspected} of ${leaking.length} floors in ${ms} ms`
  assert.ok(suspected >= 3, said)
  assert.ok(suspected <= 15 + Math.ceil(ms / 50 / 10), said)
  for (const reason of leaking) assert.ok([null, 'first-floors', 'quiet', 'suspected-growth'].includes(reason), reason)
  const { reasons: idle } = run(false)
  assert.equal(count(idle, 'suspected-growth'), 0, JSON.stringify(idle))
  // Nothing runs a full GC in an idle process: its first two floors are forced at once,
  // long before forceGcAfterMs, then only the quiet ones.
  assert.deepEqual(idle.slice(0, 2), ['first-floors', 'first-floors'], JSON.stringify(idle))
  assert.equal(count(idle, 'first-floors'), 2, JSON.stringify(idle))
  assert.ok(count(idle, 'quiet') >= 3, JSON.stringify(idle))
})

test('a full GC that cannot be forced is an error event, never an exception in the app, and floors come from incremental GCs', () => {
  // gc() as the app defined it (here: one that throws) is what the watcher calls for exact floors.
  const out = JSON.parse(execFileSync(process.execPath, [fixture('watch-gc-unavailable.js')], { encoding: 'utf8', timeout: 30_000 }))
  assert.equal(out.errors.length, 1, JSON.stringify(out.errors))
  assert.equal(out.errors[0].during, 'forcing a full GC')
  assert.match(out.errors[0].error, /no gc here/)
  // One error: gc() is not tried again. Floors on suspicion go on, from incremental GCs, as on a heap too big for gc().
  assert.ok(out.reasons.includes('suspected-growth'), JSON.stringify(out.reasons))
  assert.ok(out.reasons.filter((r) => r === 'quiet').length >= 3, 'the routine floors go on')
})

test('forceGc: false forces no full GC, quiet or suspected', () => {
  // The fixture's growing process, with the app running full GCs of its own as a busier one's
  // V8 would: floors come, and with forceGcAfterMs: 0 a quiet GC is due at every interval.
  // Which floors came is listened for on the same watcher (watch() returns the running one).
  const app = `
    require(${JSON.stringify(fixture('watch-no-forced-gc.js'))})
    const reasons = []
    require(${JSON.stringify(root)}).watch().on('sample', (s) => reasons.push(s.forcedGcReason))
    setInterval(() => gc(), 40).unref()
    process.on('exit', () => console.log(JSON.stringify(reasons)))`
  const out = execFileSync(process.execPath, ['--expose-gc', '-e', app], { encoding: 'utf8', timeout: 30_000 })
  const [stats, reasons] = out.trim().split('\n').map((line) => JSON.parse(line))
  assert.equal(stats.forcedGcs, 0, out)
  // Alive, and given the chance: it took floors, each after an interval that would have forced one.
  assert.ok(stats.majorGcsSeen >= 5, out)
  assert.ok(reasons.length >= 5, out)
  assert.deepEqual(reasons.filter((r) => r !== null), [], 'no floor came from a forced GC')
})

test('a running watcher does not keep the process alive', () => {
  const started = Date.now()
  execFileSync(process.execPath, [fixture('watch-idle-exit.js')], { timeout: 20_000 })
  assert.ok(Date.now() - started < 15_000)
})

test('a watcher in a worker thread samples its own heap and the worker exits by itself', async () => {
  const worker = new Worker(fixture('watch-in-worker.js'))
  // Listened for from the start: a worker that exits right after posting can have its
  // 'exit' emitted in the same turn as its last 'message', before an await would attach it.
  const exited = new Promise((resolve) => worker.once('exit', resolve))
  const message = await new Promise((resolve, reject) => {
    worker.once('message', resolve)
    worker.once('error', reject)
  })
  assert.equal(message.sample.threadId, message.threadId)
  assert.ok(message.threadId > 0)
  assert.ok(message.sample.heapUsed > 0)
  // The watcher is still running in the worker; its thread and timer must not hold it.
  const code = await Promise.race([
    exited,
    new Promise((resolve) => setTimeout(() => resolve('still running'), 10_000).unref()),
  ])
  if (code === 'still running') await worker.terminate()
  assert.equal(code, 0)
})

test('the register preload reports bad environment values once and keeps watching', () => {
  const log = path.join(require('node:os').tmpdir(), `leakproof-log-${process.pid}.jsonl`)
  const out = execFileSync(process.execPath, ['-r', './register.js', fixture('watch-print-options.js')], {
    cwd: root,
    encoding: 'utf8',
    timeout: 20_000,
    env: {
      ...process.env,
      LEAKPROOF_INTERVAL_MS: 'soon',
      LEAKPROOF_WARMUP_MS: '-5',
      LEAKPROOF_CONFIDENCE: '0.95',
      LEAKPROOF_SNAPSHOTS: 'sometimes',
      LEAKPROOF_FORCE_GC: 'maybe',
      LEAKPROOF_TYPO: '1',
      LEAKPROOF_LOG: log,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const options = JSON.parse(out)
  assert.equal(options.intervalMs, 10_000)
  assert.equal(options.warmupMs, 60_000)
  assert.equal(options.confidence, 0.95)
  assert.equal(options.snapshots, 'auto')
  assert.equal(options.forceGc, true)
})

test('the register preload writes its problems to stderr and never crashes the app', () => {
  const { spawnSync } = require('node:child_process')
  const r = spawnSync(process.execPath, ['-r', './register.js', fixture('watch-app.js')], {
    cwd: root,
    encoding: 'utf8',
    timeout: 20_000,
    env: { ...process.env, LEAKPROOF_INTERVAL_MS: 'soon', LEAKPROOF_DIR: '/proc/no/such/dir', LEAKPROOF_LOG: '/proc/no/such/log' },
  })
  assert.equal(r.status, 0)
  assert.match(r.stdout, /app ran/)
  const problems = r.stderr.split('\n').filter((l) => l.startsWith('leakproof:'))
  assert.equal(problems.length, 1, r.stderr)
  assert.match(problems[0], /LEAKPROOF_INTERVAL_MS="soon".*default, 10000/)
})

test('a heap threshold fires once per crossing, and writes a snapshot when a dir is set', (t) => {
  const dir = tempDir(t, 'threshold')
  const out = execFileSync(process.execPath, [fixture('watch-heap-threshold.js'), dir], { encoding: 'utf8', timeout: 30_000 })
  const seen = JSON.parse(out)
  const thresholds = seen.filter((e) => e.type === 'threshold')
  assert.equal(thresholds.length, 1, out)
  assert.equal(thresholds[0].kind, 'heap')
  assert.ok(thresholds[0].current >= 0.0001 * thresholds[0].limit)
  const snapshot = seen.find((e) => e.type === 'snapshot')
  assert.equal(snapshot?.reason, 'threshold', out)
  assert.equal(snapshot.role, 'baseline')
})

test('LEAKPROOF_TRACK_LISTENERS=1 in the preload logs listener leaks with the line that adds them', (t) => {
  const dir = tempDir(t, 'listeners')
  const app = fixture('watch-listener-app.js')
  const log = path.join(dir, 'events.jsonl')
  execFileSync(process.execPath, ['-r', path.join(root, 'register.js'), app], {
    encoding: 'utf8',
    timeout: 20_000,
    env: { ...process.env, LEAKPROOF_TRACK_LISTENERS: '1', LEAKPROOF_LOG: log },
  })
  const events = fs.readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l))
  const leaks = events.filter((e) => e.type === 'listener-leak')
  assert.ok(leaks.length >= 1, JSON.stringify(events))
  assert.equal(leaks[0].event, 'data')
  assert.match(leaks[0].site, new RegExp(`watch-listener-app\\.js:${lineOf('ADDS', app)}:`))
  assert.equal(typeof leaks[0].pid, 'number')
})

test('a named BoundedMap whose working set outgrows it is reported once as cache-thrashing; one that fits never is', () => {
  const { events } = JSON.parse(execFileSync(process.execPath, [fixture('watch-cache-thrashing.js')], { encoding: 'utf8', timeout: 30_000 }))
  assert.deepEqual(events.map((e) => e.name), ['outgrown'], JSON.stringify(events))
  const [e] = events
  assert.equal(e.type, 'cache-thrashing')
  assert.equal(e.size, 100)
  assert.equal(e.max, 100)
  assert.equal(e.maxBytes, null)
  assert.ok(e.hitRatio < 0.5 * e.earlierHitRatio, JSON.stringify(e))
  assert.ok(e.evictions > 0 && e.since <= e.time, JSON.stringify(e))
})

test('the preload calls a LEAKPROOF_ variable unknown only when nothing reads it', () => {
  const { configFromEnv } = require('../../lib/watch/env-config')
  const { problems } = configFromEnv({ LEAKPROOF_NATIVE_PATH: '/opt/leakproof.node', LEAKPROOF_TRACK_LISTENERS: '1', LEAKPROOF_LOG: '/tmp/x', LEAKPROOF_TYPO: '1' })
  assert.deepEqual(problems, ['ignoring unknown variable LEAKPROOF_TYPO'])
})

test("the preload takes PM2's app variables from pm2_env over its own, and leaves a pm2_env it cannot read alone", () => {
  const { preloadEnv } = require('../../lib/watch/env-config')
  const pm2Env = JSON.stringify({ LEAKPROOF_RESTART: '1', LEAKPROOF_INTERVAL_MS: 7000, LEAKPROOF_NESTED: { a: 1 }, NODE_ENV: 'production', name: 'api' })
  const env = preloadEnv({ pm2_env: pm2Env, LEAKPROOF_INTERVAL_MS: '5000', HOME: '/root' })
  assert.deepEqual(env, { pm2_env: pm2Env, LEAKPROOF_INTERVAL_MS: '7000', LEAKPROOF_RESTART: '1', HOME: '/root' })
  for (const unreadable of ['{"LEAKPROOF_RESTART":', 'null', '"text"', '']) {
    const own = { pm2_env: unreadable, LEAKPROOF_INTERVAL_MS: '5000' }
    assert.deepEqual(preloadEnv(own), own)
  }
})

test("growing allocation sites put the application's lines first, and treat every file of leakproof's as its own", () => {
  const { growingSites } = require('../../lib/sites/growth')
  const lib = path.join(root, 'lib')
  const site = (url, liveBytes) => [url, { functionName: 'f', url, line: 1, column: 1, liveBytes, made: new Map() }]
  const after = new Map([
    site(`file://${path.join(lib, 'cache', 'bounded-map.js')}`, 500),
    site(`file://${path.join(lib, 'track', 'listener-table.js')}`, 400),
    site('node:events', 300),
    site(`file://${path.join(__dirname, 'fixtures', 'watch-app.js')}`, 10),
  ])
  const ranked = growingSites(new Map(), after, 10).map((s) => s.url)
  assert.equal(ranked[0], `file://${path.join(__dirname, 'fixtures', 'watch-app.js')}`)
  assert.deepEqual(ranked.slice(1).map((u) => u.split('/').pop()), ['bounded-map.js', 'listener-table.js', 'node:events'])
})

test('EVENTS lists every event the watcher emits, and the log keeps all of them', () => {
  const { EVENTS } = require('../../lib/watch/watcher')
  const { logEvents } = require('../../lib/watch/event-log')
  // The watcher and the parts it coordinates (listener tracking emits on its own emitter).
  const files = ['watch', 'detect', 'capture', 'diagnose', 'sites', 'mitigate'].flatMap((part) => {
    const dir = path.join(root, 'lib', part)
    return fs.readdirSync(dir, { recursive: true }).filter((f) => f.endsWith('.js')).map((f) => path.join(dir, f))
  })
  const emitted = new Set()
  for (const file of files) {
    const source = fs.readFileSync(file, 'utf8')
    for (const [, type] of source.matchAll(/(?:#event|#emit|emit)\('([a-z-]+)'/g)) emitted.add(type)
  }
  for (const type of emitted) assert.ok(EVENTS.includes(type), `${type} is emitted but not in EVENTS`)
  // leak and threshold come from the native side, by name.
  assert.deepEqual([...EVENTS].sort(), [...new Set([...emitted, 'leak', 'threshold'])].sort())
  // What the log subscribes to, on an emitter standing in for the watcher.
  const subscribed = new EventEmitter()
  logEvents(subscribed, { append() {} })
  const logged = subscribed.eventNames()
  assert.deepEqual([...logged].sort(), [...EVENTS].sort())
  assert.ok(logged.includes('cache-thrashing'))
})

'use strict'

// Every thread watched (lib/watch/threads.js, thread-watch.js): real services that leak in
// worker threads, preloaded as users run them (`node -r leakproof/register`, the event log),
// at short timings. A piscina pool whose workers block in Atomics.wait between tasks and a
// worker started with `execArgv: []` are watched from the main thread; a plain Worker whose
// loop runs watches itself. Each leak is reported with its thread and its holder named in
// the worker's words; a healthy pool that grows and shrinks raises nothing; workers that exit
// mid-pair leave no half file.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { spawn } = require('node:child_process')
const { once } = require('node:events')
const { firstHolder } = require('../../lib/diagnose/report-text')
const { collect } = require('../../lib/page/collect')
const { endsAsCompleteJson } = require('../../lib/capture/snapshot-file')
const os = require('node:os')

const ROOT = path.join(__dirname, '..', '..')
const APP = path.join(__dirname, 'fixtures', 'threads-app.js')
const WORKERS = path.join(__dirname, 'fixtures', 'thread-workers')
const MiB = 1024 * 1024

/** Short timings: a floor every 500 ms, a leak judged over 5 s once 2 MiB have grown. */
const SHORT_TIMINGS = {
  LEAKPROOF_INTERVAL_MS: '500',
  LEAKPROOF_MIN_DURATION_MS: '5000',
  LEAKPROOF_WARMUP_MS: '2000',
  LEAKPROOF_MIN_GROWTH_BYTES: String(2 * MiB),
  LEAKPROOF_FOLLOW_UP_GROWTH_BYTES: String(4 * MiB),
  LEAKPROOF_COOLDOWN_MS: '1000',
}

/** How long past its `runMs` a fixture may run before it is taken for stuck. */
const STUCK_AFTER_MS = 60_000

/**
 * Runs the fixture's `scenario` with the preload for `runMs` at most, ended sooner (SIGTERM)
 * once `done(events)` holds for the events logged so far; resolves with its dir and events.
 */
async function runScenario(scenario, runMs, done = () => false) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `leakproof-threads-${scenario}-`))
  dirs.push(dir)
  const log = path.join(dir, 'events.jsonl')
  const child = spawn(process.execPath, ['-r', path.join(ROOT, 'register.js'), APP, scenario, String(runMs)], {
    env: { ...process.env, ...SHORT_TIMINGS, LEAKPROOF_DIR: dir, LEAKPROOF_LOG: log },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stderr = ''
  let stdout = ''
  child.stderr.on('data', (chunk) => (stderr += chunk))
  child.stdout.on('data', (chunk) => (stdout += chunk))
  // A busy machine (the whole suite at once) takes longer to see a leak: the run ends when it is seen.
  const poll = setInterval(() => {
    if (done(logged(log))) child.kill('SIGTERM')
  }, 500)
  // A fixture that outlives its time by a minute is stuck (a pool whose destroy() never ends):
  // killed, so that the assertion below says so rather than the suite waiting for ever.
  const stuck = setTimeout(() => child.kill('SIGKILL'), runMs + STUCK_AFTER_MS)
  const [code, signal] = await once(child, 'exit')
  clearInterval(poll)
  clearTimeout(stuck)
  assert.ok(code === 0 || signal === 'SIGTERM', `exit ${code} ${signal}${signal === 'SIGKILL' ? ` (still running ${STUCK_AFTER_MS} ms past its ${runMs} ms)` : ''}: ${stderr}`)
  const scrapes = stdout.split('\n').filter((line) => line.startsWith('metrics ')).map((line) => JSON.parse(line.slice('metrics '.length)))
  return { dir, events: logged(log), stderr, scrapes }
}

/** The events in the log so far (a last line being written left out). */
function logged(log) {
  if (!fs.existsSync(log)) return []
  const events = []
  for (const line of fs.readFileSync(log, 'utf8').split('\n')) {
    try {
      if (line !== '') events.push(JSON.parse(line))
    } catch {
      // Half a line, still being appended.
    }
  }
  return events
}

/** Whether a report about a worker names a holder. */
const workerHolderNamed = (events) => events.some((e) => e.type === 'report' && e.threadId !== 0 && firstHolder(e) !== null)

/** Whether a report about a worker names a holder, and a worker's allocation sites were ranked. */
const workerHolderAndSites = (events) => workerHolderNamed(events) && events.some((e) => e.type === 'sites' && e.threadId !== 0)

/**
 * The `sites` event about thread `threadId`, watched from the main thread: its first site is
 * in `file` (the worker's task module), a line of the worker's code that allocates what it
 * keeps, sampled without a snapshot or any JavaScript run in the worker.
 */
function assertWorkerSites(events, threadId, file) {
  const sites = events.find((e) => e.type === 'sites' && e.threadId === threadId)
  assert.ok(sites, `no sites event of thread ${threadId}: ${JSON.stringify(events.filter((e) => e.type === 'sites' || e.type === 'error'))}`)
  assert.equal(sites.thread.watchedFrom, 'main')
  assert.equal(sites.sites[0]?.url, file, JSON.stringify(sites.sites))
  assert.ok(sites.sites[0].growthBytes > 0)
  return sites
}

/** The first report about a worker thread that names a holder, with its thread's first leak. */
function workerReport(events) {
  const report = events.find((e) => e.type === 'report' && e.threadId !== 0 && firstHolder(e) !== null)
  assert.ok(report, `no report about a worker names a holder: ${JSON.stringify(events.filter((e) => e.type !== 'sample').map((e) => [e.type, e.threadId, e.skipped ?? e.kind]))}`)
  const leak = events.find((e) => e.type === 'leak' && e.threadId === report.threadId)
  assert.ok(leak, `no leak event of thread ${report.threadId}`)
  return { report, leak }
}

/** No leak of the main thread's own: the workers' heaps are not its native memory. */
function mainThreadQuiet(events) {
  const own = events.filter((e) => e.threadId === 0 && (e.type === 'leak' || e.type === 'report'))
  assert.deepEqual(own.map((e) => [e.type, e.kind]), [])
}

const scenarios = {}
/** The scenarios' directories, removed once every test of the file is done. */
const dirs = []
test.after(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
})
test.before(() => {
  // Run at once (each for 20-30 s, the leaking ones until a report names a holder, 2 minutes
  // at most): the checks below read what they left.
  for (const name of ['pool', 'no-preload']) scenarios[name] = runScenario(name, 120_000, workerHolderAndSites)
  scenarios.listeners = runScenario('listeners', 120_000, workerHolderNamed)
  scenarios.all = runScenario('all', 120_000, (events) => ['memo-render.js', 'listening-handler.js', 'memo-handler.js'].every((file) => events.some((e) => e.type === 'report' && firstHolder(e)?.endsWith(file))))
  scenarios.healthy = runScenario('healthy', 20_000)
  scenarios['exit-mid-pair'] = runScenario('exit-mid-pair', 30_000)
})

test('a piscina pool whose task module keeps a Map: watched from the main thread, the Map named in the worker', async (t) => {
  const { dir, events, scrapes } = await scenarios.pool
  const { report, leak } = workerReport(events)
  // The page of the directory: the worker is a process of its own, named by its pool, with its report.
  const model = await collect(dir)
  const row = model.processes.find((p) => p.threadId === report.threadId)
  assert.equal(row?.label, `pid ${report.pid}, thread ${report.threadId} (piscina, worker.js)`, JSON.stringify(model.processes.map((p) => p.label)))
  assert.ok(row.reports.length > 0 && row.leaks.length > 0)
  // The metrics: each worker's heap, and its leak, labelled with its thread and pool.
  const leakingSeries = `leakproof_thread_leak_suspected{thread="${report.threadId}",pool="piscina"} 1`
  assert.ok(scrapes.some((series) => series.includes(leakingSeries)), `no scrape had ${leakingSeries}: ${JSON.stringify(scrapes.at(-1))}`)
  assert.ok(scrapes.at(-1).some((line) => line.startsWith(`leakproof_thread_heap_bytes{thread="${report.threadId}",pool="piscina"} `)), JSON.stringify(scrapes.at(-1)))
  assert.equal(leak.thread.pool, 'piscina')
  assert.equal(leak.thread.watchedFrom, 'main')
  assert.match(leak.thread.script, /piscina/)
  assert.equal(report.thread.threadId, report.threadId)
  assert.match(firstHolder(report), new RegExp(`^rendered \\(Map\\), a module-level variable of ${escape(path.join(WORKERS, 'memo-render.js'))}`))
  assert.ok(report.time - leak.time <= 60_000, `report ${report.time - leak.time} ms after the leak`)
  // The report's file says which thread it is about, too.
  assert.equal(JSON.parse(fs.readFileSync(report.path, 'utf8')).thread.threadId, report.threadId)
  const sites = assertWorkerSites(events, report.threadId, path.join(WORKERS, 'memo-render.js'))
  t.diagnostic(`after the leak: report ${report.time - leak.time} ms, sites ${sites.time - leak.time} ms (${sites.sites.map((s) => `${path.basename(s.url)} ${(s.growthBytes / MiB).toFixed(1)} MB`).join(', ')})`)
  mainThreadQuiet(events)
})

test('a plain Worker whose handler keeps listeners watches itself: its census names the emitter in its module', async () => {
  const { events, scrapes } = await scenarios.listeners
  const { report, leak } = workerReport(events)
  // The main thread's metrics carry what the worker's own watcher says of its heap.
  assert.ok(scrapes.some((series) => series.includes(`leakproof_thread_leak_suspected{thread="${report.threadId}",pool="app"} 1`)), JSON.stringify(scrapes.at(-1)))
  assert.equal(leak.thread.watchedFrom, 'self')
  assert.equal(report.thread.script, path.join(WORKERS, 'listening-handler.js'))
  assert.match(firstHolder(report), new RegExp(`^settings\\._events\\.change \\(Array\\), a module-level variable of ${escape(path.join(WORKERS, 'listening-handler.js'))}`))
  assert.ok(report.time - leak.time <= 60_000, `report ${report.time - leak.time} ms after the leak`)
  // The main thread left it to the worker's own watcher: no leak of that thread from the main thread.
  assert.deepEqual(events.filter((e) => e.type === 'leak' && e.thread?.watchedFrom === 'main').length, 0)
  mainThreadQuiet(events)
})

test('a worker started with execArgv: [] has no watcher of its own, and the main thread names its Map', async (t) => {
  const { events } = await scenarios['no-preload']
  const { report, leak } = workerReport(events)
  assert.equal(leak.thread.watchedFrom, 'main')
  assert.equal(leak.thread.script, path.join(WORKERS, 'memo-handler.js'))
  assert.equal(leak.thread.pool, null)
  assert.match(firstHolder(report), new RegExp(`^results \\(Map\\), a module-level variable of ${escape(path.join(WORKERS, 'memo-handler.js'))}`))
  const sites = assertWorkerSites(events, report.threadId, path.join(WORKERS, 'memo-handler.js'))
  t.diagnostic(`after the leak: report ${report.time - leak.time} ms, sites ${sites.time - leak.time} ms (${sites.sites.map((s) => `${path.basename(s.url)} ${(s.growthBytes / MiB).toFixed(1)} MB`).join(', ')})`)
  mainThreadQuiet(events)
})

test('three leaking workers in one process: each report is about the thread whose code it names', async () => {
  const { events } = await scenarios.all
  // The worker that watches itself is left to it, whichever thread id it has.
  const listening = events.filter((e) => e.thread?.script === path.join(WORKERS, 'listening-handler.js') && e.type !== 'sample')
  assert.ok(listening.length > 0)
  assert.deepEqual(listening.filter((e) => e.thread.watchedFrom !== 'self').map((e) => [e.type, e.threadId]), [])
  const reports = events.filter((e) => e.type === 'report' && e.threadId !== 0 && firstHolder(e) !== null)
  assert.ok(reports.length >= 3, `${reports.length} reports named a holder`)
  for (const report of reports) {
    const holder = firstHolder(report)
    // The thread a report is about runs the code it names: a pool's worker runs memo-render.js.
    const file = report.thread.pool === 'piscina' ? 'memo-render.js' : path.basename(report.thread.script)
    assert.ok(holder.endsWith(path.join(WORKERS, file)), `thread ${report.threadId} (${JSON.stringify(report.thread)}) named ${holder}`)
    // The snapshots and the report file are named with that thread's id.
    if (report.kind === 'pair') assert.match(path.basename(report.followUp), new RegExp(`-${report.pid}-${report.threadId}-\\d+-follow-up\\.heapsnapshot$`))
  }
  mainThreadQuiet(events)
})

test('a healthy pool that grows to four workers and shrinks back raises no alarm', async () => {
  const { events } = await scenarios.healthy
  const workers = new Set(events.filter((e) => e.type === 'sample' && e.threadId !== 0).map((e) => e.threadId))
  assert.ok(workers.size >= 4, `samples of ${workers.size} workers: the pool did not grow`)
  assert.deepEqual(events.filter((e) => ['leak', 'report', 'snapshot', 'threshold', 'error'].includes(e.type)).map((e) => [e.type, e.threadId]), [])
})

test('workers that exit mid-pair leave their baseline whole and no temporary file', async () => {
  const { dir, events } = await scenarios['exit-mid-pair']
  assert.ok(events.some((e) => e.type === 'snapshot' && e.threadId !== 0), 'no worker snapshot was written')
  const files = fs.readdirSync(dir)
  assert.deepEqual(files.filter((f) => f.startsWith('.')), [], 'a temporary file was left')
  for (const file of files.filter((f) => f.endsWith('.heapsnapshot'))) {
    const full = path.join(dir, file)
    assert.ok(endsAsCompleteJson(full, fs.statSync(full).size), `${file} is cut short`)
    assert.equal(fs.statSync(full).mode & 0o777, 0o600)
  }
})

/** `text` for a RegExp, as it is. */
function escape(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

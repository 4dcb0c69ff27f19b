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
const { firstHolder } = require('../../lib/diagnose/report-text')
const { collect } = require('../../lib/page/collect')
const { endsAsCompleteJson } = require('../../lib/capture/snapshot-file')
const { runScenario, scenarioDirs } = require('../support/threads-app')

const WORKERS = path.join(__dirname, 'fixtures', 'thread-workers')
const MiB = 1024 * 1024

/**
 * Whether JavaScript is evaluated in a pool's workers (their snapshots, their census): not on
 * Node 20, where a worker whose termination such an evaluation raced with cannot be ended
 * (lib/watch/threads.js); there a pool's leak is reported with its allocation sites only.
 */
const EVALUATES_IN_POOLS = Number(process.versions.node.split('.')[0]) >= 22

/** Whether a report about a worker names a holder. */
const workerHolderNamed = (events) => events.some((e) => e.type === 'report' && e.threadId !== 0 && firstHolder(e) !== null)

/** Whether a report about a worker names a holder (or, for a pool on Node 20, is there), and a worker's allocation sites were ranked. */
const workerReportAndSites = (pool) => (events) => (pool && !EVALUATES_IN_POOLS ? events.some((e) => e.type === 'report' && e.threadId !== 0) : workerHolderNamed(events)) && events.some((e) => e.type === 'sites' && e.threadId !== 0)

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

/**
 * The first report about a worker thread that names a holder (with `named`, else the first
 * about a worker), with its thread's first leak.
 */
function workerReport(events, named = true) {
  const report = events.find((e) => e.type === 'report' && e.threadId !== 0 && (!named || firstHolder(e) !== null))
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
// The scenarios' directories, removed once every test of the file is done.
test.after(() => {
  for (const dir of scenarioDirs) fs.rmSync(dir, { recursive: true, force: true })
})
test.before(() => {
  // Run at once (each for 20-30 s, the leaking ones until a report names a holder, 2 minutes
  // at most): the checks below read what they left.
  // The pool's run ends once a worker's pair was diffed too (after the census' report, on Node 22
  // and later), and a scrape had its holder: the series is there while the leak grows, and the
  // floors of a worker its census and snapshots stopped for seconds are flat for a while.
  const pairDiffed = (events) => !EVALUATES_IN_POOLS || events.some((e) => e.type === 'report' && e.kind === 'pair' && e.threadId !== 0)
  const holderScraped = (scrapes) => !EVALUATES_IN_POOLS || scrapes.some((series) => series.some((line) => line.startsWith('leakproof_thread_leak_holder_info{')))
  scenarios.pool = runScenario('pool', 120_000, (events, _tasks, scrapes) => workerReportAndSites(true)(events) && pairDiffed(events) && holderScraped(scrapes))
  scenarios['no-preload'] = runScenario('no-preload', 120_000, workerReportAndSites(false))
  scenarios.listeners = runScenario('listeners', 120_000, workerHolderNamed)
  scenarios.all = runScenario('all', 120_000, (events) => ALL_NAMED.every((file) => events.some((e) => e.type === 'report' && firstHolder(e)?.endsWith(file))))
  scenarios.healthy = runScenario('healthy', 20_000)
  // No snapshot pair for the workers (as where their snapshots do not fit in a container): each
  // run ends once both are named and the pool has answered more tasks since, 3 s on at least (a
  // later census may stop a pool worker for seconds; a pool the censuses left stuck runs to its
  // time, and the test says so).
  let named = null // when both were named, and the tasks answered by then
  const bothNamedThenAnswered = (events, tasksAnswered) => {
    const poolReported = EVALUATES_IN_POOLS || poolSitesReport(events) !== undefined
    if (named === null && poolReported && WORKER_MAPS.every(({ file }) => censusReportNaming(events, file) !== undefined)) {
      named = { at: Date.now(), tasks: tasksAnswered.at(-1) ?? 0 }
    }
    return named !== null && Date.now() - named.at >= 3_000 && (tasksAnswered.at(-1) ?? 0) > named.tasks
  }
  scenarios['no-pair'] = runScenario('pool-and-no-preload', 120_000, bothNamedThenAnswered, { LEAKPROOF_SNAPSHOTS: 'off' }).then((run) => ({ ...run, tasksWhenNamed: named?.tasks ?? null }))
  if (EVALUATES_IN_POOLS) scenarios['exit-mid-pair'] = runScenario('exit-mid-pair', 30_000)
})

test('a piscina pool whose task module keeps a Map: watched from the main thread, the Map named in the worker', async (t) => {
  const { dir, events, scrapes } = await scenarios.pool
  const { report, leak } = workerReport(events, EVALUATES_IN_POOLS)
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
  if (EVALUATES_IN_POOLS) {
    assert.match(firstHolder(report), new RegExp(`^rendered \\(Map\\), a module-level variable of ${escape(path.join(WORKERS, 'memo-render.js'))}`))
    // Its holder reaches the metrics too, labelled as the report labels it.
    assert.deepEqual(report.holderLabel, { holder: 'rendered (Map)', site: report.holderLabel.site })
    assert.match(report.holderLabel.site, /memo-render\.js$/)
    const holderSeries = `leakproof_thread_leak_holder_info{thread="${report.threadId}",pool="piscina",holder="rendered (Map)",site="${report.holderLabel.site}"} 1`
    assert.ok(scrapes.some((series) => series.includes(holderSeries)), `no scrape had ${holderSeries}: ${JSON.stringify(scrapes.at(-1))}`)
  } else assertSitesOnly(report)
  assert.ok(report.time - leak.time <= 60_000, `report ${report.time - leak.time} ms after the leak`)
  // The report's file says which thread it is about, too.
  assert.equal(JSON.parse(fs.readFileSync(report.path, 'utf8')).thread.threadId, report.threadId)
  if (EVALUATES_IN_POOLS) {
    // The census' report first, then the pair's, whose diff names the same Map: what the census
    // made in the worker (its modules, its records) came before the baseline.
    assert.equal(report.kind, 'no-snapshot')
    const pair = events.find((e) => e.type === 'report' && e.kind === 'pair' && e.threadId !== 0)
    assert.ok(pair, 'no pair of a worker was diffed')
    assert.match(firstHolder(pair), new RegExp(`^rendered \\(Map\\), a module-level variable of ${escape(path.join(WORKERS, 'memo-render.js'))}`))
    // The worker's pair keeps the census' label: the series does not change when the pair comes.
    assert.deepEqual(pair.holderLabel, report.holderLabel)
  }
  const sites = assertWorkerSites(events, report.threadId, path.join(WORKERS, 'memo-render.js'))
  t.diagnostic(`after the leak: report ${report.time - leak.time} ms, sites ${sites.time - leak.time} ms (${sites.sites.map((s) => `${path.basename(s.url)} ${(s.growthBytes / MiB).toFixed(1)} MB`).join(', ')})`)
  mainThreadQuiet(events)
})

/** The Maps the main-watched workers keep: the pool's task module's (on Node 22 and later), and the execArgv: [] worker's. */
const WORKER_MAPS = [
  { file: 'memo-render.js', variable: 'rendered' },
  { file: 'memo-handler.js', variable: 'results' },
].filter(({ file }) => EVALUATES_IN_POOLS || file !== 'memo-render.js')

/** The files whose holders the `all` scenario's reports name: a pool's are not on Node 20. */
const ALL_NAMED = ['memo-render.js', 'listening-handler.js', 'memo-handler.js'].filter((file) => EVALUATES_IN_POOLS || file !== 'memo-render.js')

/** The first report about a pool's worker without a holder (Node 20, which evaluates nothing there). */
function poolSitesReport(events) {
  return events.find((e) => e.type === 'report' && e.thread?.pool === 'piscina' && firstHolder(e) === null)
}

/**
 * A pool worker's report on Node 20: its allocation sites, and why neither a snapshot (`why`,
 * as `heapSnapshot.why` says it) nor a census was taken.
 */
function assertSitesOnly(report, why = 'unsafe-in-worker') {
  assert.equal(report.kind, 'no-snapshot')
  assert.equal(report.heapSnapshot.why, why)
  assert.equal(report.census, null)
  assert.ok(report.notLookedAt.some((n) => /Node 20/.test(n.why)), JSON.stringify(report.notLookedAt))
  assert.ok(['sites', 'none'].includes(report.evidence), report.evidence)
}

/** The first report without a pair about a worker watched from the main thread that names a holder in `file`. */
function censusReportNaming(events, file) {
  return events.find((e) => e.type === 'report' && e.kind === 'no-snapshot' && e.thread?.watchedFrom === 'main' && firstHolder(e)?.endsWith(path.join(WORKERS, file)))
}

test('with no snapshot pair, a census taken in each worker watched from the main thread names its Map, and the pool still answers', async (t) => {
  const { events, tasksAnswered, tasksWhenNamed } = await scenarios['no-pair']
  for (const { file, variable } of WORKER_MAPS) {
    const report = censusReportNaming(events, file)
    assert.ok(report, `no report names ${file}: ${JSON.stringify(events.filter((e) => e.type === 'report' || e.type === 'error').map((e) => [e.type, e.threadId, e.evidence, firstHolder(e) ?? e.error]))}`)
    assert.equal(report.evidence, 'census')
    assert.equal(report.heapSnapshot.why, 'off')
    assert.match(firstHolder(report), new RegExp(`^${variable} \\(Map\\), a module-level variable of ${escape(path.join(WORKERS, file))}`))
    const leak = events.find((e) => e.type === 'leak' && e.threadId === report.threadId)
    assert.ok(report.time - leak.time <= 60_000, `report ${report.time - leak.time} ms after the leak`)
    // The leak it reports, with its time, as a main thread's report has it.
    assert.ok(report.leak.time >= leak.time && report.leak.time <= report.time, JSON.stringify(report.leak))
    // What the main thread cannot read of a worker is said, not filled with its own.
    assert.equal(report.heapSpaces, null)
    assert.ok(report.notLookedAt.some((n) => n.what.startsWith("the worker's V8 heap spaces")), JSON.stringify(report.notLookedAt))
    // Its file is named with the worker's thread id, and says which thread it is about.
    assert.match(path.basename(report.path), new RegExp(`-${report.pid}-${report.threadId}-diagnosis\\.report\\.json$`))
    const written = JSON.parse(fs.readFileSync(report.path, 'utf8'))
    assert.deepEqual(written.thread, report.thread)
    assert.equal(written.suspects[0].holder.description, firstHolder(report))
    t.diagnostic(`${file}: report ${report.time - leak.time} ms after the leak; the worker stopped ${report.census.passes.map((p) => `${Math.round(p.durationMs)} ms`).join(' + ')} for its census passes`)
  }
  if (!EVALUATES_IN_POOLS) assertSitesOnly(poolSitesReport(events) ?? assert.fail('no report about a pool worker'), 'off')
  // The pool kept answering its tasks after the censuses that stopped its workers.
  assert.ok(tasksWhenNamed !== null && tasksAnswered.at(-1) > tasksWhenNamed, `tasks answered each second: ${tasksAnswered.slice(-5).join(', ')}; ${tasksWhenNamed} when both were named`)
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
  assert.ok(reports.length >= ALL_NAMED.length, `${reports.length} reports named a holder`)
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

test('workers that exit mid-pair leave their baseline whole and no temporary file', { skip: !EVALUATES_IN_POOLS && "Node 20 writes no snapshot in a pool's worker" }, async () => {
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

'use strict'

/**
 * `npm run demo`: a real http service on 127.0.0.1 that leaks (an unbounded Map of
 * session objects), a load generator in the same script, and the watcher on. It shows
 * the floors as they rise, the `leak` event with its kind and rate, the allocation sites,
 * the heap snapshots written, then the same service with a BoundedMap (a flat floor), and
 * ends with the report that named the holder first (the census', taken at the leak, or the
 * snapshot pair's), the pair's when one was under way, printed as `leakproof diff` prints
 * (lib/diagnose/report-text.js), and the page `leakproof report` draws of both runs from the
 * event log in the directory. Exits 1 when no report named the holder or no page was written.
 */
const fs = require('node:fs')
const http = require('node:http')
const os = require('node:os')
const path = require('node:path')
const { watch, BoundedMap, writeReportPage } = require('..')
const { EventLog, logEvents } = require('../lib/watch/event-log')
const { drive } = require('../bench/load')
const { reportText, firstHolder } = require('../lib/diagnose/report-text')

const MB = 1048576
const mb = (b) => `${(b / MB).toFixed(1)} MB`
const clock = (start) => `${((Date.now() - start) / 1000).toFixed(0).padStart(3)} s`

/** The service: a login that creates a session and stores it in `sessions`. */
function createServer(sessions) {
  let next = 0
  return http.createServer((req, res) => {
    const id = `sess-${next++}`
    sessions.set(id, { id, user: `user-${next}`, createdAt: Date.now(), cart: [{ sku: 'A1', qty: 1 }], csrf: 'x'.repeat(256) })
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify({ session: id }))
  })
}

/**
 * The load: about 2 MB/s of sessions, fast enough to be seen in seconds, slow enough that the
 * heap stays small and its snapshots take seconds, not minutes, on a busy machine.
 */
const REQUESTS_PER_SECOND = 4000

/** How long past its `maxMs` a phase waits for a snapshot pair under way. */
const PAIR_GRACE_MS = 90_000

/**
 * Serves under load with a watcher on until `done(seen)` or `maxMs` (see PAIR_GRACE_MS); returns what it saw.
 * Every event also goes to `log`, as `LEAKPROOF_LOG` would have it.
 */
async function phase({ title, sessions, watchOptions, maxMs, done, log }) {
  console.log(`\n== ${title} ==`)
  const server = createServer(sessions)
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const start = Date.now()
  const watcher = watch(watchOptions)
  logEvents(watcher, log)
  const seen = { leaks: [], snapshots: [], skipped: [], errors: [], sites: null, reports: [], floors: [] }
  const progress = {}
  // What a watcher says after its phase ended (a snapshot cancelled by stop()) is not printed.
  let ended = false
  const on = (type, listener) => watcher.on(type, (e) => ended || listener(e))
  on('sample', (s) => {
    seen.floors.push(s.heapUsed)
    if (seen.floors.length % 2 === 0) {
      console.log(`${clock(start)}  ${String(progress.requests ?? 0).padStart(7)} requests  heap floor ${mb(s.heapUsed).padStart(9)}  sessions ${sessions.size}`)
    }
  })
  on('leak', (e) => {
    seen.leaks.push(e)
    const eta = e.projectedLimitAt ? `, would reach the ${mb(e.limit)} heap limit in ~${Math.round((e.projectedLimitAt - e.time) / 60000)} min` : ''
    console.log(`${clock(start)}  LEAK: ${e.kind} memory grows ${mb(e.slopeBytesPerSec)}/s (confidence ${e.confidence.toFixed(4)}), floor now ${mb(e.current)}${eta}`)
  })
  on('sites', (e) => {
    seen.sites = e
    console.log(`${clock(start)}  growing allocation sites:`)
    for (const s of e.sites.slice(0, 3)) {
      console.log(`           ${s.functionName} ${path.relative(process.cwd(), s.url.replace('file://', ''))}:${s.line}:${s.column}  +${mb(s.growthBytes)} live`)
    }
  })
  on('snapshot', (e) => {
    seen.snapshots.push(e)
    const by = e.writer === 'child' ? `written by a forked child in ${(e.childMs / 1000).toFixed(1)} s; the service stopped ${e.durationMs} ms for fork()` : `written in-process, the service stopped ${e.durationMs} ms`
    console.log(`${clock(start)}  snapshot (${e.role}): ${e.path} (${mb(e.bytes)}, ${by}; mode 0600)`)
  })
  on('report', (e) => {
    seen.reports.push(e)
    const by = e.kind === 'pair' ? 'the snapshot pair' : 'the census, without a snapshot'
    console.log(`${clock(start)}  report by ${by}: ${firstHolder(e) ?? 'no holder named'} (${e.path})`)
  })
  on('snapshot-skipped', (e) => {
    seen.skipped.push(e)
    console.log(`${clock(start)}  snapshot skipped: ${e.skipped} (${e.detail ?? ''})`)
  })
  on('error', (e) => {
    seen.errors.push(e)
    console.log(`${clock(start)}  watcher error during ${e.during}: ${e.error}`)
  })
  // Past maxMs, a snapshot pair under way (a snapshot being written, or a baseline whose
  // report has not come) gets PAIR_GRACE_MS more: on a busy machine a child at nice 19 takes
  // tens of seconds.
  const pairUnderWay = () => watcher.status().snapshots.writing || pairAwaited(seen)
  const over = () => !pairUnderWay() && (done(seen) || Date.now() >= start + maxMs)
  await drive({ port: server.address().port, durationMs: maxMs + PAIR_GRACE_MS, until: over, connections: 8, perSecond: REQUESTS_PER_SECOND, progress })
  ended = true
  watcher.stop()
  await new Promise((resolve) => server.close(resolve))
  return seen
}

/** Whether a baseline was written whose pair's report has not come, its follow-up not declined nor its diff failed. */
function pairAwaited(seen) {
  const baseline = seen.snapshots.some((e) => e.role === 'baseline')
  const ended = seen.skipped.some((e) => e.reason === 'follow-up') || seen.errors.some((e) => e.during === 'report')
  return baseline && !ended && !seen.reports.some((r) => r.kind === 'pair')
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leakproof-demo-'))
  const log = new EventLog(path.join(dir, 'events.jsonl'))
  console.log('leakproof demo: an http service on 127.0.0.1 under load from this process, watched by leakproof')
  const watchOptions = {
    intervalMs: 500, // production default: 10 s; the demo runs 20x faster
    warmupMs: 3000,
    minDurationMs: 5000,
    gcBudget: 0.1,
    forceGcAfterMs: 3000,
    dir,
    cooldownMs: 0,
    // On Linux a forked child writes the snapshots and the service stops only for fork().
    // Elsewhere they are written in-process: a demo can afford that pause, where a service at
    // the default (2 s) would have them declined, and get a report without them.
    snapshotMaxPauseMs: 60_000,
    followUpGrowthBytes: 24 * MB,
    sitesWindowMs: 2000,
  }
  const leaking = await phase({
    title: 'leaking: sessions in an unbounded Map',
    sessions: new Map(),
    watchOptions,
    maxMs: 75_000,
    done: (seen) => seen.sites !== null && seen.reports.some((r) => firstHolder(r) !== null),
    log,
  })
  const bounded = await phase({
    title: 'fixed: sessions in a BoundedMap({ max: 20000, ttl: 30 min })',
    sessions: new BoundedMap({ max: 20_000, ttl: 30 * 60_000, name: 'sessions' }),
    watchOptions: { ...watchOptions, dir: undefined, sites: false },
    maxMs: 20_000,
    done: () => false,
    log,
  })
  const growth = (floors) => (floors.length < 4 ? 0 : floors[floors.length - 1] - floors[Math.floor(floors.length / 2)])
  console.log('\n== summary ==')
  console.log(`leaking: ${leaking.leaks.length} leak report(s), first: ${leaking.leaks[0]?.kind ?? 'none'}; heap floor grew ${mb(growth(leaking.floors))} over the second half`)
  console.log(`bounded: ${bounded.leaks.length} leak report(s); heap floor grew ${mb(growth(bounded.floors))} over the second half`)
  console.log(`snapshots in ${dir}: ${leaking.snapshots.map((s) => path.basename(s.path)).join(', ') || 'none'}`)
  const named = printReports(leaking)
  const page = await writeReportPage(dir)
  console.log(`\n== the page ==\nthe timeline of both runs, the leak, the snapshots and the suspects, one HTML file that opens offline:\n${page.path}`)
  if (!named) process.exitCode = 1
}

/**
 * The report that named the holder first and, when it was the census', the snapshot pair's
 * too, as `leakproof diff` prints them; whether a holder was named.
 */
function printReports({ reports, leaks }) {
  const first = reports.find((r) => firstHolder(r) !== null)
  if (first === undefined) {
    console.log(`\n(no report named the holder: ${reports.length} report(s) came, none with a holder)`)
    return false
  }
  const after = leaks.length === 0 ? '' : `, ${((first.time - leaks[0].time) / 1000).toFixed(0)} s after the first leak event`
  const by = first.kind === 'pair' ? 'the diff of the snapshot pair, by the Rust analyzer' : 'the census of reachable collections, no snapshot needed'
  console.log(`\n== what leaks, and what holds it: named first by ${by}${after} ==`)
  console.log(reportText(first, { top: 3 }))
  const pair = reports.find((r) => r.kind === 'pair')
  if (pair !== undefined && pair !== first) {
    console.log(`\n== the snapshot pair's report, ${((pair.time - first.time) / 1000).toFixed(0)} s later (the diff of two snapshots by forked children) ==`)
    console.log(reportText(pair, { top: 3 }))
  } else if (pair === undefined) {
    console.log('\n(no snapshot pair was diffed in time: the census named the holder without one)')
  }
  return true
}

main().catch((err) => {
  console.error(err)
  process.exitCode = 1
})

'use strict'

/**
 * `npm run demo`: a real http service on 127.0.0.1 that leaks (an unbounded Map of
 * session objects), a load generator in the same script, and the watcher on. It shows
 * the floors as they rise, the `leak` event with its kind and rate, the allocation sites,
 * the heap snapshots written, then the same service with a BoundedMap (a flat floor), and
 * ends with the report on the snapshot pair (the leaking Map and what holds it) and the
 * page `leakproof report` draws of both runs from the event log in the directory.
 */
const fs = require('node:fs')
const http = require('node:http')
const os = require('node:os')
const path = require('node:path')
const { watch, BoundedMap, writeReport } = require('..')
const { EventLog, logEvents } = require('../lib/watch/event-log')
const { drive } = require('../bench/load')

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
  const seen = { leaks: [], snapshots: [], sites: null, report: null, floors: [] }
  const progress = {}
  watcher.on('sample', (s) => {
    seen.floors.push(s.heapUsed)
    if (seen.floors.length % 2 === 0) {
      console.log(`${clock(start)}  ${String(progress.requests ?? 0).padStart(7)} requests  heap floor ${mb(s.heapUsed).padStart(9)}  sessions ${sessions.size}`)
    }
  })
  watcher.on('leak', (e) => {
    seen.leaks.push(e)
    const eta = e.projectedLimitAt ? `, would reach the ${mb(e.limit)} heap limit in ~${Math.round((e.projectedLimitAt - e.time) / 60000)} min` : ''
    console.log(`${clock(start)}  LEAK: ${e.kind} memory grows ${mb(e.slopeBytesPerSec)}/s (confidence ${e.confidence.toFixed(4)}), floor now ${mb(e.current)}${eta}`)
  })
  watcher.on('sites', (e) => {
    seen.sites = e
    console.log(`${clock(start)}  growing allocation sites:`)
    for (const s of e.sites.slice(0, 3)) {
      console.log(`           ${s.functionName} ${path.relative(process.cwd(), s.url.replace('file://', ''))}:${s.line}:${s.column}  +${mb(s.growthBytes)} live`)
    }
  })
  watcher.on('snapshot', (e) => {
    seen.snapshots.push(e)
    const by = e.writer === 'child' ? `written by a forked child in ${(e.childMs / 1000).toFixed(1)} s; the service stopped ${e.durationMs} ms for fork()` : `written in-process, the service stopped ${e.durationMs} ms`
    console.log(`${clock(start)}  snapshot (${e.role}): ${e.path} (${mb(e.bytes)}, ${by}; mode 0600)`)
  })
  watcher.on('report', (e) => {
    seen.report = e
    console.log(`${clock(start)}  report: ${e.path}`)
  })
  watcher.on('snapshot-skipped', (e) => console.log(`${clock(start)}  snapshot skipped: ${e.skipped} (${e.detail ?? ''})`))
  watcher.on('error', (e) => console.log(`${clock(start)}  watcher error during ${e.during}: ${e.error}`))
  // Past maxMs, a snapshot pair under way (a snapshot being written, or the follow-up being
  // diffed) gets PAIR_GRACE_MS more: on a busy machine a child at nice 19 takes tens of seconds.
  const pairUnderWay = () => watcher.status().snapshots.writing || (seen.snapshots.some((e) => e.role === 'follow-up') && seen.report === null)
  const over = () => done(seen) || (Date.now() >= start + maxMs && !pairUnderWay())
  await drive({ port: server.address().port, durationMs: maxMs + PAIR_GRACE_MS, until: over, connections: 8, progress })
  watcher.stop()
  await new Promise((resolve) => server.close(resolve))
  return seen
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
    done: (seen) => seen.report !== null && seen.sites !== null,
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
  printReport(leaking.report)
  const page = await writeReport(dir)
  console.log(`\n== the page ==\nthe timeline of both runs, the leak, the snapshots and the suspects, one HTML file that opens offline:\n${page.path}`)
}

/** The watcher's report on the snapshot pair: what was allocated and kept, and what holds it. */
function printReport(report) {
  if (report === null) return console.log('\n(no report: the follow-up snapshot was not reached)')
  console.log(`\n== what leaks, and what holds it (diff of the two snapshots, by the Rust analyzer) ==`)
  const byPath = report.matchedBy === 'paths'
  console.log(byPath
    ? `${report.newCount} more objects (${mb(report.newBytes)}) than at the baseline (two forked children's snapshots, matched by retainer path)`
    : `${report.newCount} objects (${mb(report.newBytes)}) allocated after the baseline and still alive`)
  for (const s of report.suspects.slice(0, 3)) {
    console.log(`\n  ${s.name}: ${s.count} ${byPath ? 'more' : 'new'}, ${mb(s.bytes)} own, ${mb(s.retainedSize)} retained`)
    printHolder(s)
  }
  for (const c of report.grownCollections.slice(0, 2)) {
    console.log(`\n  ${c.name} grew from ${c.before} to ${c.after} entries`)
    printHolder(c)
  }
}

/** Who holds a suspect or a collection, in the code's words, then the path there. */
function printHolder(item) {
  if (item.holder) console.log(`    held by ${item.holder.description}`)
  console.log(`    via ${item.readablePath.join(' → ')}`)
}

main().catch((err) => {
  console.error(err)
  process.exitCode = 1
})

'use strict'

/**
 * Restart benchmark: leakproof's restart policy (docs/mitigate.md) against PM2's
 * `max_memory_restart`, on the same real http service (bench/fixtures/restart-service.js),
 * run by PM2 in cluster mode (two instances sharing one port on 127.0.0.1) under the same
 * loopback keep-alive load. Four runs, one after the other, each of a fresh app:
 * - leak, PM2: the service leaks (~1.5 KB × BENCH_RESTART_LEAK_RECORDS a request: ~0.9 MB/s
 *   of heap an instance at 200 req/s, more for an instance that holds more of the
 *   connections), old space 256 MB (a heap limit of 304 MB, which such a process reaches at
 *   ~300 MB of RSS), `max_memory_restart` at BENCH_RESTART_MAX_MEMORY (120M, passed about a
 *   minute after start; PM2 looks every 30 s, so a size near 300M would be passed only on the
 *   way to the OOM);
 * - leak, leakproof: the same without `max_memory_restart`, set up as docs/mitigate.md's PM2
 *   section says (`-r leakproof/register` in `node_args`, the variables in the app's `env`):
 *   LEAKPROOF_RESTART=1, a readiness delay of 0 (PM2 has no readiness probe), the watcher at
 *   the restart tests' pace (FAST_ENV: 50× production), LEAKPROOF_RESTART_MIN_INTERVAL_MS
 *   6000 (5 min ÷ 50) and LEAKPROOF_RESTART_LIMIT_WITHIN_MS at its default (15 min);
 * - flat, PM2 and flat, leakproof: a healthy service whose memory is high but flat (a cache of
 *   ~350 MB of RSS loaded at start, then only churning; heap limit 512 MB), PM2's
 *   `max_memory_restart` at 300M, below it.
 *
 * The load: CONNECTIONS keep-alive clients paced to BENCH_RESTART_RPS requests a second in all.
 * Nothing is retried: every error and every answer but 200 is a failed request, kept with its
 * time and cause. Measured, for each run: the restarts (PM2's own count, `pm2 jlist`'s
 * `restart_time` summed over the instances, and every exit PM2 reported, with its code),
 * failed requests in all and near each restart with their causes, requests served, and the
 * evidence each instance wrote before it went: leakproof's `restart-due` and `restart-exit`
 * lines in `LEAKPROOF_LOG`, each `restart-due`'s evidence paths looked up on disk as soon as
 * its `restart-exit` line is read (and again at the end of the run).
 *
 * PM2 is node_modules' own, with a private PM2_HOME in a temporary directory: the bench starts
 * its daemon and ends it with `pm2 kill` whatever happens (also on SIGINT and SIGTERM).
 *
 * Environment: BENCH_RESTART_MS (each leak run, default 180 s), BENCH_RESTART_FLAT_MS (each
 * flat run, default 120 s), BENCH_RESTART_RPS (default 400), BENCH_RESTART_LEAK_RECORDS (default 3), BENCH_RESTART_MAX_MEMORY (default
 * 120M), BENCH_RESTART_ONLY (a regular expression on the runs' names), BENCH_RESTART_KEEP=1
 * (keep the temporary directory: PM2's logs, the event logs, the evidence). Every event, exit
 * and failure is written to bench/out/restart-<time>.json.
 */
const fs = require('node:fs')
const http = require('node:http')
const os = require('node:os')
const path = require('node:path')

const ROOT = path.join(__dirname, '..')
const { FAST_ENV } = require('../__test__/support/restart-harness')
const { freePort } = require('../__test__/support/run-helpers')
const { Pm2 } = require('../__test__/support/pm2')

const SERVICE = path.join(__dirname, 'fixtures', 'restart-service.js')
const REGISTER = path.join(ROOT, 'register.js')

const LEAK_MS = Number(process.env.BENCH_RESTART_MS) || 180_000
const FLAT_MS = Number(process.env.BENCH_RESTART_FLAT_MS) || 120_000
const RPS = Number(process.env.BENCH_RESTART_RPS) || 400
const CONNECTIONS = 16
const LEAK_RECORDS = Number(process.env.BENCH_RESTART_LEAK_RECORDS) || 3
const MAX_MEMORY = process.env.BENCH_RESTART_MAX_MEMORY || '120M'
const FLAT_MAX_MEMORY = '300M'
const ONLY = new RegExp(process.env.BENCH_RESTART_ONLY ?? '')
const KEEP = process.env.BENCH_RESTART_KEEP === '1'

/** A request with no answer within this fails (`timeout`). */
const REQUEST_TIMEOUT_MS = 10_000
/** A failure this near an exit (either side) is counted as that restart's. */
const NEAR_MS = 5_000
/** A late client catches up at most this far behind its schedule: no burst after a stall. */
const MAX_CATCH_UP_MS = 1000

/** The restart policy as docs/mitigate.md's PM2 section sets it, at FAST_ENV's pace. */
const leakproofEnv = (dir) => ({
  ...FAST_ENV,
  LEAKPROOF_RESTART: '1',
  LEAKPROOF_RESTART_READINESS_DELAY_MS: '0',
  LEAKPROOF_RESTART_MIN_INTERVAL_MS: '6000',
  LEAKPROOF_DIR: dir,
  LEAKPROOF_LOG: path.join(dir, 'events.jsonl'),
})

/** The runs; `leakproof` ones preload register.js. */
const RUNS = [
  { name: `leak, PM2 max_memory_restart ${MAX_MEMORY}`, slug: 'leak-pm2', mode: 'leak', heapMb: 256, durationMs: LEAK_MS, maxMemory: MAX_MEMORY },
  { name: 'leak, leakproof restart policy', slug: 'leak-leakproof', mode: 'leak', heapMb: 256, durationMs: LEAK_MS, leakproof: true },
  { name: `flat, PM2 max_memory_restart ${FLAT_MAX_MEMORY}`, slug: 'flat-pm2', mode: 'flat', heapMb: 512, durationMs: FLAT_MS, maxMemory: FLAT_MAX_MEMORY },
  { name: 'flat, leakproof restart policy', slug: 'flat-leakproof', mode: 'flat', heapMb: 512, durationMs: FLAT_MS, leakproof: true },
]

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const MB = 1024 * 1024
const secs = (ms) => (ms === undefined || ms === null ? '—' : (ms / 1000).toFixed(1))

/** The median of `values`, or undefined. */
function median(values) {
  if (values.length === 0) return undefined
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]
}

/** `{ a: 2, b: 1 }` as `a 2, b 1`, most first. */
const tally = (counts) =>
  Object.entries(counts)
    .sort((x, y) => y[1] - x[1])
    .map(([k, v]) => `${k} ${v}`)
    .join(', ')

function countBy(items, key) {
  const counts = {}
  for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1
  return counts
}

/**
 * The load: `connections` keep-alive clients paced to `perSecond` requests a second in all,
 * for `durationMs`. No retries: every error or non-200 answer is a failure `{ time, cause }`.
 */
async function drive({ port, durationMs, perSecond, connections }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections })
  const started = Date.now()
  const deadline = started + durationMs
  const intervalMs = (1000 * connections) / perSecond
  const result = { ok: 0, failures: [], servedBy: {}, latencies: [] }
  const one = () =>
    new Promise((resolve) => {
      const sent = Date.now()
      let settled = false
      const outcome = (cause, body = '') => {
        if (settled) return
        settled = true
        if (cause === null) {
          result.ok++
          result.latencies.push(Date.now() - sent)
          const pid = /^ok (\d+)/.exec(body)?.[1] ?? '?'
          result.servedBy[pid] = (result.servedBy[pid] ?? 0) + 1
        } else result.failures.push({ time: Date.now(), sent, cause })
        resolve(undefined)
      }
      const req = http.get({ host: '127.0.0.1', port, path: '/work', agent, timeout: REQUEST_TIMEOUT_MS }, (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (chunk) => (body += chunk))
        res.on('end', () => outcome(res.statusCode === 200 ? null : `HTTP ${res.statusCode}`, body))
        // A response cut short ends with 'close' and no 'end'.
        res.on('close', () => outcome(res.complete ? null : 'response cut short', body))
        res.on('error', (err) => outcome(causeOf(err)))
      })
      req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'timeout' })))
      req.on('error', (err) => outcome(causeOf(err)))
    })
  const client = async () => {
    let due = Date.now()
    while (Date.now() < deadline) {
      await one()
      const now = Date.now()
      due = Math.max(due + intervalMs, now - MAX_CATCH_UP_MS)
      if (due > now) await sleep(due - now)
    }
  }
  await Promise.all(Array.from({ length: connections }, client))
  agent.destroy()
  return { ...result, started, ended: Date.now() }
}

/** A client error as a cause: `socket hang up` (ECONNRESET before any answer) apart from a reset read. */
function causeOf(err) {
  if (err.message === 'socket hang up') return 'socket hang up'
  if (err.message === 'aborted') return 'response cut short'
  return err.code ?? err.message
}

/**
 * Follows an event log (`LEAKPROOF_LOG`) while the run goes: keeps its `leak`, `report`,
 * `restart-due`, `restart-exit` and `error` lines and, when a `restart-exit` line is read,
 * looks up the evidence paths of that process's `restart-due` on disk.
 */
class LogFollower {
  lines = []
  checks = new Map() // pid → { at, paths, missing }
  #file
  #offset = 0
  #rest = ''
  #timer

  constructor(file) {
    this.#file = file
    this.#timer = setInterval(() => this.read(), 200)
  }

  read() {
    let fd
    try {
      fd = fs.openSync(this.#file, 'r')
    } catch {
      return // not written yet
    }
    try {
      const size = fs.fstatSync(fd).size
      if (size <= this.#offset) return
      const buffer = Buffer.alloc(size - this.#offset)
      fs.readSync(fd, buffer, 0, buffer.length, this.#offset)
      this.#offset = size
      const text = this.#rest + buffer.toString('utf8')
      const parts = text.split('\n')
      this.#rest = parts.pop()
      for (const part of parts) this.#line(part)
    } finally {
      fs.closeSync(fd)
    }
  }

  stop() {
    clearInterval(this.#timer)
    this.read()
  }

  #line(text) {
    if (!/"type":"(leak|report|restart-due|restart-exit|error)"/.test(text)) return
    const line = JSON.parse(text)
    this.lines.push(line)
    if (line.type !== 'restart-exit') return
    const due = this.lines.find((l) => l.type === 'restart-due' && l.pid === line.pid)
    const paths = due === undefined ? [] : evidencePaths(due)
    this.checks.set(line.pid, { at: Date.now(), paths, missing: paths.filter((p) => !fs.existsSync(p)) })
  }
}

const evidencePaths = (due) => [...due.evidence.reports, ...due.evidence.snapshots, ...due.evidence.profiles]

/**
 * What PM2's bus says during a run: the service's `listening` and `memory` lines (which pid
 * serves as which instance), PM2's `max_memory_restart` decisions, its SIGKILLs after
 * `kill_timeout`, and every exit, each with its time and, where it can be known, its pid.
 */
class BusRecord {
  listens = []
  memory = []
  memoryRestarts = []
  sigkills = []
  exits = []
  daemonLines = []
  stderr = []
  #app
  #pidOf = new Map() // pm_id → the pid serving as it now
  #leaving = new Map() // pm_id → the pid PM2 is replacing (max_memory_restart)

  constructor(app) {
    this.#app = app
  }

  /** Takes one bus packet of `event`. */
  take(event, packet) {
    const at = packet.at ?? Date.now()
    if (event === 'log:PM2') return this.#daemon(String(packet.data), at)
    if (packet.process?.name !== this.#app) return
    if (event === 'log:err') return void this.stderr.push({ at, pmId: packet.process.pm_id, data: String(packet.data).slice(0, 2000) })
    if (event !== 'log:out') return
    for (const text of String(packet.data).split('\n')) {
      if (!text.startsWith('{')) continue
      const line = JSON.parse(text)
      if (line.type === 'memory') this.memory.push(line)
      if (line.type === 'listening') {
        this.listens.push({ time: line.time, pid: line.pid, pmId: String(packet.process.pm_id) })
        this.#pidOf.set(String(packet.process.pm_id), line.pid)
      }
    }
  }

  #daemon(text, at) {
    this.daemonLines.push({ at, text: text.trim() })
    const memory = /Process (\S+) restarted because it exceeds --max-memory-restart value \(current_memory=(\d+) max_memory_limit=(\d+)/.exec(text)
    if (memory !== null) {
      const [, pmId, rss, limit] = memory
      const pid = this.#pidOf.get(pmId)
      this.#leaving.set(pmId, pid)
      this.memoryRestarts.push({ time: at, pmId, pid, rss: Number(rss), limit: Number(limit) })
    }
    const killed = /Process with pid (\d+) still alive after (\d+)ms, sending SIGKILL/.exec(text)
    if (killed !== null) this.sigkills.push({ time: at, pid: Number(killed[1]), afterMs: Number(killed[2]) })
    const exit = /App \[(.+):(\S+?)\] exited with code \[(\d+)\] via signal \[(\w+)\]/.exec(text)
    if (exit !== null && exit[1] === this.#app) {
      const [, , key, code, signal] = exit
      const old = key.startsWith('_old_')
      const pmId = old ? key.slice('_old_'.length) : key
      const pid = old ? this.#leaving.get(pmId) : this.#pidOf.get(pmId)
      // PM2 reports an exit by a signal as code 0, and names SIGINT when the process exited by itself.
      this.exits.push({ time: at, pmId, pid, code: Number(code), how: Number(code) !== 0 ? `code ${code}` : `signal ${signal}` })
    }
  }
}

/** The RSS slope of one process from its `memory` lines, in MB/s (least squares), or undefined. */
function slopeMbPerSec(lines) {
  if (lines.length < 5) return undefined
  const t0 = lines[0].time
  const xs = lines.map((l) => (l.time - t0) / 1000)
  const ys = lines.map((l) => l.rss / MB)
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length
  const my = ys.reduce((a, b) => a + b, 0) / ys.length
  let num = 0
  let den = 0
  for (let i = 0; i < xs.length; i++) {
    num += (xs[i] - mx) * (ys[i] - my)
    den += (xs[i] - mx) ** 2
  }
  return den === 0 ? undefined : num / den
}

/**
 * The seconds during the load when no instance accepted connections: an instance accepts from
 * its `listening` line until it exits, or, one that leakproof restarts, until its servers
 * stopped accepting (its `restart-exit` less its drain).
 */
function noneAccepting(listens, exits, leakproofLines, from, to) {
  const changes = []
  for (const l of listens) {
    changes.push({ time: l.time, delta: +1 })
    const left = leakproofLines.find((x) => x.type === 'restart-exit' && x.pid === l.pid)
    const exit = exits.find((e) => e.pid === l.pid)
    const end = left !== undefined ? left.time - left.drainMs : exit?.time
    if (end !== undefined) changes.push({ time: end, delta: -1 })
  }
  changes.sort((a, b) => a.time - b.time || b.delta - a.delta)
  let serving = 0
  let since = null
  const gaps = []
  for (const { time, delta } of changes) {
    serving += delta
    if (serving === 0 && since === null) since = time
    if (serving > 0 && since !== null) {
      if (time > from && since < to) gaps.push({ from: Math.max(since, from), to: Math.min(time, to) })
      since = null
    }
  }
  return gaps
}

/** Runs one of RUNS under PM2 (`tap.record` takes PM2's bus packets meanwhile); resolves with everything seen. */
async function runOne(pm2, tap, run, base) {
  const dir = path.join(base, run.slug)
  fs.mkdirSync(dir, { recursive: true })
  const port = await freePort()
  const name = `bench-${run.slug}`
  const app = {
    name,
    script: SERVICE,
    exec_mode: 'cluster',
    instances: 2,
    node_args: [`--max-old-space-size=${run.heapMb}`, ...(run.leakproof ? ['-r', REGISTER] : [])],
    env: { SERVICE_MODE: run.mode, SERVICE_PORT: String(port), SERVICE_LEAK_RECORDS: String(LEAK_RECORDS), ...(run.leakproof ? leakproofEnv(dir) : {}) },
    out_file: path.join(dir, 'out.log'),
    error_file: path.join(dir, 'err.log'),
    merge_logs: true,
    ...(run.maxMemory ? { max_memory_restart: run.maxMemory } : {}),
  }
  const record = new BusRecord(name)
  tap.record = record
  const follower = run.leakproof ? new LogFollower(app.env.LEAKPROOF_LOG) : null
  try {
    await pm2.start(app)
    const until = Date.now() + 60_000
    while (record.listens.length < 2) {
      if (Date.now() > until) throw new Error(`${name}: its two instances did not listen within 60 s; stderr: ${JSON.stringify(record.stderr)}`)
      await sleep(50)
    }
    console.log(`${run.name}: port ${port}, load for ${secs(run.durationMs)} s`)
    const load = await drive({ port, durationMs: run.durationMs, perSecond: RPS, connections: CONNECTIONS })
    follower?.stop()
    const jlist = (await pm2.jlist()).filter((p) => p.name === name)
    tap.record = null
    await pm2.delete(name)
    return { run, port, app, record, load, jlist, follower, dir, logWritten: run.leakproof ? fs.existsSync(app.env.LEAKPROOF_LOG) : null }
  } finally {
    follower?.stop()
    tap.record = null
  }
}

/** One run's figures: the row of the summary, its restarts one by one, its failures one by one. */
function summarize({ run, record, load, jlist, follower, logWritten }) {
  const { started, ended } = load
  const inRun = (t) => t >= started && t <= ended
  const exits = record.exits.filter((e) => inRun(e.time))
  const lines = follower?.lines ?? []
  const dues = lines.filter((l) => l.type === 'restart-due' && inRun(l.time))
  const lefts = lines.filter((l) => l.type === 'restart-exit' && inRun(l.time))
  const rel = (t) => (t === undefined ? undefined : t - started)
  const nearest = (list, t) => list.reduce((best, x) => (best === null || Math.abs(x.time - t) < Math.abs(best.time - t) ? x : best), null)
  // Each failure, with where it stood against the restarts.
  const failures = load.failures.map((f) => {
    const exit = nearest(exits, f.time)
    const due = nearest(dues, f.time)
    const left = nearest(lefts, f.time)
    return {
      at: rel(f.time),
      sentAt: rel(f.sent),
      cause: f.cause,
      exit: exit === null ? null : { pmId: exit.pmId, pid: exit.pid, how: exit.how, deltaMs: f.time - exit.time },
      due: due === null ? null : { pid: due.pid, deltaMs: f.time - due.time },
      left: left === null ? null : { pid: left.pid, deltaMs: f.time - left.time },
    }
  })
  const byPid = (list, pid) => list.find((l) => l.pid === pid)
  const restarts = exits.map((exit, i) => {
    const listen = byPid(record.listens, exit.pid)
    const mem = record.memory.filter((m) => m.pid === exit.pid && m.time <= exit.time).pop()
    const memoryRestart = record.memoryRestarts.find((m) => m.pid === exit.pid)
    const due = byPid(dues, exit.pid)
    const left = byPid(lefts, exit.pid)
    const check = follower?.checks.get(exit.pid)
    // Its replacement: after PM2's decision (a reload starts it first), else after the exit.
    const next = record.listens.find((l) => l.pmId === exit.pmId && l.time > (memoryRestart?.time ?? exit.time) && l.pid !== exit.pid)
    const near = failures.filter((f) => f.exit !== null && f.exit.pid === exit.pid && f.exit.pmId === exit.pmId && Math.abs(f.exit.deltaMs) <= NEAR_MS)
    return {
      '#': i + 1,
      instance: exit.pmId,
      pid: exit.pid ?? '?',
      'uptime (s)': listen ? secs(exit.time - listen.time) : '—',
      trigger: memoryRestart
        ? `max_memory_restart at ${secs(rel(memoryRestart.time))} s, RSS ${(memoryRestart.rss / MB).toFixed(0)} MB`
        : due
          ? `restart-due at ${secs(rel(due.time))} s (${due.kind}, limit in ${secs(due.timeLeftMs)} s${due.evidence.settled ? '' : ', unsettled'})`
          : 'none seen (a crash?)',
      'RSS last seen (MB)': mem ? (mem.rss / MB).toFixed(0) : '—',
      'replacement listening (s)': next ? secs(rel(next.time)) : '—',
      'stopped accepting (s)': left ? secs(rel(left.time - left.drainMs)) : '—',
      'exit (s)': secs(rel(exit.time)),
      exit: exit.how,
      evidence: due
        ? `${due.evidence.reports.length} report, ${due.evidence.snapshots.length} snapshots, ${due.evidence.profiles.length} profiles; ${check === undefined ? 'not checked' : check.missing.length === 0 ? 'on disk at exit' : `${check.missing.length} missing at exit`}`
        : 'none',
      failed: near.length,
      causes: tally(countBy(near, (f) => f.cause)),
    }
  })
  const restartTime = jlist.reduce((sum, p) => sum + (p.pm2_env?.restart_time ?? 0), 0)
  const perPid = new Map()
  for (const m of record.memory.filter((m) => inRun(m.time))) perPid.set(m.pid, [...(perPid.get(m.pid) ?? []), m])
  const slopes = [...perPid.values()].map(slopeMbPerSec).filter((s) => s !== undefined)
  const gaps = noneAccepting(record.listens, record.exits, lines, started, ended)
  const elsewhere = failures.filter((f) => f.exit === null || Math.abs(f.exit.deltaMs) > NEAR_MS)
  // A restart with evidence: its restart-due listed a report and a snapshot, all on disk at its restart-exit.
  const evidenced = exits.filter((exit) => {
    const due = byPid(dues, exit.pid)
    const check = follower?.checks.get(exit.pid)
    return due !== undefined && due.evidence.reports.length > 0 && due.evidence.snapshots.length > 0 && check !== undefined && check.missing.length === 0
  }).length
  const settled = exits.filter((exit) => byPid(dues, exit.pid)?.evidence.settled === true).length
  const uptimes = restarts.map((r) => Number(r['uptime (s)']) * 1000).filter((u) => !Number.isNaN(u))
  const latencies = [...load.latencies].sort((a, b) => a - b)
  const row = {
    run: run.name,
    'load (s)': secs(ended - started),
    served: load.ok,
    'req/s': Math.round(load.ok / ((ended - started) / 1000)),
    'p50 / p99 (ms)': `${latencies[Math.floor(latencies.length / 2)] ?? '—'} / ${latencies[Math.floor(latencies.length * 0.99)] ?? '—'}`,
    'PM2 restart_time': restartTime,
    'exits seen': `${exits.length}${exits.length ? `: ${tally(countBy(exits, (e) => e.how))}` : ''}`,
    'SIGKILL after kill_timeout': record.sigkills.filter((k) => inRun(k.time)).length,
    failed: failures.length,
    'failed / restart': exits.length ? (failures.length / exits.length).toFixed(1) : '—',
    causes: tally(countBy(failures, (f) => f.cause)) || 'none',
    'failed away from restarts': elsewhere.length,
    'restart-due lines': run.leakproof ? (logWritten ? dues.length : 'no event log') : '—',
    'evidence before restart': run.leakproof ? `${evidenced}/${exits.length} with report + snapshots on disk; ${settled} settled` : 'none',
    'uptime at restart (s, median)': secs(median(uptimes)),
    'RSS slope (MB/s, median)': slopes.length ? median(slopes).toFixed(2) : '—',
    'no instance accepting (s)': `${(gaps.reduce((s, g) => s + g.to - g.from, 0) / 1000).toFixed(2)} in ${gaps.length} gaps`,
  }
  const evidenceAtEnd = dues.map((due) => ({ pid: due.pid, missing: evidencePaths(due).filter((p) => !fs.existsSync(p)).length, of: evidencePaths(due).length }))
  return { row, restarts, failures, gaps: gaps.map((g) => ({ from: rel(g.from), to: rel(g.to) })), evidenceAtEnd }
}

/** Prints one run's restarts and, for the leakproof runs, each failure against the nearest restart-due and restart-exit. */
function printRun(name, { restarts, failures, gaps, evidenceAtEnd }, leakproof) {
  console.log(`\n## ${name}: restarts`)
  if (restarts.length === 0) console.log('none')
  else console.table(restarts)
  if (evidenceAtEnd.length > 0) {
    const gone = evidenceAtEnd.filter((e) => e.missing > 0)
    console.log(`evidence still on disk at the end of the run: ${evidenceAtEnd.length - gone.length}/${evidenceAtEnd.length} restarts whole (${gone.reduce((s, e) => s + e.missing, 0)} of ${evidenceAtEnd.reduce((s, e) => s + e.of, 0)} files rotated away since)`)
  }
  if (gaps.length > 0) console.log(`no instance accepting: ${gaps.map((g) => `${secs(g.from)}–${secs(g.to)} s`).join(', ')}`)
  if (!leakproof || failures.length === 0) return
  console.log(`\n## ${name}: each failed request (s from the load's start; Δ in ms from the nearest event, + after it)`)
  const delta = (x) => (x === null ? '—' : `${x.deltaMs > 0 ? '+' : ''}${x.deltaMs} (pid ${x.pid})`)
  console.table(
    failures.slice(0, 60).map((f) => ({
      'at (s)': secs(f.at),
      'sent (s)': secs(f.sentAt),
      cause: f.cause,
      'Δ restart-due': delta(f.due),
      'Δ restart-exit': delta(f.left),
      'Δ PM2 exit': f.exit === null ? '—' : `${delta(f.exit)} ${f.exit.how}`,
    })),
  )
  if (failures.length > 60) console.log(`… ${failures.length - 60} more in the JSON file`)
}

async function main() {
  const chosen = RUNS.filter((r) => ONLY.test(r.name))
  console.log(
    `PM2 ${require('pm2/package.json').version}, cluster mode, 2 instances; load ${RPS} req/s from ${CONNECTIONS} keep-alive connections, no retries; leak ${LEAK_RECORDS} × ~1.5 KB a request`,
  )
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'leakproof-bench-restart-'))
  const pm2 = new Pm2(path.join(base, 'pm2'))
  const kill = () => pm2.kill()
  const onSignal = () => {
    kill()
    process.exit(130)
  }
  process.once('exit', kill)
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  const results = []
  try {
    const bus = await pm2.connect()
    // One subscription for the whole bench: each run's record takes the packets while it runs.
    const tap = { record: null }
    for (const event of ['log:PM2', 'log:out', 'log:err']) bus.on(event, (packet) => tap.record?.take(event, packet))
    for (const run of chosen) {
      const result = await runOne(pm2, tap, run, base)
      const summary = summarize(result)
      printRun(run.name, summary, run.leakproof === true)
      results.push({ result, summary })
    }
  } finally {
    kill()
    process.off('exit', kill)
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    if (KEEP) console.log(`kept: ${base}`)
    else fs.rmSync(base, { recursive: true, force: true })
  }
  const rows = results.map(({ summary }) => summary.row)
  console.log('\n## Side by side')
  console.table(rows)
  const out = path.join(__dirname, 'out')
  fs.mkdirSync(out, { recursive: true })
  const file = path.join(out, `restart-${new Date().toISOString().replace(/[:.]/g, '-')}.json`)
  const details = results.map(({ result: { run, port, app, record, load, jlist, follower }, summary }) => ({
    run,
    port,
    app: { ...app, env: app.env },
    load: { started: load.started, ended: load.ended, ok: load.ok, servedBy: load.servedBy },
    jlist: jlist.map((p) => ({ pm_id: p.pm_id, pid: p.pid, restart_time: p.pm2_env?.restart_time, status: p.pm2_env?.status })),
    listens: record.listens,
    memoryRestarts: record.memoryRestarts,
    sigkills: record.sigkills,
    exits: record.exits,
    daemonLines: record.daemonLines,
    stderr: record.stderr,
    memory: record.memory,
    leakproof: follower ? { lines: follower.lines, checks: Object.fromEntries(follower.checks) } : null,
    ...summary,
  }))
  fs.writeFileSync(file, JSON.stringify({ node: process.version, rows, details }))
  console.log(`every event, exit and failure: ${file}`)
  return rows
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err)
    process.exitCode = 1
  })
}
module.exports = { main }

'use strict'

/**
 * `npm run bench -- fleet` (or `node bench/fleet.js`): the cost of the fleet (issue 57) as the
 * number of instances grows: the report page of N directories, the MCP server's `leak_overview`
 * over a root holding them, and the scrape of the holder metric.
 *
 * The evidence, made once: __test__/page/fixtures/fleet-app.js (the page's fleet test's service:
 * ~6 MB/s of sessions kept in `sessions`, a module-level Map, under watch() with the tests' fast
 * settings, one snapshot pair written in-process) run until its pair's report is in, and beside
 * it the same service keeping nothing for HEALTHY_MS. Each of the N instance directories
 * (`pod-000`, …) is one of the two runs copied: every HEALTHY_EVERY-th the healthy one, the
 * others the leaking one, each under a pid of its own (PID_BASE + i), rewritten in the files'
 * names, in the events' and reports' `pid` and in the paths they name (the readers key a
 * directory's processes by pid, and name an instance's evidence by it). Logs and reports are
 * copied; snapshots and profiles, which the readers only list, are hard links under their new
 * names (their real sizes, no copy). The times are the runs' own: every copy leaked at the same
 * moment.
 *
 * Then ROUNDS rounds; each round, for each N in SIZES, one at a time, each in a process of its own:
 *
 * - page: `writeReportPage(dirs, { out })` (lib/page) in a fresh child: its wall time, the child's
 *   peak RSS (VmHWM) and RSS before the call, the page's size; then, warm, `collectAll(dirs)`
 *   and `renderPage(model)` alone, to split the time;
 * - overview: `leakproof mcp --root ROOT` (the real server, spawned by the SDK's
 *   StdioClientTransport as __test__/support/mcp-client.js does), `leak_overview {}`: the time
 *   from the connection (the handshake done) to the answer, the answer's bytes (its text
 *   content), the server's peak RSS, and what it read (`directories`, `instances`);
 * - per directory (the "peer": what an agent asked before the fleet, one directory at a time):
 *   a fresh server, `leak_overview { dir }` for each of the N directories in turn; the first
 *   answer's time (the one-directory answer, cold as the overview's is) and the whole sweep's.
 *
 * And SCRAPE_ROUNDS children, each a service of its own: prom-client registries with Node's
 * default metrics (`collectDefaultMetrics`, the peer baseline), with leakproof's
 * (`registerMetrics`), and with both, scraped (`registry.metrics()`) in interleaved blocks of
 * SCRAPES, once while its watcher sees no leak and once while it leaks with its holder named
 * (the census names it; snapshots off): the time of a scrape (median and p90 of each), its bytes
 * and series, and whether `leakproof_leak_holder_info` is in it.
 *
 * Every figure goes to bench/out/fleet-<time>.json. Environment: BENCH_FLEET_ROUNDS (default 3),
 * BENCH_FLEET_SIZES (default 1,8,32,64).
 */
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { statusBytes } = require('./proc-status')
const { spawn, execFile } = require('node:child_process')

const ROOT = path.join(__dirname, '..')
const CLI = path.join(ROOT, 'bin', 'leakproof.js')
const APP = path.join(ROOT, '__test__', 'page', 'fixtures', 'fleet-app.js')
const SIZES = (process.env.BENCH_FLEET_SIZES || '1,8,32,64').split(',').map(Number)
const ROUNDS = Number(process.env.BENCH_FLEET_ROUNDS) || 3
const SCRAPE_ROUNDS = 3
/** Every HEALTHY_EVERY-th instance directory holds the healthy run (so 1 in 4 does not leak). */
const HEALTHY_EVERY = 4
/** The copies' pids: PID_BASE + the directory's index. */
const PID_BASE = 300_000
/** The leaking run ends at its pair's report (about 15 s alone), or at this limit; the healthy one runs HEALTHY_MS. */
const LEAKING_LIMIT_MS = 60_000
const HEALTHY_MS = 8_000
const CHILD_TIMEOUT_MS = 180_000
const ANSWER_TIMEOUT_MS = 120_000
/** Scrapes per block, blocks per registry and phase. */
const SCRAPES = 100
const SCRAPE_BLOCKS = 6
/** How long the scrape child's watcher may take to name its leak's holder. */
const HOLDER_WITHIN_MS = 60_000
/** Files rewritten when copied (they name the pid and the directory); the others are hard links. */
const TEXT_FILE = /\.(log|report\.json)$/
const MB = (bytes) => Math.round(bytes / 1e6)
const since = (t) => Number(process.hrtime.bigint() - t) / 1e6

/** One run of the fleet app into `dir`, its events in `dir/app.log`; resolves with its pid, exit code and events. */
function runApp(dir, leak, durationMs) {
  const log = path.join(dir, 'app.log')
  const out = fs.openSync(log, 'w')
  const child = spawn(process.execPath, [APP, JSON.stringify({ root: ROOT, dir, leak, durationMs })], { stdio: ['ignore', out, 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-4096)))
  return new Promise((resolve) => child.on('exit', (code) => {
    fs.closeSync(out)
    const events = fs.readFileSync(log, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line))
    resolve({ pid: child.pid, dir, code, stderr, events })
  }))
}

/** The evidence: one leaking run to its pair's report and one healthy run, side by side, in `base`. */
async function makeEvidence(base) {
  const dirs = { leaking: path.join(base, 'evidence-leaking'), healthy: path.join(base, 'evidence-healthy') }
  for (const dir of Object.values(dirs)) fs.mkdirSync(dir)
  const started = process.hrtime.bigint()
  const [leaking, healthy] = await Promise.all([runApp(dirs.leaking, true, LEAKING_LIMIT_MS), runApp(dirs.healthy, false, HEALTHY_MS)])
  for (const run of [leaking, healthy]) if (run.code !== 0) throw new Error(`the fleet app (pid ${run.pid}) exited ${run.code}: ${run.stderr}`)
  const pair = leaking.events.findLast((e) => e.type === 'report' && e.kind === 'pair')
  if (!pair) throw new Error(`the leaking run wrote no pair report; it logged ${[...new Set(leaking.events.map((e) => e.type))].join(', ')}`)
  if (healthy.events.some((e) => e.type === 'leak')) throw new Error('the healthy run reported a leak')
  const files = (dir) => fs.readdirSync(dir).map((name) => ({ name, bytes: fs.statSync(path.join(dir, name)).size }))
  const describe = (run) => ({ pid: run.pid, events: run.events.length, types: countBy(run.events.map((e) => e.type)), files: files(run.dir) })
  return { seconds: since(started) / 1000, leaking: { ...leaking, ...describe(leaking) }, healthy: { ...healthy, ...describe(healthy) } }
}

/** How many times each value occurs. */
function countBy(values) {
  const counts = {}
  for (const v of values) counts[v] = (counts[v] ?? 0) + 1
  return counts
}

/**
 * Copies run `run`'s directory to `dir` as process `pid`: names and texts rewritten (the old
 * pid in file names and `"pid"` fields, the old directory in paths), large files hard-linked.
 */
function copyInstance(run, dir, pid) {
  fs.mkdirSync(dir)
  const rename = (text) => text.replaceAll(`Z-${run.pid}-`, `Z-${pid}-`)
  for (const name of fs.readdirSync(run.dir)) {
    const from = path.join(run.dir, name)
    const to = path.join(dir, rename(name))
    if (!TEXT_FILE.test(name)) {
      fs.linkSync(from, to)
      continue
    }
    const text = fs.readFileSync(from, 'utf8')
    fs.writeFileSync(to, rename(text.replaceAll(run.dir, dir)).replace(new RegExp(`("pid":\\s*)${run.pid}\\b`, 'g'), `$1${pid}`))
  }
}

/** A root holding `n` instance directories made from the evidence; resolves with the root and the directories. */
function makeFleet(base, evidence, n) {
  const root = path.join(base, `fleet-${n}`)
  fs.mkdirSync(root)
  const dirs = []
  for (let i = 0; i < n; i++) {
    const dir = path.join(root, `pod-${String(i).padStart(3, '0')}`)
    copyInstance(i % HEALTHY_EVERY === HEALTHY_EVERY - 1 ? evidence.healthy : evidence.leaking, dir, PID_BASE + i)
    dirs.push(dir)
  }
  return { root, dirs }
}

/** Child: writeReportPage over every directory in `root` to `out`; prints its time, peak RSS, size and the fleet. */
async function pageChild(root, out) {
  const { writeReportPage } = require('../lib/page')
  const { collectAll } = require('../lib/page/collect')
  const { renderPage } = require('../lib/page/render')
  const dirs = fs.readdirSync(root).sort().map((name) => path.join(root, name))
  const rssBefore = statusBytes(process.pid, 'VmRSS')
  const started = process.hrtime.bigint()
  const written = await writeReportPage(dirs, { out })
  const writeMs = since(started)
  const peak = statusBytes(process.pid, 'VmHWM')
  // Warm, the two halves alone.
  let t = process.hrtime.bigint()
  const model = await collectAll(dirs)
  const collectMs = since(t)
  t = process.hrtime.bigint()
  const page = renderPage(model)
  const renderMs = since(t)
  const fleet = model.fleet === null ? null : { instances: model.fleet.instances.length, leaking: model.fleet.leaking, groups: model.fleet.groups.map((g) => ({ holder: g.holder, site: g.site, instances: g.instances.length })) }
  process.stdout.write(`${JSON.stringify({ writeMs, peak, rssBefore, bytes: written.bytes, processes: written.processes, notes: written.notes.length, collectMs, renderMs, renderedBytes: Buffer.byteLength(page), fleet })}\n`)
}

/** Runs this file as a child with `args`; resolves with the JSON of its last line. */
function runChild(args, nodeArgs = []) {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [...nodeArgs, __filename, '--child', ...args], { encoding: 'utf8', timeout: CHILD_TIMEOUT_MS, maxBuffer: 64 * 2 ** 20 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`child ${args[0]}: ${err.message}; ${stderr.slice(-2000)}`))
      resolve(JSON.parse(stdout.trim().split('\n').pop()))
    })
  })
}

/**
 * One server's session: `leakproof mcp --root root` spawned and connected, `leak_overview` with
 * each of `calls` in turn; each answer's time from the previous one's end (the first from the
 * connection's), its text's bytes and structured answer; the server's peak RSS after the last.
 */
async function mcpSession(root, calls) {
  const { Client } = require('@modelcontextprotocol/sdk/client/index.js')
  const { StdioClientTransport, getDefaultEnvironment } = require('@modelcontextprotocol/sdk/client/stdio.js')
  const transport = new StdioClientTransport({ command: process.execPath, args: [CLI, 'mcp', '--root', root], env: getDefaultEnvironment(), stderr: 'pipe' })
  let stderr = ''
  transport.stderr.on('data', (d) => (stderr = (stderr + d).slice(-4096)))
  const client = new Client({ name: 'leakproof-bench', version: '1.0.0' })
  const started = process.hrtime.bigint()
  try {
    await client.connect(transport)
    const connectMs = since(started)
    const answers = []
    for (const args of calls) {
      const t = process.hrtime.bigint()
      const result = await client.callTool({ name: 'leak_overview', arguments: args }, undefined, { timeout: ANSWER_TIMEOUT_MS })
      const ms = since(t)
      const text = result.content.map((c) => c.text ?? '').join('\n')
      if (result.isError) throw new Error(`leak_overview ${JSON.stringify(args)} failed: ${text}`)
      answers.push({ ms, bytes: Buffer.byteLength(text), answer: result.structuredContent })
    }
    return { connectMs, answers, peak: statusBytes(transport.pid, 'VmHWM') }
  } catch (err) {
    throw new Error(`${err.message}; stderr: ${stderr.trim()}`)
  } finally {
    await client.close()
  }
}

/** The overview over the root: its time from the connection, bytes, peak RSS and what it read. */
async function runOverview(root) {
  const { connectMs, answers: [{ ms, bytes, answer }], peak } = await mcpSession(root, [{}])
  return { connectMs, ms, bytes, peak, summary: answer.summary, instances: answer.instances, directories: answer.directories, groups: answer.groups.map((g) => ({ holder: g.holder, site: g.site, instances: g.instances })), notes: answer.notes, tookMs: answer.tookMs }
}

/** The sweep, one directory a call: the first (cold) answer's time and bytes, the whole sweep's, the peak RSS. */
async function runSweep(root, dirs) {
  const { answers, peak } = await mcpSession(root, dirs.map((dir) => ({ dir })))
  return { oneMs: answers[0].ms, oneBytes: answers[0].bytes, sweepMs: answers.reduce((s, a) => s + a.ms, 0), sweepBytes: answers.reduce((s, a) => s + a.bytes, 0), peak }
}

/** The p-th quantile (0..1) of `values`. */
function quantile(values, p) {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]
}

/**
 * Child: a leaking service under watch() with three registries (Node's default metrics,
 * leakproof's, both), scraped in interleaved blocks with no leak seen, then with its holder
 * named; prints each registry's scrape times, bytes and series per phase.
 */
async function scrapeChild(dir) {
  const { Registry, collectDefaultMetrics } = require('prom-client')
  const { registerMetrics } = require('leakproof/prometheus')
  const { watch } = require('leakproof')
  const { FAST_WATCH } = require('../__test__/support/fixtures/fast-watch.js')
  const registries = { defaults: new Registry(), leakproof: new Registry(), both: new Registry() }
  collectDefaultMetrics({ register: registries.defaults })
  registerMetrics(registries.leakproof)
  collectDefaultMetrics({ register: registries.both })
  registerMetrics(registries.both)
  const watcher = watch({ ...FAST_WATCH, dir, snapshots: 'off', sites: false })
  // The fleet app's load: 30 sessions of ~2 KB every 10 ms, kept once `leaking`.
  const sessions = new Map()
  let made = 0
  let leaking = false
  const load = setInterval(() => {
    for (let i = 0; i < 30; i++) {
      const id = made++
      const session = { id, user: `user-${id}`, roles: ['a', 'b'], note: 'x'.repeat(2000) + id }
      if (leaking) sessions.set(`s${id}`, session)
    }
  }, 10)
  const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
  const measure = async () => {
    const times = Object.fromEntries(Object.keys(registries).map((name) => [name, []]))
    const last = {}
    for (let block = 0; block < SCRAPE_BLOCKS; block++) {
      for (const [name, registry] of Object.entries(registries)) {
        for (let i = 0; i < SCRAPES; i++) {
          const t = process.hrtime.bigint()
          last[name] = await registry.metrics()
          times[name].push(since(t))
        }
        await pause(20) // the load's ticks and the watcher's samples run between blocks
      }
    }
    return Object.fromEntries(Object.entries(times).map(([name, ms]) => {
      const text = last[name]
      const series = text.split('\n').filter((line) => line !== '' && !line.startsWith('#'))
      return [name, { medianMs: quantile(ms, 0.5), p90Ms: quantile(ms, 0.9), minMs: Math.min(...ms), bytes: Buffer.byteLength(text), series: series.length, holder: series.find((line) => line.startsWith('leakproof_leak_holder_info')) ?? null }]
    }))
  }
  await pause(1500)
  const quiet = await measure()
  leaking = true
  const leakStarted = Date.now()
  while (watcher.status().leakHolders.length === 0) {
    if (Date.now() - leakStarted > HOLDER_WITHIN_MS) throw new Error(`no holder named within ${HOLDER_WITHIN_MS / 1000} s`)
    await pause(100)
  }
  const namedAfterMs = Date.now() - leakStarted
  const holderNamed = await measure()
  const stillNamed = watcher.status().leakHolders.length > 0
  clearInterval(load)
  watcher.stop()
  process.stdout.write(`${JSON.stringify({ quiet, holderNamed, namedAfterMs, stillNamed, sessions: sessions.size })}\n`)
}

const ms = (v) => (v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : Math.round(v).toString())
const best = (rows, key) => Math.min(...rows.map((r) => r[key]))
const range = (rows, key) => `${ms(best(rows, key))}–${ms(Math.max(...rows.map((r) => r[key])))}`

/** The tables: one row per N (best of the rounds, with the range), and the scrapes. */
function tables(runs, scrapes) {
  const bySize = SIZES.map((n) => {
    const of = runs.filter((r) => r.n === n)
    const page = of.map((r) => r.page)
    const overview = of.map((r) => r.overview)
    const sweep = of.map((r) => r.sweep)
    const o = best(overview, 'ms')
    const one = best(sweep, 'oneMs')
    return {
      N: n,
      'page: writeReportPage ms': range(page, 'writeMs'),
      'collect / render ms (warm)': `${ms(best(page, 'collectMs'))} / ${ms(best(page, 'renderMs'))}`,
      'page peak RSS MB': MB(best(page, 'peak')),
      'page KB': Math.round(page[0].bytes / 1024),
      'overview ms': range(overview, 'ms'),
      'overview KB': (overview[0].bytes / 1024).toFixed(1),
      'server peak RSS MB': MB(best(overview, 'peak')),
      'dirs read / found': `${overview[0].directories.read} / ${overview[0].directories.found}`,
      'one-dir ms': range(sweep, 'oneMs'),
      'overview ÷ (N × one-dir)': `${(o / (n * one)).toFixed(3)}×`,
      'per-dir sweep ms': range(sweep, 'sweepMs'),
      'overview ÷ sweep': `${(o / best(sweep, 'sweepMs')).toFixed(3)}×`,
    }
  })
  const phases = ['quiet', 'holderNamed'].flatMap((phase) => ['defaults', 'leakproof', 'both'].map((name) => {
    const cells = scrapes.map((s) => s[phase][name])
    return {
      phase: phase === 'quiet' ? 'no leak seen' : 'leaking, holder named',
      registry: name === 'defaults' ? "prom-client's collectDefaultMetrics" : name === 'leakproof' ? "leakproof's registerMetrics" : 'both',
      'scrape median ms': range(cells, 'medianMs'),
      'p90 ms': range(cells, 'p90Ms'),
      bytes: cells[0].bytes,
      series: cells[0].series,
      'holder series': cells.every((c) => c.holder !== null) ? 'yes' : cells.some((c) => c.holder !== null) ? 'some rounds' : 'no',
    }
  }))
  // The ratio of the best medians, and the range of each round's own ratio.
  const ratio = (phase, a, b) => {
    const each = scrapes.map((s) => s[phase][a].medianMs / s[phase][b].medianMs)
    const ofBest = Math.min(...scrapes.map((s) => s[phase][a].medianMs)) / Math.min(...scrapes.map((s) => s[phase][b].medianMs))
    return `${ofBest.toFixed(3)}× (rounds ${Math.min(...each).toFixed(3)}–${Math.max(...each).toFixed(3)}×)`
  }
  const ratios = ['quiet', 'holderNamed'].map((phase) => ({
    phase: phase === 'quiet' ? 'no leak seen' : 'leaking, holder named',
    'leakproof ÷ defaults': ratio(phase, 'leakproof', 'defaults'),
    'both ÷ defaults': ratio(phase, 'both', 'defaults'),
  }))
  return { bySize, phases, ratios }
}

async function main() {
  const machine = { date: new Date().toISOString(), node: process.version, cpu: os.cpus()[0]?.model, cores: os.cpus().length, memoryGiB: Math.round(os.totalmem() / 2 ** 30) }
  console.log(JSON.stringify(machine))
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'lp-bench-fleet-'))
  const benchStarted = process.hrtime.bigint()
  const runs = []
  const scrapes = []
  let evidence
  try {
    evidence = await makeEvidence(base)
    for (const kind of ['leaking', 'healthy']) {
      const { pid, events, types, files } = evidence[kind]
      console.log(JSON.stringify({ evidence: kind, pid, events, types, files: files.map((f) => `${f.name} ${f.bytes}`) }))
    }
    const fleets = new Map(SIZES.map((n) => [n, makeFleet(base, evidence, n)]))
    for (let round = 1; round <= ROUNDS; round++) {
      for (const n of SIZES) {
        const { root, dirs } = fleets.get(n)
        const out = path.join(base, `page-${n}.html`)
        const page = await runChild(['page', root, out])
        if (page.processes !== n) throw new Error(`the page of ${n} directories shows ${page.processes} processes: a copy kept its source's pid somewhere`)
        fs.rmSync(out, { force: true })
        const overview = await runOverview(root)
        const sweep = await runSweep(root, dirs)
        const run = { round, n, page, overview, sweep }
        runs.push(run)
        console.log(JSON.stringify({ round, n, page: { ...page, fleet: page.fleet && { instances: page.fleet.instances, leaking: page.fleet.leaking, groups: page.fleet.groups.length } }, overview: { ms: overview.ms, bytes: overview.bytes, peak: overview.peak, summary: overview.summary, directories: overview.directories }, sweep }))
      }
    }
    for (let round = 1; round <= SCRAPE_ROUNDS; round++) {
      const dir = fs.mkdtempSync(path.join(base, 'scrape-'))
      const scrape = await runChild(['scrape', dir])
      scrapes.push(scrape)
      console.log(JSON.stringify({ scrape: round, namedAfterMs: scrape.namedAfterMs, stillNamed: scrape.stillNamed, holder: scrape.holderNamed.leakproof.holder, medians: Object.fromEntries(['quiet', 'holderNamed'].map((p) => [p, Object.fromEntries(Object.entries(scrape[p]).map(([k, v]) => [k, v.medianMs]))])) }))
    }
  } finally {
    fs.rmSync(base, { recursive: true, force: true })
  }
  const { bySize, phases, ratios } = tables(runs, scrapes)
  console.table(bySize)
  console.table(phases)
  console.table(ratios)
  const seconds = since(benchStarted) / 1000
  console.log(`${seconds.toFixed(0)} s in all`)
  const outDir = path.join(__dirname, 'out')
  fs.mkdirSync(outDir, { recursive: true })
  const file = path.join(outDir, `fleet-${machine.date.replace(/[:.]/g, '-')}.json`)
  const strip = ({ events: _events, stderr: _stderr, dir: _dir, ...run }) => run
  fs.writeFileSync(file, JSON.stringify({ machine, seconds, evidence: { seconds: evidence.seconds, leaking: strip(evidence.leaking), healthy: strip(evidence.healthy) }, runs, scrapes, tables: { bySize, phases, ratios } }, null, 2))
  console.log(`every figure: ${file}`)
  return { bySize, phases, ratios }
}

if (require.main === module) {
  const [flag, kind, ...args] = process.argv.slice(2)
  const run = flag !== '--child' ? main : kind === 'page' ? () => pageChild(...args) : () => scrapeChild(...args)
  run().then(() => {
    if (flag === '--child') process.exit(0) // a scrape child's perf observers and the watcher's handles
  }, (err) => {
    console.error(err)
    process.exitCode = 1
  })
}
module.exports = { main }

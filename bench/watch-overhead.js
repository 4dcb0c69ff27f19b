'use strict'

/**
 * The watcher's cost on a real http service: the same server with and without
 * `-r leakproof/register` (the defaults a user gets), both running at once under the same
 * loopback load from this process, so that whatever else the machine does slows both
 * alike (run one after the other, identical servers here differ by 15-30% between
 * passes). Reports, per variant, the median pass of: requests per second, the server's
 * CPU time per request (user + system from /proc), RSS and its private anonymous part
 * (RssAnon; the rest of RSS is shared, reclaimable pages of node's and the addon's code);
 * and the median over passes of the differences within each pass.
 * The watcher's own work is also measured directly: the CPU time of its Rust thread
 * (/proc/PID/task/TID/schedstat, in ns) and of the full GCs it forced (its `sample`
 * events, through fixtures/log-samples.js), as a share of the server's CPU time.
 * Passes last 70 s by default, so that each holds the full GC the watcher forces after
 * `forceGcAfterMs` (60 s) without one, and what it costs afterwards.
 *
 * Memory at rest: the same server idle, plain, with the preload, and with
 * @airbnb/node-memwatch listening for `stats` (fixtures/memwatch-stats.js), all started at
 * once and read after the watcher's first interval. Without load, V8 sizes the heaps alike
 * in every process, and the figures repeat to a few kB.
 *
 * Forced full GCs: plain against a full GC every 10 s (fixtures/force-gc-every.js), atomic
 * (`gc()`) and incremental (`vm.measureMemory` run eagerly, as the watcher asks), paired.
 *
 * Metrics: the watched server against the same with leakproof's Prometheus metrics
 * (fixtures/metrics-endpoint.js) scraped every second, paired, beside the watched server
 * against itself: the noise the difference must be judged against.
 */
const { spawn } = require('node:child_process')
const fs = require('node:fs')
const http = require('node:http')
const os = require('node:os')
const path = require('node:path')
const { drive } = require('./load')
const { memwatchLoads } = require('./peers')

const PASSES = Number(process.env.BENCH_PASSES) || 3
const DURATION_MS = Number(process.env.BENCH_OVERHEAD_MS) || 70_000
const AT_REST_RUNS = 3
const AT_REST_MS = 12_000 // past the first 10 s interval
const root = path.join(__dirname, '..')
const TICKS_PER_SECOND = 100 // USER_HZ on Linux

function statusBytes(pid, field) {
  const m = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'))
  return m ? Number(m[1]) * 1024 : NaN
}

/** User + system CPU seconds used by process `pid`. */
function cpuSeconds(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND
}

/** CPU seconds of the watcher's Rust thread in process `pid` (0 when there is none). */
function watcherThreadCpu(pid) {
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    const dir = `/proc/${pid}/task/${tid}`
    try {
      if (fs.readFileSync(`${dir}/comm`, 'utf8').startsWith('leakproof')) {
        return Number(fs.readFileSync(`${dir}/schedstat`, 'utf8').split(' ')[0]) / 1e9
      }
    } catch {
      // A thread that ended between readdir and read: not ours, which lives until stop().
    }
  }
  return 0
}

/** Preloads of each variant of the server. */
const PRELOADS = {
  plain: [],
  watched: ['-r', path.join(root, 'register.js'), '-r', path.join(__dirname, 'fixtures', 'log-samples.js')],
  // For the metrics' cost: leakproof's Prometheus metrics on a second port, scraped every second.
  'watched + metrics': ['-r', path.join(root, 'register.js'), '-r', path.join(__dirname, 'fixtures', 'log-samples.js'), '-r', path.join(__dirname, 'fixtures', 'metrics-endpoint.js')],
  // For memory at rest: the preload alone, and memwatch for comparison.
  register: ['-r', path.join(root, 'register.js')],
  memwatch: ['-r', path.join(__dirname, 'fixtures', 'memwatch-stats.js')],
  // For the forced-GC comparison: a full GC every 10 s, atomic or incremental.
  'gc() every 10 s': ['-r', path.join(__dirname, 'fixtures', 'force-gc-every.js')],
  'measureMemory every 10 s': ['-r', path.join(__dirname, 'fixtures', 'force-gc-every.js')],
}
const FORCE_GC_ENV = { 'gc() every 10 s': 'gc', 'measureMemory every 10 s': 'measure' }

/** Starts the server with the preloads of `variant`; resolves once it listens. */
async function startServer(variant) {
  const watched = variant.startsWith('watched')
  const log = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'leakproof-overhead-')), 'samples.jsonl')
  const metricsPortFile = path.join(path.dirname(log), 'metrics-port')
  const args = [...PRELOADS[variant], path.join(__dirname, 'fixtures', 'server.js')]
  const env = { ...process.env, BENCH_SAMPLES_LOG: log, BENCH_FORCE_GC: FORCE_GC_ENV[variant] ?? '', BENCH_METRICS_PORT_FILE: metricsPortFile }
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'], env })
  const port = await new Promise((resolve) => child.stdout.once('data', (d) => resolve(Number(String(d).trim()))))
  const metricsPort = variant.endsWith('+ metrics') ? await readPortFile(metricsPortFile) : null
  return { watched, child, port, log, metricsPort }
}

/** The port a preload wrote into `file`, once it is there. */
async function readPortFile(file) {
  for (let i = 0; i < 100; i++) {
    if (fs.existsSync(file) && fs.readFileSync(file, 'utf8') !== '') return Number(fs.readFileSync(file, 'utf8'))
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`no metrics port in ${file}`)
}

/**
 * Scrapes `port`'s /metrics every second, as Prometheus at a 1 s scrape interval would,
 * until `stop()`; resolves then with the scrapes' count, mean size and mean duration.
 */
function scrapeEverySecond(port) {
  const durations = []
  let bytes = 0
  const scrape = () => new Promise((resolve, reject) => {
    const started = performance.now()
    http.get({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
      res.on('data', (chunk) => { bytes += chunk.length })
      res.on('end', () => resolve(durations.push(performance.now() - started)))
    }).on('error', reject)
  })
  const timer = setInterval(scrape, 1000)
  return {
    stop() {
      clearInterval(timer)
      const n = durations.length
      return { scrapes: n, meanBytes: n && bytes / n, meanMs: n && durations.reduce((a, b) => a + b, 0) / n }
    },
  }
}

/** Stops `server` and removes its log; resolves to the events it logged. */
async function stopServer({ child, log }) {
  child.kill()
  await new Promise((resolve) => child.once('exit', resolve))
  const events = fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) : []
  fs.rmSync(path.dirname(log), { recursive: true, force: true })
  return events
}

/** Drives `server` for the measured time and returns its figures; stops it. */
async function measure(server, measuredFrom) {
  const { child } = server
  const cpuBefore = cpuSeconds(child.pid)
  const threadBefore = watcherThreadCpu(child.pid)
  const scraper = server.metricsPort === null ? null : scrapeEverySecond(server.metricsPort)
  const load = await drive({ port: server.port, durationMs: DURATION_MS })
  const scrapes = scraper?.stop() ?? null
  const cpu = cpuSeconds(child.pid) - cpuBefore
  const threadCpu = watcherThreadCpu(child.pid) - threadBefore
  const result = {
    perSecond: load.perSecond,
    cpuMicrosPerRequest: (cpu / load.requests) * 1e6,
    rss: statusBytes(child.pid, 'VmRSS'),
    anon: statusBytes(child.pid, 'RssAnon'),
    watcherShare: 0,
    forcedGcs: 0,
    scrapes,
  }
  const events = await stopServer(server)
  if (server.watched) {
    const samples = events.filter((e) => e.type === 'sample' && e.time >= measuredFrom)
    const forcedGcSeconds = samples.reduce((sum, e) => sum + e.gcDurationMs, 0) / 1000
    result.forcedGcs = samples.filter((e) => e.forcedGc).length
    result.watcherShare = (threadCpu + forcedGcSeconds) / cpu
  }
  return result
}

/** One pass: `baseline` and `variant` at once, warmed up, then measured over the same seconds. */
async function runPass(variant = 'watched', baseline = 'plain') {
  const servers = await Promise.all([startServer(baseline), startServer(variant)])
  await Promise.all(servers.map((s) => drive({ port: s.port, durationMs: 2000 }))) // JIT warm-up
  const measuredFrom = Date.now()
  const [off, on] = await Promise.all(servers.map((s) => measure(s, measuredFrom)))
  return { off, on }
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]

/**
 * What one way of forcing a full GC costs the server: plain against a full GC every 10 s,
 * atomic (`gc()`) or incremental (`vm.measureMemory`, how the watcher asks), in paired
 * passes; CPU per request of each pass, and the median of the ratios.
 */
async function forcedGcCost() {
  const rows = []
  for (const variant of ['gc() every 10 s', 'measureMemory every 10 s']) {
    const ratios = []
    const pairs = []
    for (let pass = 0; pass < PASSES; pass++) {
      const { off, on } = await runPass(variant)
      ratios.push(on.cpuMicrosPerRequest / off.cpuMicrosPerRequest)
      pairs.push(`${off.cpuMicrosPerRequest.toFixed(1)}→${on.cpuMicrosPerRequest.toFixed(1)}`)
    }
    rows.push({ variant, 'CPU µs/request, plain → variant (pairs)': pairs.join(', '), 'CPU per request': `${((median(ratios) - 1) * 100).toFixed(1)}%` })
  }
  console.table(rows)
  return rows
}

/**
 * What leakproof's Prometheus metrics cost a watched server scraped every second: paired
 * passes of the watched server against the same with the metrics, and, for the noise, of
 * the watched server against itself. CPU per request and throughput, median and range of
 * the ratios over passes, and what a scrape took and weighed.
 */
async function metricsCost() {
  const rows = []
  for (const [name, variant] of [['watched vs watched (noise)', 'watched'], ['watched vs watched + metrics scraped every 1 s', 'watched + metrics']]) {
    const cpu = []
    const throughput = []
    let scrapes = null
    for (let pass = 0; pass < PASSES; pass++) {
      const { off, on } = await runPass(variant, 'watched')
      cpu.push(on.cpuMicrosPerRequest / off.cpuMicrosPerRequest - 1)
      throughput.push(on.perSecond / off.perSecond - 1)
      scrapes ??= on.scrapes
    }
    const pct = (x) => `${(x * 100).toFixed(2)}%`
    const range = (list) => `${pct(Math.min(...list))} … ${pct(Math.max(...list))}`
    rows.push({
      pair: name,
      'CPU per request, median': pct(median(cpu)),
      'CPU per request, range': range(cpu),
      'throughput, median': pct(median(throughput)),
      'throughput, range': range(throughput),
      scrape: scrapes === null ? '' : `${scrapes.scrapes} × ${(scrapes.meanBytes / 1024).toFixed(1)} KiB, ${scrapes.meanMs.toFixed(1)} ms each`,
    })
  }
  console.table(rows)
  return rows
}

/**
 * Resident kB of process `pid` by mapping: file mappings by file name and permissions
 * (`node r--p`: node's read-only data, its symbol tables among them), anonymous ones as
 * `[anon]` (the JS heap, malloc arenas, thread stacks).
 */
function rssByMapping(pid) {
  const byMapping = {}
  let name = null
  for (const line of fs.readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const mapping = /^[0-9a-f]+-[0-9a-f]+ (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line)
    if (mapping) {
      name = `${path.basename(mapping[2]) || '[anon]'} ${mapping[1]}`
      continue
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line)
    if (rss) byMapping[name] = (byMapping[name] ?? 0) + Number(rss[1])
  }
  return byMapping
}

/**
 * RSS and RssAnon of the idle server, plain, with the preload and with memwatch (where it
 * loads), started together and read after AT_REST_MS; medians over AT_REST_RUNS, and the differences from
 * plain. Then what the differences are made of, by mapping, in the last run.
 */
async function memoryAtRest() {
  const variants = ['plain', 'register', ...(memwatchLoads() ? ['memwatch'] : [])]
  const runs = []
  let mappings
  for (let run = 0; run < AT_REST_RUNS; run++) {
    const servers = await Promise.all(variants.map((v) => startServer(v)))
    await new Promise((resolve) => setTimeout(resolve, AT_REST_MS))
    runs.push(servers.map(({ child }) => ({ rss: statusBytes(child.pid, 'VmRSS'), anon: statusBytes(child.pid, 'RssAnon') })))
    if (run === AT_REST_RUNS - 1) mappings = servers.map(({ child }) => rssByMapping(child.pid))
    for (const server of servers) await stopServer(server)
  }
  const kb = (b) => Math.round(b / 1024)
  const medians = variants.map((_, i) => ({ rss: median(runs.map((r) => r[i].rss)), anon: median(runs.map((r) => r[i].anon)) }))
  const [plain] = medians
  const table = variants.map((variant, i) => ({
    server: variant,
    'RSS kB': kb(medians[i].rss),
    'anon RSS kB': kb(medians[i].anon),
    'RSS over plain kB': kb(medians[i].rss - plain.rss),
    'anon over plain kB': kb(medians[i].anon - plain.anon),
  }))
  console.table(table)
  const names = [...new Set(mappings.flatMap(Object.keys))]
  const byMapping = names
    .map((mapping) => {
      const [base, ...others] = mappings.map((m) => m[mapping] ?? 0)
      return { mapping, ...Object.fromEntries(variants.slice(1).map((v, i) => [`${v} over plain kB`, others[i] - base])) }
    })
    .filter((row) => Object.values(row).some((v) => typeof v === 'number' && Math.abs(v) >= 16))
    .sort((a, b) => Math.abs(b['register over plain kB']) - Math.abs(a['register over plain kB']))
  console.table(byMapping)
  return { table, byMapping }
}

async function main() {
  const passes = { off: [], on: [] }
  for (let pass = 0; pass < PASSES; pass++) {
    const { off, on } = await runPass()
    passes.off.push(off)
    passes.on.push(on)
  }
  const summarize = (list) => Object.fromEntries(Object.keys(list[0]).map((k) => [k, median(list.map((r) => r[k]))]))
  const off = summarize(passes.off)
  const on = summarize(passes.on)
  const mb = (b) => (b / 1048576).toFixed(1)
  const row = (name, r) => ({ server: name, 'req/s': r.perSecond.toFixed(0), 'CPU µs/req': r.cpuMicrosPerRequest.toFixed(1), 'RSS MB': mb(r.rss), 'anon RSS MB': mb(r.anon), 'monitor thread + forced GCs, share of CPU': `${(r.watcherShare * 100).toFixed(4)}%`, 'forced GCs': r.forcedGcs })
  const table = [row('plain', off), row('with -r leakproof/register', on)]
  console.table(table)
  // Differences are taken within each pass (the two servers ran at the same time), then
  // the median over passes.
  const paired = (f) => median(passes.on.map((r, i) => f(r, passes.off[i])))
  const summary = {
    passes: PASSES,
    seconds: DURATION_MS / 1000,
    throughputChange: paired((a, b) => a.perSecond / b.perSecond - 1),
    cpuPerRequestChange: paired((a, b) => a.cpuMicrosPerRequest / b.cpuMicrosPerRequest - 1),
    rssDeltaMB: paired((a, b) => a.rss - b.rss) / 1048576,
    anonDeltaMB: paired((a, b) => a.anon - b.anon) / 1048576,
    watcherShare: on.watcherShare,
    allPasses: passes,
  }
  const pct = (x) => `${(x * 100).toFixed(2)}%`
  console.log(`throughput ${pct(summary.throughputChange)}, CPU per request ${pct(summary.cpuPerRequestChange)}, RSS ${summary.rssDeltaMB.toFixed(2)} MB, anon RSS ${summary.anonDeltaMB.toFixed(2)} MB, watcher's own work ${pct(summary.watcherShare)} of the server's CPU`)
  const atRest = await memoryAtRest()
  const forcedGcs = await forcedGcCost()
  const metrics = await metricsCost()
  return { table, summary, atRest, forcedGcs, metrics }
}

if (require.main === module) main()
module.exports = { main, memoryAtRest, forcedGcCost, metricsCost }

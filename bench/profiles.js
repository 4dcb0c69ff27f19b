'use strict'

/**
 * Sampling heap profiles, leakproof's against @datadog/pprof's, on a real http service on
 * 127.0.0.1 that allocates per request (a ~2 KB JSON body stringified and parsed back) and
 * leaks ~1 KB per request into a Map (`keepSession`; past 50,000 entries the oldest go, so
 * that part 1's passes all run over the same heap), so that profiles have content.
 * `node bench/profiles.js` or `npm run bench -- profiles`; about five minutes.
 *
 * 1. What sampling costs the service under loopback load: the server in a process of its
 *    own with no sampling, with leakproof's `SiteProfiler` (V8's sampling heap profiler
 *    through an in-process inspector session, as the watcher runs it from the first heap
 *    leak on) and with @datadog/pprof's heap profiler (the same V8 profiler through its
 *    addon; stack depth 64, as its README starts it), each at 512 KiB (the watcher's
 *    `sitesSamplingBytes`) and 32 KiB (V8's default). The load is load.js's (16 keep-alive
 *    clients from this process, closed loop), with each request's latency kept; a fresh
 *    server per pass, 2 s of warm-up, then PASS_MS measured. The configurations are
 *    interleaved over ROUNDS rounds (each round starts one later in the list); medians over
 *    rounds, and the median over rounds of each round's ratio to its no-sampling pass.
 * 2. What taking one profile costs after SAMPLING_MS of sampling: per interval, both
 *    profilers' servers at once under paced load (PACED_PER_SECOND each), then TAKES profiles
 *    from each in turn while the load goes on. leakproof: `getSamplingProfile` (+ the JSON of its answer),
 *    `encodeSamplingProfile`, gzip; then, apart, `HeapProfiles.add` (both files into a
 *    temporary dir). @datadog/pprof: `heap.profile()` (a pprof Profile) and `encode()`
 *    (serialized, gzipped). Milliseconds (median of TAKES), the event loop's longest delay
 *    while it ran (monitorEventLoopDelay, 1 ms resolution; max over TAKES), and the sizes and
 *    counts of the last take. The inspector's `startSampling` always sets V8's
 *    kSamplingForceGC, so each `getSamplingProfile` runs an atomic full GC first (`--trace-gc`:
 *    "Mark-Compact … sampling profiler"): its figure is mostly that GC, over `heap used MB`.
 *    @datadog/pprof's addon does not ask for it: its profile also counts sampled objects
 *    that are dead but not yet collected.
 * 3. What `go tool pprof -top` (live bytes: `-sample_index=space` for leakproof's files,
 *    `inuse_space` for @datadog/pprof's) puts at the top of each pprof file of the last take:
 *    the first three rows. Both see only part of what `keepSession` keeps: with TurboFan's
 *    allocation folding, V8 loses the samples of kept objects allocated in one step with
 *    short-lived ones (`--no-turbo-allocation-folding` brings them back; docs/benchmarks.md).
 *
 * Another `node --test` run on the machine skews the timings: the bench waits for one to
 * end (checking every minute, up to 20 minutes) and counts the passes that overlapped one.
 */
const { fork, spawnSync, execFile, execFileSync } = require('node:child_process')
const fs = require('node:fs')
const http = require('node:http')
const os = require('node:os')
const path = require('node:path')
const zlib = require('node:zlib')
const { promisify } = require('node:util')
const { monitorEventLoopDelay } = require('node:perf_hooks')
const { drive } = require('./load')

const ROUNDS = Number(process.env.BENCH_PROFILES_ROUNDS) || 4
const PASS_MS = Number(process.env.BENCH_PROFILES_MS) || 8000
const WARMUP_MS = 2000
const SAMPLING_MS = Number(process.env.BENCH_PROFILES_SAMPLING_MS) || 30_000
const TAKES = 5
const PACED_PER_SECOND = 800 // per server, in part 2 (two servers at once)
const MAX_SESSIONS = 50_000 // ~55 MB: part 1's passes reach it and stay there; part 2's never does
const CONNECTIONS = 16
const STACK_DEPTH = 64 // @datadog/pprof's README and dd-trace's default
const KIB = 1024
const INTERVALS = [512 * KIB, 32 * KIB]
const TICKS_PER_SECOND = 100 // USER_HZ on Linux
const WAIT_FOR_TESTS_MS = 20 * 60_000

const gzip = promisify(zlib.gzip)

// ---------------------------------------------------------------------------------------
// The server (this file, forked with BENCH_PROFILES_ROLE=server)

/** The service: a ~2 KB order as JSON, parsed back as a body parser would, ~1 KB kept per request. */
function serve() {
  const sessions = new Map()
  let count = 0

  /**
   * The leak: ~1 KB per request (an array of 120 small integers and its holder), the oldest
   * dropped past MAX_SESSIONS so that every pass of part 1 runs over the same heap whatever
   * its throughput.
   */
  function keepSession(id) {
    const seen = new Array(120)
    for (let i = 0; i < seen.length; i++) seen[i] = (id + i) & 0xffff
    sessions.set(id, { id, at: Date.now(), seen })
    if (sessions.size > MAX_SESSIONS) sessions.delete(id - MAX_SESSIONS)
  }

  function makeOrder(id) {
    const items = []
    for (let i = 0; i < 20; i++) items.push({ sku: `sku-${id % 997}-${i}`, name: `catalogue item number ${i}`, quantity: 1 + (i % 3), price: 9.99 + i })
    return { id, customer: `customer-${id % 10_007}`, placedAt: new Date().toISOString(), items }
  }

  const server = http.createServer((req, res) => {
    const id = ++count
    const parsed = JSON.parse(JSON.stringify(makeOrder(id)))
    parsed.total = parsed.items.reduce((sum, item) => sum + item.quantity * item.price, 0)
    keepSession(id)
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify(parsed))
  })

  let sampler = null
  const handlers = {
    start: async ({ sampler: kind, bytes }) => {
      sampler = await startSampler(kind, bytes)
      return null
    },
    take: () => sampler.take(),
    files: () => sampler.files(),
  }
  process.on('message', async ({ id, type, ...args }) => {
    try {
      process.send({ id, result: await handlers[type](args) })
    } catch (err) {
      process.send({ id, error: err.stack })
    }
  })
  server.listen(0, '127.0.0.1', () => process.send({ type: 'listening', port: server.address().port }))
}

/**
 * The event loop's longest delay from when this resolves until `stop()` (ms; 1 ms
 * resolution). The histogram's first tick only sets its clock, so the work waits for it.
 */
async function loopWatch() {
  const histogram = monitorEventLoopDelay({ resolution: 1 })
  histogram.enable()
  await new Promise((resolve) => setTimeout(resolve, 10))
  return {
    async stop() {
      // Let the timer that the work delayed fire and be counted.
      await new Promise((resolve) => setTimeout(resolve, 5))
      histogram.disable()
      return histogram.max / 1e6
    },
  }
}

/** pprof-format, the decoder @datadog/pprof itself uses, for the counts in our files. */
function pprofFormat() {
  return require(require.resolve('pprof-format', { paths: [path.dirname(require.resolve('@datadog/pprof'))] }))
}

/** Starts sampling in this process; returns `{ take(), files() }`. */
async function startSampler(kind, bytes) {
  if (kind === 'none') return null
  // Made at the first take (part 2's servers, whose dirs the bench removes); part 1's servers write nothing.
  let made = null
  const tempDir = () => (made ??= fs.mkdtempSync(path.join(os.tmpdir(), `leakproof-bench-profiles-${kind}-`)))
  if (kind === 'datadog') {
    const { heap, encode } = require('@datadog/pprof')
    heap.start(bytes, STACK_DEPTH)
    let last = null
    return {
      async take() {
        const watch = await loopWatch()
        const t0 = performance.now()
        const profile = heap.profile()
        const t1 = performance.now()
        const encoded = await encode(profile)
        const t2 = performance.now()
        const loopMaxMs = await watch.stop()
        last = encoded
        return {
          heapUsedMB: process.memoryUsage().heapUsed / 2 ** 20,
          profileMs: t1 - t0,
          encodeMs: t2 - t1,
          totalMs: t2 - t0,
          loopMaxMs,
          pprofGzBytes: encoded.length,
          pprofBytes: profile.encode().length,
          pprofSamples: profile.sample.length,
          pprofFunctions: profile.function.length,
        }
      },
      files() {
        const file = path.join(tempDir(), `datadog-${bytes / KIB}KiB.pb.gz`)
        fs.writeFileSync(file, last)
        return { pprof: file, dir: tempDir() }
      },
    }
  }
  const { SiteProfiler } = require('../lib/sites/profiler')
  const { encodeSamplingProfile } = require('../lib/sites/pprof')
  const { HeapProfiles } = require('../lib/sites/heap-profiles')
  const profiler = new SiteProfiler(bytes)
  await profiler.start()
  let store = null
  const storeOf = () => (store ??= new HeapProfiles({ dir: tempDir(), maxDiskBytes: 2 ** 30, maxSnapshots: 2, sitesSamplingBytes: bytes }))
  let last = null
  return {
    async take() {
      const startedAt = profiler.startedAt
      let watch = await loopWatch()
      const t0 = performance.now()
      const profile = await profiler.profile()
      const t1 = performance.now()
      const raw = encodeSamplingProfile(profile, { samplingIntervalBytes: bytes, timeMs: startedAt, durationMs: Date.now() - startedAt })
      const t2 = performance.now()
      const encoded = await gzip(raw)
      const t3 = performance.now()
      const loopMaxMs = await watch.stop()
      watch = await loopWatch()
      const t4 = performance.now()
      last = await storeOf().add(profile, { reason: 'bench', startedAt })
      const addMs = performance.now() - t4
      const addLoopMaxMs = await watch.stop()
      const decoded = pprofFormat().Profile.decode(raw)
      return {
        heapUsedMB: process.memoryUsage().heapUsed / 2 ** 20,
        profileMs: t1 - t0,
        encodeMs: t3 - t1,
        encodeSyncMs: t2 - t1,
        totalMs: t3 - t0,
        loopMaxMs,
        addMs,
        addLoopMaxMs,
        heapprofileBytes: fs.statSync(last.heapprofile).size,
        pprofGzBytes: encoded.length,
        pprofBytes: raw.length,
        v8Samples: profile.samples.length,
        pprofSamples: decoded.sample.length,
        pprofFunctions: decoded.function.length,
      }
    },
    files() {
      return { pprof: last.pprof, heapprofile: last.heapprofile, dir: tempDir() }
    },
  }
}

// ---------------------------------------------------------------------------------------
// The bench

/** Whether @datadog/pprof loads here (a prebuilt addon per platform and Node ABI). */
function datadogLoads() {
  try {
    require('@datadog/pprof')
    return true
  } catch (err) {
    console.log(`@datadog/pprof does not load here (${err.message.split('\n')[0]}): its rows are skipped`)
    return false
  }
}

/** Whether `pgrep -af` listed a `node --test` run (another engineer's). */
const listsTestRun = (stdout) => stdout.split('\n').some((line) => line.trim() !== '' && !line.includes('pgrep'))

/** Whether a `node --test` run is going on on this machine now. */
function testRunGoingOn() {
  return listsTestRun(spawnSync('pgrep', ['-af', 'node --test'], { encoding: 'utf8' }).stdout)
}

/**
 * Looks for a `node --test` run every 5 s while the bench runs (without blocking: a
 * synchronous spawn would stall the load); `since()` says whether one was seen since its
 * last call.
 */
function testRunPoller() {
  let seen = false
  const poll = () => execFile('pgrep', ['-af', 'node --test'], { encoding: 'utf8' }, (_err, stdout) => {
    if (listsTestRun(stdout ?? '')) seen = true
  })
  poll()
  const timer = setInterval(poll, 5000)
  return {
    since() {
      const was = seen || testRunGoingOn()
      seen = false
      return was
    },
    stop: () => clearInterval(timer),
  }
}

/** Waits, checking every minute, for another test run to end (up to WAIT_FOR_TESTS_MS); returns the minutes waited. */
async function waitForQuiet() {
  const started = Date.now()
  while (testRunGoingOn() && Date.now() - started < WAIT_FOR_TESTS_MS) {
    console.log('a node --test run is going on: waiting a minute')
    await new Promise((resolve) => setTimeout(resolve, 60_000))
  }
  return (Date.now() - started) / 60_000
}

/** User + system CPU seconds used by process `pid`. */
function cpuSeconds(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND
}

/** Forks a server, starts its sampler; resolves to `{ child, port, call(type, args) }` once it listens. */
async function startServer(sampler, bytes) {
  const child = fork(__filename, [], { env: { ...process.env, BENCH_PROFILES_ROLE: 'server' }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const port = await new Promise((resolve, reject) => {
    child.once('error', reject)
    child.once('exit', (code) => reject(new Error(`the server exited with ${code}`)))
    child.on('message', (msg) => msg.type === 'listening' && resolve(msg.port))
  })
  let nextId = 0
  const call = (type, args = {}) => new Promise((resolve, reject) => {
    const id = nextId++
    const onMessage = (msg) => {
      if (msg.id !== id) return
      child.off('message', onMessage)
      if (msg.error) reject(new Error(msg.error))
      else resolve(msg.result)
    }
    child.on('message', onMessage)
    child.send({ id, type, ...args })
  })
  await call('start', { sampler, bytes })
  return { child, port, call }
}

async function stopServer({ child }) {
  child.removeAllListeners('exit')
  child.kill()
  await new Promise((resolve) => child.once('exit', resolve))
}

/** load.js's closed loop (16 keep-alive clients) for `durationMs`, with each request's latency. */
async function driveTimed({ port, durationMs }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS })
  const started = performance.now()
  const deadline = started + durationMs
  const latencies = []
  const get = () => new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
        res.resume().on('end', resolve).on('close', resolve).on('error', reject)
      })
      .on('error', reject)
  })
  const client = async () => {
    while (performance.now() < deadline) {
      const t0 = performance.now()
      try {
        await get()
      } catch (err) {
        if (err.code !== 'ECONNRESET' && err.code !== 'EPIPE') throw err
        continue
      }
      latencies.push(performance.now() - t0)
    }
  }
  await Promise.all(Array.from({ length: CONNECTIONS }, client))
  agent.destroy()
  const seconds = (performance.now() - started) / 1000
  latencies.sort((a, b) => a - b)
  const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]
  return { requests: latencies.length, perSecond: latencies.length / seconds, p50Ms: at(0.5), p99Ms: at(0.99) }
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/** Part 1: req/s, p99 and CPU per request of every configuration, interleaved over ROUNDS rounds. */
async function samplingCost(configs, testRuns) {
  const passes = new Map(configs.map((c) => [c.name, []]))
  let overlapped = 0
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < configs.length; k++) {
      const config = configs[(round + k) % configs.length]
      testRuns.since()
      const server = await startServer(config.sampler, config.bytes)
      await drive({ port: server.port, durationMs: WARMUP_MS })
      const cpuBefore = cpuSeconds(server.child.pid)
      const load = await driveTimed({ port: server.port, durationMs: PASS_MS })
      const cpuMicrosPerRequest = ((cpuSeconds(server.child.pid) - cpuBefore) / load.requests) * 1e6
      await stopServer(server)
      if (testRuns.since()) overlapped++
      passes.get(config.name).push({ ...load, cpuMicrosPerRequest })
      console.log(`round ${round + 1}, ${config.name}: ${load.perSecond.toFixed(0)} req/s, p99 ${load.p99Ms.toFixed(2)} ms, ${cpuMicrosPerRequest.toFixed(1)} µs CPU/req`)
    }
  }
  const base = passes.get(configs[0].name)
  const ratio = (list, key) => median(list.map((p, i) => p[key] / base[i][key]))
  const rows = configs.map(({ name }) => {
    const list = passes.get(name)
    return {
      configuration: name,
      'req/s': Math.round(median(list.map((p) => p.perSecond))),
      'req/s vs none': ratio(list, 'perSecond').toFixed(3),
      'p99 ms': median(list.map((p) => p.p99Ms)).toFixed(2),
      'p99 vs none': ratio(list, 'p99Ms').toFixed(3),
      'CPU µs/req': median(list.map((p) => p.cpuMicrosPerRequest)).toFixed(1),
      'CPU/req vs none': ratio(list, 'cpuMicrosPerRequest').toFixed(3),
    }
  })
  console.table(rows)
  return { rows, passes: Object.fromEntries(passes), overlapped }
}

/** Parts 2 and 3: the cost and sizes of one profile after SAMPLING_MS, and go tool pprof's top rows. */
async function takingCost(withDatadog, testRuns) {
  const kinds = withDatadog ? ['leakproof', 'datadog'] : ['leakproof']
  const specs = INTERVALS.flatMap((bytes) => kinds.map((sampler) => ({ sampler, bytes, name: `${sampler === 'datadog' ? '@datadog/pprof' : 'leakproof'} ${bytes / KIB} KiB` })))
  const takes = specs.map(() => [])
  const served = []
  const files = []
  let overlapped = 0
  // One interval at a time: both profilers' servers at once, under the same paced load.
  for (const bytes of INTERVALS) {
    const at = specs.flatMap((s, i) => (s.bytes === bytes ? [i] : []))
    testRuns.since()
    const servers = await Promise.all(at.map((i) => startServer(specs[i].sampler, bytes)))
    let done = false
    const loads = Promise.all(servers.map((s) => drive({ port: s.port, perSecond: PACED_PER_SECOND, until: () => done })))
    await new Promise((resolve) => setTimeout(resolve, SAMPLING_MS))
    for (let t = 0; t < TAKES; t++) {
      for (const [k, i] of at.entries()) {
        takes[i].push(await servers[k].call('take'))
        await new Promise((resolve) => setTimeout(resolve, 200))
      }
    }
    done = true
    const loaded = await loads
    for (const [k, i] of at.entries()) {
      served[i] = loaded[k]
      files[i] = await servers[k].call('files')
    }
    await Promise.all(servers.map(stopServer))
    if (testRuns.since()) overlapped++
  }

  const ms = (list, key) => (list[0][key] === undefined ? '' : median(list.map((x) => x[key])).toFixed(1))
  const rows = specs.map(({ name }, i) => {
    const list = takes[i]
    const last = list[list.length - 1]
    return {
      profiler: name,
      'requests served': served[i].requests,
      'heap used MB': median(list.map((x) => x.heapUsedMB)).toFixed(1),
      'profile ms': ms(list, 'profileMs'),
      'encode + gzip ms': ms(list, 'encodeMs'),
      'total ms': ms(list, 'totalMs'),
      'loop delay max ms': Math.max(...list.map((x) => x.loopMaxMs)).toFixed(1),
      'HeapProfiles.add ms': ms(list, 'addMs'),
      'add: loop delay max ms': list[0].addLoopMaxMs === undefined ? '' : Math.max(...list.map((x) => x.addLoopMaxMs)).toFixed(1),
      '.heapprofile bytes': last.heapprofileBytes ?? '',
      'pprof bytes': last.pprofBytes,
      '.pb.gz bytes': last.pprofGzBytes,
      'V8 samples': last.v8Samples ?? '',
      'pprof samples': last.pprofSamples,
      'pprof functions': last.pprofFunctions,
    }
  })
  console.table(rows)
  const top = specs.flatMap(({ name, sampler }, i) => goTop(name, files[i].pprof, SAMPLE_INDEX[sampler]))
  if (top.length > 0) console.table(top)
  for (const { dir } of files) fs.rmSync(dir, { recursive: true, force: true })
  return { rows, takes: Object.fromEntries(specs.map((s, i) => [s.name, takes[i]])), top, overlapped }
}

/**
 * The live bytes' sample type in each profiler's pprof: leakproof's are `objects` and `space`
 * (as Go's heap profiles' "in use" pair is named by pprof's tools), @datadog/pprof's
 * `inuse_objects` and `inuse_space`.
 */
const SAMPLE_INDEX = { leakproof: 'space', datadog: 'inuse_space' }

/** The first three rows of `go tool pprof -top -sample_index=INDEX file`, or none without go. */
function goTop(name, file, index) {
  let out
  try {
    out = execFileSync('go', ['tool', 'pprof', '-top', `-sample_index=${index}`, file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000, cwd: os.tmpdir() })
  } catch (err) {
    console.log(`go tool pprof did not run on ${name}'s file: ${err.message.split('\n')[0]}`)
    return []
  }
  const lines = out.split('\n')
  const header = lines.findIndex((line) => /^\s*flat\s+flat%/.test(line))
  return lines.slice(header + 1, header + 4).filter(Boolean).map((line, rank) => {
    const [flat, flatPct, sumPct, cum, cumPct, ...fn] = line.trim().split(/\s+/)
    return { profile: name, index, rank: rank + 1, flat, 'flat%': flatPct, 'sum%': sumPct, cum, 'cum%': cumPct, function: fn.join(' ') }
  })
}

async function main() {
  const waitedMinutes = await waitForQuiet()
  const withDatadog = datadogLoads()
  const configs = [{ name: 'no sampling', sampler: 'none', bytes: 0 }]
  for (const bytes of INTERVALS) {
    configs.push({ name: `leakproof ${bytes / KIB} KiB`, sampler: 'leakproof', bytes })
    if (withDatadog) configs.push({ name: `@datadog/pprof ${bytes / KIB} KiB`, sampler: 'datadog', bytes })
  }
  const started = Date.now()
  const testRuns = testRunPoller()
  const load = await samplingCost(configs, testRuns)
  const taking = await takingCost(withDatadog, testRuns)
  testRuns.stop()
  const otherRuns = { waitedMinutes, load: `${load.overlapped} of ${ROUNDS * configs.length} passes`, taking: `${taking.overlapped} of ${INTERVALS.length} runs` }
  console.log(`took ${((Date.now() - started) / 1000).toFixed(0)} s; another node --test run overlapped: ${JSON.stringify(otherRuns)}`)
  return { load: load.rows, taking: taking.rows, top: taking.top, otherRuns, passes: load.passes, takes: taking.takes }
}

if (process.env.BENCH_PROFILES_ROLE === 'server') serve()
else if (require.main === module) main().catch((err) => {
  console.error(err)
  process.exitCode = 1
})
module.exports = { main }

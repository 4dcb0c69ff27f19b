'use strict'

/**
 * `npm run bench -- census` (or `node bench/census.js`): what a pass of the census
 * (lib/diagnose/census) costs on a service's heap, against the two other ways to learn what a heap
 * holds: `v8.queryObjects(Map, { format: 'count' })` and a heap snapshot
 * (`v8.writeHeapSnapshot`, in-process). Then whether the census and a snapshot pair name the
 * same holder on the project's own leak fixtures.
 *
 * Part one. For each Node version and heap size (about 100 MB, 500 MB and 1 GB of used heap:
 * bench/fixtures/census-heap.js, an Express service with ~780 modules loaded, a Map of 1M small
 * objects, a dictionary of 50,000 keys, nested objects and arrays), three child processes,
 * one at a time, each building the same heap:
 *
 * - census: a pass, 20,000 more entries in the Map, a second pass, `census.grown()`. Per
 *   pass: its wall time, the time inside its slices, the process's CPU meanwhile, slices and
 *   the longest, objects visited, inspector calls, and its extra memory: the peak RSS above
 *   the RSS before (VmHWM after resetting it through /proc/self/clear_refs: the kernel's
 *   peak, which catches a peak inside a slice), and the peak RSS and used heap sampled every
 *   2 ms by a ref'd timer (which runs between slices only). Each pass starts after a full GC.
 * - queryObjects: one count of Maps; its stop (the call, synchronous) and the peak RSS above
 *   the RSS before.
 * - snapshot: one `v8.writeHeapSnapshot` to a temporary file; its stop, file size and the
 *   peak RSS above the RSS before. Skipped when MemAvailable is under 13 times the heap (a
 *   snapshot has needed up to 11 times the heap: docs/benchmarks.md), killed past 5 minutes.
 *
 * Every child is killed past its time limit, or when its RSS passes 16 GiB.
 *
 * Part two. Each fixture runs with bench/fixtures/census-pair.js preloaded: at each of the
 * two snapshots the fixture (or its watcher) writes, a census pass; then the census' first
 * holder against the first suspect's holder of `diffSnapshots()` on the pair.
 *
 * Part three (issue 67). The census as the watcher takes it at a leak, on a search service's
 * heap (bench/fixtures/search-service.js: a catalog of products in a Map or an array, 260,000
 * of them for about 100 MB of used heap, 2,600,000 for about 1.1 GB, and every query kept in
 * `recentSearches`, a module-level array: the leak). The child serves 1,000 queries a second
 * throughout, calls `Diagnosis.diagnose()` (lib/diagnose/diagnosis.js) as leak-response.js
 * does when no snapshot can be had, with the watcher's default interval (passes 20 s apart),
 * then waits as long again without it (the service's own stops, and the machine's).
 * Measured: each slice (`CensusPass.step`, timed around it: max, p99, median, and the most
 * CPU one took), the longest stop a 1 ms heartbeat timer saw (with the CPU this thread had in
 * it; in the diagnosis, and in the window without it), the
 * passes' wall time and time in slices, the process' CPU, the memory added while the
 * diagnosis ran (peak RSS by VmHWM, peak used heap sampled every 10 ms, both above the
 * start) and what it held after a GC, and whether the report names `recentSearches`, a
 * module-level variable of search-service.js, first.
 *
 * Environment: BENCH_NODES (default `24`), BENCH_CENSUS_MB (default `100 500 1000`),
 * BENCH_CENSUS_PARTS (default `heap pairs search`), BENCH_SEARCH_ITEMS (default
 * `260000 2600000`), BENCH_SEARCH_SHAPES (default `map array`; `object`, a plain object keyed
 * by sku, counts its 2.6 million keys with one listing a pass: not sliced, see docs/diagnose.md).
 */
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawn, execFileSync } = require('node:child_process')

const MB = 1e6
const GiB = 2 ** 30
const NODES = (process.env.BENCH_NODES || '24').split(/\s+/).filter(Boolean)
const SIZES_MB = (process.env.BENCH_CENSUS_MB || '100 500 1000').split(/\s+/).filter(Boolean).map(Number)
const PARTS = (process.env.BENCH_CENSUS_PARTS || 'heap pairs search').split(/\s+/)
const SEARCH_ITEMS = (process.env.BENCH_SEARCH_ITEMS || '260000 2600000').split(/\s+/).filter(Boolean).map(Number)
const SEARCH_SHAPES = (process.env.BENCH_SEARCH_SHAPES || 'map array').split(/\s+/).filter(Boolean)
/** Entries added to the 1M-entry Map between the two passes. */
const GROWTH = 20_000
/** A snapshot that takes longer than this is stopped and reported as such. */
const SNAPSHOT_LIMIT_MS = 5 * 60_000
/** The time limit of each child, building its heap included. */
const CHILD_LIMIT_MS = { census: 10 * 60_000, query: 8 * 60_000, snapshot: 14 * 60_000, pair: 3 * 60_000, search: 5 * 60_000 }
/** A child whose RSS passes this is killed: the machine is shared. */
const RSS_LIMIT = 16 * GiB
/** Free memory asked of a snapshot, per byte of heap (the worst measured was 11). */
const SNAPSHOT_MEMORY_PER_HEAP = 13
const SAMPLE_MS = 2

// ---------------------------------------------------------------------------------------
// The children: one heap each, one measurement.

function statusBytes(field) {
  return Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]) * 1024
}

const usedHeap = () => require('node:v8').getHeapStatistics().used_heap_size
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const cpuMs = (usage) => (usage.user + usage.system) / 1000

/**
 * The state before a measured step: after a full GC, peak RSS reset to the RSS now.
 * @returns {{ rss: number, heap: number }}
 */
async function settle() {
  global.gc()
  await sleep(50)
  fs.writeFileSync('/proc/self/clear_refs', '5')
  return { rss: statusBytes('VmRSS'), heap: usedHeap() }
}

/** RSS and used heap every SAMPLE_MS on a ref'd timer: their peaks since `start()`. */
class Sampler {
  #timer = null
  peakRss = 0
  peakHeap = 0
  samples = 0

  start() {
    this.peakRss = 0
    this.peakHeap = 0
    this.samples = 0
    this.#sample()
    this.#timer = setInterval(() => this.#sample(), SAMPLE_MS)
  }

  stop() {
    this.#sample()
    clearInterval(this.#timer)
  }

  #sample() {
    this.peakRss = Math.max(this.peakRss, process.memoryUsage.rss())
    this.peakHeap = Math.max(this.peakHeap, usedHeap())
    this.samples++
  }
}

/** One census pass, measured; with the GC pauses that fell within it and what it left after a GC. */
async function measurePass(census, sampler) {
  const { PerformanceObserver } = require('node:perf_hooks')
  const before = await settle()
  const gcs = []
  const observer = new PerformanceObserver((list) => gcs.push(...list.getEntries().map((e) => e.duration)))
  observer.observe({ entryTypes: ['gc'] })
  sampler.start()
  const cpu = process.cpuUsage()
  const started = performance.now()
  const pass = await census.pass()
  const wallMs = performance.now() - started
  const processCpuMs = cpuMs(process.cpuUsage(cpu))
  const peakRss = statusBytes('VmHWM')
  sampler.stop()
  await sleep(10) // the GC entries are delivered on a later turn
  observer.disconnect()
  global.gc()
  const measured = {
    wallMs,
    processCpuMs,
    cost: pass.cost,
    complete: pass.complete,
    records: pass.records.size,
    notReached: pass.notReached.map(({ what, count }) => `${what} (${count})`),
    extraRss: peakRss - before.rss,
    sampledExtraRss: sampler.peakRss - before.rss,
    sampledExtraHeap: sampler.peakHeap - before.heap,
    heldAfterGc: usedHeap() - before.heap,
    samples: sampler.samples,
    gcs: gcs.length,
    longestGcMs: Math.max(0, ...gcs),
  }
  return { pass, measured }
}

async function censusChild(heap) {
  const { Census } = require('../lib/diagnose/census/census')
  const sampler = new Sampler()
  const census = new Census()
  const first = await measurePass(census, sampler)
  heap.grow(GROWTH)
  const second = await measurePass(census, sampler)
  const { holders, debuggerMs } = await census.grown(first.pass, second.pass, { top: 3 })
  census.stop()
  return {
    passes: [first.measured, second.measured],
    debuggerMs,
    holders: holders.map((h) => ({ path: h.readablePath, description: h.holder.description, before: h.before, after: h.after })),
  }
}

/** A full GC (for scale: V8 itself raises RSS to compact), then one count of Maps. */
async function queryChild() {
  const v8 = require('node:v8')
  const beforeGc = await settle()
  const gcStarted = performance.now()
  global.gc()
  const gc = { stopMs: performance.now() - gcStarted, extraRss: statusBytes('VmHWM') - beforeGc.rss }
  const before = await settle()
  const cpu = process.cpuUsage()
  const started = performance.now()
  const count = v8.queryObjects(Map, { format: 'count' })
  const stopMs = performance.now() - started
  return { count, stopMs, cpuMs: cpuMs(process.cpuUsage(cpu)), extraRss: statusBytes('VmHWM') - before.rss, gc }
}

async function snapshotChild() {
  const v8 = require('node:v8')
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'census-bench-'))
  try {
    const before = await settle()
    await report({ event: 'snapshot-start' })
    const cpu = process.cpuUsage()
    const started = performance.now()
    const file = v8.writeHeapSnapshot(path.join(dir, 'heap.heapsnapshot'))
    const stopMs = performance.now() - started
    const cpuTaken = cpuMs(process.cpuUsage(cpu))
    const extraRss = statusBytes('VmHWM') - before.rss
    return { stopMs, cpuMs: cpuTaken, extraRss, fileBytes: fs.statSync(file).size }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

// ---------------------------------------------------------------------------------------
// Part three's child: the census at a leak on a search service's heap.

/** Queries served a second by the search child, in batches every SEARCH_BATCH_MS. */
const SEARCHES_PER_SEC = 1000
const SEARCH_BATCH_MS = 5
/** The watcher's default sampling interval: the diagnosis' passes are two of them apart. */
const WATCH_INTERVAL_MS = 10_000

/** This thread's CPU time in ms (Node 23.9 and later), or NaN where Node has no such reading. */
const threadCpuMs = typeof process.threadCpuUsage === 'function' ? () => cpuMs(process.threadCpuUsage()) : () => NaN

/**
 * A 1 ms timer's view of the event loop: the longest stop between two of its runs (less the
 * 1 ms it waits) and this thread's CPU in it (where it is much less, the thread waited: for a
 * core on a busy machine, or for V8's GC threads), and the peak RSS and used heap, read every
 * 10th run.
 */
class Heartbeat {
  #timer = null
  #last = 0
  #lastCpu = 0
  #runs = 0
  longestStopMs = 0
  longestStopCpuMs = 0
  peakRss = 0
  peakHeap = 0

  start() {
    this.longestStopMs = 0
    this.longestStopCpuMs = 0
    this.peakRss = process.memoryUsage.rss()
    this.peakHeap = usedHeap()
    this.#last = performance.now()
    this.#lastCpu = threadCpuMs()
    this.#timer = setInterval(() => this.#beat(), 1)
  }

  stop() {
    clearInterval(this.#timer)
  }

  #beat() {
    const now = performance.now()
    const cpu = threadCpuMs()
    if (now - this.#last - 1 > this.longestStopMs) {
      this.longestStopMs = now - this.#last - 1
      this.longestStopCpuMs = cpu - this.#lastCpu
    }
    this.#last = now
    this.#lastCpu = cpu
    if (++this.#runs % 10 === 0) {
      this.peakRss = Math.max(this.peakRss, process.memoryUsage.rss())
      this.peakHeap = Math.max(this.peakHeap, usedHeap())
    }
  }
}

/**
 * Every census slice's time, `CensusPass.step` timed around it: `wall` its wall time, `cpu`
 * this thread's CPU in it (a slice much longer than its CPU waited, as Heartbeat says).
 */
function timeSlices() {
  const { CensusPass } = require('../lib/diagnose/census/walk')
  const slices = { wall: [], cpu: [] }
  const step = CensusPass.prototype.step
  CensusPass.prototype.step = function timedStep(deadline) {
    const started = performance.now()
    const cpuBefore = threadCpuMs()
    try {
      return step.call(this, deadline)
    } finally {
      slices.wall.push(performance.now() - started)
      slices.cpu.push(threadCpuMs() - cpuBefore)
    }
  }
  return slices
}

/** The `q` quantile of `values` (sorted here). */
function quantile(values, q) {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]
}

/**
 * The search child: the service built and serving, the diagnosis of its leak as the watcher
 * takes it, then as long again without leakproof (see part three at the top).
 */
async function searchChild(items, shape) {
  const service = require('./fixtures/search-service')
  const { Diagnosis } = require('../lib/diagnose/diagnosis')
  const { watcherThreadTarget } = require('../lib/watch/leak-targets')
  const { SYSTEM_CLOCK } = require('../lib/shared/clock')
  const slices = timeSlices()
  await service.start(items, shape)
  global.gc()
  const built = { heapBytes: usedHeap(), rss: statusBytes('VmRSS'), modules: Object.keys(require.cache).length, ...service.summary() }
  await report({ event: 'built', ...built })
  const serving = setInterval(() => service.serve(SEARCHES_PER_SEC * SEARCH_BATCH_MS / 1000), SEARCH_BATCH_MS)
  try {
    const heartbeat = new Heartbeat()
    const leakStarted = performance.now()
    await sleep(5_000)
    const slopeBytesPerSec = 200 * SEARCHES_PER_SEC // about 200 bytes a query kept
    // The diagnosis, as leak-response.js starts it when no snapshot can be had.
    const before = { rss: statusBytes('VmRSS'), heap: usedHeap() }
    fs.writeFileSync('/proc/self/clear_refs', '5')
    heartbeat.start()
    const cpu = process.cpuUsage()
    const started = performance.now()
    const reports = []
    const target = watcherThreadTarget(SYSTEM_CLOCK)
    const diagnosis = new Diagnosis({ top: 5, intervalMs: WATCH_INTERVAL_MS }, { emit: (type, fields) => type === 'report' && reports.push(fields), target })
    const leak = { type: 'leak', kind: 'heap', slopeBytesPerSec, since: Date.now() - (performance.now() - leakStarted) }
    const diagnosed = await diagnosis.diagnose(leak, { snapshot: { why: 'memory', detail: 'bench: no room for a snapshot' }, sites: null })
    const wallMs = performance.now() - started
    const processCpuMs = cpuMs(process.cpuUsage(cpu))
    heartbeat.stop()
    const peakRss = statusBytes('VmHWM')
    const during = { longestStopMs: heartbeat.longestStopMs, longestStopCpuMs: heartbeat.longestStopCpuMs, peakRss: heartbeat.peakRss, peakHeap: heartbeat.peakHeap }
    diagnosis.stop()
    // As long again without leakproof: the stops that are the service's own (its GCs) or the machine's.
    heartbeat.start()
    await sleep(wallMs)
    heartbeat.stop()
    global.gc()
    const result = diagnosed ?? reports[0] ?? null
    const first = result?.suspects?.[0] ?? null
    return {
      shape,
      wallMs,
      processCpuMs,
      slices: {
        count: slices.wall.length,
        maxMs: Math.max(0, ...slices.wall),
        p99Ms: quantile(slices.wall, 0.99),
        medianMs: quantile(slices.wall, 0.5),
        maxCpuMs: Math.max(0, ...slices.cpu),
        over10Ms: slices.wall.filter((ms) => ms > 10).length,
      },
      passes: (result?.census?.passes ?? []).map(({ durationMs, cost }) => ({ durationMs, cost })),
      longestStopMs: during.longestStopMs,
      longestStopCpuMs: during.longestStopCpuMs,
      longestStopWithoutMs: heartbeat.longestStopMs,
      extraRss: peakRss - before.rss,
      sampledExtraRss: during.peakRss - before.rss,
      sampledExtraHeap: during.peakHeap - before.heap,
      heldAfterGc: usedHeap() - before.heap,
      first: first && { path: first.readablePath, description: first.holder.description, kind: first.holder.kind, file: first.holder.file, before: first.before, after: first.after },
      named: first !== null && first.readablePath === 'recentSearches' && first.holder.kind === 'module' && path.basename(first.holder.file ?? '') === 'search-service.js',
      notReached: (result?.census?.notReached ?? []).map(({ what, count }) => `${what} (${count})`),
    }
  } finally {
    clearInterval(serving)
    await service.stop()
  }
}

/** The search child (part three), its result reported as one line. */
async function searchChildReported(items, shape) {
  const result = await searchChild(items, shape)
  await report({ event: 'result', node: process.version, kind: 'search', items, ...result })
}

/** Writes one JSON line for the parent, resolving once it is written. */
function report(line) {
  return new Promise((resolve) => process.stdout.write(`${JSON.stringify(line)}\n`, resolve))
}

/** The child: builds the heap, measures `kind`, reports, stops the service. */
async function child(kind, mb) {
  if (kind === 'search') return searchChildReported(mb, process.argv[5])
  const heap = require('./fixtures/census-heap')
  const alive = setInterval(() => {}, 2 ** 30) // the census' timers are unref'd
  try {
    await heap.start(mb * MB)
    global.gc()
    const built = { heapBytes: usedHeap(), rss: statusBytes('VmRSS'), modules: Object.keys(require.cache).length, ...heap.summary() }
    await report({ event: 'built', ...built })
    const measure = { census: censusChild, query: queryChild, snapshot: snapshotChild }[kind]
    const result = await measure(heap)
    await report({ event: 'result', node: process.version, kind, mb, built, ...result })
  } finally {
    clearInterval(alive)
    await heap.stop()
  }
}

// ---------------------------------------------------------------------------------------
// The parent: one child at a time, watched.

/** The bin directory of Node `major` (installed by scripts/node-bin.sh when missing). */
function nodeBin(major) {
  return execFileSync('bash', [path.join(__dirname, '..', 'scripts', 'node-bin.sh'), String(major)], { encoding: 'utf8' }).trim()
}

/**
 * Runs `node args` and resolves with its JSON lines (`lines`), or `{ failed }`, why it did not
 * finish: its time limit (`limitMs`, and `snapshotLimitMs` from its `snapshot-start`
 * line), the RSS limit, a non-zero status. `peakRss` is the highest RSS seen from here.
 */
function runChild(node, args, { limitMs, env = {} }) {
  return new Promise((resolve) => {
    const started = Date.now()
    const child = spawn(node, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } })
    const lines = []
    let stderr = ''
    let failed = null
    let peakRss = 0
    let buffered = ''
    const kill = (why) => {
      failed ??= why
      child.kill('SIGKILL')
    }
    const overall = setTimeout(() => kill(`over its time limit of ${limitMs / 60_000} min`), limitMs)
    let snapshotTimer = null
    const watch = setInterval(() => {
      try {
        const rss = Number(/^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? 0) * 1024
        peakRss = Math.max(peakRss, rss)
        if (rss > RSS_LIMIT) kill(`its RSS passed ${RSS_LIMIT / GiB} GiB`)
      } catch {
        // Gone already.
      }
    }, 250)
    child.stdout.on('data', (chunk) => {
      buffered += chunk
      let at
      while ((at = buffered.indexOf('\n')) !== -1) {
        const line = buffered.slice(0, at)
        buffered = buffered.slice(at + 1)
        if (!line.startsWith('{')) continue
        const parsed = JSON.parse(line)
        lines.push(parsed)
        if (parsed.event === 'snapshot-start') {
          snapshotTimer = setTimeout(() => kill(`the snapshot took over ${SNAPSHOT_LIMIT_MS / 60_000} min`), SNAPSHOT_LIMIT_MS)
        }
      }
    })
    child.stderr.on('data', (chunk) => {
      stderr = (stderr + chunk).slice(-4000)
    })
    child.on('close', (status, signal) => {
      clearTimeout(overall)
      clearTimeout(snapshotTimer)
      clearInterval(watch)
      if (failed === null && status !== 0) failed = `exited with ${status ?? signal}: ${stderr.trim().split('\n').slice(-3).join(' ')}`
      resolve({ lines, failed, peakRss, seconds: (Date.now() - started) / 1000 })
    })
  })
}

/** MemAvailable of the machine, in bytes. */
function memAvailable() {
  return Number(/^MemAvailable:\s+(\d+) kB/m.exec(fs.readFileSync('/proc/meminfo', 'utf8'))[1]) * 1024
}

/** One measurement of part one in its own child: its result line, or `{ failed }`. */
async function measure(node, kind, mb) {
  if (kind === 'snapshot' && memAvailable() < SNAPSHOT_MEMORY_PER_HEAP * mb * MB) {
    return { failed: `skipped: ${(memAvailable() / GiB).toFixed(1)} GiB available, a snapshot of ${mb} MB may need ${(SNAPSHOT_MEMORY_PER_HEAP * mb * MB / GiB).toFixed(1)} GiB` }
  }
  const flags = ['--expose-gc', `--max-old-space-size=${Math.max(4096, 3 * mb)}`]
  const run = await runChild(node, [...flags, __filename, 'child', kind, String(mb)], { limitMs: CHILD_LIMIT_MS[kind] })
  const result = run.lines.find((l) => l.event === 'result')
  const built = run.lines.find((l) => l.event === 'built')
  process.stderr.write(`  ${path.basename(path.dirname(path.dirname(node)))} ${kind} ${mb} MB: ${run.seconds.toFixed(0)} s${run.failed ? `, ${run.failed}` : ''}\n`)
  return result ? { ...result, childPeakRss: run.peakRss } : { failed: run.failed ?? 'no result', built }
}

const f0 = (n) => n.toFixed(0)
const f1 = (n) => n.toFixed(1)
/** `f1`, or '–' where there is no reading (a thread's CPU before Node 23.9: NaN, null in JSON). */
const f1OrNone = (n) => (Number.isFinite(n) ? f1(n) : '–')
const mbOf = (bytes) => f0(bytes / MB)
/** A stop in ms, or in s past 10 s. */
const stop = (ms) => (ms < 10_000 ? f0(ms) : `${f1(ms / 1000)} s`)

function censusTable(rows) {
  const out = [
    '| Node | used heap MB | pass | wall ms | ms in slices | process CPU ms | slices | longest slice ms | GCs (longest ms) | objects visited | inspector calls | extra RSS MB (VmHWM) | extra RSS MB (sampled) | extra heap MB (sampled) | heap MB held after GC | complete |',
    '|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
  ]
  for (const { census } of rows) {
    if (census.failed) {
      out.push(`| | | census failed: ${census.failed} |`)
      continue
    }
    census.passes.forEach((p, i) => {
      const c = p.cost
      out.push(`| ${census.node} | ${mbOf(census.built.heapBytes)} | ${i + 1} | ${f0(p.wallMs)} | ${f0(c.cpuMs)} | ${f0(p.processCpuMs)} | ${c.slices} | ${f1(c.longestSliceMs)} | ${p.gcs} (${f1(p.longestGcMs)}) | ${c.visited.toLocaleString('en-US')} | ${c.inspectorCalls.toLocaleString('en-US')} | ${f1(p.extraRss / MB)} | ${f1(p.sampledExtraRss / MB)} | ${f1(p.sampledExtraHeap / MB)} | ${f1(p.heldAfterGc / MB)} | ${p.complete ? 'yes' : 'no'} |`)
    })
  }
  return out.join('\n')
}

function againstTable(rows) {
  const out = [
    '| Node | used heap MB | census longest slice ms | queryObjects(Map) stop ms (CPU) | snapshot stop (CPU) | queryObjects ÷ slice | snapshot ÷ slice | census extra RSS MB | queryObjects extra RSS MB | full GC extra RSS MB (stop ms) | snapshot extra RSS MB (file MB) | census ÷ snapshot extra RSS | census names first |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
  ]
  for (const { census, query, snapshot } of rows) {
    if (census.failed) continue
    const slice = Math.max(...census.passes.map((p) => p.cost.longestSliceMs))
    const censusRss = Math.max(...census.passes.map((p) => p.extraRss))
    const q = query.failed ? null : query
    const s = snapshot.failed ? null : snapshot
    const first = census.holders[0]
    const named = first ? `${first.path} (${first.before.toLocaleString('en-US')} → ${first.after.toLocaleString('en-US')})` : 'nothing'
    out.push([
      census.node, mbOf(census.built.heapBytes), f1(slice),
      q ? `${stop(q.stopMs)} (${stop(q.cpuMs)})` : query.failed,
      s ? `${stop(s.stopMs)} (${stop(s.cpuMs)})` : snapshot.failed,
      q ? f0(q.stopMs / slice) : '–',
      s ? f0(s.stopMs / slice) : '–',
      f1(censusRss / MB),
      q ? f1(q.extraRss / MB) : '–',
      q ? `${f1(q.gc.extraRss / MB)} (${f0(q.gc.stopMs)})` : '–',
      s ? `${mbOf(s.extraRss)} (${mbOf(s.fileBytes)})` : '–',
      s ? (censusRss / s.extraRss).toFixed(4) : '–',
      named,
    ].join(' | ').replace(/^/, '| ').replace(/$/, ' |'))
  }
  return out.join('\n')
}

async function heapPart() {
  const rows = []
  for (const major of NODES) {
    const node = path.join(nodeBin(major), 'node')
    for (const mb of SIZES_MB) {
      const row = { mb }
      for (const kind of ['census', 'query', 'snapshot']) row[kind] = await measure(node, kind, mb)
      rows.push(row)
    }
  }
  console.log('\n## The census per pass\n')
  console.log(censusTable(rows))
  console.log('\n## Against queryObjects and a heap snapshot (same heap, one child each)\n')
  console.log(againstTable(rows))
  return rows
}

// ---------------------------------------------------------------------------------------
// Part two: the census and the pair on the project's leak fixtures.

const TESTS = path.join(__dirname, '..', '__test__')
/** The fixtures (paths under __test__/), each with its arguments (DIR: a temporary directory) and environment. */
const PAIR_SCENARIOS = [
  { fixture: 'diagnose/fixtures/holder-app.js', args: (dir) => [dir, '2000'] },
  { fixture: 'diagnose/fixtures/holder-main.js', args: (dir) => [dir, '2000'] },
  { fixture: 'diagnose/fixtures/closure-leak.js', args: (dir) => [dir, '20000'] },
  { fixture: 'support/fixtures/express-app.js', args: () => [], env: { BENCH_PAIR_DRIVE: 'express', BENCH_PAIR_REQUESTS: '3000' } },
  // The report tests' run (report/fixtures/leaking-run.js).
  { fixture: 'support/fixtures/leaking-service.js', args: (dir) => [JSON.stringify({ dir, durationMs: 60_000, perSecond: 3000, until: 'report', watch: { snapshotWriter: 'in-process', followUpGrowthBytes: 2 * 1024 * 1024 } })] },
]
/** The project's leaking fixtures with a pair, not run here, and why. */
const PAIR_NOT_RUN = [
  { fixture: 'session-leak.js', why: 'writes one snapshot per process (its pair is two processes, matched by paths): no growth within a process for the census to see' },
]

/** Whether the census' first holder is the variable or property of the pair's first suspect, in the same file. */
function agrees(censusFirst, suspect) {
  if (!censusFirst || !suspect?.holder) return false
  const sameFile = !censusFirst.file || !suspect.holder.file || path.basename(censusFirst.file) === path.basename(suspect.holder.file)
  return censusFirst.path === suspect.holder.name && sameFile
}

async function pairPart() {
  const results = []
  for (const major of NODES) {
    const node = path.join(nodeBin(major), 'node')
    for (const { fixture, args, env = {} } of PAIR_SCENARIOS) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'census-pair-'))
      try {
        const run = await runChild(node, ['-r', path.join(__dirname, 'fixtures', 'census-pair.js'), path.join(TESTS, fixture), ...args(dir)], {
          limitMs: CHILD_LIMIT_MS.pair,
          env: { ...env, BENCH_PAIR_DIR: dir },
        })
        const result = run.lines.find((l) => Array.isArray(l.census))
        process.stderr.write(`  node${major} ${path.basename(fixture)}: ${run.seconds.toFixed(0)} s${run.failed ? `, ${run.failed}` : ''}\n`)
        results.push(result ? { fixture: path.basename(fixture), ...result } : { fixture: path.basename(fixture), node: `v${major}`, failed: run.failed ?? 'no result' })
      } finally {
        fs.rmSync(dir, { recursive: true, force: true })
      }
    }
  }
  console.log('\n## The census and the snapshot pair: first holders\n')
  console.log(pairTable(results))
  return results
}

function pairTable(results) {
  const out = ['| Node | fixture | census: first holder (entries) | pair: first suspect, held by | agree |', '|---|---|---|---|---|']
  for (const r of results) {
    if (r.failed) {
      out.push(`| ${r.node} | ${r.fixture} | failed: ${r.failed} | | |`)
      continue
    }
    const [first] = r.census
    const tied = first ? r.census.filter((h) => h.after - h.before === first.after - first.before).length : 0
    const censusCell = first
      ? `${first.path} (${first.className}, ${first.kind}), ${first.before.toLocaleString('en-US')} → ${first.after.toLocaleString('en-US')}${tied > 1 ? `; tied with ${r.census.slice(1, tied).map((h) => h.path).join(', ')}` : ''}`
      : 'nothing'
    const s = r.suspects[0]
    const pairCell = s ? `${s.name} ×${s.count.toLocaleString('en-US')}, ${s.holder ? `${s.holder.name} (${s.holder.className}, ${s.holder.kind})` : `no holder (held by ${s.heldBy})`}` : 'nothing'
    out.push(`| ${r.node} | ${r.fixture} | ${censusCell} | ${pairCell} | ${agrees(first, s) ? 'agree' : 'disagree'} |`)
  }
  for (const { fixture, why } of PAIR_NOT_RUN) out.push(`| | ${fixture} | not run: ${why} | | |`)
  return out.join('\n')
}

// ---------------------------------------------------------------------------------------
// Part three: the census at a leak on a search service's heap (issue 67).

async function searchPart() {
  const rows = []
  for (const major of NODES) {
    const node = path.join(nodeBin(major), 'node')
    for (const shape of SEARCH_SHAPES) {
      for (const items of SEARCH_ITEMS) {
        const run = await runChild(node, ['--expose-gc', '--max-old-space-size=4096', __filename, 'child', 'search', String(items), shape], { limitMs: CHILD_LIMIT_MS.search })
        const result = run.lines.find((l) => l.event === 'result')
        const built = run.lines.find((l) => l.event === 'built')
        process.stderr.write(`  node${major} search ${shape} ${items}: ${run.seconds.toFixed(0)} s${run.failed ? `, ${run.failed}` : ''}\n`)
        rows.push(result ? { ...result, built, childPeakRss: run.peakRss } : { node: `v${major}`, shape, items, failed: run.failed ?? 'no result', built })
      }
    }
  }
  console.log('\n## The census at a leak on a search service (Diagnosis.diagnose, two passes 20 s apart)\n')
  console.log(searchTable(rows))
  return rows
}

function searchTable(rows) {
  const out = [
    '| Node | catalog | used heap MB | slices (over 10 ms) | slice max / p99 / median ms (max CPU ms) | longest loop stop ms (its CPU ms; without the census) | passes: wall s, in slices ms | process CPU ms | extra RSS MB (VmHWM) | extra heap MB (sampled) | heap MB held after GC (the leak\'s queries included) | first holder | named |',
    '|---|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---|---|',
  ]
  for (const r of rows) {
    if (r.failed) {
      out.push(`| ${r.node} | ${r.shape} of ${r.items.toLocaleString('en-US')} | | failed: ${r.failed} |`)
      continue
    }
    const passes = r.passes.map((p) => `${f1(p.durationMs / 1000)}, ${f0(p.cost.cpuMs)}`).join('; ')
    const first = r.first ? `${r.first.description} (${r.first.before.toLocaleString('en-US')} → ${r.first.after.toLocaleString('en-US')})` : 'nothing'
    out.push(`| ${r.node} | ${r.shape} of ${r.items.toLocaleString('en-US')} | ${mbOf(r.built.heapBytes)} | ${r.slices.count} (${r.slices.over10Ms}) | ${f1(r.slices.maxMs)} / ${f1(r.slices.p99Ms)} / ${f1(r.slices.medianMs)} (${f1OrNone(r.slices.maxCpuMs)}) | ${f1(r.longestStopMs)} (${f1OrNone(r.longestStopCpuMs)}; ${f1(r.longestStopWithoutMs)}) | ${passes} | ${f0(r.processCpuMs)} | ${f1(r.extraRss / MB)} | ${f1(r.sampledExtraHeap / MB)} | ${f1(r.heldAfterGc / MB)} | ${first} | ${r.named ? 'yes' : 'no'} |`)
  }
  return out.join('\n')
}

async function main() {
  const machine = { cpu: os.cpus()[0]?.model, cores: os.cpus().length, memoryGiB: Math.round(os.totalmem() / GiB), load: os.loadavg()[0] }
  console.log(JSON.stringify({ ...machine, nodes: NODES, sizesMB: SIZES_MB, searchItems: SEARCH_ITEMS, searchShapes: SEARCH_SHAPES }))
  const results = { machine }
  if (PARTS.includes('heap')) results.heap = await heapPart()
  if (PARTS.includes('pairs')) results.pairs = await pairPart()
  if (PARTS.includes('search')) results.search = await searchPart()
  results.loadAfter = os.loadavg()[0]
  console.log(`\nload average before ${machine.load.toFixed(1)}, after ${results.loadAfter.toFixed(1)}`)
  return results
}

if (process.argv[2] === 'child') {
  // Exits once reported: a package's handle left open must not hold the child to its time limit.
  child(process.argv[3], Number(process.argv[4])).then(() => process.exit(0), (err) => {
    console.error(err)
    process.exit(1)
  })
} else if (require.main === module) {
  main().catch((err) => {
    console.error(err)
    process.exitCode = 1
  })
}

module.exports = { main }

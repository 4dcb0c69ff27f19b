'use strict'

/**
 * `node bench/snapshot-memory.js` (Linux, root, cgroup v1's memory controller): what a heap
 * snapshot written by leakproof's forked child costs the memory cgroup that holds the service,
 * and where it goes. For each heap size, one bench/fixtures/snapshot-memory-service.js (a
 * search service's catalog, served under light loopback load from a process outside the
 * cgroup) is put in a cgroup of its own and writes one snapshot per variant, one after another:
 *
 * - *cgroup peak*: `memory.max_usage_in_bytes` (reset just before the fork) less the usage
 *   before it, and its `rss` and `cache` peaks from `memory.stat` (anonymous memory; the
 *   written file's page cache);
 * - *child VmHWM*, and the child's *private peak* (smaps_rollup Private_Dirty + Private_Clean:
 *   what it wrote itself, its GC's copies, and the originals of the pages the service wrote
 *   meanwhile);
 * - *service copy-on-write*: the growth of the service's Private_Dirty while the child ran;
 * - the file, the child's time and the service's stop (`stopMs`).
 *
 * Variants (BENCH_SNAPSHOT_MEMORY_VARIANTS, space-separated, default `as-shipped`): `as-shipped`;
 * `as-was`, no child flags and the file left in the page cache (the writer before both);
 * `no-flags`, no child flags; `keep-cache`, the file left in the page cache; `flags:--a,--b`,
 * these child flags; `as-was+flags:--a,--b`, these flags and the file left in the page cache;
 * `in-process`, `v8.writeHeapSnapshot` in the service itself. BENCH_SNAPSHOT_MEMORY_MB: heap sizes (default `100,300,1000`).
 * BENCH_SNAPSHOT_MEMORY_NODES=1 also counts each file's nodes with leakproof's analyzer (same
 * heap, so the counts must agree across variants). A child is killed when the machine's
 * MemAvailable falls under 3 GiB. Results are appended to bench/out/snapshot-memory.jsonl;
 * `--table [FILE]` prints them again.
 */
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { fork } = require('node:child_process')

const OUT_FILE = path.join(__dirname, 'out', 'snapshot-memory.jsonl')
const SERVICE = path.join(__dirname, 'fixtures', 'snapshot-memory-service.js')
const LOAD = path.join(__dirname, 'fixtures', 'fork-load.js')
const CGROUP_ROOT = '/sys/fs/cgroup/memory'
const KILL_BELOW_BYTES = 3 * 2 ** 30
const SAMPLE_MS = 250
/** Requests a second the service serves while it is measured: a light load, which leaves the child CPU. */
const LOAD_PER_SECOND = 200

const kb = (text, name) => {
  const match = new RegExp(`^${name}:?\\s+(\\d+)`, 'm').exec(text)
  return match === null ? null : Number(match[1]) * (name.startsWith('total_') || /^(rss|cache)$/.test(name) ? 1 : 1024)
}
const read = (file) => {
  try {
    return fs.readFileSync(file, 'utf8')
  } catch {
    return null
  }
}

/** Samples the cgroup, the child and the service until `stop()`; returns the peaks. */
function sampler(cgroup, servicePid) {
  const peaks = { cgroupRss: 0, cgroupCache: 0, childHwm: 0, childPrivate: 0, serviceDirtyLow: Infinity, serviceDirtyHigh: 0, killed: false }
  let childPid = null
  let smapsDueAt = 0
  const timer = setInterval(() => {
    const stat = read(path.join(cgroup, 'memory.stat')) ?? ''
    peaks.cgroupRss = Math.max(peaks.cgroupRss, kb(stat, 'rss'))
    peaks.cgroupCache = Math.max(peaks.cgroupCache, kb(stat, 'cache'))
    if (childPid === null) return
    const status = read(`/proc/${childPid}/status`)
    if (status === null || /^State:\s+Z/m.test(status)) return
    peaks.childHwm = Math.max(peaks.childHwm, kb(status, 'VmHWM'))
    if (kb(read('/proc/meminfo'), 'MemAvailable') < KILL_BELOW_BYTES) {
      process.kill(childPid, 'SIGKILL')
      peaks.killed = true
    }
    const now = Date.now()
    if (now < smapsDueAt) return
    // smaps_rollup walks the page tables: 0.1-0.3 s for some GB; at most a fifth of the time.
    const child = read(`/proc/${childPid}/smaps_rollup`)
    if (child !== null) peaks.childPrivate = Math.max(peaks.childPrivate, kb(child, 'Private_Dirty') + kb(child, 'Private_Clean'))
    const service = read(`/proc/${servicePid}/smaps_rollup`)
    if (service !== null) {
      peaks.serviceDirtyLow = Math.min(peaks.serviceDirtyLow, kb(service, 'Private_Dirty'))
      peaks.serviceDirtyHigh = Math.max(peaks.serviceDirtyHigh, kb(service, 'Private_Dirty'))
    }
    smapsDueAt = now + Math.max(1000, 5 * (Date.now() - now))
  }, SAMPLE_MS)
  return {
    child: (pid) => (childPid = pid),
    stop: () => {
      clearInterval(timer)
      return peaks
    },
  }
}

function variantOf(name) {
  if (name === 'as-shipped') return {}
  if (name === 'as-was') return { flags: [], dropPageCache: false }
  if (name === 'no-flags') return { flags: [] }
  if (name === 'keep-cache') return { dropPageCache: false }
  if (name === 'in-process') return { inProcess: true }
  if (name.startsWith('flags:')) return { flags: name.slice(6).split(',') }
  if (name.startsWith('as-was+flags:')) return { flags: name.slice(13).split(','), dropPageCache: false }
  throw new Error(`unknown variant ${name}`)
}

async function measureHeap(heapMb, variants, countNodes) {
  const cgroup = path.join(CGROUP_ROOT, `leakproof-snapmem-${process.pid}-${heapMb}`)
  fs.mkdirSync(cgroup, { recursive: true })
  const dir = fs.mkdtempSync(path.join('/tmp/snapmem', 'run-'))
  const service = fork(SERVICE, [String(heapMb), dir], { execArgv: ['--max-old-space-size=8192'], stdio: 'inherit' })
  fs.writeFileSync(path.join(cgroup, 'cgroup.procs'), String(service.pid))
  const messages = []
  const waiters = new Set()
  let current = null // the sampler of the snapshot being written
  service.on('message', (m) => {
    if ('child' in m) return current?.child(m.child)
    messages.push(m)
    for (const wake of waiters) wake()
    waiters.clear()
  })
  const next = async (key) => {
    for (;;) {
      const i = messages.findIndex((m) => key in m)
      if (i >= 0) return messages.splice(i, 1)[0]
      await new Promise((resolve) => waiters.add(resolve))
    }
  }
  service.send({ build: true })
  const ready = await next('ready')
  const load = fork(LOAD, [String(ready.port), String(LOAD_PER_SECOND)], { stdio: 'ignore' })
  await new Promise((resolve) => setTimeout(resolve, 5000))
  const rows = []
  for (const name of variants) {
    const usageBefore = Number(read(path.join(cgroup, 'memory.usage_in_bytes')))
    fs.writeFileSync(path.join(cgroup, 'memory.max_usage_in_bytes'), '0')
    current = sampler(cgroup, service.pid)
    service.send({ snapshot: variantOf(name) })
    const { done } = await next('done')
    const peaks = current.stop()
    const max = Number(read(path.join(cgroup, 'memory.max_usage_in_bytes')))
    let nodes = null
    if (countNodes && done.bytes > 0) nodes = (await require('..').analyzeSnapshot(done.path, { top: 1 })).nodes
    fs.rmSync(done.path, { force: true })
    const row = {
      heapMb,
      variant: name,
      heapUsed: done.heapUsed,
      liveHeapBytes: done.liveHeapBytes ?? null,
      predictedBytes: done.predicted.bytes,
      bytes: done.bytes ?? null,
      skipped: done.skipped ?? null,
      stopMs: done.stopMs ?? done.pauseMs,
      childMs: done.childMs ?? null,
      childPeakRssBytes: done.childPeakRssBytes ?? peaks.childHwm,
      childPrivateBytes: peaks.childPrivate,
      serviceCowBytes: peaks.serviceDirtyHigh > 0 ? peaks.serviceDirtyHigh - peaks.serviceDirtyLow : null,
      cgroupBefore: usageBefore,
      cgroupPeakGrowth: max - usageBefore,
      cgroupRssPeak: peaks.cgroupRss,
      cgroupCachePeak: peaks.cgroupCache,
      killed: peaks.killed,
      nodes,
      at: new Date().toISOString(),
      node: process.version,
    }
    fs.appendFileSync(OUT_FILE, JSON.stringify(row) + '\n')
    console.log(table([row]))
    rows.push(row)
  }
  load.kill()
  service.send({ exit: true })
  await new Promise((resolve) => service.once('exit', resolve))
  fs.rmSync(dir, { recursive: true, force: true })
  fs.rmdirSync(cgroup)
  return rows
}

const GB = (x) => (Number.isFinite(x) ? (x / 1e9).toFixed(2) : '-')
const MB = (x) => (Number.isFinite(x) ? Math.round(x / 1e6) : '-')

/** One row per snapshot, the ratios against the live heap. */
function table(rows) {
  const out = [
    '| heap MB | variant | file MB | stop ms | child s | child VmHWM GB | child private GB | service COW MB | cgroup peak − before GB | cgroup rss / cache peak GB | ÷ live heap (private, cgroup) | nodes |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
  ]
  for (const r of rows) {
    const live = r.liveHeapBytes ?? r.heapUsed
    out.push(
      `| ${MB(live)} | ${r.variant}${r.skipped ? ` (${r.skipped})` : ''}${r.killed ? ' (killed)' : ''} | ${MB(r.bytes)} | ${Math.round(r.stopMs)} | ${r.childMs === null ? '-' : (r.childMs / 1e3).toFixed(0)} | ${GB(r.childPeakRssBytes)} | ${GB(r.childPrivateBytes)} | ${MB(r.serviceCowBytes)} | ${GB(r.cgroupPeakGrowth)} | ${GB(r.cgroupRssPeak)} / ${GB(r.cgroupCachePeak)} | ${(r.childPrivateBytes / live).toFixed(1)}, ${(r.cgroupPeakGrowth / live).toFixed(1)} | ${r.nodes ?? '-'} |`,
    )
  }
  return out.join('\n')
}

async function main() {
  if (process.argv[2] === '--table') {
    return console.log(table(fs.readFileSync(process.argv[3] ?? OUT_FILE, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l))))
  }
  fs.mkdirSync(path.dirname(OUT_FILE), { recursive: true })
  fs.mkdirSync('/tmp/snapmem', { recursive: true })
  const sizes = (process.env.BENCH_SNAPSHOT_MEMORY_MB ?? '100,300,1000').split(',').map(Number)
  const variants = (process.env.BENCH_SNAPSHOT_MEMORY_VARIANTS ?? 'as-shipped').split(' ')
  const rows = []
  for (const mb of sizes) rows.push(...(await measureHeap(mb, variants, process.env.BENCH_SNAPSHOT_MEMORY_NODES === '1')))
  console.log(`\n${os.cpus().length} cores, ${GB(os.totalmem())} GB, ${process.version}\n${table(rows)}`)
}

if (require.main === module) main()

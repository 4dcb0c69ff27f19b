'use strict'

/**
 * Heap-snapshot analysis, leakproof against memlab, each run in its own child process.
 *
 *   node bench/analyze.js [--sizes 1000000,4000000] [--runs 1]
 *
 * Generates snapshots of about 120 MB and 480 MB (a heap of ~N small objects, as in the
 * anchors) under bench/out/ unless they exist, then times, per file: leakproof's
 * `analyzeSnapshot` (parse + dominators + retained sizes + class summary + top-10 paths) and
 * memlab's `getFullHeapFromFile` (parse + dominators + retained sizes) plus the same
 * per-class aggregation. Reports wall time, peak RSS (VmHWM) and the ratios.
 */
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')

const OUT = path.join(__dirname, 'out')

function peakRssMB() {
  const m = fs.readFileSync('/proc/self/status', 'utf8').match(/VmHWM:\s+(\d+) kB/)
  return m ? Math.round(Number(m[1]) / 1024) : NaN
}

/** Child: builds a heap of about `n` small objects and writes a snapshot of it. */
function generate(n, out) {
  const v8 = require('node:v8')
  class Session {
    constructor(id) {
      this.id = id
      this.user = { name: 'u' + id, tags: ['a', 'b'] }
      this.created = Date.now()
    }
  }
  const cache = new Map()
  const listeners = []
  for (let i = 0; i < n / 4; i++) {
    cache.set('k' + i, new Session(i))
    if (i % 10 === 0) listeners.push(() => cache.get('k' + i))
  }
  globalThis.keep = { cache, listeners, bufs: Array.from({ length: 1000 }, (_, i) => Buffer.alloc(1024, i)) }
  v8.writeHeapSnapshot(out)
}

/** Child: one analysis, printed as JSON. */
async function measure(tool, file) {
  const t0 = process.hrtime.bigint()
  let nodes
  let classes
  if (tool === 'leakproof') {
    const { analyzeSnapshot } = require('..')
    const r = await analyzeSnapshot(file)
    nodes = r.nodes
    classes = r.classes.length
  } else {
    const { getFullHeapFromFile } = require('@memlab/heap-analysis')
    const heap = await getFullHeapFromFile(file)
    const agg = new Map()
    heap.nodes.forEach((n) => {
      const a = agg.get(n.name) ?? { count: 0, self: 0, retained: 0 }
      a.count++
      a.self += n.self_size
      a.retained += n.retainedSize
      agg.set(n.name, a)
    })
    nodes = heap.nodes.length
    classes = agg.size
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6
  process.stdout.write(JSON.stringify({ ms: Math.round(ms), peakRssMB: peakRssMB(), nodes, classes }))
}

function child(args, extraNodeArgs = []) {
  const out = execFileSync(process.execPath, [...extraNodeArgs, __filename, '--child', ...args], {
    encoding: 'utf8',
    maxBuffer: 1 << 20,
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  return out ? JSON.parse(out) : undefined
}

async function main() {
  const argv = process.argv.slice(2)
  if (argv[0] === '--child') {
    if (argv[1] === 'generate') return generate(Number(argv[2]), argv[3])
    return measure(argv[1], argv[2])
  }
  const opt = (name, dflt) => {
    const i = argv.indexOf(name)
    return i === -1 ? dflt : argv[i + 1]
  }
  const sizes = opt('--sizes', '1000000,4000000').split(',').map(Number)
  const runs = Number(opt('--runs', '1'))
  fs.mkdirSync(OUT, { recursive: true })
  console.log(JSON.stringify({
    date: new Date().toISOString(),
    node: process.version,
    cpu: os.cpus()[0]?.model,
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    loadavg: os.loadavg().map((l) => l.toFixed(2)),
  }))
  const rows = []
  for (const n of sizes) {
    const file = path.join(OUT, `objects-${n}.heapsnapshot`)
    if (!fs.existsSync(file)) {
      process.stderr.write(`generating ${path.relative(process.cwd(), file)}...\n`)
      child(['generate', String(n), file], ['--max-old-space-size=8192'])
    }
    const mb = fs.statSync(file).size / 1e6
    const best = (tool) => {
      let r
      for (let i = 0; i < runs; i++) {
        const m = child([tool, file], ['--max-old-space-size=16384'])
        if (!r || m.ms < r.ms) r = m
      }
      return r
    }
    const ours = best('leakproof')
    const memlab = best('memlab')
    const row = {
      file: path.basename(file),
      fileMB: Math.round(mb),
      nodes: ours.nodes,
      leakproofMs: ours.ms,
      memlabMs: memlab.ms,
      speedup: +(memlab.ms / ours.ms).toFixed(1),
      leakproofPeakMB: ours.peakRssMB,
      memlabPeakMB: memlab.peakRssMB,
      memoryRatio: +(ours.peakRssMB / memlab.peakRssMB).toFixed(2),
    }
    console.log(JSON.stringify(row))
    rows.push(row)
  }
  console.log('\n| file | MB | nodes | leakproof | memlab | speedup | leakproof peak RSS | memlab peak RSS | ratio |')
  console.log('|---|---|---|---|---|---|---|---|---|')
  for (const r of rows) {
    console.log(
      `| ${r.file} | ${r.fileMB} | ${r.nodes.toLocaleString('en-US')} | ${(r.leakproofMs / 1000).toFixed(2)} s | ${(r.memlabMs / 1000).toFixed(2)} s | ${r.speedup}× | ${r.leakproofPeakMB} MB | ${r.memlabPeakMB} MB | ${r.memoryRatio} |`,
    )
  }
  fs.writeFileSync(path.join(OUT, 'analyze.json'), JSON.stringify(rows, null, 2))
}

main().catch((err) => {
  console.error(err)
  process.exitCode = 1
})

'use strict'

/**
 * `node bench/snapshot-cost.js`: SnapshotCost's predictions against real heap snapshots.
 *
 * Every case (Node version, heap shape, size) runs in its own child process under
 * --expose-gc: it builds a heap of one shape to a target used heap, takes the floor
 * (`gc()`, then `used_heap_size`), asks SnapshotCost for a prediction, writes a real
 * snapshot with `v8.writeHeapSnapshot` to a temporary directory and measures its file size,
 * the pause (`performance.now()` around the call), the event-loop stall
 * (`monitorEventLoopDelay`'s max), the process's CPU time meanwhile (all its threads: above
 * the pause when V8's helpers work, below it when other work shares the cores) and the
 * memory the write needed above the RSS before it (peak RSS reset through
 * /proc/self/clear_refs, VmHWM read after). Then it teaches
 * SnapshotCost that snapshot with `learn()` and writes a second one to show the learned
 * prediction. Files are deleted as soon as they are measured. One run per case.
 *
 * Shapes: `records` (many small request-log-like objects), `maps` (Maps of 1,000 objects),
 * `closures`, `strings` (100 KB strings), `buffers` (16 KB Buffers: their bytes are outside
 * the heap, so their size is the Buffers' total and the heap stays small), `numbers` (arrays
 * of 20,000 boxed doubles and of 20,000 unboxed ones) and `mixed` (a service-like blend).
 *
 * Environment: BENCH_SNAPSHOT_ONLY, a regular expression on "node<major> <shape> <MB>"
 * (e.g. '^node24 (records|mixed) 100$'), picks cases; every case by default, which takes
 * about an hour on 2 cores. Each result is appended, as a JSON line, to
 * bench/out/snapshot-cost.jsonl; `node bench/snapshot-cost.js --table [FILE]` prints the
 * table of a file of results without measuring.
 */
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawnSync } = require('node:child_process')

const MB = 1e6
const SHAPES = ['records', 'maps', 'closures', 'strings', 'buffers', 'numbers', 'mixed']
const OUT_FILE = path.join(__dirname, 'out', 'snapshot-cost.jsonl')
const NODE_BIN_SCRIPT = path.join(__dirname, '..', 'scripts', 'node-bin.sh')

/** The cases, the longest first so that their end is in sight: [node major, shape, heap MB]. */
function allCases() {
  const cases = [
    [24, 'records', 1000],
    [24, 'mixed', 1000],
  ]
  for (const major of [24, 20]) {
    for (const mb of [20, 100, 300]) for (const shape of SHAPES) cases.push([major, shape, mb])
  }
  for (const major of [22, 26]) {
    for (const mb of [100, 300]) for (const shape of ['records', 'mixed']) cases.push([major, shape, mb])
  }
  return cases
}

// ---------------------------------------------------------------------------------------
// The child: one heap, two snapshots.

/** Makers of one unit of each shape; a unit is stored in `keep` and returns nothing. */
const UNIT_MAKERS = {
  records: (keep, i) => keep.push(makeRecord(i)),
  maps: (keep, i) => {
    const map = new Map()
    for (let j = 0; j < 1000; j++) map.set(`user:${i}:${j}`, { id: j, name: `name ${j}`, seen: Date.now(), hits: j % 17 })
    keep.push(map)
  },
  closures: (keep, i) => keep.push(makeClosure(i)),
  strings: (keep, i) => keep.push(bigString(i, 100_000)),
  buffers: (keep, i) => keep.push(Buffer.alloc(16 * 1024, i & 0xff)),
  numbers: (keep, i) => keep.push(numberArrays(i)),
  mixed: (keep, i) => MIXED_MAKERS[i % MIXED_MAKERS.length](keep, i),
}

/** Shapes whose every unit is big enough to check the size after each. */
const LARGE_UNIT_SHAPES = new Set(['maps', 'strings', 'buffers', 'numbers'])

/** The service-like blend: a cache of records, handlers' closures, sessions, payloads, metrics. */
const MIXED_MAKERS = [
  (keep, i) => keep.push(makeRecord(i)),
  (keep, i) => keep.push(makeRecord(i)),
  (keep, i) => keep.push(makeRecord(i)),
  (keep, i) => keep.push(makeClosure(i)),
  (keep, i) => keep.push(new Map([[`session:${i}`, makeRecord(i)], [`token:${i}`, { scopes: ['read', 'write'], exp: i }]])),
  (keep, i) => keep.push(bigString(i, 200 + (i % 2_000))),
  (keep, i) => keep.push(Buffer.alloc(1024 + (i % 4096), i & 0xff)),
  (keep, i) => keep.push(Array.from({ length: 64 }, (_, j) => i * 0.5 + j / 3)),
]

function makeRecord(i) {
  return {
    ts: 1_700_000_000_000 + i,
    method: i % 5 === 0 ? 'POST' : 'GET',
    url: `/api/v1/users/${i % 100_000}/orders?page=${i % 50}`,
    status: i % 23 === 0 ? 500 : 200,
    durationMs: (i % 1000) / 7,
    headers: { 'user-agent': `client/${i % 40}`, 'x-request-id': `req-${i.toString(36)}` },
    userId: i % 100_000,
  }
}

function makeClosure(i) {
  const label = `handler ${i}`
  const state = { calls: 0, last: i }
  return function handle(x) {
    state.calls++
    return label.length + x + state.last
  }
}

/** A flat one-byte string of `length` characters, unique by its prefix. */
function bigString(i, length) {
  return `${i}:` + Buffer.alloc(length, 97 + (i % 26)).toString('latin1')
}

/** An array of boxed doubles (heap numbers) and one of unboxed doubles, 20,000 each. */
function numberArrays(i) {
  const boxed = ['first'] // a non-number first: every element after it is a heap number
  const unboxed = []
  for (let j = 0; j < 20_000; j++) {
    boxed.push(i + j + 0.25)
    unboxed.push(i - j - 0.5)
  }
  return { boxed, unboxed }
}

/** What a case counts towards its target: the used heap, or for Buffers their bytes. */
function measuredSize(shape) {
  const heap = require('node:v8').getHeapStatistics().used_heap_size
  return shape === 'buffers' ? heap + process.memoryUsage().arrayBuffers : heap
}

/** Builds `shape` until the collected heap (or the Buffers) reach `targetBytes`. */
function buildHeap(shape, targetBytes) {
  const keep = []
  const make = UNIT_MAKERS[shape]
  const perCheck = LARGE_UNIT_SHAPES.has(shape) ? 1 : 256
  let i = 0
  for (;;) {
    while (measuredSize(shape) < targetBytes) {
      for (let n = 0; n < perCheck; n++) make(keep, i++)
    }
    global.gc()
    if (measuredSize(shape) >= targetBytes * 0.98) return keep
  }
}

function procStatusKiB(field) {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync('/proc/self/status', 'utf8'))
  return Number(match[1])
}

/**
 * Writes one snapshot to `dir` and measures it: file bytes, pause, event-loop stall and the
 * peak RSS above the RSS before. Resolves after the loop has run again (for the stall).
 */
async function measureSnapshot(dir, name) {
  const { monitorEventLoopDelay, performance } = require('node:perf_hooks')
  const v8 = require('node:v8')
  const loop = monitorEventLoopDelay({ resolution: 10 })
  loop.enable()
  await new Promise((resolve) => setTimeout(resolve, 50))
  fs.writeFileSync('/proc/self/clear_refs', '5')
  const rssBefore = procStatusKiB('VmRSS') * 1024
  const start = performance.now()
  const cpuStart = process.cpuUsage()
  const file = v8.writeHeapSnapshot(path.join(dir, name))
  const durationMs = performance.now() - start
  const cpu = process.cpuUsage(cpuStart)
  const peakRss = procStatusKiB('VmHWM') * 1024
  await new Promise((resolve) => setTimeout(resolve, 50))
  loop.disable()
  const bytes = fs.statSync(file).size
  fs.rmSync(file)
  return { bytes, durationMs, cpuMs: (cpu.user + cpu.system) / 1000, stallMs: loop.max / 1e6, extraRss: peakRss - rssBefore }
}

/** The floor of the used heap: after a full collection. */
function heapFloor() {
  global.gc()
  return require('node:v8').getHeapStatistics().used_heap_size
}

/** The child's work: builds, predicts, measures, learns, predicts and measures again. */
async function runCase(shape, targetMB) {
  const { SnapshotCost, largeObjectShare } = require('../lib/capture/snapshot-cost')
  const keep = buildHeap(shape, targetMB * MB)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'snapshot-cost-'))
  try {
    const cost = new SnapshotCost()
    const heap = heapFloor()
    const external = process.memoryUsage().arrayBuffers
    const largeShare = largeObjectShare()
    const predicted = cost.predict(heap)
    const real = await measureSnapshot(dir, 'first.heapsnapshot')
    cost.learn(predicted, real)
    const heapAgain = heapFloor()
    const learned = cost.predict(heapAgain)
    const realAgain = await measureSnapshot(dir, 'second.heapsnapshot')
    return { node: process.versions.node, shape, targetMB, heap, heapAgain, external, largeShare, predicted, real, learned, realAgain, kept: keep.length }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

// ---------------------------------------------------------------------------------------
// The parent: one child per case, then the table.

/** Runs one case in a child process on Node `major`; its result, or undefined when it failed. */
function spawnCase(major, shape, mb) {
  const bin = spawnSync('bash', [NODE_BIN_SCRIPT, String(major)], { encoding: 'utf8' }).stdout.trim()
  const args = ['--expose-gc', '--max-old-space-size=6144', __filename, '--case', shape, String(mb)]
  const child = spawnSync(path.join(bin, 'node'), args, { encoding: 'utf8', maxBuffer: 1 << 20 })
  if (child.status !== 0) {
    console.error(`node${major} ${shape} ${mb}: failed with status ${child.status}\n${child.stderr}`)
    return undefined
  }
  return JSON.parse(child.stdout)
}

const fmtMB = (bytes) => (bytes / MB).toFixed(bytes < 10 * MB ? 1 : 0)
const fmtRatio = (x) => x.toFixed(2)
const fmtMs = (ms) => (ms < 100 ? ms.toFixed(0) : ms < 10_000 ? `${(ms / 1000).toFixed(2)} s` : `${(ms / 1000).toFixed(1)} s`)

const COLUMNS = [
  ['node', (r) => r.node.split('.')[0]],
  ['shape', (r) => r.shape],
  ['heap MB', (r) => fmtMB(r.heap) + (r.shape === 'buffers' ? ` (+${fmtMB(r.external)} ext)` : '')],
  ['predicted MB', (r) => fmtMB(modelNow(r).bytes)],
  ['real MB', (r) => fmtMB(r.real.bytes)],
  ['size ratio', (r) => fmtRatio(modelNow(r).bytes / r.real.bytes)],
  ['in the run', (r) => fmtRatio(r.predicted.bytes / r.real.bytes)],
  ['predicted pause', (r) => fmtMs(modelNow(r).pauseMs)],
  ['real pause', (r) => fmtMs(r.real.durationMs)],
  ['CPU', (r) => (r.real.cpuMs === undefined ? '–' : fmtMs(r.real.cpuMs))],
  ['pause ratio', (r) => fmtRatio(modelNow(r).pauseMs / r.real.durationMs)],
  ['to CPU', (r) => (r.real.cpuMs === undefined ? '–' : fmtRatio(modelNow(r).pauseMs / r.real.cpuMs))],
  ['learned size ratio', (r) => fmtRatio(r.learned.bytes / r.realAgain.bytes)],
  ['learned pause ratio', (r) => fmtRatio(r.learned.pauseMs / r.realAgain.durationMs)],
  ['extra peak RSS / heap', (r) => fmtRatio(Math.max(r.real.extraRss, r.realAgain.extraRss) / r.heap)],
  ['loop stall − pause', (r) => fmtMs(r.real.stallMs - r.real.durationMs)],
]

/** What lib/capture/snapshot-cost.js's model says now for a measured case (its constants may have moved since). */
function modelNow(r) {
  const { modelFileBytes, modelPauseMs } = require('../lib/capture/snapshot-cost')
  const bytes = modelFileBytes(r.heap, r.largeShare)
  return { bytes, pauseMs: modelPauseMs(bytes, Number(r.node.split('.')[0])) }
}

/**
 * The results as a Markdown table (ratios are predicted / real: above 1 overestimates). The
 * predictions are the model's in this checkout for the measured heaps; "in the run" is the
 * size ratio of what SnapshotCost predicted when the case ran; the learned ratios are the
 * second snapshot's, predicted after `learn()` from the first.
 */
function table(results) {
  const lines = [`| ${COLUMNS.map(([name]) => name).join(' | ')} |`, `|${COLUMNS.map(() => '---').join('|')}|`]
  for (const r of results) lines.push(`| ${COLUMNS.map(([, cell]) => cell(r)).join(' | ')} |`)
  return lines.join('\n')
}

function readResults(file) {
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line))
}

/** Runs the selected cases one at a time (the machine has few cores) and prints the table. */
function main() {
  const only = new RegExp(process.env.BENCH_SNAPSHOT_ONLY || '.')
  fs.mkdirSync(path.dirname(OUT_FILE), { recursive: true })
  const results = []
  for (const [major, shape, mb] of allCases()) {
    if (!only.test(`node${major} ${shape} ${mb}`)) continue
    const result = spawnCase(major, shape, mb)
    if (!result) continue
    fs.appendFileSync(OUT_FILE, JSON.stringify(result) + '\n')
    console.log(`node${major} ${shape} ${mb}: done at ${new Date().toISOString()}`)
    results.push(result)
  }
  console.log(table(results))
  return { results, file: OUT_FILE }
}

if (require.main === module) {
  const [flag, ...rest] = process.argv.slice(2)
  if (flag === '--case') {
    runCase(rest[0], Number(rest[1])).then((result) => process.stdout.write(JSON.stringify(result)))
  } else if (flag === '--table') {
    console.log(table(readResults(rest[0] ?? OUT_FILE)))
  } else {
    main()
  }
}

module.exports = { main }

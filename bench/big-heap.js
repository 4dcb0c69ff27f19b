'use strict'

/**
 * Big heaps: floors without long stops (issue 67). For each heap size, a busy service with a
 * catalog of that size and a leak of 0.5 MB/s from 30 s on (fixtures/catalog-floors.js),
 * once per way of getting floors, one child after another:
 *
 * - `leakproof`: `watch()` at its defaults (census and sites off, no dir), forced GCs included;
 * - `gc() every 10 s`: the naive way, an exposed `gc()` every 10 s and the used heap read after
 *   it; its leak is judged by `watch({ forceGc: false })` beside it, whose floors are then
 *   those gc() calls' and V8's own;
 * - `V8 alone`: `watch({ forceGc: false })`, floors from V8's own full GCs only.
 *
 * For each: the loop's longest stop and 99th percentile as a 1 ms heartbeat timer saw them,
 * and the GC behind the longest; the stops of the floors forced (the watcher's `gcPauseMs`
 * and `gcDurationMs`, or gc()'s own time); floors a minute (the watcher's `sample` events);
 * and the time from the leak's start to its `leak` event. Then, per size, leakproof's longest
 * stop over gc()'s.
 *
 * Environment: BENCH_BIG_HEAP_MB (sizes, default `100,1000,3000`), BENCH_BIG_HEAP_MS (each
 * run's bound from the end of the build, default 240 s; a run ends 30 s after the leak's report),
 * BENCH_BIG_HEAP_MODES (default `leakproof,gc,v8`). Each child's record goes to
 * bench/out/big-heap-<node>-<time>.json; BENCH_BIG_HEAP_RECORDS=<that file> prints its tables
 * again without running.
 */
const { execFile } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { promisify } = require('node:util')

const SIZES_MB = (process.env.BENCH_BIG_HEAP_MB ?? '100,1000,3000').split(',').map(Number)
const RUN_MS = Number(process.env.BENCH_BIG_HEAP_MS) || 240_000
const MODES = (process.env.BENCH_BIG_HEAP_MODES ?? 'leakproof,gc,v8').split(',')
const MODE_NAMES = { leakproof: 'leakproof', gc: 'gc() every 10 s', v8: 'V8 alone' }
/** Heaps this big get an old generation of 6 GB: the default on 24 GiB (about 4 GB) leaves them too little room. */
const BIG_LIMIT_FROM_MB = 2000
const BIG_LIMIT_MB = 6144

/** Runs one child: `mode` on a heap of `heapMb`; resolves to its record. */
async function runChild(mode, heapMb) {
  const flags = heapMb >= BIG_LIMIT_FROM_MB ? [`--max-old-space-size=${BIG_LIMIT_MB}`] : []
  const { stdout } = await promisify(execFile)(process.execPath, [...flags, path.join(__dirname, 'fixtures', 'catalog-floors.js'), mode, String(heapMb), String(RUN_MS)], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    timeout: RUN_MS + 180_000,
  })
  return { flags, ...JSON.parse(stdout.trim().split('\n').at(-1)) }
}

const ms = (v) => (v === null || v === undefined ? '-' : `${Math.round(v)} ms`)
const max = (values) => (values.length === 0 ? null : Math.max(...values))
const median = (values) => {
  if (values.length === 0) return null
  const s = [...values].sort((a, b) => a - b)
  return s[Math.floor((s.length - 1) / 2)]
}

/** The GC behind a stop, as named in the table. */
function stopCause(stop) {
  if (!stop) return ''
  const gc = stop.gcs.toSorted((a, b) => b.ms - a.ms)[0]
  return gc ? `${gc.kind}${gc.forced ? ' (forced)' : ''} GC ${Math.round(gc.ms)} ms at ${(stop.at / 1000).toFixed(0)} s` : `no GC, at ${(stop.at / 1000).toFixed(0)} s`
}

/** The row of one child's record. */
function row(r) {
  const forced = r.samples.filter((s) => s.forcedGc)
  const floorsPerMin = (r.samples.length / r.runMs) * 60_000
  const hit = r.leaks.find((l) => l.kind === 'heap' && l.at >= r.leakAfterMs)
  const falseAlarms = r.leaks.filter((l) => l.at < r.leakAfterMs)
  let floorStops
  if (r.mode === 'gc') {
    const times = r.gcCalls.map((c) => c.ms)
    floorStops = `${r.gcCalls.length} gc(): longest ${ms(max(times))}, median ${ms(median(times))}`
  } else if (r.mode === 'leakproof') {
    floorStops = forced.length === 0
      ? 'none forced'
      : `${forced.length} forced (${reasons(forced)}): pause longest ${ms(max(forced.map((s) => s.gcPauseMs)))}, duration longest ${ms(max(forced.map((s) => s.gcDurationMs)))}`
  } else {
    floorStops = 'none forced'
  }
  return {
    heap: `${Math.round(r.built.usedHeapBytes / 1e6)} MB (${(r.built.items / 1e6).toFixed(2)} M products, built in ${(r.built.buildMs / 1000).toFixed(1)} s)`,
    floors: MODE_NAMES[r.mode],
    'longest stop': ms(r.heartbeat.maxMs),
    'its GC': stopCause(r.stops[0]),
    'longest stop in a GC': stopCause(r.stops.find((s) => s.gcs.length > 0)),
    'p99 stop': `${r.heartbeat.p99Ms} ms`,
    'stops of the floors forced': floorStops,
    'floors/min': `${floorsPerMin.toFixed(1)}${r.mode === 'gc' ? ` (gc(): ${((r.gcCalls.length / r.runMs) * 60_000).toFixed(1)})` : ''}`,
    'leak reported after': hit ? `${((hit.at - r.leakAfterMs) / 1000).toFixed(1)} s (${hit.test})` : `none in ${((r.runMs - r.leakAfterMs) / 1000).toFixed(0)} s`,
    'false alarms': falseAlarms.map((l) => `${l.kind} ${(l.at / 1000).toFixed(0)} s`).join(', ') || 'none',
    'major GCs': r.majorGcs,
    'run': `${(r.runMs / 1000).toFixed(0)} s`,
  }
}

async function main() {
  if (process.env.BENCH_BIG_HEAP_RECORDS) return tables(JSON.parse(fs.readFileSync(process.env.BENCH_BIG_HEAP_RECORDS, 'utf8')))
  const records = []
  const out = path.join(__dirname, 'out')
  fs.mkdirSync(out, { recursive: true })
  const file = path.join(out, `big-heap-${process.version}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`)
  for (const heapMb of SIZES_MB) {
    for (const mode of MODES) {
      const started = Date.now()
      const r = await runChild(mode, heapMb)
      records.push(r)
      fs.writeFileSync(file, JSON.stringify(records, null, 2))
      console.log(`${heapMb} MB, ${MODE_NAMES[mode]}: done in ${((Date.now() - started) / 1000).toFixed(0)} s, longest stop ${ms(r.heartbeat.maxMs)}`)
    }
  }
  const result = tables(records)
  console.log(`records: ${file}`)
  return result
}

/** Prints the rows of `records` and, per size, the ratios (BENCH_BIG_HEAP_RECORDS prints a saved run's). */
function tables(records) {
  const rows = records.map(row)
  const ratios = []
  for (const heapMb of new Set(records.map((r) => r.heapMb))) {
    const bySize = Object.fromEntries(records.filter((r) => r.heapMb === heapMb).map((r) => [r.mode, r]))
    const { leakproof, gc, v8 } = bySize
    if (leakproof && gc) {
      ratios.push({
        heap: `${heapMb} MB`,
        "leakproof's longest stop / gc()'s": (leakproof.heartbeat.maxMs / gc.heartbeat.maxMs).toFixed(3),
        "the same, stops in a GC": ratioOf(longestInGc(leakproof), longestInGc(gc)),
        "leakproof's longest floor pause / gc()'s longest": ratioOf(max(leakproof.samples.filter((s) => s.forcedGc).map((s) => s.gcPauseMs)), max(gc.gcCalls.map((c) => c.ms))),
        ...(v8 ? { "leakproof's longest stop / V8 alone's": (leakproof.heartbeat.maxMs / v8.heartbeat.maxMs).toFixed(3) } : {}),
      })
    }
  }
  console.table(rows)
  if (ratios.length > 0) console.table(ratios)
  return { rows, ratios }
}

/** How many forced GCs had each reason: `1 first-floors, 9 suspected-growth`. */
function reasons(forced) {
  const counts = {}
  for (const s of forced) counts[s.forcedGcReason] = (counts[s.forcedGcReason] ?? 0) + 1
  return Object.entries(counts).map(([reason, n]) => `${n} ${reason}`).join(', ')
}

/** The longest stop with a GC in it, in ms (a stop with none is the machine's, not a GC's). */
function longestInGc(r) {
  return r.stops.find((s) => s.gcs.length > 0)?.ms ?? null
}

function ratioOf(a, b) {
  return a === null || b === null ? '-' : (a / b).toFixed(3)
}

module.exports = { main }

if (require.main === module) {
  main().catch((err) => {
    console.error(err)
    process.exitCode = 1
  })
}

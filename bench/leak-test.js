'use strict'

/**
 * `node bench/leak-test.js [CASE...]`: `measureLeak` (leakproof/test) against the `leakage`
 * package, both at their default options, on the same functions: three that leak (64 B,
 * 1 KB and 64 KB kept per call in a module-level array) and three that must not alarm (a
 * bounded cache that fills, code loaded and compiled on the first call, 10,000 objects
 * allocated and dropped per call). Every run is a fresh child process, one at a time;
 * LEAK_RUNS runs of each leaking case and CLEAN_RUNS of the others, per tool.
 *
 * Per case and tool: leaks caught (or false alarms) out of the runs, the calls made to `fn`
 * (leakproof: `measured.calls`; leakage: iterations × gcollections, always all of them) and
 * the wall time of the `measureLeak` / `iterate` call, medians over the runs.
 *
 * Environment: LEAKAGE_DIR, a folder where `npm install leakage` was run (without it, or
 * when leakage does not load, its columns say why); BENCH_LEAK_RUNS (default 10),
 * BENCH_CLEAN_RUNS (default 50); BENCH_NICE, the nice value of this process and its
 * children (default 10). Every run is appended to bench/out/leak-test.jsonl.
 */
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawnSync } = require('node:child_process')

const LEAK_RUNS = Number(process.env.BENCH_LEAK_RUNS) || 10
const CLEAN_RUNS = Number(process.env.BENCH_CLEAN_RUNS) || 50
const NICE = process.env.BENCH_NICE === undefined ? 10 : Number(process.env.BENCH_NICE)
const OUT_FILE = path.join(__dirname, 'out', 'leak-test.jsonl')
/** A run that takes longer than this is killed and reported as such. */
const RUN_TIMEOUT_MS = 10 * 60_000

/** What the leaking cases keep, for good. */
const held = []

/** A new flat string that takes `bytes` of heap (V8's 16-byte header included). */
function payload(bytes, call) {
  return Buffer.alloc(bytes - 16, 97 + (call % 26)).toString('latin1')
}

/** `fn` that keeps a new string of `bytes` per call. */
function leaking(bytes) {
  let next = 0
  return () => {
    held.push(payload(bytes, next++))
  }
}

/** The cases: `make()` returns the `fn` both tools call (leakage passes no arguments). */
const CASES = {
  'leak 64 B/call': { leaks: true, make: () => leaking(64) },
  'leak 1 KB/call': { leaks: true, make: () => leaking(1024) },
  'leak 64 KB/call': { leaks: true, make: () => leaking(64 * 1024) },
  // A BoundedMap of 2,000 entries, a new key each call: full from the 2,000th call on.
  'bounded cache (2,000 entries)': {
    leaks: false,
    make: () => {
      const { BoundedMap } = require('..')
      const cache = new BoundedMap({ max: 2000 })
      let next = 0
      return () => {
        const key = next++
        cache.set(key, { id: key, name: `user-${key}` })
        return cache.get(key - 1)
      }
    },
  },
  // On the first call: mnemonist required (about 40 modules), a 500-case function compiled
  // with new Function, and a regular expression; every call uses the three.
  'lazy compile': {
    leaks: false,
    make: () => {
      let lazy = null
      let next = 0
      return () => {
        if (lazy === null) {
          const { LRUCache } = require('mnemonist')
          const cases = Array.from({ length: 500 }, (_, k) => `case 'k${k}': return ${k}`).join('\n')
          lazy = {
            recent: new LRUCache(16),
            lookup: new Function('key', `switch (key) {\n${cases}\n}\nreturn -1`),
            pattern: new RegExp('^k(\\d+)$'),
          }
        }
        const key = `k${next++ % 600}`
        lazy.recent.set(next % 32, key)
        return lazy.pattern.test(key) ? lazy.lookup(key) : -1
      }
    },
  },
  'churn (10,000 objects/call)': {
    leaks: false,
    make: () => () => {
      const list = new Array(10_000)
      for (let j = 0; j < list.length; j++) list[j] = { id: j, tags: [j] }
      return list.length
    },
  },
}

/** The tools: each runs `fn` once through its test, resolving to `{ caught, calls, detail }`. */
const TOOLS = {
  async leakproof(fn) {
    const { measureLeak } = require('../lib/leak-test')
    const measured = await measureLeak(fn)
    const [suspect] = measured.suspects ?? []
    return {
      caught: measured.leaking,
      calls: measured.calls,
      detail: {
        kind: measured.kind,
        bytesPerCall: measured.bytesPerCall,
        heap: measured.heap,
        external: measured.external,
        confirmed: measured.confirmation && { heap: measured.confirmation.heap, external: measured.confirmation.external },
        suspect: suspect && `${suspect.count} ${suspect.name}, held by ${suspect.holder?.description}`,
        snapshotError: measured.snapshotError,
      },
    }
  },
  async leakage(fn) {
    const { iterate, MemoryLeakError } = loadLeakage()
    // leakage's defaults, which it does not export.
    const calls = 30 * 6
    try {
      const result = iterate(fn)
      return { caught: false, calls, detail: { heapDiffs: result.heapDiffs.map((diff) => diff.change.size_bytes) } }
    } catch (error) {
      if (!(error instanceof MemoryLeakError)) throw error
      return { caught: true, calls, detail: { message: error.message.split('\n')[0] } }
    }
  },
}

/** leakage from LEAKAGE_DIR (the folder `npm install leakage` ran in, or the package itself). */
function loadLeakage() {
  const dir = process.env.LEAKAGE_DIR
  if (!dir) throw new Error('LEAKAGE_DIR is not set (a folder where `npm install leakage` was run)')
  const nested = path.join(dir, 'node_modules', 'leakage')
  return require(fs.existsSync(nested) ? nested : path.resolve(dir))
}

/** Child: one run of one case through one tool; prints one JSON line. */
async function child(tool, name) {
  const fn = CASES[name].make()
  const start = performance.now()
  const result = await TOOLS[tool](fn)
  const ms = performance.now() - start
  process.stdout.write(`${JSON.stringify({ ...result, ms })}\n`)
}

/** Why leakage cannot run here, or null when it loads. */
function leakageUnavailable() {
  const probe = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(__filename)}).loadLeakage()`], { encoding: 'utf8' })
  if (probe.status === 0) return null
  const thrown = probe.stderr.split('\n').find((line) => /^\w*Error\b/.test(line))
  return thrown?.trim() || `exit status ${probe.status}`
}

/** One run in a fresh process: the child's result, or `{ error }` saying how it ended. */
function runOnce(tool, name) {
  const started = Date.now()
  const proc = spawnSync(process.execPath, [__filename, '--child', tool, name], {
    encoding: 'utf8',
    env: process.env,
    timeout: RUN_TIMEOUT_MS,
    maxBuffer: 64 * 1024 * 1024,
  })
  const line = proc.stdout.trim().split('\n').pop()
  if (proc.status === 0 && line) return JSON.parse(line)
  const how = proc.error?.code === 'ETIMEDOUT' ? `killed after ${RUN_TIMEOUT_MS} ms` : `status ${proc.status}, signal ${proc.signal}`
  return { error: `${how} after ${Date.now() - started} ms: ${proc.stderr.trim().split('\n').slice(-3).join(' | ')}` }
}

function median(values) {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/** A tool's cells for one case: leaks reported out of the runs, median calls and ms. */
function cells(runs) {
  const done = runs.filter((run) => run.error === undefined)
  const failed = runs.length - done.length
  const alarms = done.filter((run) => run.caught).length
  const ms = done.map((run) => run.ms)
  return {
    alarms: `${alarms}/${runs.length}${failed ? ` (${failed} failed)` : ''}`,
    calls: median(done.map((run) => run.calls)),
    ms: done.length ? `${median(ms).toFixed(0)} (${Math.min(...ms).toFixed(0)}–${Math.max(...ms).toFixed(0)})` : '—',
  }
}

/**
 * Parent: every case, run by run, the tools taking turns; prints one table, whose `alarms`
 * are leaks caught where the case leaks and false alarms where it does not.
 */
function main() {
  os.setPriority(Math.max(os.getPriority(), NICE))
  const names = process.argv.slice(2)
  for (const name of names) {
    if (!(name in CASES)) throw new Error(`unknown case ${name}; known: ${Object.keys(CASES).join(', ')}`)
  }
  const missing = leakageUnavailable()
  const tools = missing === null ? Object.keys(TOOLS) : ['leakproof']
  const machine = { date: new Date().toISOString(), node: process.version, cpu: os.cpus()[0]?.model, cores: os.cpus().length, nice: os.getPriority() }
  console.log(JSON.stringify({ ...machine, leakage: missing ?? `from ${process.env.LEAKAGE_DIR}` }))
  fs.mkdirSync(path.dirname(OUT_FILE), { recursive: true })
  const rows = []
  for (const [name, { leaks }] of Object.entries(CASES)) {
    if (names.length > 0 && !names.includes(name)) continue
    const runs = Object.fromEntries(tools.map((tool) => [tool, []]))
    for (let r = 0; r < (leaks ? LEAK_RUNS : CLEAN_RUNS); r++) {
      for (const tool of tools) {
        const result = runOnce(tool, name)
        runs[tool].push(result)
        fs.appendFileSync(OUT_FILE, `${JSON.stringify({ date: machine.date, node: machine.node, tool, case: name, run: r, ...result })}\n`)
        if (result.error !== undefined || result.caught !== leaks) console.log(`${tool} ${name} run ${r}: ${JSON.stringify(result)}`)
      }
    }
    const row = { case: name, leaks: leaks ? 'yes' : 'no' }
    for (const tool of Object.keys(TOOLS)) {
      for (const [cell, value] of Object.entries(runs[tool] ? cells(runs[tool]) : { alarms: 'skipped', calls: '—', ms: '—' })) {
        row[`${tool} ${cell}`] = value
      }
    }
    rows.push(row)
  }
  console.table(rows)
  return rows
}

if (process.argv[2] === '--child') {
  child(process.argv[3], process.argv[4]).catch((error) => {
    console.error(error)
    process.exitCode = 1
  })
} else if (require.main === module) {
  main()
}
module.exports = { main, loadLeakage }

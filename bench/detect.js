'use strict'

/**
 * Detection benchmark: scenarios of leaks of different kinds and speeds and healthy
 * workloads, each a real http service under loopback load (bench/fixtures/scenario.js).
 * For each: how long after the leak began leakproof first reports it with the right kind,
 * and the memwatch rule (5 consecutive growing full-GC floors, from @airbnb/node-memwatch
 * `stats` events) first fires; and every false alarm of either. Each watches its own copy
 * of the service, both running at once under the same conditions.
 *
 * Environment: BENCH_DETECT_MS (each scenario's run, default 60 s: 10 min of production at
 * the 10x compressed time of bench/fixtures/scenario.js), BENCH_DETECT_ONLY (see ONLY).
 *
 * The slow rows (SLOW_SCENARIOS, bench/fixtures/slow-scenario.js) run only when
 * BENCH_DETECT_SLOW is set: `1` adds them after the others, `only` runs them alone. They
 * compress time by a factor `c` each (production durations ÷ c, growth rates and the heap's
 * limit × c, `minGrowthBytes` unchanged) and report in production time: slow leaks of 25, 5
 * and 1 KB/s starting 20 minutes in, and a healthy day of 24 hours of five services.
 * BENCH_DETECT_JOBS runs that many slow scenarios at once (default 1; each is two processes
 * where @airbnb/node-memwatch loads). BENCH_DETECT_NEIGHBOUR=1 runs a CPU-bound process beside the
 * slow rows, as another job or container on the same cores would. Every leak event and
 * floor of the slow rows is written to bench/out/detect-slow-<node>-<time>.json.
 *
 * The first-minute rows (FIRST_MINUTE_SCENARIOS) run only when BENCH_DETECT_FIRST_MINUTE is
 * set (`1` adds them, `only` runs them alone): `watch()` at its defaults in production time,
 * under a paced load of 1,000 requests a second, for BENCH_DETECT_FIRST_MINUTE_MS each
 * (default 150 s): leaks of 0.2 to 2 MB/s from the first request, timed from it, and caches
 * that fill at start. BENCH_DETECT_JOBS runs that many of them at once too.
 */
const { execFile, spawn } = require('node:child_process')
const fs = require('node:fs')
const { promisify } = require('node:util')
const path = require('node:path')
const v8 = require('node:v8')
const { memwatchLoads } = require('./peers')
const { heapLimit, oldSpaceLimitBytes } = require('../lib/shared/heap-limit')

const DURATION_MS = Number(process.env.BENCH_DETECT_MS) || 60_000
/** BENCH_DETECT_ONLY: a regular expression on the scenarios' names (`healthy` for a soak of the healthy ones). */
const ONLY = new RegExp(process.env.BENCH_DETECT_ONLY ?? '')
const SCENARIOS = [
  ['heap leak (sessions Map, fast)', 'heap'],
  ['heap leak (sessions Map, from 20 s)', 'heap', 20_000],
  ['heap leak (recent-requests array, slow)', 'heap'],
  ['external leak (Buffers)', 'external'],
  ['native leak (TLS contexts)', 'native'],
  ['healthy sawtooth', null],
  ['healthy cache warming up', null],
  ['healthy lru-cache full during warm-up', null],
  ['healthy bursts', null],
]

/**
 * The memwatch rule: the used heap after a full GC grew 5 times in a row. Returns every
 * time it fires (it starts counting again after each).
 */
function memwatchRule(records) {
  const fired = []
  let run = 0
  let last = Infinity
  for (const r of records) {
    run = r.usedHeapSize > last ? run + 1 : 0
    last = r.usedHeapSize
    if (run >= 5) {
      fired.push(r.at)
      run = 0
    }
  }
  return fired
}

/**
 * The first-minute rows, at `watch()`'s defaults: `[name, kind expected or null]`, each leak
 * from the first request (the onset is the `first-request` record).
 */
const FIRST_MINUTE_SCENARIOS = [
  ['leak 0.2 MB/s from the first request', 'heap'],
  ['leak 0.5 MB/s from the first request', 'heap'],
  ['leak 1 MB/s from the first request', 'heap'],
  ['leak 2 MB/s from the first request', 'heap'],
  ['healthy sawtooth', null],
  ['healthy lru-cache filling for 30 s', null],
  ['healthy lru-cache filling for 90 s', null],
  ['healthy cache warming up', null],
  ['healthy bursts', null],
]
const FIRST_MINUTE_MS = Number(process.env.BENCH_DETECT_FIRST_MINUTE_MS) || 150_000

const seconds = (ms) => (ms === undefined ? '-' : `${(ms / 1000).toFixed(1)} s`)

/** Runs one scenario watched by `who` in `mode` for `durationMs`; resolves to its JSON records. */
async function runScenario(name, who, mode, durationMs) {
  const { stdout } = await promisify(execFile)(process.execPath, [path.join(__dirname, 'fixtures', 'scenario.js'), name, String(durationMs), who, mode], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    timeout: durationMs + 60_000,
  })
  return stdout.trim().split('\n').map((l) => JSON.parse(l))
}

async function main() {
  const slow = process.env.BENCH_DETECT_SLOW
  const firstMinute = process.env.BENCH_DETECT_FIRST_MINUTE
  const result = {}
  if (slow !== 'only' && firstMinute !== 'only') result.fast = await fastRows(SCENARIOS, 'compressed', DURATION_MS)
  if (firstMinute) result.firstMinute = await fastRows(FIRST_MINUTE_SCENARIOS.map(([name, expected]) => [name, expected, 'first request']), 'defaults', FIRST_MINUTE_MS)
  if (slow) result.slow = await slowRows()
  return slow || firstMinute ? result : result.fast
}

/**
 * Rows of `scenarios` (`[name, kind expected or null, onset]`: ms since start, or
 * `'first request'`) in `mode`, each watched by leakproof and by the memwatch rule at once.
 */
async function fastRows(scenarios, mode, durationMs) {
  const rows = []
  const withRule = memwatchLoads()
  if (!withRule) console.log(`@airbnb/node-memwatch does not load in Node ${process.version}: leakproof only, the rule's columns are n/a`)
  const watchers = withRule ? ['leakproof', 'memwatch'] : ['leakproof']
  const chosen = scenarios.filter(([name]) => ONLY.test(name))
  const jobs = Number(process.env.BENCH_DETECT_JOBS) || 1
  const runs = await pool(
    chosen.map(([name]) => () => Promise.all(watchers.map((who) => runScenario(name, who, mode, durationMs))).then((r) => r.flat())),
    jobs,
  )
  for (const [i, [name, expected, onsetAt = 0]] of chosen.entries()) {
    const records = runs[i]
    // The leakproof process's first request, where the onset is the first request.
    const onset = onsetAt === 'first request' ? records.find((r) => r.who === 'first-request')?.at ?? 0 : onsetAt
    const ours = records.filter((r) => r.who === 'leakproof')
    const gcs = records.filter((r) => r.who === 'memwatch')
    const rule = memwatchRule(gcs)
    // An alarm before the leak began or in a healthy service is false. Another kind beside
    // the leaking one is listed apart: a Buffer or a TLS context also has a heap object.
    const ourFalse = ours.filter((r) => expected === null || r.at < onset)
    const alsoKinds = [...new Set(ours.filter((r) => expected !== null && r.at >= onset && r.event.kind !== expected).map((r) => r.event.kind))]
    const ruleFalse = rule.filter((at) => expected === null || at < onset)
    const ourHit = expected === null ? undefined : ours.find((r) => r.at >= onset && r.event.kind === expected)
    const ruleHit = expected === null ? undefined : rule.find((at) => at >= onset)
    rows.push({
      scenario: name,
      leaking: expected === null ? 'no' : `${expected}${onsetAt === 'first request' ? ' from the first request' : onset ? ` from ${seconds(onset)}` : ''}`,
      leakproof: expected === null ? '' : seconds(ourHit && ourHit.at - onset),
      ...(mode === 'defaults'
        ? {
            'slope (leakproof)': ourHit ? `${(ourHit.event.slopeBytesPerSec / 1e6).toFixed(2)} MB/s` : '',
            'requests a second': Math.round((records.find((r) => r.who === 'done')?.requests ?? 0) / (durationMs / 1000)),
          }
        : {}),
      'memwatch rule': !withRule ? 'n/a' : expected === null ? '' : seconds(ruleHit === undefined ? undefined : ruleHit - onset),
      'leakproof also reported': alsoKinds.join(', '),
      'false alarms (leakproof)': ourFalse.map((r) => `${r.event.kind} ${seconds(r.at)}`).join(', ') || 'none',
      'false alarms (memwatch)': !withRule ? 'n/a' : ruleFalse.map(seconds).join(', ') || 'none',
      'full GCs seen': withRule ? gcs.length : 'n/a',
    })
  }
  console.table(rows)
  return rows
}

const MINUTE = 60_000
const HOUR = 60 * MINUTE
const KB = 1000
/** Production time, `c` times the real time `ms`. */
const prodTime = (ms) => (ms === undefined ? '—' : ms < 2 * HOUR ? `${(ms / MINUTE).toFixed(1)} min` : `${(ms / HOUR).toFixed(2)} h`)

/** The sawtooth of every slow scenario, the load (real requests a second) under it, and a 20-minute onset. */
const slowLeak = (kbPerSec, c, hours, target) => ({
  name: `slow leak ${kbPerSec} KB/s`,
  expected: 'heap',
  target,
  spec: { c, durationMs: hours * HOUR, rps: 300, leak: { bytesPerSec: kbPerSec * KB, onsetMs: 20 * MINUTE } },
})
/** A healthy day: 24 production hours in 6 real minutes. */
const DAY = { c: 240, durationMs: 24 * HOUR, rps: 300 }
/**
 * The slow rows. Leak rates and times are production's; `c` compresses each run to a few
 * real minutes, the target's span to 2-3.
 */
const SLOW_SCENARIOS = [
  slowLeak(25, 20, 50 / 60, 10 * MINUTE),
  slowLeak(5, 30, 95 / 60, 45 * MINUTE),
  slowLeak(1, 60, 260 / 60, 3 * HOUR),
  // Request rate and sessions follow the load of the day (10% at 04:00 to 100% at 16:00);
  // sessions live 30 minutes: 4 to 42 MB of floors, half an hour behind the load.
  { name: 'day: diurnal load (sessions)', expected: null, spec: { ...DAY, rps: 600, diurnal: { peakSessionsPerSec: 5.6, sessionBytes: 4000, ttlMs: 30 * MINUTE, startHour: 0, minLoad: 0.1 } } },
  // The same with 0.5 ms of CPU a request: the event loop's utilization follows the request
  // rate (about 0.1 at night to 0.4 at 16:00) instead of the service's fixed work.
  { name: 'day: diurnal load (sessions), 0.5 ms of CPU a request', expected: null, spec: { ...DAY, rps: 600, cpuMsPerRequest: 0.5, diurnal: { peakSessionsPerSec: 5.6, sessionBytes: 4000, ttlMs: 30 * MINUTE, startHour: 0, minLoad: 0.1 } } },
  // 18,000 keys of 1 KB drawn at random: ~20 MB, 95% of it after 2 hours (τ = 40 min).
  { name: 'day: cache filling for 2 h, then flat', expected: null, spec: { ...DAY, cache: { keys: 18_000, entryBytes: 1025, tauMs: 40 * MINUTE } } },
  { name: 'day: step after lazy loading (40 MB at 1 h)', expected: null, spec: { ...DAY, step: { atMs: HOUR, bytes: 40e6 } } },
  // 80 MB built over 2 minutes, held an hour, given back at once; at 3, 11 and 19 h.
  { name: 'day: bursts given back (80 MB, every 8 h)', expected: null, spec: { ...DAY, bursts: { firstMs: 3 * HOUR, everyMs: 8 * HOUR, bytes: 80e6, buildMs: 2 * MINUTE, holdMs: HOUR } } },
  { name: 'day: healthy sawtooth', expected: null, spec: { ...DAY } },
]

/**
 * The old generation's limit a process of this Node gets by default, in MB, as the watcher
 * reads it (`heapLimit`: 4,096 MB on Node 20 and 24 on a 24 GiB machine).
 */
const DEFAULT_OLD_SPACE_MB = Math.round(heapLimit(v8.getHeapStatistics().heap_size_limit, oldSpaceLimitBytes()) / 2 ** 20)

/**
 * Runs one slow scenario watched by `who`; resolves to its JSON records. Its heap limit is
 * `c` times the default, so that the time to the limit is compressed like every other time:
 * the urgent test's horizon (15 minutes, a constant of the detector) is real time, and at
 * the default limit a burst of growth at `c` times production's rate reaches it `c` times
 * sooner (docs/benchmarks/detect.md, "Slow leaks and a compressed day").
 */
async function runSlow(spec, who) {
  const realMs = spec.durationMs / spec.c
  const args = [`--max-old-space-size=${DEFAULT_OLD_SPACE_MB * spec.c}`, path.join(__dirname, 'fixtures', 'slow-scenario.js'), JSON.stringify(spec), who]
  const { stdout } = await promisify(execFile)(process.execPath, args, {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    timeout: realMs + 120_000,
  })
  return stdout.trim().split('\n').map((l) => JSON.parse(l))
}

/** Runs `tasks` (functions returning promises), `jobs` at a time; resolves to their results in order. */
async function pool(tasks, jobs) {
  const results = []
  let next = 0
  const worker = async () => {
    while (next < tasks.length) {
      const i = next++
      results[i] = await tasks[i]()
    }
  }
  await Promise.all(Array.from({ length: Math.min(jobs, tasks.length) }, worker))
  return results
}

/** The median of `values`, or undefined. */
function median(values) {
  if (values.length === 0) return undefined
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]
}

/**
 * The slow rows, in production time (real time × c, real time in brackets): for a leak, when
 * leakproof first reported it as a heap leak and on which scale, when the memwatch rule first
 * fired after it began, and every alarm of either before it began; for a healthy day, every
 * alarm. Also the floors leakproof got (median spacing) and its forced GCs' share of the time.
 */
async function slowRows() {
  const withRule = memwatchLoads()
  if (!withRule) console.log(`@airbnb/node-memwatch does not load in Node ${process.version}: leakproof only, the rule's columns are n/a`)
  const watchers = withRule ? ['leakproof', 'memwatch'] : ['leakproof']
  const chosen = SLOW_SCENARIOS.filter(({ name }) => ONLY.test(name))
  const jobs = Number(process.env.BENCH_DETECT_JOBS) || 1
  const neighbour = process.env.BENCH_DETECT_NEIGHBOUR === '1' ? spawn(process.execPath, ['-e', 'for (;;);'], { stdio: 'ignore' }) : null
  if (neighbour !== null) console.log('a CPU-bound neighbour process runs beside the slow rows')
  const runs = await pool(
    chosen.map(({ spec }) => () => Promise.all(watchers.map((who) => runSlow(spec, who))).then((r) => r.flat())),
    jobs,
  ).finally(() => neighbour?.kill())
  const rows = []
  const details = []
  for (const [i, { name, expected, target, spec }] of chosen.entries()) {
    const { c } = spec
    const records = runs[i]
    const onset = expected === null ? Infinity : spec.leak.onsetMs / c // real ms
    const ours = records.filter((r) => r.who === 'leakproof')
    const samples = records.filter((r) => r.who === 'sample')
    const done = records.find((r) => r.who === 'done' && r.forcedGcs !== null)
    const gcs = records.filter((r) => r.who === 'memwatch')
    const rule = memwatchRule(gcs)
    const ourFalse = ours.filter((r) => r.at < onset)
    const ruleFalse = rule.filter((at) => at < onset)
    const ourHit = ours.find((r) => r.at >= onset && r.event.kind === expected)
    const ruleHit = rule.find((at) => at >= onset)
    const spacing = median(samples.slice(1).map((s, j) => s.at - samples[j].at))
    const both = (ms) => (ms === undefined ? '—' : `${prodTime(ms * c)} (${seconds(ms)})`)
    const alarms = (list) => list.map((r) => `${r.event.kind} ${r.event.scale} at ${prodTime(r.at * c)}`).join(', ') || 'none'
    rows.push({
      scenario: name,
      c,
      'production (real)': both(spec.durationMs / c),
      ...(expected === null
        ? {}
        : {
            target: prodTime(target),
            leakproof: both(ourHit && ourHit.at - onset),
            scale: ourHit?.event.scale ?? '',
            'slope (production)': ourHit ? `${((ourHit.event.slopeBytesPerSec / c) / KB).toFixed(1)} KB/s` : '',
            'memwatch rule': withRule ? both(ruleHit === undefined ? undefined : ruleHit - onset) : 'n/a',
          }),
      'false alarms (leakproof)': alarms(ourFalse),
      'false alarms (memwatch)': withRule ? `${ruleFalse.length}${ruleFalse.length ? ` (first at ${prodTime(ruleFalse[0] * c)})` : ''}` : 'n/a',
      'full GCs seen (rule)': withRule ? gcs.length : 'n/a',
      floors: samples.length,
      'floor spacing (median)': spacing === undefined ? '—' : `${Math.round((spacing * c) / 1000)} s`,
      'forced GC time': done ? `${((100 * done.forcedGcSeconds * 1000) / (spec.durationMs / c)).toFixed(1)}%` : '',
      'leakproof also reported': ours.filter((r) => r.at >= onset && r !== ourHit).map((r) => `${r.event.kind} ${r.event.scale}`).join(', '),
    })
    details.push({ name, spec, leaks: ours, errors: records.filter((r) => r.who === 'error'), done: records.filter((r) => r.who === 'done'), rule, samples })
  }
  console.table(rows)
  const out = path.join(__dirname, 'out')
  fs.mkdirSync(out, { recursive: true })
  const file = path.join(out, `detect-slow-${process.version}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`)
  fs.writeFileSync(file, JSON.stringify({ node: process.version, rows, details }))
  console.log(`every leak event and floor: ${file}`)
  return rows
}

if (require.main === module) main()
module.exports = { main, SLOW_SCENARIOS }

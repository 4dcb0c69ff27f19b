'use strict'

/**
 * `node bench/capture.js`: heap snapshots written by forked children (lib/capture/child-snapshot.js)
 * on every supported Node version and in the cases that made children hang before: `idle`,
 * `http` (under loopback load from another process), `workers` (two worker threads
 * allocating), `jit` (just after a burst of compilation), `marking` (during incremental
 * marking) and `1gb` (a 1 GB heap). Each (version, case) runs bench/fixtures/fork-target.js
 * once, which forks FORKS times and then writes one snapshot in-process for comparison.
 *
 * Per row: snapshots written / asked for; children started, and how the ones that did not
 * finish ended (`would wait`/`lock held`: exited at once because they needed a thread fork
 * does not copy, then retried; `hung`, `crashed`: killed or ended by a signal); the parent's
 * stop (smaps, madvise, fork) and fork() alone; the worst event-loop delay while a child
 * wrote; the child's time and peak RSS (pages shared with the parent included); the pages
 * the parent copied meanwhile (copy-on-write: growth of its private dirty memory); and the
 * in-process snapshot's pause.
 *
 * Environment: BENCH_CAPTURE_FORKS (forks per row, default 50; the 1 GB rows get a tenth),
 * BENCH_CAPTURE_HEAP_MB (default 50), BENCH_CAPTURE_ONLY (a regular expression on
 * "node<major> <case>"), BENCH_CAPTURE_MEMORY=1 (also what each child took from the machine:
 * the fall of MemAvailable and the child's peak private memory, bench/child-memory.js's
 * sampler; the columns `childPrivateMB` and `memDropMB`). Results are appended to
 * bench/out/capture.jsonl; `--table [FILE]` prints the table of a file of results without
 * measuring.
 */
const fs = require('node:fs')
const path = require('node:path')
const { spawnSync } = require('node:child_process')

const CASES = ['idle', 'http', 'workers', 'jit', 'marking', '1gb']
const MAJORS = [20, 22, 24, 26]
const OUT_FILE = path.join(__dirname, 'out', 'capture.jsonl')
const NODE_BIN_SCRIPT = path.join(__dirname, '..', 'scripts', 'node-bin.sh')
const TARGET = path.join(__dirname, 'fixtures', 'fork-target.js')

/** The node binary of `major`: this one's when it matches, else the official one (scripts/node-bin.sh). */
function nodeFor(major) {
  if (Number(process.versions.node.split('.')[0]) === major) return process.execPath
  const bin = spawnSync('bash', [NODE_BIN_SCRIPT, String(major)], { encoding: 'utf8' })
  if (bin.status !== 0) throw new Error(`no Node ${major}: ${bin.stderr}`)
  return path.join(bin.stdout.trim(), 'node')
}

/** Runs one (version, case): its fork lines and the in-process line. */
function runRow(major, kase, forks, heapMb) {
  const mb = kase === '1gb' ? 1000 : heapMb
  const n = kase === '1gb' ? Math.max(1, Math.round(forks / 10)) : forks
  const args = ['--max-old-space-size=4096', TARGET, kase, String(mb), String(n)]
  const env = process.env.BENCH_CAPTURE_MEMORY === '1' ? { ...process.env, BENCH_MEMORY_SAMPLER: '1' } : process.env
  const run = spawnSync(nodeFor(major), args, { encoding: 'utf8', env, maxBuffer: 64 << 20, timeout: 60 * 60_000 })
  const lines = run.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l))
  if (run.status !== 0) console.error(`node${major} ${kase}: exit ${run.status} ${run.signal ?? ''}\n${run.stderr.slice(-2000)}`)
  return { major, case: kase, heapMb: mb, forks: lines.filter((l) => 'fork' in l), inProcess: lines.find((l) => 'inProcess' in l) ?? null }
}

const median = (xs) => (xs.length === 0 ? NaN : [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)])
const max = (xs) => (xs.length === 0 ? NaN : Math.max(...xs))
const fmt = (x, digits = 0) => (Number.isFinite(x) ? x.toFixed(digits) : '-')

/** One row's figures. */
function summarize(row) {
  const ok = row.forks.filter((f) => !('skipped' in f))
  const failures = row.forks.flatMap((f) => f.failures ?? [])
  const count = (re) => failures.filter((d) => re.test(d)).length
  return {
    row: `node${row.major} ${row.case}`,
    heapMB: fmt(median(row.forks.map((f) => f.heapUsed)) / 1e6),
    written: `${ok.length}/${row.forks.length}`,
    children: row.forks.reduce((sum, f) => sum + (f.attempts ?? 1), 0),
    wouldWait: count(/would have waited/),
    lockHeld: count(/held a lock/),
    hung: count(/without progress/),
    crashed: count(/signal/),
    stopMs: `${fmt(median(ok.map((f) => f.stopMs)), 1)} / ${fmt(max(ok.map((f) => f.stopMs)), 1)}`,
    forkMs: fmt(median(ok.map((f) => f.forkMs)), 1),
    loopDelayMs: `${fmt(median(row.forks.map((f) => f.maxLoopDelayMs)))} / ${fmt(max(row.forks.map((f) => f.maxLoopDelayMs)))}`,
    childS: fmt(median(ok.map((f) => f.childMs)) / 1e3, 1),
    childPeakMB: fmt(median(ok.map((f) => f.childPeakRssBytes)) / 1e6),
    parentCowMB: fmt(median(row.forks.map((f) => f.parentCowBytes)) / 1e6),
    ...(ok.some((f) => 'memAvailableDropBytes' in f)
      ? { childPrivateMB: fmt(median(ok.map((f) => f.childPeakPrivateBytes)) / 1e6), memDropMB: fmt(max(ok.map((f) => f.memAvailableDropBytes)) / 1e6) }
      : {}),
    inProcessPauseS: row.inProcess ? fmt(row.inProcess.inProcess.pauseMs / 1e3, 1) : '-',
    fileMB: row.inProcess ? fmt(row.inProcess.inProcess.bytes / 1e6) : '-',
  }
}

function printTable(rows) {
  console.table(rows.map(summarize))
  const all = rows.flatMap((r) => r.forks)
  const children = all.reduce((sum, f) => sum + (f.attempts ?? 1), 0)
  const finished = all.filter((f) => !('skipped' in f)).length
  console.log(`children that finished: ${finished} of ${children} (${fmt((100 * finished) / children, 1)}%); snapshots written: ${finished} of ${all.length}`)
}

function main() {
  if (process.argv[2] === '--table') {
    const file = process.argv[3] ?? OUT_FILE
    return printTable(fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)))
  }
  const forks = Number(process.env.BENCH_CAPTURE_FORKS ?? 50)
  const heapMb = Number(process.env.BENCH_CAPTURE_HEAP_MB ?? 50)
  const only = new RegExp(process.env.BENCH_CAPTURE_ONLY ?? '.')
  fs.mkdirSync(path.dirname(OUT_FILE), { recursive: true })
  const rows = []
  for (const major of MAJORS) {
    for (const kase of CASES) {
      if (!only.test(`node${major} ${kase}`)) continue
      const row = runRow(major, kase, forks, heapMb)
      fs.appendFileSync(OUT_FILE, JSON.stringify(row) + '\n')
      console.log(JSON.stringify(summarize(row)))
      rows.push(row)
    }
  }
  printTable(rows)
  return rows.map(summarize)
}

module.exports = { main }
if (require.main === module) main()

'use strict'

/**
 * `npm run bench -- big-heap-diff`: a pair's diff on big snapshots, as the watcher runs it (a
 * child process at nice 19, lib/diagnose/diff-process.js) against memlab's on the same pair.
 *
 * The pairs: a real one, bench/fixtures/diff-pair.js (a search service's catalog filled to a
 * used heap of 300 MB, `v8.writeHeapSnapshot()`, the leak grown by a tenth, the follow-up:
 * files of about 0.5 GB), and that pair replicated 2 and 4 times over into one snapshot each
 * (bench/fixtures/replicate-pair.js: files of about 1.1 and 2.3 GB, as V8's writer itself would
 * need 7-14 GB here). Or the pairs of BENCH_DIFF_PAIRS (`before,after;before,after`).
 *
 * Per pair, one after the other:
 * - leakproof: a Node process stands for the service and calls `diffInChild()`; the time to the
 *   result, the child's peak RSS (VmHWM of /proc/PID/status, read every POLL_MS until it ends),
 *   the service's own RSS before and at most while the child ran;
 * - memlab: bench/mcp.js' child does what memlab's MCP `memlab_diff_snapshots` does
 *   (`getFullHeapFromFile` on both files, histograms, the classes that grew); its time and peak
 *   RSS, or its failure. Its RSS is read every POLL_MS and the child killed past
 *   BENCH_DIFF_MEMLAB_RSS_MB (default 4096: a share of this machine others also use), which is
 *   said as its failure (its old generation alone does not bound it: its typed arrays are
 *   outside).
 *
 * The generated pairs go to BENCH_DIFF_DIR (default a temporary directory, removed at the end
 * unless BENCH_DIFF_KEEP=1). Records go to bench/out/big-heap-diff-<time>.json.
 */
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync, spawn } = require('node:child_process')
const { statusBytes } = require('./proc-status')

const POLL_MS = 50
const MEMLAB_RSS_BYTES = (Number(process.env.BENCH_DIFF_MEMLAB_RSS_MB) || 4096) * 2 ** 20
/** The real pair's used heap, and the copies of it the bigger pairs hold. */
const HEAP_MB = 300
const COPIES = [2, 4]
const MB = (bytes) => Math.round(bytes / 2 ** 20)

/** Child: the service's side of one diff in a child; prints its figures as one JSON line. */
async function leakproofDiff(before, after) {
  const { diffInChild } = require('../lib/diagnose/diff-process')
  const serviceBefore = statusBytes(process.pid, 'VmRSS')
  let serviceMax = serviceBefore
  let childPeak = 0
  const started = process.hrtime.bigint()
  const diff = diffInChild(before, after)
  const poll = setInterval(() => {
    childPeak = Math.max(childPeak, statusBytes(diff.pid, 'VmHWM'))
    serviceMax = Math.max(serviceMax, statusBytes(process.pid, 'VmRSS'))
  }, POLL_MS)
  try {
    const result = await diff.result
    const ms = Number(process.hrtime.bigint() - started) / 1e6
    process.stdout.write(`${JSON.stringify({ ms, childPeak, serviceBefore, serviceMax, newCount: result.newCount, matchedBy: result.matchedBy, suspect: result.suspects[0]?.name })}\n`)
  } finally {
    clearInterval(poll)
  }
}

/**
 * Runs `args` on this Node, killed once its RSS passes `maxRss` bytes; resolves to `{ ms, last }`
 * (its last line of output, parsed) or `{ ms, failure }`.
 */
function run(args, maxRss = Infinity) {
  return new Promise((resolve) => {
    const started = process.hrtime.bigint()
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    let killedAt = null
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-2048)))
    const watchdog = setInterval(() => {
      const rss = statusBytes(child.pid, 'VmRSS')
      if (rss > maxRss && killedAt === null) {
        killedAt = rss
        child.kill('SIGKILL')
      }
    }, POLL_MS)
    child.on('close', (code, signal) => {
      clearInterval(watchdog)
      const ms = Number(process.hrtime.bigint() - started) / 1e6
      if (killedAt !== null) return resolve({ ms, failure: `killed at ${MB(killedAt)} MiB of RSS, unfinished` })
      if (code !== 0) return resolve({ ms, failure: `exited ${code ?? signal}: ${stderr.trim().split('\n').slice(-3).join(' ')}` })
      resolve({ ms, last: JSON.parse(stdout.trim().split('\n').pop()) })
    })
  })
}

/** The diff section on one pair: leakproof's child against memlab; returns its record. */
async function diffSection(before, after) {
  const filesBytes = fs.statSync(before).size + fs.statSync(after).size
  const ours = await run([__filename, '--child', before, after])
  if (ours.failure) throw new Error(`leakproof's diff failed: ${ours.failure}`)
  const memlab = await run(['--max-old-space-size=16384', path.join(__dirname, 'mcp.js'), '--child', 'memlab', before, after], MEMLAB_RSS_BYTES)
  return {
    files: [before, after].map((f) => path.basename(f)),
    filesBytes,
    leakproof: { ...ours.last, peakShare: +(ours.last.childPeak / filesBytes).toFixed(3) },
    memlab: memlab.failure ? { ms: memlab.ms, failure: memlab.failure } : { ms: memlab.ms, peak: memlab.last.peak },
  }
}

/** The pairs to diff: BENCH_DIFF_PAIRS', or the real one and its replicas made in `dir`. */
function pairs(dir) {
  if (process.env.BENCH_DIFF_PAIRS) return process.env.BENCH_DIFF_PAIRS.split(';').map((p) => p.split(','))
  const fixtures = path.join(__dirname, 'fixtures')
  const real = [`pair-${HEAP_MB}-before`, `pair-${HEAP_MB}-after`].map((n) => path.join(dir, `${n}.heapsnapshot`))
  if (!real.every((f) => fs.existsSync(f))) execFileSync(process.execPath, ['--expose-gc', '--max-old-space-size=8192', path.join(fixtures, 'diff-pair.js'), String(HEAP_MB), dir], { stdio: 'inherit' })
  const all = [real]
  for (const copies of COPIES) {
    const pair = ['before', 'after'].map((n) => path.join(dir, `x${copies}-${n}.heapsnapshot`))
    if (!pair.every((f) => fs.existsSync(f))) execFileSync(process.execPath, [path.join(fixtures, 'replicate-pair.js'), ...real, String(copies), ...pair], { stdio: 'inherit' })
    all.push(pair)
  }
  return all
}

async function main() {
  const dir = process.env.BENCH_DIFF_DIR ?? fs.mkdtempSync(path.join(os.tmpdir(), 'leakproof-diff-pairs-'))
  const records = []
  try {
    for (const [before, after] of pairs(dir)) records.push(await diffSection(before, after))
  } finally {
    if (process.env.BENCH_DIFF_DIR === undefined && process.env.BENCH_DIFF_KEEP !== '1') fs.rmSync(dir, { recursive: true, force: true })
  }
  const out = path.join(__dirname, 'out', `big-heap-diff-${process.version}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`)
  fs.mkdirSync(path.dirname(out), { recursive: true })
  fs.writeFileSync(out, JSON.stringify({ node: process.version, cores: os.cpus().length, memoryGiB: Math.round(os.totalmem() / 2 ** 30), records }, null, 2))
  console.table(records.map((r) => ({
    'files (MiB)': MB(r.filesBytes),
    'leakproof time (s)': (r.leakproof.ms / 1000).toFixed(1),
    'child peak (MiB)': MB(r.leakproof.childPeak),
    'peak / files': r.leakproof.peakShare,
    'service RSS +MiB': MB(r.leakproof.serviceMax - r.leakproof.serviceBefore),
    'memlab time (s)': (r.memlab.ms / 1000).toFixed(1),
    'memlab peak (MiB)': r.memlab.failure ? `failed: ${r.memlab.failure.slice(0, 60)}` : MB(r.memlab.peak),
  })))
  return records
}

module.exports = { main, diffSection }

if (require.main === module) {
  const [flag, before, after] = process.argv.slice(2)
  const job = flag === '--child' ? () => leakproofDiff(before, after) : main
  job().catch((err) => {
    console.error(err)
    process.exitCode = 1
  })
}

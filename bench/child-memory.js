'use strict'

/**
 * `node bench/child-memory.js`: what a heap snapshot written by a forked child really takes
 * from the machine (issue 19), against the file the watcher predicts, so that the pre-fork
 * memory check (lib/capture/snapshots.js `#refusal`: predicted file × `snapshotMemoryFactor`)
 * can be set for children rather than for in-process snapshots.
 *
 * Each run is one bench/fixtures/fork-target.js process (`idle` case: a heap of small
 * objects of HEAP_MB) with BENCH_MEMORY_SAMPLER=1: it starts this script with `--sample PID`
 * beside it, a separate process whose clock keeps going while the target is stopped in an
 * in-process snapshot. Per fork the target reports:
 * - `memAvailableDropBytes`: system MemAvailable (/proc/meminfo) just before fork() minus its
 *   lowest point while the child ran (sampled every 100 ms). The machine's own view: pages
 *   the child and the target share copy-on-write are counted once. Another process's
 *   allocations meanwhile count too (the machine is shared): `accountedBytes` (the child's
 *   peak private memory + the target's copy-on-write growth) is the cross-check.
 * - `childPeakRssBytes`: the child's VmHWM (the watchdog's), shared pages included.
 * - `childPeakPrivateBytes`: the child's Private_Dirty + Private_Clean (smaps_rollup, every
 *   200 ms): pages it wrote (GC, the snapshot's graph, its buffers), i.e. its own.
 * - `parentCowBytes`: the growth of the target's private dirty memory meanwhile.
 * - `predictedLiveBytes`: lib/capture/snapshot-cost.js's prediction for the live heap (the
 *   watcher predicts from its heap floor, the heap after a full GC: here what the child's
 *   GC left, `liveHeapBytes`); `predictedBytes` is for the used heap, garbage included;
 *   `bytes` the real file.
 * With `inprocess`, the same heap's in-process `v8.writeHeapSnapshot` is measured too.
 *
 * Safety: the sampler SIGKILLs the forked child (only it) when MemAvailable falls under
 * 3 GiB; runs are sequential.
 *
 * Environment: BENCH_CHILD_PRIORITY (see below), BENCH_CHILD_MEMORY_RUNS, comma-separated `major:heapMb:forks[:inprocess]`
 * (default `24:100:2,24:300:2,24:1000:1:inprocess,20:1000:1,22:1000:1,26:1000:1`).
 * Results are appended to bench/out/child-memory.jsonl; `--table [FILE]` prints the table
 * of a file of results without measuring.
 */
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawnSync } = require('node:child_process')

const OUT_FILE = path.join(__dirname, 'out', 'child-memory.jsonl')
const NODE_BIN_SCRIPT = path.join(__dirname, '..', 'scripts', 'node-bin.sh')
const TARGET = path.join(__dirname, 'fixtures', 'fork-target.js')
const DEFAULT_RUNS = '24:100:2,24:300:2,24:1000:1:inprocess,20:1000:1,22:1000:1,26:1000:1'

/** Under this much MemAvailable, the sampler kills the forked child. */
const KILL_BELOW_BYTES = 3 * 2 ** 30
const SAMPLE_MS = 100
const SMAPS_MS = 200

/**
 * BENCH_CHILD_PRIORITY: the nice value the sampler gives each forked child once it sees it
 * (the watcher's children run at 19). For a shared machine: at 19 the child gets the CPU
 * nobody else wants, and a 1 GB child can take an hour; its memory does not depend on it.
 */
const CHILD_PRIORITY = process.env.BENCH_CHILD_PRIORITY === undefined ? null : Number(process.env.BENCH_CHILD_PRIORITY)

/** A field of /proc/meminfo, /proc/PID/status or smaps_rollup, in bytes (they are in kB). */
function kbField(text, name) {
  const match = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)
  return match === null ? null : Number(match[1]) * 1024
}

function readOr(file, fallback = null) {
  try {
    return fs.readFileSync(file, 'utf8')
  } catch {
    return fallback
  }
}

/** The target's children that are forks of it (same command line): its snapshot children. */
function forkedChildren(pid, cmdline) {
  const pids = []
  for (const tid of fs.readdirSync(`/proc/${pid}/task`, { withFileTypes: false })) {
    for (const child of (readOr(`/proc/${pid}/task/${tid}/children`, '') ?? '').trim().split(/\s+/)) {
      if (child !== '' && readOr(`/proc/${child}/cmdline`) === cmdline) pids.push(Number(child))
    }
  }
  return pids
}

/**
 * The anonymous memory of every other process (RssAnon, shared pages counted in each): how
 * much the machine's other work took meanwhile, to tell from the MemAvailable drop.
 */
function othersAnonBytes(mine) {
  let total = 0
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || mine.has(Number(name))) continue
    const status = readOr(`/proc/${name}/status`)
    if (status !== null) total += kbField(status, 'RssAnon') ?? 0
  }
  return total
}

/**
 * `--sample PID`: one JSON line per sample on stdout: `t` (Date.now()), `avail`
 * (MemAvailable), and every 200 ms or more `children` (each forked child's pid, Rss, VmHWM
 * and private bytes) or, when there is none, `parent` (the target's Rss and Private_Dirty).
 */
function sample(pid) {
  const cmdline = readOr(`/proc/${pid}/cmdline`)
  const reniced = new Set()
  let smapsDueAt = 0
  const timer = setInterval(() => {
    const t = Date.now()
    const avail = kbField(fs.readFileSync('/proc/meminfo', 'utf8'), 'MemAvailable')
    const line = { t, avail }
    let children = []
    try {
      children = forkedChildren(pid, cmdline)
    } catch {
      clearInterval(timer) // the target is gone
      return
    }
    for (const child of children) {
      if (CHILD_PRIORITY === null || reniced.has(child)) continue
      reniced.add(child)
      try {
        os.setPriority(child, CHILD_PRIORITY)
      } catch {
        // Exited meanwhile.
      }
    }
    if (avail < KILL_BELOW_BYTES) {
      for (const child of children) {
        try {
          process.kill(child, 'SIGKILL')
          line.killed = child
        } catch {
          // Exited meanwhile.
        }
      }
    }
    if (t >= smapsDueAt) {
      // smaps_rollup walks the page tables: 0.1–0.3 s for a few GB on this machine, CPU
      // the child at nice 19 would not get. Read at most every 200 ms and at most a fifth of
      // the time. The target's own figures only while no child runs (the in-process
      // snapshot): during a fork the target measures its copy-on-write itself.
      const rollup = children.length === 0 ? readOr(`/proc/${pid}/smaps_rollup`) : null
      if (rollup !== null) line.parent = { rss: kbField(rollup, 'Rss'), privateDirty: kbField(rollup, 'Private_Dirty') }
      line.children = []
      for (const child of children) {
        const smaps = readOr(`/proc/${child}/smaps_rollup`)
        const status = readOr(`/proc/${child}/status`)
        if (smaps === null || status === null || /^State:\s+Z/m.test(status)) continue
        line.children.push({
          pid: child,
          rss: kbField(smaps, 'Rss'),
          hwm: kbField(status, 'VmHWM'),
          private: kbField(smaps, 'Private_Dirty') + kbField(smaps, 'Private_Clean'),
        })
      }
      line.others = othersAnonBytes(new Set([pid, process.pid, ...children]))
      const took = Date.now() - t
      smapsDueAt = t + Math.max(SMAPS_MS, 5 * took)
    }
    process.stdout.write(JSON.stringify(line) + '\n')
  }, SAMPLE_MS)
  // Ends with the target (its stdout pipe closes).
  process.stdout.on('error', () => process.exit(0))
}

/**
 * What the samples say of a window: MemAvailable just before `from` (the fork) minus its
 * lowest point after, the children's peaks, the target's growth.
 */
function summarizeWindow(samples, from, to) {
  const before = samples.filter((s) => s.t < from)
  const during = samples.filter((s) => s.t >= from && s.t <= to)
  const baseline = before.length > 0 ? before.at(-1).avail : during[0]?.avail
  const lowest = Math.min(...during.map((s) => s.avail))
  const after = samples.find((s) => s.t > to)
  // The target's figures: the last before the window, then those within (none during a fork).
  const duringParents = during.filter((s) => s.parent).map((s) => s.parent)
  const parents = duringParents.length === 0 ? [] : [...before.filter((s) => s.parent).slice(-1).map((s) => s.parent), ...duringParents]
  const children = during.flatMap((s) => s.children ?? [])
  // The drop less what the other processes' anonymous memory grew meanwhile (from the last
  // reading before the fork, carried forward between readings).
  const othersBefore = before.filter((s) => s.others !== undefined).at(-1)?.others
  let others = othersBefore
  let adjusted = null
  for (const s of during) {
    if (s.others !== undefined) others = s.others
    if (othersBefore === undefined || others === undefined) continue
    adjusted = Math.max(adjusted ?? -Infinity, baseline - s.avail - (others - othersBefore))
  }
  const max = (xs) => (xs.length === 0 ? null : Math.max(...xs))
  const min = (xs) => (xs.length === 0 ? null : Math.min(...xs))
  return {
    memAvailableBefore: baseline,
    memAvailableDropBytes: baseline - lowest,
    memAvailableAfterDropBytes: after ? baseline - after.avail : null,
    childPeakPrivateBytes: max(children.map((c) => c.private)),
    childPeakRssSampledBytes: max(children.map((c) => c.rss)),
    childHwmSampledBytes: max(children.map((c) => c.hwm)),
    parentRssGrowthBytes: parents.length > 0 ? max(parents.map((p) => p.rss)) - parents[0].rss : null,
    parentPrivateDirtyGrowthBytes: parents.length > 0 ? max(parents.map((p) => p.privateDirty)) - min(parents.map((p) => p.privateDirty)) : null,
    memAvailableDropLessOthersBytes: adjusted,
    othersGrowthBytes: othersBefore === undefined ? null : max(during.filter((s) => s.others !== undefined).map((s) => s.others - othersBefore)),
    killed: during.some((s) => s.killed !== undefined),
    // MB, every 200 ms or so: ms since `from`, MemAvailable, the child's private memory, the others' anonymous memory.
    series: during.filter((s) => s.children !== undefined).map((s) => [s.t - from, Math.round(s.avail / 1e6), Math.round((s.children[0]?.private ?? 0) / 1e6), Math.round((s.others ?? 0) / 1e6)]),
    samples: during.length,
  }
}

/** The node binary of `major`: this one's when it matches, else the official one (scripts/node-bin.sh). */
function nodeFor(major) {
  if (Number(process.versions.node.split('.')[0]) === major) return process.execPath
  const bin = spawnSync('bash', [NODE_BIN_SCRIPT, String(major)], { encoding: 'utf8' })
  if (bin.status !== 0) throw new Error(`no Node ${major}: ${bin.stderr}`)
  return path.join(bin.stdout.trim(), 'node')
}

function runOne({ major, heapMb, forks, inProcess }) {
  const node = nodeFor(major)
  const args = ['--max-old-space-size=4096', TARGET, 'idle', String(heapMb), String(forks)]
  const env = { ...process.env, BENCH_MEMORY_SAMPLER: '1', BENCH_IN_PROCESS: inProcess ? '1' : '0' }
  const started = new Date().toISOString()
  const run = spawnSync(node, args, { encoding: 'utf8', env, maxBuffer: 64 << 20, timeout: 60 * 60_000 })
  const lines = run.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l))
  if (run.status !== 0) console.error(`node${major} ${heapMb} MB: exit ${run.status} ${run.signal ?? ''}\n${run.stderr.slice(-2000)}`)
  return { major, version: spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim(), heapMb, started, forks: lines.filter((l) => 'fork' in l), inProcess: lines.find((l) => 'inProcess' in l) ?? null }
}

/**
 * The watcher's prediction for the live heap (its heap floor: what the child's GC left),
 * `predictedLiveBytes`; for lines without it, from `predictedBytes` (made for the used heap,
 * garbage included) with the same large-object bytes.
 */
function predictedLive(f) {
  if (f.predictedLiveBytes !== undefined) return f.predictedLiveBytes
  const { modelFileBytes } = require('../lib/capture/snapshot-cost')
  const large = Math.max(0, (f.predictedBytes - modelFileBytes(f.heapUsed, 0)) / 0.3)
  return modelFileBytes(f.liveHeapBytes, large / f.liveHeapBytes)
}

const MB = (x, digits = 0) => (Number.isFinite(x) ? (x / 1e6).toFixed(digits) : '-')
const GB = (x) => (Number.isFinite(x) ? (x / 1e9).toFixed(2) : '-')

/** The table of docs/benchmarks/capture.md: one row per fork, then the in-process snapshots. */
function table(runs) {
  const out = [
    '| node | live heap MB | predicted file MB | real file MB | child VmHWM GB | child peak private GB | MemAvailable drop GB | parent COW MB | drop ÷ predicted file | private ÷ predicted file | child s |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ]
  for (const run of runs) {
    for (const f of run.forks) {
      if ('skipped' in f) {
        out.push(`| ${run.major} | ${MB(f.heapUsed)} (used) | ${MB(f.predictedBytes)} | ${f.skipped}${f.killed ? ' (by the sampler)' : ''} | ≥ ${GB(f.childHwmSampledBytes)} | ≥ ${GB(f.childPeakPrivateBytes)} | ≥ ${GB(f.memAvailableDropBytes)} | ${MB(f.parentCowBytes)} | ≥ ${(f.memAvailableDropBytes / f.predictedBytes).toFixed(2)} | ≥ ${(f.childPeakPrivateBytes / f.predictedBytes).toFixed(2)} | |`)
        continue
      }
      const predicted = predictedLive(f)
      const cells = [
        run.major,
        MB(f.liveHeapBytes),
        MB(predicted),
        MB(f.bytes),
        GB(f.childPeakRssBytes),
        GB(f.childPeakPrivateBytes),
        GB(f.memAvailableDropBytes),
        MB(f.parentCowBytes),
        (f.memAvailableDropBytes / predicted).toFixed(2),
        (f.childPeakPrivateBytes / predicted).toFixed(2),
        (f.childMs / 1e3).toFixed(0),
      ]
      out.push(`| ${cells.join(' | ')} |`)
    }
  }
  const inProcess = runs.filter((r) => r.inProcess !== null)
  if (inProcess.length > 0) {
    out.push('', '| node | used heap MB | predicted file MB | real file MB | pause s | peak RSS growth GB | MemAvailable drop GB | drop ÷ predicted file |', '|---|---|---|---|---|---|---|---|')
    for (const run of inProcess) {
      const p = run.inProcess
      out.push(`| ${run.major} (in-process) | ${MB(p.heapUsed)} | ${MB(p.predictedBytes)} | ${MB(p.inProcess.bytes)} | ${(p.inProcess.pauseMs / 1e3).toFixed(1)} | ${GB(p.memory?.parentRssGrowthBytes)} | ${GB(p.memory?.memAvailableDropBytes)} | ${(p.memory?.memAvailableDropBytes / p.predictedBytes).toFixed(2)} |`)
    }
  }
  return out.join('\n')
}

function main() {
  if (process.argv[2] === '--sample') return sample(Number(process.argv[3]))
  if (process.argv[2] === '--table') {
    const file = process.argv[3] ?? OUT_FILE
    return console.log(table(fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l))))
  }
  const runs = (process.env.BENCH_CHILD_MEMORY_RUNS ?? DEFAULT_RUNS).split(',').map((spec) => {
    const [major, heapMb, forks, flag] = spec.split(':')
    return { major: Number(major), heapMb: Number(heapMb), forks: Number(forks), inProcess: flag === 'inprocess' }
  })
  fs.mkdirSync(path.dirname(OUT_FILE), { recursive: true })
  const results = []
  for (const spec of runs) {
    const result = runOne(spec)
    fs.appendFileSync(OUT_FILE, JSON.stringify(result) + '\n')
    console.log(table([result]))
    results.push(result)
  }
  console.log(table(results))
}

module.exports = { main, summarizeWindow }
if (require.main === module) main()

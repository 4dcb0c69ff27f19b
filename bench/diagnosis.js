'use strict'

/**
 * `node bench/diagnosis.js`: the pause of `v8.queryObjects(ctor, { format: 'count' })`, which
 * the diagnosis without a snapshot (lib/diagnose/diagnosis.js) uses to count live objects. Each
 * call collects all garbage and walks the whole heap, with the event loop stopped: the pause
 * grows with the heap, whatever the constructor. For each Node version, heap shape and size, a
 * child process builds the heap, then times a full GC (`global.gc()`) and counts two
 * constructors, Map (few instances) and Object (nearly every object), one after the other.
 *
 * Prints one table: the pause (wall ms, and CPU ms of all threads), ms per MB of used heap,
 * and the machine's load average (a busy machine makes pauses longer than their CPU time). `BENCH_NODES` picks the
 * versions (default `20 22 24 26`, through scripts/node-bin.sh), `BENCH_DIAGNOSIS_MB` the heap
 * sizes (default `50 200 600`).
 */
const path = require('node:path')
const { execFileSync } = require('node:child_process')

const MB = 1024 * 1024
const NODES = (process.env.BENCH_NODES || '20 22 24 26').split(/\s+/).filter(Boolean)
const SIZES_MB = (process.env.BENCH_DIAGNOSIS_MB || '50 200 600').split(/\s+/).filter(Boolean).map(Number)
/** Heap shapes: many small objects held by a Map (the common leak), or big strings in an array. */
const SHAPES = ['objects', 'strings']

/** Fills the heap of this process with about `mb` MB of the given `shape`; returns what holds it. */
function fill(shape, mb) {
  const v8 = require('node:v8')
  const target = v8.getHeapStatistics().used_heap_size + mb * MB
  if (shape === 'strings') {
    const held = []
    // Strings of 64 KiB, each one distinct so none is shared.
    while (v8.getHeapStatistics().used_heap_size < target) held.push(`${held.length}:`.padEnd(64 * 1024, 'x'))
    return held
  }
  const held = new Map()
  for (let i = 0; v8.getHeapStatistics().used_heap_size < target; i += 10_000) {
    for (let j = i; j < i + 10_000; j++) held.set(j, { id: j, name: `user-${j}`, tags: [j, j + 1] })
  }
  return held
}

/** The child: fills the heap, times a full GC and two counts, prints one JSON line. */
function child(shape, mb) {
  const v8 = require('node:v8')
  const held = fill(shape, mb)
  const cpuMs = () => {
    const { user, system } = process.cpuUsage()
    return (user + system) / 1000
  }
  // Wall time is the pause the event loop sees; CPU time (all threads) tells the cost apart
  // from waiting for a core on a busy machine.
  const time = (fn) => {
    const [wall, cpu] = [performance.now(), cpuMs()]
    fn()
    return { ms: performance.now() - wall, cpuMs: cpuMs() - cpu }
  }
  const gc = time(() => global.gc())
  const heapMB = v8.getHeapStatistics().used_heap_size / MB
  const counts = {}
  const pauses = {}
  for (const ctor of [Map, Object]) {
    pauses[ctor.name] = time(() => {
      counts[ctor.name] = v8.queryObjects(ctor, { format: 'count' })
    })
  }
  const load = require('node:os').loadavg()[0]
  console.log(JSON.stringify({ node: process.version, shape, heapMB, gc, pauses, counts, held: held.size ?? held.length, load }))
}

/** The bin directory of Node `major` (installed by scripts/node-bin.sh when missing). */
function nodeBin(major) {
  const script = path.join(__dirname, '..', 'scripts', 'node-bin.sh')
  return execFileSync('bash', [script, major], { encoding: 'utf8' }).trim()
}

function main() {
  const rows = []
  console.log('| Node | heap shape | used heap MB | full GC ms | queryObjects(Map) ms (CPU ms) | queryObjects(Object) ms (CPU ms) | ms per MB (max) | load average |')
  console.log('|---|---|---:|---:|---:|---:|---:|---:|')
  for (const major of NODES) {
    const node = path.join(nodeBin(major), 'node')
    for (const shape of SHAPES) {
      for (const mb of SIZES_MB) {
        const args = ['--expose-gc', '--no-warnings', `--max-old-space-size=${Math.max(4096, mb * 4)}`, __filename, 'child', shape, String(mb)]
        const r = JSON.parse(execFileSync(node, args, { encoding: 'utf8', maxBuffer: MB }))
        const perMB = Math.max(r.pauses.Map.ms, r.pauses.Object.ms) / r.heapMB
        rows.push({ ...r, perMB })
        const f = (n) => n.toFixed(0)
        const pause = ({ ms, cpuMs }) => `${f(ms)} (${f(cpuMs)})`
        console.log(`| ${r.node} | ${shape} | ${f(r.heapMB)} | ${f(r.gc.ms)} | ${pause(r.pauses.Map)} | ${pause(r.pauses.Object)} | ${perMB.toFixed(2)} | ${r.load.toFixed(1)} |`)
      }
    }
  }
  return rows
}

if (process.argv[2] === 'child') child(process.argv[3], Number(process.argv[4]))
else if (require.main === module) main()

module.exports = { main }

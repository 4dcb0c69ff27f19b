'use strict'

/**
 * `npm run bench [-- NAME...]`: the benchmarks, every peer side by side in one run.
 * Names: cache, memory, pressure, ring, overhead, detect, analyze, listeners, profiles, source-maps (all of these by default),
 * and the long ones, run only when named: snapshot-cost (about an hour), diagnosis (about
 * twenty minutes), capture (about an hour), census (about four minutes a Node version, and
 * 10 GB for its 1 GB heap's snapshot), restart (about eleven minutes, under PM2) and attach
 * (about nine minutes: `leakproof attach` against a DevTools heap snapshot, Node 24 and 20) and mcp
 * (about a minute and a half, but it needs Node 24 and Debian's chromium: `leakproof mcp` beside
 * memlab's analysis and chrome-devtools-mcp on one snapshot pair) and fleet (about a minute: the
 * report page, leak_overview and the holder metric over 1 to 64 instance directories) and big-heap
 * (about forty minutes and 7 GB of memory: leakproof's floors on heaps of 100 MB, 1 GB and 3 GB
 * against gc() every 10 s and V8's own GCs, the loop's longest stops and the time to a leak) and
 * big-heap-snapshot (Linux and root, about twenty minutes and all the machine's memory: a snapshot of a
 * 1 GB and a 3 GB heap by the forked child against v8.writeHeapSnapshot() in the service, in a cgroup
 * of its own; a writer that would leave under 3 GiB of the machine free is killed and said so) and
 * big-heap-diff (about ten minutes, 20 GB of disk and 4 GB of memory: a pair's diff in the watcher's
 * child against memlab's, on files of 0.5 to 2.3 GB). Prints
 * tables and writes them, with the date, Node version and machine, to bench/out/latest.json.
 */
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawnSync } = require('node:child_process')

const BENCHES = {
  cache: ['Caches: ns/op (best of 2 rounds x 3 interleaved processes per cache) and hit ratio', () => require('./cache').main()],
  memory: ['Caches: bytes per entry at 1M entries, filled and after 3M evicting sets', () => require('./memory').main()],
  pressure: ['Memory pressure: MiB of leak a 96 MiB service survives with a map that shrinks, and with one that does not', () => require('./pressure').main()],
  ring: ['RingBuffer against an array and denque', () => require('./ring').main()],
  overhead: ['watch(): cost on a real http service', () => require('./watch-overhead').main()],
  detect: ['watch(): detection against the memwatch rule', () => require('./detect').main()],
  analyze: ['Snapshot analysis against memlab', () => runScript('analyze.js')],
  listeners: ['Listener tracking against plain Node', () => runScript('listeners.js')],
  profiles: ['Sampling heap profiles: cost and sizes, against @datadog/pprof', () => require('./profiles').main()],
  'source-maps': ["Source maps: leakproof's reader against Node's SourceMap on a bundle's map, the loop's longest stop", () => require('./source-maps').main()],
  'snapshot-cost': ['Heap snapshots: predicted and real cost', () => require('./snapshot-cost').main()],
  diagnosis: ['v8.queryObjects: the pause of one count', () => runScript('diagnosis.js')],
  census: ['The census: cost of a pass against queryObjects and a heap snapshot', () => require('./census').main()],
  capture: ['Heap snapshots by forked children', () => require('./capture').main()],
  restart: ["Restarts: leakproof's restart policy against PM2's max_memory_restart", () => require('./restart').main()],
  attach: ['leakproof attach on a running service against a DevTools heap snapshot', () => require('./attach').main()],
  mcp: ["leakproof mcp beside memlab's MCP server and chrome-devtools-mcp on the same snapshot pair: time to the first answer and the server's peak memory", () => require('./mcp').main()],
  fleet: ['The fleet: the report page and leak_overview over N instance directories, and the scrape of the holder metric', () => require('./fleet').main()],
  'big-heap': ["Big heaps: leakproof's floors against gc() every 10 s and V8's own GCs, at 100 MB, 1 GB and 3 GB", () => require('./big-heap').main()],
  'big-heap-snapshot': ["Big heaps: a snapshot by leakproof's forked child against v8.writeHeapSnapshot() in the service, at 1 GB and 3 GB: stop, time, memory", () => runScript('snapshot-memory.js', { BENCH_SNAPSHOT_MEMORY_MB: '1000,3000', BENCH_SNAPSHOT_MEMORY_VARIANTS: 'as-shipped in-process' })],
  'big-heap-diff': ["Big heaps: a pair's diff in the watcher's child against memlab's, on files of 0.5, 1.1 and 2.3 GB", () => require('./big-heap-diff').main()],
}

/** Benchmarks that take long enough to run only when named. */
const LONG = new Set(['snapshot-cost', 'diagnosis', 'capture', 'census', 'restart', 'attach', 'mcp', 'fleet', 'big-heap', 'big-heap-snapshot', 'big-heap-diff'])

/** Runs a benchmark script that prints its own tables, in a child process; `defaults` fills environment variables not set. */
function runScript(file, defaults = {}) {
  const { status } = spawnSync(process.execPath, [path.join(__dirname, file)], { stdio: 'inherit', env: { ...defaults, ...process.env } })
  if (status !== 0) throw new Error(`${file} failed with status ${status}`)
  return { see: 'printed above' }
}

async function main() {
  const names = process.argv.slice(2)
  for (const name of names) {
    if (!(name in BENCHES)) throw new Error(`unknown benchmark ${name}; known: ${Object.keys(BENCHES).join(', ')}`)
  }
  const machine = {
    date: new Date().toISOString(),
    node: process.version,
    cpu: os.cpus()[0]?.model,
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
  }
  console.log(JSON.stringify(machine))
  const results = { machine }
  for (const [name, [title, run]] of Object.entries(BENCHES)) {
    if (names.length > 0 ? !names.includes(name) : LONG.has(name)) continue
    console.log(`\n# ${title}`)
    results[name] = await run()
  }
  const out = path.join(__dirname, 'out')
  fs.mkdirSync(out, { recursive: true })
  fs.writeFileSync(path.join(out, 'latest.json'), JSON.stringify(results, null, 2))
}

main().catch((err) => {
  console.error(err)
  process.exitCode = 1
})

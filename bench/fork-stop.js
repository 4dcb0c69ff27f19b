'use strict'

/**
 * `node bench/fork-stop.js` (Linux): how long a forked snapshot stops the service (`stopMs`, and
 * `forkMs`, fork() alone), with and without a fork plan read beforehand (`prepareFork()`).
 *
 * For each heap size (BENCH_FORK_STOP_MB, default `300,1000,2000`) one service (this file with
 * `--service MB`) builds about that much live heap of small objects (a Map of products, as
 * bench/fixtures/snapshot-memory-service.js), then forks BENCH_FORK_STOP_SAMPLES times (default 5)
 * per variant, the variants taking turns: `legacy` (no plan: smaps read in the stop) and `plan`
 * (the plan read before). Each child walks the whole Map and exits: a heap page left out of the
 * child would crash it. The addon is leakproof's, or LEAKPROOF_NATIVE_PATH's (an older build has
 * no `plan` variant). BENCH_FORK_STOP_WRITE=1 then writes one whole snapshot per variant with
 * lib/capture/child-snapshot.js's `writeInChild` (its child needs several times the heap of
 * memory) into /tmp/forkstop/, deleted after. Prints one JSON line per heap size.
 */
const fs = require('node:fs')
const path = require('node:path')
const { execFileSync, fork } = require('node:child_process')

const SNAPSHOT_DIR = '/tmp/forkstop'
const WORDS = ['steel', 'oak', 'linen', 'compact', 'wireless', 'classic', 'outdoor', 'kids', 'pro', 'eco', 'smart', 'travel']

function product(id) {
  const word = WORDS[id % WORDS.length]
  return { id, sku: `SKU-${id.toString(36).padStart(8, '0')}`, title: `${word} item ${id}`, price: (id % 10_000) / 100 + 0.99, tags: [word, id % 2 === 0 ? 'in-stock' : 'backorder'] }
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]
const round = (ms) => Math.round(ms * 10) / 10

async function service(heapMb, samples, write) {
  const native = require('../lib/shared/native').nativeBinding()
  const { writeInChild } = require('../lib/capture/child-snapshot')
  const catalog = new Map()
  for (let id = 0; process.memoryUsage().heapUsed < heapMb * 1e6; id += 10_000) {
    for (let k = id; k < id + 10_000; k++) catalog.set(k, product(k))
  }
  const rssMb = () => Math.round(process.memoryUsage().rss / 2 ** 20)
  const variants = typeof native.prepareFork === 'function' ? ['legacy', 'plan'] : ['legacy']
  const seen = Object.fromEntries(variants.map((v) => [v, { stopMs: [], forkMs: [], prepareMs: [], copiedMb: [] }]))
  const limits = { deadlineMs: 120_000, stallMs: 5_000 }
  const walk = () => {
    let chars = 0
    for (const item of catalog.values()) chars += item.title.length + item.tags[1].length
    return String(chars)
  }
  for (let n = 0; n < samples; n++) {
    for (const variant of variants) {
      // Some garbage and some old-space writes between two forks, as a service makes.
      for (let k = 0; k < 50_000; k++) catalog.set(k, product(k))
      await new Promise((resolve) => setTimeout(resolve, 300))
      const prepared = performance.now()
      const plan = variant === 'plan' ? await native.prepareFork() : undefined
      const prepareMs = performance.now() - prepared
      let child
      const end = await new Promise((resolve) => (child = native.forkSnapshot(walk, limits, resolve, undefined, plan)))
      if (end.end !== 'exited' || end.code !== 0) throw new Error(`${variant} child: ${JSON.stringify(end)}`)
      seen[variant].stopMs.push(child.stopMs)
      seen[variant].forkMs.push(child.forkMs)
      seen[variant].prepareMs.push(prepareMs)
      seen[variant].copiedMb.push(child.copiedBytes / 2 ** 20)
    }
  }
  const result = { heapMb: Math.round(process.memoryUsage().heapUsed / 1e6), rssMb: rssMb(), items: catalog.size, node: process.version }
  for (const variant of variants) {
    const s = seen[variant]
    result[variant] = {
      stopMs: s.stopMs.map(round),
      forkMs: s.forkMs.map(round),
      medianStopMs: round(median(s.stopMs)),
      medianForkMs: round(median(s.forkMs)),
      ...(variant === 'plan' ? { medianPrepareMs: round(median(s.prepareMs)) } : {}),
      copiedMb: Math.round(median(s.copiedMb)),
    }
  }
  if (write) {
    for (const variant of variants) {
      // writeInChild asks for a plan itself when the addon has prepareFork; `legacy` hides it.
      const prepareFork = native.prepareFork
      if (variant === 'legacy') native.prepareFork = undefined
      const finalPath = path.join(SNAPSHOT_DIR, `${process.pid}-${variant}.heapsnapshot`)
      const written = await writeInChild({ tempPath: `${finalPath}.tmp`, finalPath, predictedPauseMs: 60_000 })
      native.prepareFork = prepareFork
      fs.rmSync(finalPath, { force: true })
      result[variant].write = { stopMs: round(written.stopMs ?? NaN), forkMs: round(written.forkMs ?? NaN), childMs: written.childMs, bytes: written.bytes, skipped: written.skipped }
    }
  }
  return result
}

if (process.argv[2] === '--service') {
  service(Number(process.argv[3]), Number(process.argv[4]), process.argv[5] === '1').then(
    (result) => process.send(result, () => process.exit(0)),
    (err) => {
      console.error(err)
      process.exit(1)
    },
  )
} else {
  const sizes = (process.env.BENCH_FORK_STOP_MB ?? '300,1000,2000').split(',').map(Number)
  const samples = Number(process.env.BENCH_FORK_STOP_SAMPLES ?? 5)
  const write = process.env.BENCH_FORK_STOP_WRITE === '1'
  fs.mkdirSync(SNAPSHOT_DIR, { recursive: true })
  ;(async () => {
    for (const mb of sizes) {
      const maxOld = Math.max(1024, Math.ceil((mb * 2) / 1024) * 1024)
      const args = ['--service', String(mb), String(samples), write ? '1' : '0']
      const child = fork(__filename, args, { execArgv: [`--max-old-space-size=${maxOld}`] })
      const result = await new Promise((resolve, reject) => {
        child.on('message', resolve)
        child.on('exit', (code) => reject(new Error(`service ${mb} MB exited ${code}`)))
      })
      console.log(JSON.stringify({ date: new Date().toISOString(), kernel: execFileSync('uname', ['-r']).toString().trim(), ...result }))
    }
  })()
}

'use strict'

/**
 * Cache speed and hit ratio, every peer in one run: hit `get`, `set` with eviction,
 * Zipf 0.9 read-through at 10% capacity, a scan-plus-hot-set trace, a loop 1.5 times the
 * cache and a recency-skewed trace, with string and number keys. Prints ns/op, the ratio to
 * lru-cache and hit ratios.
 *
 * To compare BoundedMap with an earlier version of itself in the same run, set
 * `BENCH_CACHE_BEFORE` to a git revision: its `lib/cache/bounded-map.js` joins the peers
 * (as "... (before)"), and both versions are also run with a TTL and with a byte bound.
 * The revision must be ba2e2be or later: earlier ones keep the map in lib/ and check their
 * options with the errors module's former signatures.
 * `BENCH_CACHE_ONLY` (a regular expression) keeps only the caches whose names match.
 */
const fs = require('node:fs')
const path = require('node:path')
const { loadCaches } = require('./peers')
const { execFileSync, spawnSync } = require('node:child_process')
const { zipf, scanPlusHot, loop, recencySkewed } = require('./traces')

const MAX = 10_000
const KEYSPACE = 100_000
const OPS = 2_000_000
const WARMUP = 2 // untimed rounds first: the caches are compared at steady state
const ROUNDS = 2 // timed rounds per process
const PASSES = Number(process.env.BENCH_PASSES) || 3 // processes per cache, interleaved

function timeNs(fn) {
  const start = process.hrtime.bigint()
  const result = fn()
  return { ns: Number(process.hrtime.bigint() - start) / OPS, result }
}

function workloads(keys) {
  const zipfRanks = zipf(KEYSPACE, 0.9, OPS)
  const scanRanks = scanPlusHot(MAX * 2, OPS)
  const loopRanks = loop(1.5 * MAX, OPS)
  const recentRanks = recencySkewed(OPS)
  // Ranks past the keyspace (scans, the recency trace's pool) get keys of their own.
  const widest = Math.max(...[scanRanks, recentRanks].map((ranks) => ranks.reduce((a, b) => Math.max(a, b), 0))) + 1
  const wideKeys = typeof keys[0] === 'string' ? Array.from({ length: widest }, (_, i) => 'key:' + i) : null
  const scanKey = wideKeys === null ? (r) => r : (r) => wideKeys[r]
  const readThrough = (cache, ranks, keyOf) => {
    let hits = 0
    for (let i = 0; i < OPS; i++) {
      const k = keyOf(ranks[i])
      if (cache.get(k) !== undefined) hits++
      else cache.set(k, i)
    }
    return hits / OPS
  }
  return {
    'get (hit)': (make) => {
      const cache = make(MAX)
      for (let i = 0; i < MAX; i++) cache.set(keys[i], i)
      return timeNs(() => {
        let sum = 0
        for (let i = 0; i < OPS; i++) sum += cache.get(keys[(i * 7919) % MAX])
        return sum > 0 ? undefined : 'no hits'
      })
    },
    'set (evicting)': (make) => {
      const cache = make(MAX)
      return timeNs(() => {
        for (let i = 0; i < OPS; i++) cache.set(keys[i % KEYSPACE], i)
      })
    },
    'zipf 0.9 read-through': (make) => {
      const cache = make(MAX)
      return timeNs(() => readThrough(cache, zipfRanks, (r) => keys[r]))
    },
    'scan + hot set': (make) => {
      const cache = make(MAX)
      return timeNs(() => readThrough(cache, scanRanks, scanKey))
    },
    'loop 1.5× read-through': (make) => {
      const cache = make(MAX)
      return timeNs(() => readThrough(cache, loopRanks, (r) => keys[r]))
    },
    'recency-skewed read-through': (make) => {
      const cache = make(MAX)
      return timeNs(() => readThrough(cache, recentRanks, scanKey))
    },
  }
}

const BEFORE = process.env.BENCH_CACHE_BEFORE
const ONLY = process.env.BENCH_CACHE_ONLY ? new RegExp(process.env.BENCH_CACHE_ONLY) : null
const BEFORE_FILE = path.join(__dirname, 'out', `bounded-map-${BEFORE}.js`)
/** A TTL long enough that nothing expires during a run: the cost measured is the bookkeeping. */
const LONG_TTL = 3_600_000

/**
 * Writes BEFORE's bounded-map.js into bench/out, its requires pointed at this tree's
 * lib/ (the helper modules it uses keep their interfaces).
 */
function writeBeforeFile() {
  const source = execFileSync('git', ['show', `${BEFORE}:lib/cache/bounded-map.js`], { encoding: 'utf8' })
  const lib = path.join(__dirname, '..', 'lib')
  const pointed = source.replace(/require\('(\.\.?\/[^']+)'\)/g, (_, rel) => {
    return `require(${JSON.stringify(path.join(lib, 'cache', rel))})`
  })
  fs.mkdirSync(path.dirname(BEFORE_FILE), { recursive: true })
  fs.writeFileSync(BEFORE_FILE, pointed)
}

/** The peers, plus this and the BEFORE version of BoundedMap with a TTL and a byte bound. */
async function allCaches() {
  const caches = await loadCaches()
  if (BEFORE !== undefined) {
    const { BoundedMap } = require('..')
    const { BoundedMap: Before } = require(BEFORE_FILE)
    const wrap = (c) => ({ get: (k) => c.get(k), set: (k, v) => c.set(k, v) })
    const sizeOf = () => 1
    for (const [suffix, Impl] of [['', BoundedMap], [' (before)', Before]]) {
      caches[`leakproof lru${suffix}`] = (max) => wrap(new Impl({ max }))
      caches[`leakproof s3-fifo${suffix}`] = (max) => wrap(new Impl({ max, policy: 's3-fifo' }))
      caches[`leakproof lru ttl${suffix}`] = (max) => wrap(new Impl({ max, ttl: LONG_TTL }))
      caches[`leakproof s3-fifo bytes${suffix}`] = (max) =>
        wrap(new Impl({ maxBytes: max, sizeOf, policy: 's3-fifo' }))
    }
  }
  for (const name of Object.keys(caches)) {
    if (ONLY !== null && name !== 'lru-cache' && !ONLY.test(name)) delete caches[name]
  }
  return caches
}

/** Child: runs every workload for one cache and prints the best ns/op of each as JSON. */
async function measureOne(implName) {
  const make = (await allCaches())[implName]
  const out = {}
  for (const [keyKind, keys] of Object.entries(keySets())) {
    for (const [workload, run] of Object.entries(workloads(keys))) {
      for (let round = 0; round < WARMUP + ROUNDS; round++) {
        const { ns, result } = run(make)
        if (round < WARMUP) continue
        const cell = (out[`${keyKind}\t${workload}`] ??= { ns: Infinity, hitRatio: result })
        cell.ns = Math.min(cell.ns, ns)
      }
    }
  }
  process.stdout.write(JSON.stringify(out))
}

function keySets() {
  return {
    string: Array.from({ length: KEYSPACE }, (_, i) => 'key:' + i),
    number: Array.from({ length: KEYSPACE }, (_, i) => i * 3 + 1),
  }
}

/**
 * Parent: child processes per cache, so no cache's call sites are shared with (and
 * slowed by) another's. The caches take turns over several passes and each cell keeps
 * its best time, so a slow spell of the machine does not land on one cache only.
 */
async function main() {
  if (BEFORE !== undefined) writeBeforeFile()
  const names = Object.keys(await allCaches())
  const cells = {}
  for (let pass = 0; pass < PASSES; pass++) {
    for (const name of names) {
      const child = spawnSync(process.execPath, [__filename, '--impl', name], { encoding: 'utf8' })
      if (child.status !== 0) throw new Error(`${name}: ${child.stderr}`)
      const measured = JSON.parse(child.stdout)
      cells[name] ??= measured
      for (const [cell, { ns }] of Object.entries(measured)) cells[name][cell].ns = Math.min(cells[name][cell].ns, ns)
    }
  }
  const results = []
  for (const cell of Object.keys(cells['lru-cache'])) {
    const [keys, workload] = cell.split('\t')
    const base = cells['lru-cache'][cell].ns
    for (const name of names) {
      const { ns, hitRatio } = cells[name][cell]
      results.push({
        keys,
        workload,
        impl: name,
        'ns/op': ns.toFixed(1),
        'vs lru-cache': (ns / base).toFixed(2),
        'hit ratio': typeof hitRatio === 'number' ? hitRatio.toFixed(3) : '',
      })
    }
  }
  console.table(results)
  return results
}

if (process.argv[2] === '--impl') measureOne(process.argv[3])
else if (require.main === module) main()
module.exports = { main }

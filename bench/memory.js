'use strict'

/**
 * Bytes per entry at 1M entries: each cache in its own process under --expose-gc, keys
 * built before the baseline and small-integer values, so only the structure is counted: the
 * heap and the ArrayBuffers (typed arrays' memory is outside the heap).
 * Twice: once just filled, and once in the steady state of a cache that evicts (after 3M
 * distinct keys were set), where a policy's memory of evicted keys (S3-FIFO's ghosts, a
 * frequency sketch) is part of the cost. The evicted keys exist before the baseline, so a
 * ghost's own key is not counted.
 */
const { spawnSync } = require('node:child_process')
const { loadCaches } = require('./peers')

const ENTRIES = 1_000_000

/** Distinct keys set in the steady-state measurement: three times the bound. */
const CHURN = 3 * ENTRIES

async function measureOne(name, churn) {
  const make = (await loadCaches())[name]
  const keys = Array.from({ length: churn ? CHURN : ENTRIES }, (_, i) => 'key:' + i)
  // The typed arrays' buffers (per-slot links, counts, hashes, a sketch) live outside the
  // heap: they are counted too.
  const heap = () => {
    global.gc()
    global.gc()
    const { heapUsed, arrayBuffers } = process.memoryUsage()
    return heapUsed + arrayBuffers
  }
  const before = heap()
  const cache = make(ENTRIES)
  for (let i = 0; i < keys.length; i++) cache.set(keys[i], i)
  const after = heap()
  if (cache.get(keys[keys.length - 1]) !== keys.length - 1) throw new Error(`${name} lost an entry`)
  process.stdout.write(JSON.stringify({ bytesPerEntry: (after - before) / ENTRIES }))
}

async function main() {
  const rows = {}
  const names = Object.keys(await loadCaches())
  for (const name of names) {
    rows[name] = {}
    // An unbounded Map holds all 3M: no steady state to measure.
    for (const churn of name === 'Map (unbounded)' ? [false] : [false, true]) {
      const child = spawnSync(process.execPath, ['--expose-gc', __filename, '--impl', name, ...(churn ? ['--churn'] : [])], { encoding: 'utf8' })
      if (child.status !== 0) throw new Error(`${name}: ${child.stderr}`)
      rows[name][churn ? 'churned' : 'filled'] = JSON.parse(child.stdout).bytesPerEntry
    }
  }
  const base = rows['lru-cache']
  const table = Object.entries(rows).map(([impl, { filled, churned }]) => ({
    impl,
    'bytes/entry at 1M': filled.toFixed(1),
    'vs lru-cache': (filled / base.filled).toFixed(2),
    'after 3M sets': churned === undefined ? '' : churned.toFixed(1),
    'vs lru-cache ': churned === undefined ? '' : (churned / base.churned).toFixed(2),
  }))
  console.table(table)
  return table
}

if (process.argv[2] === '--impl') measureOne(process.argv[3], process.argv[4] === '--churn')
else if (require.main === module) main()
module.exports = { main }

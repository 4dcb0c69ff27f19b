'use strict'

/**
 * Bytes per entry at 1M entries: each cache in its own process under --expose-gc, keys
 * built before the baseline and small-integer values, so only the structure is counted.
 */
const { spawnSync } = require('node:child_process')
const { loadCaches } = require('./peers')

const ENTRIES = 1_000_000

async function measureOne(name) {
  const make = (await loadCaches())[name]
  const keys = Array.from({ length: ENTRIES }, (_, i) => 'key:' + i)
  const heap = () => {
    global.gc()
    global.gc()
    return process.memoryUsage().heapUsed
  }
  const before = heap()
  const cache = make(ENTRIES)
  for (let i = 0; i < ENTRIES; i++) cache.set(keys[i], i)
  const after = heap()
  if (cache.get(keys[ENTRIES - 1]) !== ENTRIES - 1) throw new Error(`${name} lost an entry`)
  process.stdout.write(JSON.stringify({ bytesPerEntry: (after - before) / ENTRIES }))
}

async function main() {
  const rows = {}
  for (const name of Object.keys(await loadCaches())) {
    const child = spawnSync(process.execPath, ['--expose-gc', __filename, '--impl', name], { encoding: 'utf8' })
    if (child.status !== 0) throw new Error(`${name}: ${child.stderr}`)
    rows[name] = JSON.parse(child.stdout).bytesPerEntry
  }
  const base = rows['lru-cache']
  const table = Object.entries(rows).map(([impl, b]) => ({
    impl,
    'bytes/entry at 1M': b.toFixed(1),
    'vs lru-cache': (b / base).toFixed(2),
  }))
  console.table(table)
  return table
}

if (process.argv[2] === '--impl') measureOne(process.argv[3])
else if (require.main === module) main()
module.exports = { main }

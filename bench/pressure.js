'use strict'

/**
 * Memory pressure: how much longer a service lives with a leak when its BoundedMap shrinks
 * under pressure. The service of the tests (__test__/support/fixtures/pressure-service.js:
 * a 96 MiB heap, a ~40 MiB cache of pages filled over HTTP, the watcher from the preload) is
 * leaked 1 MiB a step until it dies, `RUNS` times with `LEAKPROOF_SHRINK_MAPS=false` and as
 * many with `true`, the two interleaved. Where V8 gives up near its limit varies by ~15 MiB
 * from run to run, so it reports every run and the medians.
 */
const { startService, warm, leakUntilDeath, HEAP_MB } = require('../__test__/support/pressure-client')
const { rng } = require('../__test__/support/helpers')

/** Runs of each kind. */
const RUNS = Number(process.env.BENCH_PRESSURE_RUNS) || 5

/** The MiB of leak one service survived, and whether its map shrank first. */
async function runOnce(shrink, seed) {
  const cleanups = []
  try {
    const service = await startService({ shrink, later: (fn) => cleanups.push(fn) })
    const random = rng(seed)
    await warm(service.port, random)
    const survived = await leakUntilDeath(service.port, random)
    await service.exited
    const shrank = service.events().some((e) => e.type === 'memory-pressure' && e.state === 'shrink')
    return { survived, shrank }
  } finally {
    for (const cleanup of cleanups) cleanup()
  }
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]
}

async function main() {
  const runs = { fixed: [], shrinking: [] }
  for (let run = 0; run < RUNS; run++) {
    runs.fixed.push((await runOnce(false, run)).survived)
    const shrinking = await runOnce(true, run)
    if (!shrinking.shrank) throw new Error('the map did not shrink before the service died')
    runs.shrinking.push(shrinking.survived)
  }
  const table = Object.entries(runs).map(([map, survived]) => ({
    map,
    [`MiB of leak survived (${HEAP_MB} MiB heap), each run`]: survived.join(', '),
    median: median(survived),
  }))
  console.table(table)
  return { ...table, gainMiB: median(runs.shrinking) - median(runs.fixed) }
}

if (require.main === module) main()
module.exports = { main }

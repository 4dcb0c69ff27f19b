'use strict'

/**
 * Source maps on a running service: leakproof's reader (lib/shared/source-maps.js) against
 * Node's own `module.SourceMap`, on a real bundle: esbuild's of Express, Fastify and pino
 * with its map, built here. For each, in a process of its own: the longest stop of the event
 * loop (a 1 ms timer's lateness) while the map is read and positions looked up, the time to
 * the first answer, the time for LOOKUPS random positions, and how many were placed.
 * (__test__/diagnose/source-positions.test.js checks the answers against Node's.)
 */
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawnSync } = require('node:child_process')

const LOOKUPS = 3000
const ROUNDS = 3

/** One reader's run in this process: `{ firstMs, allMs, longestStopMs }` as JSON on stdout. */
async function measure(reader, bundle) {
  const lines = fs.readFileSync(bundle, 'utf8').split('\n')
  let seed = 7
  const random = (n) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n)
  const positions = Array.from({ length: LOOKUPS }, () => {
    const line = random(lines.length)
    return [line + 1, random(Math.max(1, lines[line].length)) + 1]
  })
  let longest = 0
  let last = performance.now()
  const probe = setInterval(() => {
    const now = performance.now()
    longest = Math.max(longest, now - last)
    last = now
  }, 1)
  await new Promise((resolve) => setTimeout(resolve, 50))
  const started = performance.now()
  const find = reader === 'node' ? nodeReader(bundle) : leakproofReader()
  let firstMs = null
  let found = 0
  for (const [line, column] of positions) {
    if ((await find(bundle, line, column)) !== null) found++
    firstMs ??= performance.now() - started
  }
  const allMs = performance.now() - started
  // The probe's next tick measures a stop that ran until now (lookups answered without a turn).
  await new Promise((resolve) => setTimeout(resolve, 5))
  clearInterval(probe)
  console.log(JSON.stringify({ firstMs, allMs, longestStopMs: longest, found }))
}

/** Node's SourceMap, read and parsed as Node does (JSON.parse, then the whole mappings). */
function nodeReader(bundle) {
  let map = null
  return async (file, line, column) => {
    map ??= new (require('node:module').SourceMap)(JSON.parse(await fs.promises.readFile(`${bundle}.map`, 'utf8')))
    const entry = map.findEntry(line - 1, column - 1)
    return entry.generatedLine === line - 1 ? entry : null
  }
}

function leakproofReader() {
  const { SourceMaps } = require('../lib/shared/source-maps')
  const maps = new SourceMaps()
  return (file, line, column) => maps.original(file, line, column)
}

function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leakproof-bench-maps-'))
  try {
    const entry = path.join(dir, 'entry.js')
    fs.writeFileSync(entry, "module.exports = { express: require('express'), fastify: require('fastify'), pino: require('pino') }\n")
    const bundle = path.join(dir, 'server.js')
    require('esbuild').buildSync({ entryPoints: [entry], bundle: true, platform: 'node', sourcemap: true, outfile: bundle, logLevel: 'error', nodePaths: [path.join(__dirname, '..', 'node_modules')] })
    const sizes = { bundleMB: fs.statSync(bundle).size / 1e6, mapMB: fs.statSync(`${bundle}.map`).size / 1e6 }
    console.log(`bundle ${sizes.bundleMB.toFixed(1)} MB, its map ${sizes.mapMB.toFixed(1)} MB; ${LOOKUPS} lookups, best of ${ROUNDS} processes each`)
    const results = {}
    for (let round = 0; round < ROUNDS; round++) {
      for (const reader of ['node', 'leakproof']) {
        const run = spawnSync(process.execPath, [__filename, reader, bundle], { encoding: 'utf8' })
        if (run.status !== 0) throw new Error(`${reader}: ${run.stderr}`)
        const r = JSON.parse(run.stdout)
        const best = results[reader]
        results[reader] = best === undefined ? r : { firstMs: Math.min(best.firstMs, r.firstMs), allMs: Math.min(best.allMs, r.allMs), longestStopMs: Math.min(best.longestStopMs, r.longestStopMs), found: r.found }
      }
    }
    // Node answers a column before a line's first mapping from the line before, which is no place
    // of that line's code: those are not counted as placed (leakproof gives the line's first).
    const table = Object.entries(results).map(([reader, r]) => ({ reader, 'first answer ms': r.firstMs.toFixed(1), [`${LOOKUPS} lookups ms`]: r.allMs.toFixed(0), 'longest stop ms': r.longestStopMs.toFixed(1), placed: r.found }))
    console.table(table)
    console.log(`longest stop, leakproof / Node: ${(results.leakproof.longestStopMs / results.node.longestStopMs).toFixed(2)}`)
    return { sizes, results }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

if (require.main === module && process.argv[2] !== undefined) measure(process.argv[2], process.argv[3])
else if (require.main === module) main()

module.exports = { main }

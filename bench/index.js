'use strict'

/**
 * `npm run bench`: every benchmark, every peer side by side in one run. Prints tables and
 * writes them, with the date, Node version and machine, to bench/out/latest.json.
 */
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

async function main() {
  const machine = {
    date: new Date().toISOString(),
    node: process.version,
    cpu: os.cpus()[0]?.model,
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
  }
  console.log(JSON.stringify(machine))
  const results = { machine }
  console.log('\n# Caches: ns/op (best of 2 rounds x 3 interleaved processes per cache) and hit ratio')
  results.cache = await require('./cache').main()
  console.log('\n# Caches: memory')
  results.memory = await require('./memory').main()
  console.log('\n# RingBuffer')
  results.ring = require('./ring').main()
  const out = path.join(__dirname, 'out')
  fs.mkdirSync(out, { recursive: true })
  fs.writeFileSync(path.join(out, 'latest.json'), JSON.stringify(results, null, 2))
}

main().catch((err) => {
  console.error(err)
  process.exitCode = 1
})

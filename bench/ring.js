'use strict'

/**
 * RingBuffer against an array with push/shift and denque, each in its own process:
 * steady-state "keep the last 1,000" pushes, and a FIFO queue (push, then shift).
 */
const { spawnSync } = require('node:child_process')

const OPS = 5_000_000
const CAPACITY = 1000
const ROUNDS = 5

function impls() {
  const Denque = require('denque')
  const { RingBuffer } = require('..')
  return {
    'array push+shift': () => {
      const a = []
      return { keep: (x) => { a.push(x); if (a.length > CAPACITY) a.shift() }, push: (x) => a.push(x), shift: () => a.shift() }
    },
    denque: () => {
      const d = new Denque()
      return { keep: (x) => { d.push(x); if (d.length > CAPACITY) d.shift() }, push: (x) => d.push(x), shift: () => d.shift() }
    },
    'leakproof RingBuffer': () => {
      const r = new RingBuffer(CAPACITY)
      return { keep: (x) => r.push(x), push: (x) => r.push(x), shift: () => r.shift() }
    },
  }
}

function measureOne(name) {
  const make = impls()[name]
  const best = { 'keep last 1000 (push)': Infinity, 'queue push+shift': Infinity }
  const item = { url: '/x' }
  for (let round = 0; round <= ROUNDS; round++) {
    let q = make()
    let t = process.hrtime.bigint()
    for (let i = 0; i < OPS; i++) q.keep(item)
    const keep = Number(process.hrtime.bigint() - t) / OPS
    q = make()
    t = process.hrtime.bigint()
    for (let i = 0; i < OPS; i++) {
      q.push(item)
      if (i % 4 === 3) for (let j = 0; j < 4; j++) q.shift()
    }
    const queue = Number(process.hrtime.bigint() - t) / OPS
    if (round === 0) continue
    best['keep last 1000 (push)'] = Math.min(best['keep last 1000 (push)'], keep)
    best['queue push+shift'] = Math.min(best['queue push+shift'], queue)
  }
  process.stdout.write(JSON.stringify(best))
}

function main() {
  const rows = {}
  for (const name of Object.keys(impls())) {
    const child = spawnSync(process.execPath, [__filename, '--impl', name], { encoding: 'utf8' })
    if (child.status !== 0) throw new Error(`${name}: ${child.stderr}`)
    rows[name] = JSON.parse(child.stdout)
  }
  const table = []
  for (const workload of Object.keys(rows.denque)) {
    for (const [impl, r] of Object.entries(rows)) {
      table.push({ workload, impl, 'ns/op': r[workload].toFixed(1), 'vs denque': (r[workload] / rows.denque[workload]).toFixed(2) })
    }
  }
  console.table(table)
  return table
}

if (process.argv[2] === '--impl') measureOne(process.argv[3])
else if (require.main === module) main()
module.exports = { main }

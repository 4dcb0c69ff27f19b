'use strict'

/**
 * `node bench/listeners.js`: the cost of listener tracking against plain node, in one run.
 *
 * Listeners: `on`+`off`, `addEventListener`+`removeEventListener`, `emit`, and a
 * short-lived emitter per "request", with tracking off (leakproof loaded, nothing tracked),
 * process-wide (`trackListeners()`: a stack only for a listener that is not alone on its
 * event and raises it to a new peak; with `sites: 'all'`: for every listener not alone on
 * its event) and per emitter (`trackEmitter`: a stack for every listener). Timers: `setTimeout`+`clearTimeout` and promise
 * creation, plain, with `trackTimers()`, with the async_hooks design it was preferred to,
 * and with `trackPromises()`.
 *
 * Every variant runs in its own child process (no shared call-site feedback), variants
 * take turns over PASSES passes, each cell keeps its best ns/op.
 */
const { spawnSync } = require('node:child_process')
const { EventEmitter } = require('node:events')
const os = require('node:os')

const PASSES = Number(process.env.BENCH_PASSES) || 3
// Timed rounds per workload and process, after one untimed: at least MIN_ROUNDS, more
// (up to MAX_ROUNDS) while under ROUND_BUDGET_NS, so cheap cells get more chances.
const MIN_ROUNDS = 2
const MAX_ROUNDS = 8
const ROUND_BUDGET_NS = 600e6

/** ns per operation of `body(ops)`. */
function time(ops, body) {
  const start = process.hrtime.bigint()
  body(ops)
  return Number(process.hrtime.bigint() - start) / ops
}

/**
 * ns per operation of `body(BATCH)` run `ops / BATCH` times, yielding to the event loop
 * between batches as a server does between requests (a WeakRef made in a job keeps its
 * target alive until the job ends, so a single synchronous loop would keep every
 * short-lived emitter).
 */
const BATCH = 1000
async function timeBatched(ops, body) {
  const turn = () => new Promise((resolve) => setImmediate(resolve))
  let ns = 0
  for (let done = 0; done < ops; done += BATCH) {
    ns += time(BATCH, body) * BATCH
    await turn()
  }
  return ns / ops
}

const noop = () => {}

/** Listener workloads; `make()` gives the emitter the variant wants measured. */
const LISTENER_WORKLOADS = {
  'on+off, alone on its event': (make) => {
    const e = make()
    return time(200_000, (n) => {
      for (let i = 0; i < n; i++) e.on('x', noop).off('x', noop)
    })
  },
  'on+off, 3rd listener of its event': (make) => {
    const e = make()
    e.on('x', () => {}).on('x', () => {})
    return time(20_000, (n) => {
      for (let i = 0; i < n; i++) e.on('x', noop).off('x', noop)
    })
  },
  'emit, 3 listeners': (make) => {
    const e = make()
    let sum = 0
    for (let k = 0; k < 3; k++) e.on('x', (v) => { sum += v })
    const ns = time(2_000_000, (n) => {
      for (let i = 0; i < n; i++) e.emit('x', i)
    })
    return sum > 0 ? ns : NaN
  },
  'addEventListener+removeEventListener': (make) => {
    const t = make(new EventTarget())
    return timeBatched(50_000, (n) => {
      for (let i = 0; i < n; i++) {
        t.addEventListener('x', noop)
        t.removeEventListener('x', noop)
      }
    })
  },
  'per request: new emitter, 3 listeners, emit': async (make) => {
    let sum = 0
    const ns = await timeBatched(30_000, (n) => {
      for (let i = 0; i < n; i++) {
        const e = make()
        e.on('data', (v) => { sum += v })
        e.once('end', noop)
        e.on('error', noop)
        e.emit('data', 1)
        e.emit('end')
      }
    })
    return sum > 0 ? ns : NaN
  },
}

const plainMake = (emitter = new EventEmitter()) => emitter

/** Listener variants: set up in the child, returning the `make` workloads use. */
const LISTENER_VARIANTS = {
  node: () => plainMake,
  'leakproof loaded, off': () => {
    require('..')
    return plainMake
  },
  trackListeners: () => {
    require('..').trackListeners()
    return plainMake
  },
  "trackListeners sites 'all'": () => {
    require('..').trackListeners({ sites: 'all' })
    return plainMake
  },
  trackEmitter: () => {
    const { trackEmitter } = require('..')
    return (emitter = new EventEmitter()) => trackEmitter(emitter)
  },
}

const TIMER_WORKLOADS = {
  'setTimeout+clearTimeout': () => timeBatched(30_000, (n) => {
    for (let i = 0; i < n; i++) clearTimeout(setTimeout(noop, 60_000))
  }),
  'new Promise + resolve': () => timeBatched(200_000, (n) => {
    let last
    for (let i = 0; i < n; i++) last = new Promise((resolve) => resolve(i))
    return last
  }),
}

/**
 * The design `trackTimers` was preferred to: an async_hooks hook taking a stack per
 * Timeout. Its `init` makes node run promise hooks for every promise too.
 */
function asyncHooksTimers() {
  const { capture } = require('../lib/track/call-site')
  const live = new Map()
  const init = (id, type) => {
    if (type === 'Timeout') live.set(id, capture(init))
  }
  require('node:async_hooks').createHook({
    init,
    destroy(id) {
      live.delete(id)
    },
  }).enable()
}

const TIMER_VARIANTS = {
  node: () => {},
  trackTimers: () => require('..').trackTimers(),
  'async_hooks Timeout hook': asyncHooksTimers,
  trackPromises: () => require('..').trackPromises(),
}

const GROUPS = {
  listeners: { variants: LISTENER_VARIANTS, workloads: LISTENER_WORKLOADS, base: 'node' },
  timers: { variants: TIMER_VARIANTS, workloads: TIMER_WORKLOADS, base: 'node' },
}

/** Child: one variant of one group, every workload, best of its rounds; prints JSON. */
async function measureOne(group, variant) {
  const { variants, workloads } = GROUPS[group]
  const make = variants[variant]()
  const out = {}
  for (const [name, run] of Object.entries(workloads)) {
    await run(make) // warm-up
    out[name] = Infinity
    const start = process.hrtime.bigint()
    for (let round = 0; round < MAX_ROUNDS; round++) {
      if (round >= MIN_ROUNDS && Number(process.hrtime.bigint() - start) > ROUND_BUDGET_NS) break
      out[name] = Math.min(out[name], await run(make))
    }
  }
  process.stdout.write(JSON.stringify(out))
}

/** Parent: interleaved passes of child processes, best ns/op per cell, ratio to plain node. */
function main() {
  console.log(JSON.stringify({
    date: new Date().toISOString(),
    node: process.version,
    cpu: os.cpus()[0]?.model,
    cores: os.cpus().length,
    passes: PASSES,
  }))
  const results = {}
  for (const [group, { variants, workloads, base }] of Object.entries(GROUPS)) {
    const best = {}
    for (let pass = 0; pass < PASSES; pass++) {
      for (const variant of Object.keys(variants)) {
        const child = spawnSync(process.execPath, [__filename, '--child', group, variant], { encoding: 'utf8' })
        if (child.status !== 0) throw new Error(`${group}/${variant}: ${child.stderr}`)
        const measured = JSON.parse(child.stdout)
        best[variant] ??= measured
        for (const [cell, ns] of Object.entries(measured)) best[variant][cell] = Math.min(best[variant][cell], ns)
      }
    }
    const rows = []
    for (const workload of Object.keys(workloads)) {
      for (const variant of Object.keys(variants)) {
        const ns = best[variant][workload]
        rows.push({ workload, variant, 'ns/op': ns.toFixed(1), 'vs node': (ns / best[base][workload]).toFixed(2) })
      }
    }
    console.log(`\n# ${group}: ns/op, best of ${PASSES} interleaved processes x ${MIN_ROUNDS}-${MAX_ROUNDS} rounds`)
    console.table(rows)
    results[group] = rows
  }
  return results
}

if (process.argv[2] === '--child') measureOne(process.argv[3], process.argv[4])
else if (require.main === module) main()
module.exports = { main }

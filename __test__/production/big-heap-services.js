'use strict'

/**
 * What the big-heap production tests share (big-heap.test.js, big-heap-pair.test.js): a
 * search service with a catalog of about 1 GB of heap (fixtures/big-heap-service.js) started
 * as a user starts one, under loopback load from a process of its own, and the stops its own
 * loop probe saw, told apart by cause.
 */
const { spawn } = require('node:child_process')
const path = require('node:path')
const { once } = require('node:events')
const { lineOf, events } = require('./helpers')

const REGISTER = path.join(__dirname, '..', '..', 'register.js')
const SERVICE = path.join(__dirname, 'fixtures', 'big-heap-service.js')
const LOAD = path.join(__dirname, '..', 'support', 'fixtures', 'express-load.js')
const MINUTE = 60_000
/** The longest stop of leakproof's the service may see. */
const MAX_STOP_MS = 250
/** Requests a second each service's load sends, nine in ten to the query route. */
const LOAD_PER_SECOND = 250

const NODE_MAJOR = Number(process.versions.node.split('.')[0])
const onThisNode = NODE_MAJOR === 24 || process.env.LEAKPROOF_SERVICE_TESTS === '1'

/** The tests' `skip`: run by hand (BIG_HEAP_TESTS=1), on Node 24 unless LEAKPROOF_SERVICE_TESTS=1. */
function bigHeapSkip(cost) {
  if (process.env.BIG_HEAP_TESTS !== '1') return `run by hand: BIG_HEAP_TESTS=1 (${cost}, nothing else running)`
  if (onThisNode) return false
  return `runs on Node 24, what services run (this is ${process.version}); set LEAKPROOF_SERVICE_TESTS=1 to run it anyway`
}

/**
 * Starts `spec`'s service (`spec.config`: the fixture's argument) and, once it listens, its
 * load; resolves with the running service. `env` is added to its environment (LEAKPROOF_LOG is
 * set to a log in `dir`), `wrap` may wrap its argv (into a cgroup).
 */
async function startService(spec, dir, { env = {}, wrap = (argv) => argv } = {}) {
  const log = path.join(dir, `${spec.config.mode}-${spec.config.entryBytes ?? 0}.jsonl`)
  const [command, ...args] = wrap([process.execPath, '-r', REGISTER, SERVICE, JSON.stringify(spec.config)])
  const child = spawn(command, args, { env: { PATH: process.env.PATH, LEAKPROOF_LOG: log, ...env }, stdio: ['ignore', 'pipe', 'inherit'] })
  const exited = once(child, 'exit')
  const { port } = await lineOf(child, (line) => line.type === 'listening')
  const loadOptions = { port, connections: 4, perSecond: LOAD_PER_SECOND, warmupMs: 0, otherEvery: 10, durationMs: 30 * MINUTE }
  const load = spawn(process.execPath, [LOAD, JSON.stringify(loadOptions)], { stdio: ['ignore', 'ignore', 'inherit'] })
  return { ...spec, child, exited, port, log, load, loadStartedAt: Date.now(), leak: null, report: null, stats: null, finishedAt: null }
}

/** Reads the service's probe and counts, then stops the service and its load. */
async function finishService(s) {
  if (s.stats !== null) return
  s.stats = await (await fetch(`http://127.0.0.1:${s.port}/stats`)).json()
  s.finishedAt = Date.now()
  s.load.kill()
  s.child.kill('SIGTERM')
  await s.exited
}

/** Kills what still runs of a service (a failed test). */
function killService(s) {
  s.load.kill()
  s.child.kill('SIGKILL')
}

/** Whether the intervals [a0, a1] and [b0, b1] meet. */
const overlap = (a0, a1, b0, b1) => a0 <= b1 && b0 <= a1

/**
 * The service's stops since its catalog was loaded, `[endedAt, ms, cause]`: `'leakproof'`
 * outside GCs or in a GC the watcher asked for (from its request until a second after its
 * floor), `'V8'` in a GC of V8's own.
 */
function stopsSinceLoaded(s) {
  const forced = events(s.log).filter((e) => e.type === 'sample' && e.forcedGc).map((e) => [e.time - e.gcDurationMs, e.time + 1000])
  return s.stats.stops
    .filter(([endedAt, late]) => endedAt - late >= s.stats.listeningAt)
    .map(([endedAt, late]) => {
      const inGc = s.stats.gcs.some(([at, ms]) => overlap(endedAt - late, endedAt, at, at + ms))
      const ours = !inGc || forced.some(([from, to]) => overlap(endedAt - late, endedAt, from, to))
      return [endedAt, late, ours ? 'leakproof' : 'V8']
    })
}

/** The longest stop since the catalog was loaded, `[endedAt, ms, cause]`, and the GCs under way then. */
function longestStop(s) {
  const longest = stopsSinceLoaded(s).reduce((most, stop) => (stop[1] > most[1] ? stop : most), [0, 0, 'none'])
  const gcsNear = s.stats.gcs.filter(([at, ms]) => at <= longest[0] && at + ms >= longest[0] - longest[1])
  return { longest, gcsNear }
}

/** Stops of leakproof's over MAX_STOP_MS, `[endedAt, ms]`. */
function stopsOverLimit(s) {
  return stopsSinceLoaded(s).filter(([, late, cause]) => late > MAX_STOP_MS && cause === 'leakproof')
}

module.exports = { startService, finishService, killService, stopsOverLimit, longestStop, bigHeapSkip, MAX_STOP_MS, MINUTE }

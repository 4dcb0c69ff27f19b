'use strict'

// Slow leaks and a healthy day at the defaults, time compressed (issue 30): leaks of 25, 5
// and 1 KB/s must be reported within 10 minutes, 45 minutes and 3 hours of their start, on
// the time scale meant for them, and a day of healthy production must raise no alarm.
//
// How time is compressed, by a factor c per service: every duration option is divided by c
// (intervalMs 10 s/c; warmupMs, minDurationMs and forceGcAfterMs 60 s/c), so every time
// scale's buckets and windows shrink alike (they are multiples of minDurationMs);
// minRateBytesPerSec is 512 × c; the leaks grow by c times their production rate per wall
// second, and every time in the scenarios (leak onset, session lifetime, cache filling,
// the day's load) is divided by c. minGrowthBytes stays at its default (8 MiB), as do the
// sizes of the garbage's sawtooth (0-3 MB in each floor), the sessions, the cache and the
// step: the growth over each window and its ratio to the floors' noise are production's.
// Only gcBudget is raised, to 0.25 (forced GCs take a larger share of a shorter interval);
// the rest is at its default, with snapshots, allocation sites and the census off so that
// nothing else runs. Requests are not compressed: their rate is what a loopback service on
// a shared core takes, and what grows with them (sessions) is sized for it; each keeps the
// event loop busy for a while, so its CPU time follows the load. These services promote
// little, so V8 runs next to no full GC of its own, where a busy production service under
// its sawtooth runs one every interval or more: forceGcAfterMs is one interval here, so
// that the watcher's quiet GCs give a floor every interval, as the issue's targets assume
// ("a floor every 10 s, a busy service at the default interval"). A quiet service's floors
// (one forced GC a minute, the default forceGcAfterMs) are judged in
// src/core/detect/detector/slow_leak_tests.rs; docs/watch.md states what they cost.
//
// Leaks (c = 10, 20, 40: about 3, 4 and 6 minutes of wall time each): each service runs 20
// production minutes of healthy load first, then keeps `leakBytesPerSec`, exactly, by the
// clock, in a module-level array; it runs until a quarter past its target, so a miss says
// by how much. The healthy day (c = 250: 24 hours in 5.8 minutes): one service under a
// diurnal load (lowest as it starts, so that its sessions, filling from empty, start below
// minGrowthBytes: a store filling after the warm-up is documented to look like a leak),
// whose 40 KB sessions expire after 30 minutes, so its floors rise and fall by about 60 MB
// with the load, half an hour behind it; one under a steady load with a cache without a
// bound filling from 30 minutes on (95% full two hours later, 20 MB), then a 40 MB step of
// lazy loading 6 hours in, once the cache is flat. Every service keeps a sawtooth of
// healthy garbage. All five run at once, loaded from a sixth process, bounded at about 6.5
// minutes. Real time at the defaults would be 24 hours, so this runs in
// `npm run test:production`, not `npm test`.

const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')
const path = require('node:path')
const readline = require('node:readline')

const SERVICE = path.join(__dirname, 'fixtures', 'slow-leak-service.js')
const MINUTE = 60_000
const HOUR = 60 * MINUTE
const MB = 1e6
/** When each leak begins, in production time: after 20 minutes of healthy load. */
const LEAK_AFTER_MS = 20 * MINUTE
/** A leaking service runs this much longer than its target, so a miss says by how much. */
const GRACE = 1.25
/** The slope reported must be within this factor of the real rate. */
const SLOPE_FACTOR = 2

const LEAKS = [
  { name: 'leak of 25 KB/s', rate: 25_000, c: 10, withinMs: 10 * MINUTE, scales: ['minutes', 'quarter-hour'] },
  { name: 'leak of 5 KB/s', rate: 5_000, c: 20, withinMs: 45 * MINUTE, scales: ['minutes', 'quarter-hour', 'hour'] },
  { name: 'leak of 1 KB/s', rate: 1_000, c: 40, withinMs: 3 * HOUR, scales: ['hour', 'hours'] },
]
const DAY_C = 250
const DAY_MS = 24 * HOUR
/** Requests a second to each leaking service and to the steady one. */
const STEADY_PER_SECOND = 50
/** The diurnal load: lowest as the service starts, highest 12 hours later. */
const DIURNAL = { minPerSecond: 15, maxPerSecond: 200, troughAtMs: 0 }
/** How long a request keeps the diurnal service's event loop busy: its utilization goes from about 0.1 to 0.45. */
const DIURNAL_WORK_MS = 1.5
/** One interval, in production time: a floor every interval (see the opening comment). */
const FORCE_GC_AFTER_MS = 10_000

const services = []
let load = null

/** Starts the fixture with `config`; its JSON lines gather in `lines`. */
function start(name, config, extra) {
  const child = spawn(process.execPath, [SERVICE, JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'pipe'] })
  const service = { name, config, child, lines: [], stderr: '', ...extra }
  child.stderr.on('data', (chunk) => (service.stderr += chunk))
  const ready = new Promise((resolve, reject) => {
    readline.createInterface({ input: child.stdout }).on('line', (text) => {
      const line = JSON.parse(text)
      service.lines.push(line)
      if (line.type === 'ready') resolve(line)
    })
    child.on('close', (code, signal) => reject(new Error(`${name} exited with ${code ?? signal} before it listened: ${service.stderr}`)))
  })
  // 'close': after its stdout ended, so every line is in.
  service.closed = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal })))
  const bound = setTimeout(() => child.kill('SIGKILL'), config.runForMs / config.c + 60_000)
  service.closed.then(() => clearTimeout(bound))
  service.ready = ready
  services.push(service)
  return service
}

/** Wall ms as production time in a service compressed by `c`, in words. */
function production(ms, c) {
  const minutes = (ms * c) / MINUTE
  return minutes < 120 ? `${minutes.toFixed(1)} min` : `${(minutes / 60).toFixed(2)} h`
}

/**
 * The lowest heap floor (MB) and mean event-loop utilization per `stepMs` of production
 * time, each step named by when it began in `unit` (`m` or `h`), for diagnostics.
 */
function timeline(service, ready, stepMs, unit) {
  const c = service.config.c
  const steps = new Map()
  const stepOf = (time) => Math.floor(((time - ready.startedAt) * c) / stepMs)
  for (const line of service.lines) {
    if (line.type !== 'sample' && line.type !== 'progress') continue
    const step = steps.get(stepOf(line.time)) ?? { floor: Infinity, elu: [] }
    if (line.type === 'sample') step.floor = Math.min(step.floor, line.heapUsed)
    else step.elu.push(line.elu)
    steps.set(stepOf(line.time), step)
  }
  return [...steps]
    .map(([i, { floor, elu }]) => `${(i * stepMs) / (unit === 'h' ? HOUR : MINUTE)}${unit}:${floor === Infinity ? '-' : (floor / MB).toFixed(1)}${elu.length ? `/${(elu.reduce((a, b) => a + b, 0) / elu.length).toFixed(2)}` : ''}`)
    .join(' ')
}

before(async () => {
  for (const leak of LEAKS) {
    const runForMs = LEAK_AFTER_MS + GRACE * leak.withinMs
    start(leak.name, { scenario: 'leak', c: leak.c, runForMs, leakAfterMs: LEAK_AFTER_MS, leakBytesPerSec: leak.rate, forceGcAfterMs: FORCE_GC_AFTER_MS }, { leak })
  }
  start('diurnal', { scenario: 'diurnal', c: DAY_C, runForMs: DAY_MS, forceGcAfterMs: FORCE_GC_AFTER_MS, workMs: DIURNAL_WORK_MS }, { diurnal: DIURNAL })
  start('steady', { scenario: 'steady', c: DAY_C, runForMs: DAY_MS, forceGcAfterMs: FORCE_GC_AFTER_MS })
  const ready = await Promise.all(services.map((s) => s.ready))
  const targets = services.map((s, i) => {
    const { port, startedAt } = ready[i]
    s.startedAt = startedAt
    const rate = s.diurnal !== undefined ? { diurnal: s.diurnal } : { perSecond: STEADY_PER_SECOND }
    return { name: s.name, port, startedAt, c: s.config.c, ...rate }
  })
  const durationMs = Math.max(...services.map((s) => s.config.runForMs / s.config.c)) + 30_000
  load = spawn(process.execPath, [SERVICE, 'load', JSON.stringify({ targets, durationMs })], { stdio: ['ignore', 'pipe', 'inherit'] })
})

after(async () => {
  for (const child of [load, ...services.map((s) => s.child)]) {
    if (child !== null && child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
  }
})

for (const [i, leak] of LEAKS.entries()) {
  test(`a ${leak.name.slice(8)} leak is reported within ${production(leak.withinMs, 1)} of its start, on the ${leak.scales.join(' or ')} scale`, { timeout: 9 * MINUTE }, async (t) => {
    const service = services[i]
    const { code, signal } = await service.closed
    const { lines, config } = service
    const { c } = config
    const ready = lines.find((l) => l.type === 'ready')
    const started = lines.find((l) => l.type === 'leak-start')
    const done = lines.find((l) => l.type === 'done')
    const leaks = lines.filter((l) => l.type === 'leak')
    t.diagnostic(`c = ${c}; every 5 production minutes, lowest heap floor MB/event-loop utilization: ${timeline(service, ready, 5 * MINUTE, 'm')}`)
    t.diagnostic(`done: ${JSON.stringify(done)}; wall ${((done?.time - ready.startedAt) / 1000).toFixed(0)} s`)
    for (const event of leaks) {
      t.diagnostic(`leak ${production(event.time - started?.time, c)} after the leak began (${((event.time - started?.time) / 1000).toFixed(1)} s wall): ${JSON.stringify(event)}`)
    }
    assert.equal(code, 0, `exited with ${code ?? signal}: ${service.stderr}`)
    assert.ok(started, 'the leak never began')
    assert.deepEqual(leaks.filter((e) => e.time < started.time), [], 'a leak reported before the leak began')
    const heap = leaks.find((e) => e.kind === 'heap')
    assert.ok(heap, `no heap leak within ${production(GRACE * leak.withinMs, 1)} of its start`)
    const tookMs = (heap.time - started.time) * c
    assert.ok(tookMs <= leak.withinMs, `reported ${production(tookMs, 1)} after it began, later than ${production(leak.withinMs, 1)}`)
    assert.ok(leak.scales.includes(heap.scale), `reported on the ${heap.scale} scale`)
    const real = leak.rate * c
    assert.ok(heap.slopeBytesPerSec >= real / SLOPE_FACTOR && heap.slopeBytesPerSec <= real * SLOPE_FACTOR, `slope ${heap.slopeBytesPerSec} B/s (wall), the leak ${real} B/s`)
  })
}

test('a day of healthy production raises no alarm: diurnal load, a cache filling for two hours, a step after lazy loading, a sawtooth', { timeout: 9 * MINUTE }, async (t) => {
  const [diurnal, steady] = services.slice(LEAKS.length)
  await Promise.all([diurnal.closed, steady.closed])
  for (const service of [diurnal, steady]) {
    const ready = service.lines.find((l) => l.type === 'ready')
    const done = service.lines.find((l) => l.type === 'done')
    t.diagnostic(`${service.name}: c = ${DAY_C}; every production hour, lowest heap floor MB/event-loop utilization: ${timeline(service, ready, HOUR, 'h')}`)
    t.diagnostic(`${service.name}: done: ${JSON.stringify(done)}; wall ${((done?.time - ready.startedAt) / 1000).toFixed(0)} s`)
    for (const event of service.lines.filter((l) => l.type === 'leak')) {
      t.diagnostic(`${service.name}: leak ${production(event.time - ready.startedAt, DAY_C)} into the day: ${JSON.stringify(event)}`)
    }
  }
  for (const service of [diurnal, steady]) {
    const { code, signal } = await service.closed
    assert.equal(code, 0, `${service.name} exited with ${code ?? signal}: ${service.stderr}`)
    const done = service.lines.find((l) => l.type === 'done')
    assert.ok(done.productionMs >= DAY_MS, `${service.name} ran ${production(done.productionMs, 1)}`)
  }
  // The premises: the diurnal load and floors rose and fell (by tens of MB); the cache filled and the step came.
  const floors = diurnal.lines.filter((l) => l.type === 'sample').map((l) => l.heapUsed)
  assert.ok(Math.max(...floors) - Math.min(...floors) >= 40 * MB, `the diurnal floors moved by only ${(Math.max(...floors) - Math.min(...floors)) / MB} MB`)
  const loads = diurnal.lines.filter((l) => l.type === 'progress').map((l) => l.elu)
  assert.ok(Math.max(...loads) - Math.min(...loads) >= 0.2, `the diurnal load moved by only ${Math.max(...loads) - Math.min(...loads)}`)
  assert.ok(steady.lines.find((l) => l.type === 'done').cacheEntries >= 9_500, 'the cache filled')
  assert.ok(steady.lines.some((l) => l.type === 'step'), 'the step came')

  const alarms = [diurnal, steady].flatMap((s) => s.lines.filter((l) => l.type === 'leak').map((e) => `${s.name}: ${e.kind} on ${e.scale} at ${production(e.time - s.startedAt, DAY_C)}`))
  assert.deepEqual(alarms, [])
})

'use strict'

// A fast leak under saturating load, reported while there is time (issue 12, item 5): a
// real http service at watcher defaults, loaded by keep-alive clients in this process,
// leaks several MB/s from 15 s on; the same service with a cache that levels off is the
// control. Both run at once, bounded at 95 s: real time at the defaults, so this runs in
// `npm run test:production`, not `npm test`.

const test = require('node:test')
const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')
const path = require('node:path')
const readline = require('node:readline')
const { drive } = require('../../bench/load')

const SERVICE = path.join(__dirname, 'fixtures', 'urgent-service.js')
/** When the service starts storing records, after the watcher started. */
const START_AFTER_MS = 15_000
/** How soon after its start the leak must be reported: about a minute, plus a floor. */
const REPORTED_WITHIN_MS = 75_000
const MiB = 1024 * 1024

/**
 * Runs the service in `mode` for at most `durationMs` under load from `connections`
 * keep-alive clients; resolves with its JSON lines and the load's figures.
 */
function runUnderLoad(mode, durationMs, connections) {
  const child = spawn(process.execPath, [SERVICE, mode, String(START_AFTER_MS), String(durationMs)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const lines = []
  let stderr = ''
  child.stderr.on('data', (chunk) => (stderr += chunk))
  let done = false // the service is finishing: requests may fail from now on
  const exited = new Promise((resolve) => child.on('exit', resolve)).finally(() => (done = true))
  const load = new Promise((resolve, reject) => {
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      const event = JSON.parse(line)
      lines.push(event)
      if (event.type === 'done') done = true
      if (event.type !== 'ready') return
      const progress = {}
      const loadStarted = Date.now()
      const figures = () => ({ perSecond: progress.requests / ((Date.now() - loadStarted) / 1000) })
      drive({ port: event.port, until: () => done, connections, progress }).then(
        () => resolve(figures()),
        (err) => (done ? resolve(figures()) : reject(err)),
      )
    })
  })
  const timeout = setTimeout(() => child.kill('SIGKILL'), durationMs + 15_000)
  return Promise.all([exited, load]).then(([code, figures]) => {
    clearTimeout(timeout)
    assert.equal(code, 0, `${mode} service exited with ${code}: ${stderr}`)
    return { events: lines, figures }
  })
}

/** What a run says about itself, for the test's diagnostics. */
function summary(events, figures) {
  const start = events.find((e) => e.type === 'start')
  const samples = events.filter((e) => e.type === 'sample')
  const forced = samples.filter((e) => e.forcedGc)
  return {
    requestsPerSecond: Math.round(figures.perSecond),
    samples: samples.length,
    forcedGcs: events.find((e) => e.type === 'done')?.forcedGcs,
    forcedGcMs: forced.map((e) => `${e.forcedGcReason}:${Math.round(e.gcDurationMs)}`).join(' '),
    floorsMiB: samples.map((e) => `${Math.round((e.time - start.time) / 1000)}s:${Math.round(e.heapUsed / MiB)}`).join(' '),
  }
}

test('a leak of several MB/s under saturating load is reported as urgent within about a minute; a cache that levels off is not', async (t) => {
  const [leaking, control] = await Promise.all([runUnderLoad('leak', 95_000, 8), runUnderLoad('cache', 90_000, 8)])
  const leakRun = summary(leaking.events, leaking.figures)
  t.diagnostic(`leaking service: ${JSON.stringify(leakRun)}`)
  t.diagnostic(`control service: ${JSON.stringify(summary(control.events, control.figures))}`)

  const start = leaking.events.find((e) => e.type === 'start')
  const leak = leaking.events.find((e) => e.type === 'leak')
  assert.ok(leak, `no leak event: ${JSON.stringify(leakRun)}`)
  t.diagnostic(`leak reported ${((leak.time - start.time) / 1000).toFixed(1)} s after it started: ${JSON.stringify(leak)}`)
  assert.equal(leak.kind, 'heap')
  // The premise: a leak of at least 5 MB/s, which the default 4 GB heap limit makes urgent.
  assert.ok(leak.slopeBytesPerSec >= 5e6, `the leak grew only ${leak.slopeBytesPerSec} B/s: ${JSON.stringify(leakRun)}`)
  assert.equal(leak.urgent, true)
  assert.ok(leak.projectedLimitAt > leak.time && leak.projectedLimitAt - leak.time <= 15 * 60_000, JSON.stringify(leak))
  assert.ok(leak.time - start.time <= REPORTED_WITHIN_MS, `reported ${leak.time - start.time} ms after the leak started`)

  assert.deepEqual(control.events.filter((e) => e.type === 'leak'), [])
  // The control's cache filled to its ceiling meanwhile: growth the detector saw and let be.
  assert.ok(control.events.find((e) => e.type === 'done').stored >= 80_000, 'the cache filled to its ceiling')
})

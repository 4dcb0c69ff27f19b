'use strict'

/**
 * What the restart tests stand a service in: its processes (mitigate/fixtures/restart-service.js)
 * with their output parsed, and a balancer that sends the load only to instances whose
 * readiness route says 200, probed as Kubernetes would, with a client that retries nothing:
 * every error and every status but 200 counts as a failed request.
 */
const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')
const fs = require('node:fs')
const http = require('node:http')
const path = require('node:path')
const readline = require('node:readline')
const { tempDir } = require('./temp-dir')
const { freePort } = require('./run-helpers')

const ROOT = path.join(__dirname, '..', '..')
const SERVICE = path.join(ROOT, '__test__', 'mitigate', 'fixtures', 'restart-service.js')
const REGISTER = path.join(ROOT, 'register.js')

/** The watcher at FAST_WATCH's pace (50× production), as the preload's variables. */
const FAST_ENV = Object.freeze({
  LEAKPROOF_INTERVAL_MS: '200',
  LEAKPROOF_GC_BUDGET: '0.9',
  LEAKPROOF_FORCE_GC_AFTER_MS: '0',
  LEAKPROOF_WARMUP_MS: '2000',
  LEAKPROOF_MIN_DURATION_MS: '3000',
  LEAKPROOF_WINDOW: '20',
  LEAKPROOF_MIN_POINTS: '8',
  LEAKPROOF_MIN_GROWTH_BYTES: String(2 * 1024 * 1024),
  LEAKPROOF_MIN_RATE_BYTES_PER_SEC: String(64 * 1024),
  LEAKPROOF_SNAPSHOT_MAX_PAUSE_MS: 'Infinity',
  LEAKPROOF_SITES_WINDOW_MS: '1000',
  LEAKPROOF_FOLLOW_UP_GROWTH_BYTES: String(4 * 1024 * 1024),
})

/**
 * One process of the service: `node [-r register] restart-service.js` with `env` over this
 * process's. `lines` collects its JSON output lines; `exited` resolves with
 * `{ code, signal, time, evidenceMissing, profilesLeft }`, where `evidenceMissing` lists the
 * reports and snapshots its `restart-due` line listed that were gone the moment it exited, and
 * `profilesLeft` the sampling profiles on disk then, of those restart-due and restart-exit
 * listed (a newer profile replaces an older one: the rotation may delete what restart-due listed).
 */
class ServiceProcess {
  constructor(env, { preload = true, heapMb = 256 } = {}) {
    const args = [`--max-old-space-size=${heapMb}`, ...(preload ? ['-r', REGISTER] : []), SERVICE]
    this.child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    this.lines = []
    this.stderr = ''
    this.child.stderr.on('data', (chunk) => (this.stderr += chunk))
    this.port = new Promise((resolve, reject) => {
      readline.createInterface({ input: this.child.stdout }).on('line', (text) => {
        let line
        try {
          line = JSON.parse(text)
        } catch {
          return
        }
        this.lines.push(line)
        if (line.type === 'listening' && line.port !== undefined) resolve(line.port)
      })
      this.child.once('exit', () => reject(new Error(`the service exited before listening: ${this.stderr}`)))
    })
    this.port.catch(() => {})
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        const due = this.lines.find((l) => l.type === 'restart-due')
        const paths = due === undefined ? [] : [...due.evidence.reports, ...due.evidence.snapshots]
        const left = this.lines.find((l) => l.type === 'restart-exit')
        const profiles = [...(due?.evidence.profiles ?? []), ...(left?.margin.evidence.profiles ?? [])]
        resolve({ code, signal, time: Date.now(), evidenceMissing: paths.filter((p) => !fs.existsSync(p)), profilesLeft: [...new Set(profiles)].filter((p) => fs.existsSync(p)) })
      })
    })
  }

  /** Its first output line of `type`, or undefined. */
  line(type) {
    return this.lines.find((l) => l.type === type)
  }

  /** Resolves with its first line of `type` (polled). */
  async waitFor(type, timeoutMs = 120_000) {
    const until = Date.now() + timeoutMs
    while (Date.now() < until) {
      const found = this.line(type)
      if (found !== undefined) return found
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    throw new Error(`no ${type} line within ${timeoutMs} ms; stderr: ${this.stderr}`)
  }

  kill(signal = 'SIGKILL') {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal)
  }
}

/**
 * A balancer in front of instances (ports): a probe of each `/ready` every `probeMs` (a
 * failed probe takes it out at once, a passing one puts it back), and `connections`
 * keep-alive clients sending `GET /work`, one after another, each to the next ready instance.
 * No retries: every error or non-200 answer is a failure, kept with its instance and cause.
 */
class Balancer {
  #instances = new Map() // port → { ready, agent }
  #probe
  #stopped = false
  #clients = []
  ok = 0
  failures = []
  served = new Map() // port → responses

  constructor({ probeMs = 100 } = {}) {
    this.#probe = setInterval(() => this.#probeAll(), probeMs)
  }

  /**
   * Adds an instance; it gets traffic once its first probe passes, or at once and for good
   * with `probe: false` (a cluster's port, which stays ready while its workers restart).
   */
  add(port, { probe = true } = {}) {
    // An idle keep-alive socket is closed after 2 s, well before the server's 5 s: without an
    // agent timeout Node keeps idle sockets until the server closes them, and a request sent
    // on one at that moment fails with ECONNRESET, leakproof or not.
    this.#instances.set(port, { ready: !probe, probe, agent: new http.Agent({ keepAlive: true, maxSockets: 16, timeout: 2000 }) })
  }

  /** Starts `connections` clients. */
  start(connections = 8) {
    for (let i = 0; i < connections; i++) this.#clients.push(this.#client())
  }

  /** Stops the clients and the probes; resolves once every client is done. */
  async stop() {
    this.#stopped = true
    clearInterval(this.#probe)
    await Promise.all(this.#clients)
    for (const { agent } of this.#instances.values()) agent.destroy()
  }

  #probeAll() {
    for (const [port, instance] of this.#instances) {
      if (!instance.probe) continue
      const req = http.get({ host: '127.0.0.1', port, path: '/ready', agent: false, timeout: 1000 }, (res) => {
        instance.ready = res.statusCode === 200
        res.resume()
      })
      req.on('timeout', () => req.destroy())
      req.on('error', () => (instance.ready = false))
    }
  }

  #next = 0
  #pick() {
    const ready = [...this.#instances].filter(([, i]) => i.ready)
    if (ready.length === 0) return null
    return ready[this.#next++ % ready.length]
  }

  async #client() {
    while (!this.#stopped) {
      const picked = this.#pick()
      if (picked === null) {
        await new Promise((resolve) => setTimeout(resolve, 20))
        continue
      }
      const [port, { agent }] = picked
      await new Promise((resolve) => {
        let settled = false
        const outcome = (failure) => {
          if (settled) return
          settled = true
          if (failure === null) {
            this.ok++
            this.served.set(port, (this.served.get(port) ?? 0) + 1)
          } else this.failures.push({ port, ...failure, time: Date.now() })
          resolve()
        }
        const req = http.get({ host: '127.0.0.1', port, path: '/work', agent, timeout: 10_000 }, (res) => {
          res.resume()
          res.on('end', () => outcome(res.statusCode === 200 ? null : { status: res.statusCode }))
          // A response cut short ends with 'close' and no 'end'.
          res.on('close', () => outcome(res.complete ? null : { error: 'response cut short' }))
          res.on('error', (err) => outcome({ error: err.code ?? err.message }))
        })
        req.on('timeout', () => req.destroy(new Error('no answer within 10 s')))
        req.on('error', (err) => outcome({ error: err.code ?? err.message }))
      })
    }
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * A leaking instance (`sickEnv` over `env`, evidence into a temporary `dir`) and a healthy one
 * (`env`) behind a balancer that probes every `probeMs`; `during(sick)` runs while they serve.
 * Runs until the leaking one exits, then one more second of load.
 */
async function runStandalone(t, { env, sickEnv = {}, preload = true, heapMb, probeMs, during = async () => {} }) {
  const dir = tempDir(t)
  const sick = new ServiceProcess({ ...env, LEAKPROOF_DIR: dir, SERVICE_LEAK: '1', ...sickEnv }, { preload, heapMb })
  const healthy = new ServiceProcess({ ...env, SERVICE_LEAK: '0' }, { heapMb })
  t.after(() => {
    sick.kill()
    healthy.kill()
  })
  const balancer = new Balancer({ probeMs })
  balancer.add(await sick.port)
  balancer.add(await healthy.port)
  balancer.start(8)
  await during(sick)
  const exit = await sick.exited
  await sleep(1000)
  await balancer.stop()
  return { sick, healthy, exit, balancer, sickPort: await sick.port }
}

/**
 * What a standalone restart must show: exit code 75 after `restart-due` (after a leak event,
 * its report and snapshots on disk when it exited), readiness failing at least
 * `readinessDelayMs` before the servers closed, every connection drained, no failed request,
 * the healthy instance untouched; `restart-exit` says the margin it left with (time and bytes
 * to the limit, by the newest trend) and that no evidence was lost meanwhile.
 * `unsettledWithinMs`: the policy's last moment (two exits from the limit, 30 s at least),
 * where the limit may come too near to wait for the report; then the restart is due without
 * it, at that moment at the latest.
 */
function assertLeftGracefully({ sick, healthy, exit, balancer, sickPort }, { readinessDelayMs, unsettledWithinMs = null }) {
  assert.equal(exit.code, 75, `exit ${exit.code} ${exit.signal}; stderr: ${sick.stderr}`)
  const due = sick.line('restart-due')
  assert.ok(due, 'restart-due was published')
  assert.equal(due.kind, 'heap')
  assert.ok(sick.line('leak').time <= due.time, 'a leak event came first')
  if (unsettledWithinMs !== null && !due.evidence.settled) {
    assert.ok(due.timeLeftMs <= unsettledWithinMs, `due unsettled only that near the limit: ${JSON.stringify(due)}`)
  } else {
    assert.equal(due.evidence.settled, true, JSON.stringify(due))
    assert.ok(due.evidence.reports.length >= 1 && due.evidence.snapshots.length >= 1, JSON.stringify(due.evidence))
  }
  assert.deepEqual(exit.evidenceMissing, [], 'every report and snapshot was on disk when it exited')
  // A newer sampling profile replaces an older one (restart.js' keptEvidence): one is left.
  if (due.evidence.profiles.length > 0) assert.ok(exit.profilesLeft.length > 0, 'a sampling profile was on disk when it exited')
  const left = sick.line('restart-exit')
  assert.deepEqual([left.stoppedBy, left.drained], ['servers', true])
  assert.ok(left.time - due.time >= readinessDelayMs, 'readiness failed for the delay before the servers closed')
  const { margin } = left
  // What restart-due listed is still there, with anything written while it left.
  assert.deepEqual(margin.evidence.lost, [])
  for (const kind of ['reports', 'snapshots']) {
    assert.deepEqual(margin.evidence[kind].slice(0, due.evidence[kind].length), due.evidence[kind], kind)
  }
  // The time left is the newest projection's, read as the event was emitted; the bytes the leak
  // adds meanwhile, unless it stopped growing (its traffic went to the healthy instance).
  assert.ok(Math.abs(margin.timeLeftMs - Math.max(0, margin.limitAt - left.time)) <= 50, JSON.stringify(margin))
  assert.ok(margin.timeLeftMs > 0 && (margin.bytesLeft === null || margin.bytesLeft > 0), `it left before its limit: ${JSON.stringify(margin)}`)
  assert.deepEqual(balancer.failures, [])
  assert.ok(balancer.served.get(sickPort) > 100, 'the leaking instance served until it left')
  assert.equal(healthy.line('restart-due'), undefined, 'the healthy instance stays')
  assert.equal(healthy.child.exitCode, null)
}

/**
 * A cluster of `workers` leaking workers sharing a port, the primary started with `env`
 * (through the preload, which coordinates), under load from 16 clients that probe nothing
 * (the pod stays ready); runs until each first worker has exited, at most `timeoutMs`.
 * Resolves with every output line, the first workers' pids and the balancer.
 */
async function runCluster(t, { env, workers, heapMb, timeoutMs }) {
  const port = await freePort()
  const primary = new ServiceProcess({ ...env, LEAKPROOF_DIR: tempDir(t), SERVICE_CLUSTER: String(workers), SERVICE_PORT: String(port), SERVICE_LEAK: '1' }, { heapMb })
  t.after(() => primary.kill('SIGTERM'))
  while (primary.lines.filter((l) => l.type === 'listening').length < workers) {
    if (primary.child.exitCode !== null) throw new Error(`the primary exited: ${primary.stderr}`)
    await sleep(50)
  }
  const firstWorkers = primary.lines.filter((l) => l.type === 'fork').map((l) => l.worker)
  const balancer = new Balancer()
  balancer.add(port, { probe: false })
  balancer.start(16)
  const firstExits = () => primary.lines.filter((l) => l.type === 'exit' && firstWorkers.includes(l.worker))
  const until = Date.now() + timeoutMs
  while (firstExits().length < workers && Date.now() < until) await sleep(100)
  await sleep(1000)
  await balancer.stop()
  return { lines: primary.lines, firstWorkers, exits: firstExits().sort((a, b) => a.time - b.time), balancer, stderr: primary.stderr }
}

/**
 * The workers serving over time, from each worker's `serving` line and each leaving
 * worker's close (its `restart-exit` time less its drain): the fewest once the first
 * workers all listened.
 */
function fewestServing(lines, firstWorkers) {
  const changes = []
  for (const l of lines) {
    if (l.type === 'serving') changes.push({ time: l.time, delta: +1 })
    if (l.type === 'restart-exit') changes.push({ time: l.time - l.drainMs, delta: -1 })
    if (l.type === 'exit' && !lines.some((e) => e.type === 'restart-exit' && e.pid === l.worker)) changes.push({ time: l.time, delta: -1 })
  }
  // Within one millisecond, a replacement's serving comes first: its worker closes only when told it listens.
  changes.sort((a, b) => a.time - b.time || b.delta - a.delta)
  const allUp = Math.max(...lines.filter((l) => l.type === 'serving' && firstWorkers.includes(l.pid)).map((l) => l.time))
  let serving = 0
  let fewest = Infinity
  for (const { time, delta } of changes) {
    serving += delta
    if (time >= allUp) fewest = Math.min(fewest, serving)
  }
  return fewest
}

/**
 * What restarts under cluster must show: every first worker left on purpose with code 75,
 * one replacement each (listening before its worker closed) and no re-fork, one restart at a
 * time at least `spacingMs` after the last exit (run them where no limit comes that near), never fewer than `workers - 1` serving, each
 * worker's report and pair on disk as it left (none rotated away by a sibling meanwhile), no
 * failed request. Returns the fewest serving.
 */
function assertRestartedInTurn({ lines, firstWorkers, exits, balancer, stderr }, { workers, spacingMs }) {
  // What a failure message shows: the cluster's timeline, ms from the first fork.
  const t0 = lines.find((l) => l.type === 'fork')?.time ?? 0
  const timeline = lines
    .filter((l) => ['fork', 'serving', 'exit', 'restart-due', 'restart-exit'].includes(l.type))
    .map((l) => `${l.time - t0} ${l.type} ${l.worker ?? l.pid}${l.type === 'restart-exit' ? ` drain ${l.drainMs}` : ''}${l.type === 'exit' ? ` code ${l.code}${l.onPurpose ? '' : ' (not on purpose)'}` : ''}`)
    .join('; ')
  assert.equal(exits.length, workers, `every first worker left: ${timeline}; stderr: ${stderr}`)
  for (const exit of exits) assert.deepEqual([exit.code, exit.onPurpose], [75, true])
  const forks = lines.filter((l) => l.type === 'fork')
  assert.equal(forks.length, 2 * workers, `one replacement each, and the primary re-forked none: ${timeline}`)
  const replacements = forks.slice(workers)
  for (let i = 0; i < workers; i++) {
    const leaving = lines.find((l) => l.type === 'restart-exit' && l.pid === exits[i].worker)
    const replacementUp = lines.find((l) => l.type === 'serving' && l.pid === replacements[i].worker)
    assert.ok(replacementUp.time <= leaving.time - leaving.drainMs, `worker ${i + 1}'s replacement listened before it closed: ${timeline}`)
    if (i > 0) assert.ok(replacements[i].time >= exits[i - 1].time + spacingMs, `restart ${i + 1} came ${replacements[i].time - exits[i - 1].time} ms after the last exit: ${timeline}`)
  }
  const fewest = fewestServing(lines, firstWorkers)
  assert.ok(fewest >= workers - 1, `never fewer than ${workers - 1} serving (fewest: ${fewest}): ${timeline}`)
  for (const exit of exits) {
    const due = lines.find((l) => l.type === 'restart-due' && l.pid === exit.worker)
    assert.ok(due.evidence.settled && due.evidence.reports.length >= 1, JSON.stringify(due.evidence))
    assert.ok(due.plan.coordinated, 'the worker knew its primary coordinates')
    const { margin } = lines.find((l) => l.type === 'restart-exit' && l.pid === exit.worker)
    assert.deepEqual(margin.evidence.lost, [], `worker ${exit.worker} lost none of its evidence while it waited for its turn`)
    assert.ok(margin.evidence.snapshots.length >= 2 && margin.evidence.reports.length >= 1, JSON.stringify(margin.evidence))
  }
  assert.deepEqual(balancer.failures, [])
  return fewest
}

module.exports = { ServiceProcess, Balancer, FAST_ENV, runStandalone, assertLeftGracefully, runCluster, assertRestartedInTurn }

'use strict'

/**
 * What the restart tests stand a service in: its processes (mitigate/fixtures/restart-service.js)
 * with their output parsed, and a balancer that sends the load only to instances whose
 * readiness route says 200, probed as Kubernetes would, with a client that retries nothing:
 * every error and every status but 200 counts as a failed request.
 */
const { spawn } = require('node:child_process')
const http = require('node:http')
const path = require('node:path')
const readline = require('node:readline')

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
 * `{ code, signal, time, evidenceMissing }`, where `evidenceMissing` lists the evidence paths of
 * its `restart-due` line that were gone the moment it exited.
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
        const paths = due === undefined ? [] : [...due.evidence.reports, ...due.evidence.snapshots, ...due.evidence.profiles]
        resolve({ code, signal, time: Date.now(), evidenceMissing: paths.filter((p) => !require('node:fs').existsSync(p)) })
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
    this.#instances.set(port, { ready: !probe, probe, agent: new http.Agent({ keepAlive: true, maxSockets: 16 }) })
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

module.exports = { ServiceProcess, Balancer, FAST_ENV }

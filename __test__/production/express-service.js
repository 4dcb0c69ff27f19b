'use strict'

/**
 * A real Express service for the production tests (service.test.js, fast-leak.test.js):
 * express-app.js started as a user starts it (`node -r leakproof/register app.js`, only the
 * directory, the event log and the variables given set), its load generator in a process of
 * its own, and the watcher's event log read as a person on call would read it; with the
 * watcher's defaults the scenarios check against and the helpers they share.
 */
const { spawn } = require('node:child_process')
const fs = require('node:fs')
const http = require('node:http')
const os = require('node:os')
const path = require('node:path')
const readline = require('node:readline')

const REGISTER = path.join(__dirname, '..', '..', 'register.js')
const APP = path.join(__dirname, '..', 'support', 'fixtures', 'express-app.js')
const LOAD = path.join(__dirname, '..', 'support', 'fixtures', 'express-load.js')

const MiB = 1024 * 1024
/** The watcher's defaults the scenarios check against (docs/watch.md). */
const DEFAULT_PAUSE_BUDGET_MS = 2000
const DEFAULT_MAX_DISK_BYTES = 4096 * MiB
/** The longest the event loop may stop in a service at defaults. */
const STALL_MS = 3000
/** How often the test reads the event log and the service's /stats. */
const POLL_MS = 1000
const STATS_EVERY_MS = 5000
/** How long a stopping process may take (one may be writing a snapshot) before it is killed. */
const STOP_GRACE_MS = 120_000
const TEST_TIMEOUT_MS = 480_000

const NODE_MAJOR = Number(process.versions.node.split('.')[0])
const everything = NODE_MAJOR === 24 || process.env.LEAKPROOF_SERVICE_TESTS === '1'
const skip = everything ? false : `runs on Node 24, what services run (this is ${process.version}); set LEAKPROOF_SERVICE_TESTS=1 to run it anyway`
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** Calls `onLine` with each JSON line `stream` prints (other lines are ignored). */
function jsonLines(stream, onLine) {
  readline.createInterface({ input: stream }).on('line', (line) => {
    try {
      onLine(JSON.parse(line))
    } catch {
      // Not one of ours (a warning, say).
    }
  })
}

/** Resolves when `child` has exited; kills it after `graceMs`. */
function exited(child, graceMs) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve()
    })
  })
}

/** GET `path` of the service on its own connection; the parsed JSON, or null after `timeoutMs`. */
function getJson(port, path, timeoutMs) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, timeout: timeoutMs }, (res) => {
      let body = ''
      res.setEncoding('utf8').on('data', (chunk) => (body += chunk))
      res.on('end', () => resolve(JSON.parse(body)))
    })
    req.on('timeout', () => req.destroy())
    req.on('error', () => resolve(null))
  })
}

/** The least-squares slope of `y` over `x`. */
function slope(points) {
  const n = points.length
  const mx = points.reduce((s, p) => s + p.x, 0) / n
  const my = points.reduce((s, p) => s + p.y, 0) / n
  const sxy = points.reduce((s, p) => s + (p.x - mx) * (p.y - my), 0)
  const sxx = points.reduce((s, p) => s + (p.x - mx) ** 2, 0)
  return sxy / sxx
}

const mb = (bytes) => `${(bytes / MiB).toFixed(0)} MB`
const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`
const ofType = (events, type) => events.filter((e) => e.type === type)
const heapLeaks = (events) => ofType(events, 'leak').filter((e) => e.kind === 'heap')
const reports = (events, kind) => ofType(events, 'report').filter((e) => e.kind === kind)

/**
 * express-app.js with the watcher preloaded, its load generator, and the watcher's event
 * log. The service's environment holds only PATH and the leakproof variables given.
 */
class Service {
  /** @type {import('node:child_process').ChildProcess} */ app
  /** @type {import('node:child_process').ChildProcess} */ load
  port = 0
  startedAt = Date.now()
  /** When the load started hitting /items (epoch ms), once it has. */
  leakStartedAt = null
  /** How the service exited (`{ code, signal }`), once it has. */
  exit = null
  /** `{ time, heapUsed, items }` read from /stats every few seconds. */
  heap = []
  #finalStats = null
  #polling = true
  #temp
  #log

  /**
   * Starts a service and its load; stops both and deletes its files when `t` ends.
   * @param {import('node:test').TestContext} t
   * @param {{ env?: object, entryBytes: number, load: object }} scenario
   */
  static async start(t, { env = {}, entryBytes, load }) {
    const service = new Service()
    t.after(() => service.cleanUp())
    await service.#startApp(env, entryBytes)
    service.#startLoad(load)
    service.#pollStats()
    return service
  }

  async #startApp(env, entryBytes) {
    this.#temp = fs.mkdtempSync(path.join(os.tmpdir(), 'leakproof-service-'))
    this.#log = path.join(this.#temp, 'events.jsonl')
    this.dir = path.join(this.#temp, 'snapshots')
    const appEnv = { PATH: process.env.PATH, LEAKPROOF_DIR: this.dir, LEAKPROOF_LOG: this.#log, ...env }
    this.app = spawn(process.execPath, ['-r', REGISTER, APP, String(entryBytes)], { env: appEnv, stdio: ['ignore', 'pipe', 'inherit'] })
    this.port = await new Promise((resolve, reject) => {
      jsonLines(this.app.stdout, (line) => {
        if (line.type === 'listening') resolve(line.port)
        if (line.type === 'stats') this.#finalStats = line
      })
      this.app.once('exit', (code, signal) => {
        this.exit = { code, signal }
        reject(new Error(`the service exited (${code ?? signal}) before listening`))
      })
    })
  }

  #startLoad(options) {
    this.load = spawn(process.execPath, [LOAD, JSON.stringify({ port: this.port, ...options })], { stdio: ['ignore', 'pipe', 'inherit'] })
    jsonLines(this.load.stdout, (line) => {
      if (line.type === 'leak-start') this.leakStartedAt = line.time
      if (line.type === 'done' || line.type === 'failed') this.loadResult = line
    })
  }

  async #pollStats() {
    while (this.#polling) {
      const stats = await getJson(this.port, '/stats', STOP_GRACE_MS)
      if (stats !== null) this.heap.push({ time: Date.now(), ...stats })
      await sleep(STATS_EVERY_MS)
    }
  }

  /** The watcher's events so far, from its log, but the samples (one per interval). */
  events() {
    let text
    try {
      text = fs.readFileSync(this.#log, 'utf8')
    } catch {
      return []
    }
    return text.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line)).filter((e) => e.type !== 'sample')
  }

  /**
   * Reads the log until `done(events)` or `deadline` (epoch ms); returns the events. Throws
   * if the service exits meanwhile: nothing more will come.
   */
  async waitFor(done, deadline) {
    for (;;) {
      if (this.exit !== null) throw new Error(`the service exited (${this.exit.code ?? this.exit.signal}): ${JSON.stringify(this.events())}`)
      const events = this.events()
      if (done(events) || Date.now() >= deadline) return events
      await sleep(POLL_MS)
    }
  }

  /** The heap's growth rate (bytes/s) by /stats between two times, or NaN with too few readings. */
  growthRate(from, to = Infinity) {
    const points = this.heap.filter((s) => s.time >= from && s.time <= to).map((s) => ({ x: s.time / 1000, y: s.heapUsed }))
    return points.length >= 3 ? slope(points) : NaN
  }

  /** Stops the load, then the service; returns the service's last `stats` line. */
  async stop() {
    this.#polling = false
    this.load.kill('SIGTERM')
    await exited(this.load, STOP_GRACE_MS)
    this.app.kill('SIGTERM')
    await exited(this.app, STOP_GRACE_MS)
    return this.#finalStats
  }

  /** Ends what still runs (a failed test) and deletes the directory. */
  async cleanUp() {
    this.#polling = false
    for (const child of [this.load, this.app]) if (child) child.kill('SIGKILL')
    if (this.#temp) fs.rmSync(this.#temp, { recursive: true, force: true })
  }
}

module.exports = {
  Service,
  APP,
  MiB,
  DEFAULT_PAUSE_BUDGET_MS,
  DEFAULT_MAX_DISK_BYTES,
  STALL_MS,
  TEST_TIMEOUT_MS,
  skip,
  mb,
  seconds,
  ofType,
  heapLeaks,
  reports,
}

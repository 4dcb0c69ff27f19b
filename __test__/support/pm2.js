'use strict'

/**
 * PM2 as a test or bench runs it: node_modules' own, in a private PM2_HOME (a temporary
 * directory), so that no daemon of the machine's is touched and `kill()` ends the one started.
 */
const { execFile, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { promisify } = require('node:util')

const PM2_BIN = path.join(__dirname, '..', '..', 'node_modules', '.bin', 'pm2')

/** Resolves with `promise`, or rejects after `ms` saying what did not finish. */
function within(ms, what, promise) {
  let timer
  return Promise.race([promise, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: nothing after ${ms} ms`)), ms)))]).finally(() =>
    clearTimeout(timer),
  )
}

/**
 * PM2 from node_modules with its own PM2_HOME: the API to start, list and delete apps and to
 * follow its bus, the CLI for `jlist` and `kill`.
 */
class Pm2 {
  #home
  #api = null
  #killed = false
  #savedHome

  constructor(home) {
    this.#home = home
    fs.mkdirSync(home, { recursive: true })
    // The CLI's first run in a new home prints a banner and asks the registry for a newer
    // version; the file it leaves after that run says it was done.
    fs.writeFileSync(path.join(home, 'touch'), String(Date.now()))
  }

  /** Starts the daemon (its environment takes PM2_HOME from this process's). */
  async connect() {
    this.#savedHome = process.env.PM2_HOME
    process.env.PM2_HOME = this.#home
    const PM2 = require('pm2').custom
    this.#api = new PM2({ pm2_home: this.#home })
    await within(60_000, 'pm2 connect', promisify(this.#api.connect.bind(this.#api))())
    return within(30_000, 'pm2 launchBus', promisify(this.#api.launchBus.bind(this.#api))())
  }

  start(app) {
    return within(60_000, `pm2 start ${app.name}`, promisify(this.#api.start.bind(this.#api))(app))
  }

  delete(name) {
    return within(60_000, `pm2 delete ${name}`, promisify(this.#api.delete.bind(this.#api))(name))
  }

  /** `pm2 jlist`, parsed. */
  async jlist() {
    const { stdout } = await promisify(execFile)(process.execPath, [PM2_BIN, 'jlist'], { env: this.#cliEnv(), timeout: 30_000, maxBuffer: 64 * 1024 * 1024 })
    return JSON.parse(stdout.slice(stdout.indexOf('[')))
  }

  /** `pm2 kill` (synchronous: it also runs from an exit handler), once. */
  kill() {
    if (this.#killed) return
    this.#killed = true
    try {
      this.#api?.disconnect()
    } catch {
      // the daemon is gone already
    }
    const { status, stderr } = spawnSync(process.execPath, [PM2_BIN, 'kill'], { env: this.#cliEnv(), timeout: 60_000, encoding: 'utf8' })
    if (status !== 0) process.stderr.write(`pm2 kill exited with ${status}: ${stderr}\n`)
    if (this.#savedHome === undefined) delete process.env.PM2_HOME
    else process.env.PM2_HOME = this.#savedHome
  }

  #cliEnv() {
    const env = { ...process.env, PM2_HOME: this.#home }
    delete env.PM2_PROGRAMMATIC // set by require('pm2'): it would silence the CLI
    return env
  }
}

module.exports = { Pm2 }

'use strict'

/**
 * `leakproof run` from a test: the CLI spawned on a command, the service it runs driven by
 * express-load.js in a process of its own, and stopped with SIGTERM as a CI job stops it
 * (leak-test.run.test.js, production/run.test.js).
 */
const fs = require('node:fs')
const net = require('node:net')
const path = require('node:path')
const { spawn } = require('node:child_process')

const BIN = path.join(__dirname, '..', '..', 'bin', 'leakproof.js')
const APP = path.join(__dirname, 'fixtures', 'express-app.js')
const LOAD = path.join(__dirname, 'fixtures', 'express-load.js')
const WAIT_PORT = path.join(__dirname, 'fixtures', 'wait-port.js')

/**
 * `leakproof run` with `args` and `command`, in this process's environment with `env` added
 * (or in `env` alone, with `replaceEnv`); resolves when it has exited, with `{ code, signal,
 * stderr }`. `drive(wrapper, stdoutLines)` runs meanwhile: it ends the run (a signal).
 */
function leakproofRun(args, command, { env = {}, replaceEnv = false, drive } = {}) {
  return new Promise((resolve, reject) => {
    const wrapper = spawn(process.execPath, [BIN, 'run', ...args, '--', ...command], {
      env: replaceEnv ? env : { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stderr = ''
    const lines = []
    let partial = ''
    wrapper.stderr.on('data', (chunk) => { stderr += chunk })
    wrapper.stdout.on('data', (chunk) => {
      const parts = (partial + chunk).split('\n')
      partial = parts.pop()
      lines.push(...parts)
    })
    wrapper.on('error', reject)
    wrapper.on('exit', (code, signal) => resolve({ code, signal, stderr }))
    drive?.(wrapper, lines).catch((err) => {
      wrapper.kill('SIGKILL')
      reject(err)
    })
  })
}

/** Resolves with the service's port, from its `listening` line among the run's stdout `lines`. */
async function portOf(lines, deadline) {
  while (Date.now() < deadline) {
    for (const line of lines) {
      if (line.startsWith('{') && JSON.parse(line).type === 'listening') return JSON.parse(line).port
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error('the service never listened')
}

/** Whether the run's event log in `dir` holds an event of `type` that `accept` takes. */
function logged(dir, type, accept = () => true) {
  try {
    const lines = fs.readFileSync(path.join(dir, 'leakproof-events.jsonl'), 'utf8').split('\n')
    return lines.some((line) => line.includes(`"type":"${type}"`) && accept(JSON.parse(line)))
  } catch {
    return false
  }
}

/**
 * Drives the service under `leakproof run` with express-load.js in a process of its own
 * (1,000 requests a second, nine in ten to /items) until `done()` or `maxMs`, then SIGTERMs
 * the run, as a CI job does once its load test is over.
 */
function loadThenStop(done, maxMs) {
  return async (wrapper, lines) => {
    const deadline = Date.now() + maxMs
    const port = await portOf(lines, Date.now() + 30_000)
    const load = spawn(process.execPath, [LOAD, JSON.stringify({ port, connections: 8, perSecond: 1000, durationMs: maxMs })], { stdio: 'ignore' })
    while (Date.now() < deadline && !done()) await new Promise((resolve) => setTimeout(resolve, 200))
    load.kill('SIGTERM')
    await new Promise((resolve) => load.once('exit', resolve))
    wrapper.kill('SIGTERM')
  }
}

/** A port free on 127.0.0.1 a moment ago. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
    server.on('error', reject)
  })
}

/**
 * The shell command of a load test for `--load`: wait for the service on `port`, then
 * express-load.js for `durationMs` (1,000 requests a second, nine in ten to /items).
 */
function loadCommand(port, durationMs) {
  const options = JSON.stringify({ port, connections: 8, perSecond: 1000, durationMs })
  return `"${process.execPath}" "${WAIT_PORT}" ${port} && "${process.execPath}" "${LOAD}" '${options}'`
}

module.exports = { APP, LOAD, freePort, leakproofRun, loadCommand, loadThenStop, logged, portOf }

'use strict'

/** What the tests of `leakproof attach` share (attach/attach.test.js, production/attach.test.js). */
const { spawn } = require('node:child_process')
const path = require('node:path')
const { refuses } = require('../../lib/attach/inspector')

const BIN = path.join(__dirname, '..', '..', 'bin', 'leakproof.js')
/** Exit codes of `leakproof attach` (lib/attach/command.js). */
const EXIT = Object.freeze({ OK: 0, USAGE: 2, REFUSED: 5, NOT_ATTACHED: 6 })

/** `leakproof attach ARGS` on this Node with `env` added (as user `uid` when given); resolves with `{ code, stdout, stderr }`. */
function leakproofAttach(args, { env = {}, uid } = {}) {
  const options = { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }
  if (uid !== undefined) Object.assign(options, { uid, gid: uid })
  const child = spawn(process.execPath, [BIN, 'attach', ...args.map(String)], options)
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk) => (stdout += chunk))
  child.stderr.on('data', (chunk) => (stderr += chunk))
  return new Promise((resolve) => {
    child.on('error', (err) => resolve({ code: null, stdout, stderr: `${stderr}${err.message}` }))
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

/** A process of `command` and `args`, its stderr kept in `stderrText`; killed when test `t` ends. */
function startProcess(t, command, args, options = {}) {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options })
  child.stderrText = ''
  child.stderr.on('data', (chunk) => (child.stderrText += chunk))
  t.after(() => {
    if (isRunning(child)) child.kill('SIGKILL')
  })
  return child
}

/** Whether `child` has not exited. */
const isRunning = (child) => child.exitCode === null && child.signalCode === null

/** GET `route` of the service on 127.0.0.1:`port`, as JSON. */
async function getJson(port, route) {
  const response = await fetch(`http://127.0.0.1:${port}${route}`)
  return response.json()
}

/** The longest stops (ms) of a service's `loopDelayBySecond` ([epochSecond, maxMs]) in the seconds from `fromMs` to a second past `toMs`. */
function stopsDuring(loopDelayBySecond, fromMs, toMs) {
  return loopDelayBySecond.filter(([second]) => second >= Math.floor(fromMs / 1000) && second <= Math.ceil(toMs / 1000) + 1).map(([, ms]) => ms)
}

module.exports = { EXIT, leakproofAttach, startProcess, isRunning, refuses, getJson, stopsDuring }

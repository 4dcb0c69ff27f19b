'use strict'

/**
 * Runs a scenario of __test__/watch/fixtures/threads-app.js (a service that does its work in
 * worker threads) with the preload at short timings, for the tests of watching threads.
 */
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawn } = require('node:child_process')
const { once } = require('node:events')
const { SHORT_TIMINGS, loggedSoFar } = require('./event-log')

const ROOT = path.join(__dirname, '..', '..')
const APP = path.join(__dirname, '..', 'watch', 'fixtures', 'threads-app.js')

/** The directories of the scenarios run so far: the caller removes them once its tests are done. */
const scenarioDirs = []

/** How long past its `runMs` a fixture may run before it is taken for stuck. */
const STUCK_AFTER_MS = 60_000

/**
 * Runs the fixture's `scenario` with the preload for `runMs` at most, ended sooner (SIGTERM)
 * once `done(events, tasksAnswered, scrapes)` holds for the events logged, the tasks answered
 * and the scrapes printed so far, with `env` set besides the short timings; resolves with its dir, events, stderr,
 * scrapes and the counts of pool tasks answered printed each second.
 */
async function runScenario(scenario, runMs, done = () => false, env = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `leakproof-threads-${scenario}-`))
  scenarioDirs.push(dir)
  const log = path.join(dir, 'events.jsonl')
  const child = spawn(process.execPath, ['-r', path.join(ROOT, 'register.js'), APP, scenario, String(runMs)], {
    env: { ...process.env, ...SHORT_TIMINGS, LEAKPROOF_DIR: dir, LEAKPROOF_LOG: log, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stderr = ''
  let stdout = ''
  child.stderr.on('data', (chunk) => (stderr += chunk))
  child.stdout.on('data', (chunk) => (stdout += chunk))
  // A busy machine (the whole suite at once) takes longer to see a leak: the run ends when it is seen.
  const poll = setInterval(() => {
    if (done(loggedSoFar(log), tasksAnsweredIn(stdout), scrapesIn(stdout))) child.kill('SIGTERM')
  }, 500)
  // A fixture that outlives its time by a minute is stuck (a pool whose destroy() never ends):
  // killed, so that the assertion below says so rather than the suite waiting for ever.
  const stuck = setTimeout(() => child.kill('SIGKILL'), runMs + STUCK_AFTER_MS)
  const [code, signal] = await once(child, 'exit')
  clearInterval(poll)
  clearTimeout(stuck)
  assert.ok(code === 0 || signal === 'SIGTERM', `exit ${code} ${signal}${signal === 'SIGKILL' ? ` (still running ${STUCK_AFTER_MS} ms past its ${runMs} ms)` : ''}: ${stderr}`)
  return { dir, events: loggedSoFar(log), stderr, scrapes: scrapesIn(stdout), tasksAnswered: tasksAnsweredIn(stdout) }
}

/** The leakproof_thread_* series of each scrape the fixture printed, in `stdout`. */
function scrapesIn(stdout) {
  return stdout.split('\n').filter((line) => line.startsWith('metrics ')).map((line) => JSON.parse(line.slice('metrics '.length)))
}

/** The counts of pool tasks answered that the fixture printed each second, in `stdout`. */
function tasksAnsweredIn(stdout) {
  return stdout.split('\n').filter((line) => line.startsWith('tasks ')).map((line) => Number(line.slice('tasks '.length)))
}

module.exports = { runScenario, scenarioDirs }

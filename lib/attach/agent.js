'use strict'

/**
 * The part of `leakproof attach` that runs inside the attached process, loaded into its main
 * thread through the inspector (attach.js) and answering on a control socket afterwards.
 *
 * `start()` starts what the preload would (the watcher with the options given, its events
 * appended to `dir`'s log), or with `censusOnly` nothing but the control socket; then listens
 * on a Unix socket in `dir` (mode 0600, in a directory made 0700 unless it existed: only the
 * process' user and root reach it). Every later command comes over that socket, one JSON line each way
 * (control.js), so the inspector is open only for the attach. Nothing it starts keeps the
 * process alive: the server and every timer are unref'd.
 *
 * `detach` stops the watcher, closes the socket and removes it and this agent's state; what
 * stays is what Node keeps of any module once loaded (leakproof's code and the addon) and the
 * in-process inspector session that sampling connected (lib/sites/profiler.js says why it is never closed).
 */
const fs = require('node:fs')
const net = require('node:net')
const path = require('node:path')
const { isMainThread } = require('node:worker_threads')
const errors = require('../shared/errors')
const { configFromEnv } = require('../watch/env-config')
const { watch, currentWatcher } = require('../watch/watcher')
const { EventLog, logEvents } = require('../watch/event-log')
const { Census } = require('../diagnose/census/census')
const { SiteProfiler } = require('../sites/profiler')
const { sitesOfProfile } = require('../sites/profile-sites')
const { growingSites } = require('../sites/growth')
const { LOG_NAME } = require('../shared/file-names')
const { withSourcePositions } = require('../shared/source-positions')
const { socketPathFor, isSafeDir, MAX_LINE_BYTES } = require('./control')

/** Where the agent's state lives in the process: one attach per process, whichever copy of leakproof made it. */
const STATE = Symbol.for('leakproof.attach')

/** Holders and sites listed by `census` and `census-only`. */
const TOP = 10
/** Sampling interval of `sites` and `census-only`: finer than the watcher's, for a few seconds only. */
const SAMPLING_BYTES = 16 * 1024

/**
 * Starts the agent: checks, the watcher (unless `censusOnly`), the event log, the control
 * socket. Returns what it started, for the command to print.
 * @param {{ dir: string, env: Record<string, string>, censusOnly: boolean }} request
 */
async function start({ dir, env, censusOnly }) {
  if (!isMainThread) throw errors.codedError(Error, errors.CODES.ATTACH_FAILED, 'attach: the agent must run on the main thread')
  if (globalThis[STATE] !== undefined) {
    throw errors.codedError(Error, errors.CODES.ALREADY_ATTACHED, `attach: leakproof is already attached to process ${process.pid} (its control socket: ${globalThis[STATE].socket}); detach it first`)
  }
  if (currentWatcher() !== null && !censusOnly) {
    throw errors.codedError(Error, errors.CODES.ALREADY_WATCHING, `attach: process ${process.pid} already runs leakproof's watcher (started by its code or its preload)`)
  }
  // A directory made here is private; one given that exists keeps its mode (it may be shared),
  // but must be this user's (or root's) and safe from others: not one another user made first.
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
  if (!isSafeDir(fs.lstatSync(dir), process.geteuid())) {
    throw errors.codedError(Error, errors.CODES.ATTACH_FAILED, `attach: ${dir} is not a directory of this process' user that others cannot write to (another user's, or a link): not used`)
  }
  const socket = socketPathFor(dir, process.pid)
  const state = { socket, dir, censusOnly, watcher: null, log: null, census: null, lastPass: null, server: null, startedAt: Date.now() }
  globalThis[STATE] = state
  try {
    if (!censusOnly) {
      const { options, logMaxBytes, problems } = configFromEnv({ ...env, LEAKPROOF_DIR: dir })
      if (problems.length > 0) throw errors.codedError(RangeError, errors.CODES.INVALID_OPTION, `attach: ${problems.join('; ')}`)
      state.watcher = watch(options)
      state.log = path.join(dir, LOG_NAME)
      logEvents(state.watcher, new EventLog(state.log, { maxBytes: logMaxBytes }))
    }
    state.server = await listen(socket, state)
  } catch (err) {
    stopAll(state)
    throw err
  }
  return { pid: process.pid, node: process.version, dir, socket, log: state.log, watching: state.watcher !== null, options: state.watcher === null ? null : publicOptions(state.watcher.options) }
}

/** The watcher's settings as plain data (its hooks left out). */
function publicOptions(options) {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => typeof value !== 'function'))
}

/** Listens on `socket` (a stale one from a process that died first is replaced), unref'd, mode 0600. */
function listen(socket, state) {
  fs.rmSync(socket, { force: true })
  const server = net.createServer((connection) => serve(connection, state))
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(socket, () => {
      server.off('error', reject)
      server.on('error', () => {}) // an accept failure must not become the process' uncaught error
      fs.chmodSync(socket, 0o600)
      server.unref()
      resolve(server)
    })
  })
}

/** Reads one command line from `connection`, answers it with one JSON line, and closes. */
function serve(connection, state) {
  connection.unref()
  connection.setEncoding('utf8')
  let text = ''
  connection.on('error', () => {})
  connection.on('data', (chunk) => {
    text += chunk
    if (text.length > MAX_LINE_BYTES) return connection.destroy()
    const end = text.indexOf('\n')
    if (end < 0) return
    connection.removeAllListeners('data')
    answer(text.slice(0, end), state).then((reply) => connection.end(`${JSON.stringify(reply)}\n`))
  })
}

/** The reply to one command line: `{ ok: true, result }` or `{ ok: false, error: { code, message } }`. */
async function answer(line, state) {
  try {
    const { command, seconds } = JSON.parse(line)
    const handler = COMMANDS[command]
    if (handler === undefined) throw errors.codedError(Error, errors.CODES.INVALID_ARGUMENT, `attach: unknown command ${errors.describe(command)}; known: ${Object.keys(COMMANDS).join(', ')}`)
    // Read here, where the service's files (and the maps Node keeps in memory) are.
    return { ok: true, result: await withSourcePositions(await handler(state, { seconds })) }
  } catch (err) {
    return { ok: false, error: { code: err.code ?? 'ERR_LEAKPROOF_ATTACH_FAILED', message: err.message } }
  }
}

/** The watcher of an attach that started one; a coded error for a census-only attach. */
function watcherOf(state) {
  if (state.watcher === null) throw errors.codedError(Error, errors.CODES.NOT_ATTACHED, 'attach: this attach runs no watcher (census only)')
  return state.watcher
}

/** The commands the control socket answers, each `(state, { seconds }) => result`. */
const COMMANDS = {
  status: (state) => ({ ...watcherOf(state).status(), attachedAt: state.startedAt, dir: state.dir, log: state.log }),
  census: (state) => takeCensus(state),
  'census-only': (state, { seconds }) => censusAndSites(state, seconds),
  snapshot: async (state) => {
    const { id, role, done } = watcherOf(state).snapshot('attach')
    const written = await done
    return { id, role, snapshot: written }
  },
  sites: (state, { seconds }) => sampleSites(seconds),
  detach: (state) => {
    // Everything stops before the reply, so that a detach that returned left no socket, no
    // watcher and no state (a command or an attach right after it finds none); the connection
    // being answered is the server's no more and stays open for the reply.
    const attachedForMs = Date.now() - state.startedAt
    stopAll(state)
    return { detached: true, pid: process.pid, attachedForMs }
  },
}

/**
 * One census pass now. With an earlier pass of this attach, the collections that grew since,
 * named; with none, the largest collections now. Every pass is kept as the next one's
 * comparison.
 */
async function takeCensus(state) {
  state.census ??= new Census()
  const pass = await state.census.pass()
  if (pass === null) throw errors.codedError(Error, errors.CODES.NOT_ATTACHED, 'attach: detached during the census')
  const before = state.lastPass
  state.lastPass = pass
  const taken = { time: pass.time, durationMs: Math.round(pass.durationMs), complete: pass.complete, collections: pass.records.size, notReached: pass.notReached }
  if (before === null) return { ...taken, since: null, grown: null, largest: (await state.census.largest(pass, { top: TOP })).holders }
  const { holders } = await state.census.grown(before, pass, { top: TOP })
  return { ...taken, since: before.time, grown: holders, largest: null }
}

/**
 * `attach --census-only`: a census pass, `seconds` of allocation sampling, a second pass; the
 * collections that grew between the two (named) and the sites whose live bytes grew.
 */
async function censusAndSites(state, seconds) {
  let census
  const { sites } = await sampleSites(seconds, { before: () => takeCensus(state), after: async () => (census = await takeCensus(state)) })
  return { census, sites, seconds }
}

/**
 * The allocation sites whose sampled live bytes grew over `seconds` of sampling, with
 * `before` and `after` run inside the sampling, at its start and its end.
 * @param {number} seconds
 * @param {{ before?: () => Promise<unknown>, after?: () => Promise<unknown> }} [around]
 */
async function sampleSites(seconds, { before = async () => {}, after = async () => {} } = {}) {
  const profiler = new SiteProfiler(SAMPLING_BYTES)
  await profiler.start()
  try {
    await before()
    await sleep(seconds * 1000)
    await after()
    return { seconds, sites: growingSites(new Map(), sitesOfProfile(await profiler.profile()), TOP) }
  } finally {
    profiler.stop()
  }
}

/** A wait that does not keep the process alive. */
function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms).unref())
}

/** Stops what `state` started and forgets it; safe to call twice. */
function stopAll(state) {
  state.watcher?.stop()
  state.watcher?.removeAllListeners()
  state.census?.stop()
  state.server?.close()
  fs.rmSync(state.socket, { force: true })
  if (globalThis[STATE] === state) delete globalThis[STATE]
}

module.exports = { start, STATE }

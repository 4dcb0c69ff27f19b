'use strict'

const { isMainThread } = require('node:worker_threads')
const { OPTIONS, DEFAULTS, resolveOptions } = require('./options')
const { checkMaxBytes, DEFAULT_MAX_BYTES } = require('./event-log')
const { OPTIONS: RESTART_OPTIONS } = require('../mitigate/restart-options')
const { COORDINATOR_VARIABLE } = require('../mitigate/cluster')

/** A table's rows that have a variable, as `[variable, [option, how its text reads]]`; `within` names the option holding them. */
function variables(rows, within = null) {
  return rows.filter((o) => o.env !== null).map((o) => [o.env, /** @type {[string, 'number' | 'boolean' | 'string']} */ ([within === null ? o.name : `${within}.${o.name}`, o.check.env])])
}

/**
 * Environment variables read by `leakproof/register`, each mapped to a `watch()` option and
 * how its text reads, from the options tables (options.js, and the restart policy's, whose
 * options are `restart.<name>`). Numbers are plain decimals (`LEAKPROOF_INTERVAL_MS=5000`),
 * booleans `1`/`0`/`true`/`false` (and yes/no, on/off).
 * @type {Readonly<Record<string, [string, 'number' | 'boolean' | 'string']>>}
 */
const ENV = Object.freeze(Object.fromEntries([...variables(OPTIONS.ROWS), ...variables(RESTART_OPTIONS.ROWS, 'restart')]))

/** Variables left alone in worker threads, where what they set does not apply: signals, and the restart policy (the process's). */
const mainThreadOnly = (name) => name === 'LEAKPROOF_SNAPSHOT_SIGNAL' || name === 'LEAKPROOF_RESTART' || name.startsWith('LEAKPROOF_RESTART_')

/**
 * Variables that are not `watch()` options but are read elsewhere, so never "unknown":
 * the event log and its size cap (register.js), listener tracking
 * (lib/track/listeners.js), the addon's path (lib/shared/native.js) and the cluster primary's
 * restart coordination (lib/mitigate/cluster.js).
 */
const OTHER_VARIABLES = ['LEAKPROOF_LOG', 'LEAKPROOF_LOG_MAX_BYTES', 'LEAKPROOF_TRACK_LISTENERS', 'LEAKPROOF_NATIVE_PATH', COORDINATOR_VARIABLE]

/** Each restart option's variable, by option name. */
const ENV_OF_RESTART = Object.fromEntries(RESTART_OPTIONS.ROWS.filter((o) => o.env !== null).map((o) => [o.name, o.env]))

/** The value of a variable as `type` says; text that does not parse is left as text, for resolveOptions to refuse. */
function parse(raw, type) {
  const text = raw.trim()
  if (type === 'string') return text
  if (type === 'boolean') {
    if (/^(1|true|yes|on)$/i.test(text)) return true
    if (/^(0|false|no|off)$/i.test(text)) return false
    // An option that takes a boolean or a share (shrinkMaps) reads a number as one.
    return text !== '' && Number.isFinite(Number(text)) ? Number(text) : text
  }
  // `Infinity` reads as itself, for the options that take it (snapshotMaxPauseMs); the others refuse it.
  return text !== '' && (Number.isFinite(Number(text)) || text === 'Infinity') ? Number(text) : text
}

/**
 * `watch()` options and the event log's settings from `env`, keeping the default for each
 * bad value; `logMaxBytes` is the log's size cap (LEAKPROOF_LOG_MAX_BYTES).
 * @returns {{ options: object, log: string | undefined, logMaxBytes: number, problems: string[] }}
 */
function configFromEnv(env) {
  const problems = []
  const options = {}
  const restart = {} // the restart policy's options, kept if LEAKPROOF_RESTART turns it on
  for (const [name, [option, type]] of Object.entries(ENV)) {
    if (env[name] === undefined || env[name] === '') continue
    // A worker preloading register.js watches without a signal or a restart policy: both are the main thread's.
    if (!isMainThread && mainThreadOnly(name)) continue
    const value = parse(env[name], type)
    const [top, nested] = option.split('.')
    const candidate = nested === undefined ? { ...options, [top]: value } : { ...options, restart: { ...restart, [nested]: value } }
    try {
      resolveOptions(candidate)
      if (nested === undefined) options[top] = value
      else restart[nested] = value
    } catch (err) {
      const byDefault = nested === undefined ? DEFAULTS[top] : RESTART_OPTIONS.DEFAULTS[nested]
      const fallback = byDefault === undefined ? 'unset' : JSON.stringify(byDefault)
      problems.push(`ignoring ${name}=${JSON.stringify(env[name])} (${err.message}); using the default, ${fallback}`)
    }
  }
  const restartSet = Object.keys(restart)
  if (options.restart === true && restartSet.length > 0) options.restart = restart
  else if (restartSet.length > 0) problems.push(`ignoring ${restartSet.map((o) => ENV_OF_RESTART[o]).join(', ')}: the restart policy is off (LEAKPROOF_RESTART=1 turns it on)`)
  for (const name of Object.keys(env)) {
    if (name.startsWith('LEAKPROOF_') && !(name in ENV) && !OTHER_VARIABLES.includes(name)) {
      problems.push(`ignoring unknown variable ${name}`)
    }
  }
  const log = env.LEAKPROOF_LOG === undefined || env.LEAKPROOF_LOG === '' ? undefined : env.LEAKPROOF_LOG
  return { options, log, logMaxBytes: logMaxBytesFromEnv(env, problems), problems }
}

/**
 * The variables the preload reads: `env`, and under PM2's cluster mode the app's own
 * `LEAKPROOF_*` ones. PM2 hands a cluster worker its app's environment as one JSON variable,
 * `pm2_env`, which its ProcessContainer.js copies into `process.env` only after the `-r`
 * preloads have run; their values win, as they will a moment later. A `pm2_env` that is not
 * a JSON object is left alone.
 * @param {NodeJS.ProcessEnv} env
 * @returns {NodeJS.ProcessEnv}
 */
function preloadEnv(env) {
  if (env.pm2_env === undefined) return env
  let app
  try {
    app = JSON.parse(env.pm2_env)
  } catch {
    return env
  }
  if (app === null || typeof app !== 'object') return env
  const unpacked = { ...env }
  for (const [name, value] of Object.entries(app)) {
    if (name.startsWith('LEAKPROOF_') && ['string', 'number', 'boolean'].includes(typeof value)) unpacked[name] = String(value)
  }
  return unpacked
}

/** The event log's size cap from LEAKPROOF_LOG_MAX_BYTES; the default, with a problem noted, if bad. */
function logMaxBytesFromEnv(env, problems) {
  const raw = env.LEAKPROOF_LOG_MAX_BYTES
  if (raw === undefined || raw === '') return DEFAULT_MAX_BYTES
  try {
    return checkMaxBytes(parse(raw, 'number'))
  } catch (err) {
    problems.push(`ignoring LEAKPROOF_LOG_MAX_BYTES=${JSON.stringify(raw)} (${err.message}); using the default, ${DEFAULT_MAX_BYTES}`)
    return DEFAULT_MAX_BYTES
  }
}

module.exports = { configFromEnv, preloadEnv, ENV, OTHER_VARIABLES }

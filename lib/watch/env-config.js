'use strict'

const { isMainThread } = require('node:worker_threads')
const { OPTIONS, DEFAULTS, resolveOptions } = require('./options')
const { checkMaxBytes, DEFAULT_MAX_BYTES } = require('./event-log')

/**
 * Environment variables read by `leakproof/register`, each mapped to a `watch()` option and
 * how its text reads, from the options table (options.js). Numbers are plain decimals
 * (`LEAKPROOF_INTERVAL_MS=5000`), booleans `1`/`0`/`true`/`false` (and yes/no, on/off).
 * @type {Readonly<Record<string, [string, 'number' | 'boolean' | 'string']>>}
 */
const ENV = Object.freeze(Object.fromEntries(OPTIONS.ROWS.filter((o) => o.env !== null).map((o) => [o.env, /** @type {[string, 'number' | 'boolean' | 'string']} */ ([o.name, o.check.env])])))

/** Variables left alone in worker threads, where what they set does not apply. */
const MAIN_THREAD_ONLY = ['LEAKPROOF_SNAPSHOT_SIGNAL']

/**
 * Variables that are not `watch()` options but are read elsewhere, so never "unknown":
 * the event log and its size cap (register.js), listener tracking
 * (lib/track/listeners.js) and the addon's path (lib/native.js).
 */
const OTHER_VARIABLES = ['LEAKPROOF_LOG', 'LEAKPROOF_LOG_MAX_BYTES', 'LEAKPROOF_TRACK_LISTENERS', 'LEAKPROOF_NATIVE_PATH']

/** The value of a variable as `type` says; text that does not parse is left as text, for resolveOptions to refuse. */
function parse(raw, type) {
  const text = raw.trim()
  if (type === 'string') return text
  if (type === 'boolean') {
    if (/^(1|true|yes|on)$/i.test(text)) return true
    if (/^(0|false|no|off)$/i.test(text)) return false
    return text
  }
  return text !== '' && Number.isFinite(Number(text)) ? Number(text) : text
}

/**
 * `watch()` options and the event log's settings from `env`, keeping the default for each
 * bad value; `logMaxBytes` is the log's size cap (LEAKPROOF_LOG_MAX_BYTES).
 * @returns {{ options: object, log: string | undefined, logMaxBytes: number, problems: string[] }}
 */
function configFromEnv(env) {
  const problems = []
  const options = {}
  for (const [name, [option, type]] of Object.entries(ENV)) {
    if (env[name] === undefined || env[name] === '') continue
    // Signals reach only the main thread: a worker preloading register.js watches without one.
    if (!isMainThread && MAIN_THREAD_ONLY.includes(name)) continue
    const value = parse(env[name], type)
    try {
      resolveOptions({ ...options, [option]: value })
      options[option] = value
    } catch (err) {
      const fallback = DEFAULTS[option] === undefined ? 'unset' : JSON.stringify(DEFAULTS[option])
      problems.push(`ignoring ${name}=${JSON.stringify(env[name])} (${err.message}); using the default, ${fallback}`)
    }
  }
  for (const name of Object.keys(env)) {
    if (name.startsWith('LEAKPROOF_') && !(name in ENV) && !OTHER_VARIABLES.includes(name)) {
      problems.push(`ignoring unknown variable ${name}`)
    }
  }
  const log = env.LEAKPROOF_LOG === undefined || env.LEAKPROOF_LOG === '' ? undefined : env.LEAKPROOF_LOG
  return { options, log, logMaxBytes: logMaxBytesFromEnv(env, problems), problems }
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

module.exports = { configFromEnv, ENV, OTHER_VARIABLES }

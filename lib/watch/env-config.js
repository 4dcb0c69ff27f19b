'use strict'

const { isMainThread } = require('node:worker_threads')
const { DEFAULTS, resolveOptions } = require('./watcher')
const { checkMaxBytes, DEFAULT_MAX_BYTES } = require('./event-log')

/**
 * Environment variables read by `leakproof/register`, each mapped to a `watch()` option.
 * Numbers are plain decimals (`LEAKPROOF_INTERVAL_MS=5000`), booleans `1`/`0`/`true`/`false`.
 */
const ENV = {
  LEAKPROOF_DIR: ['dir', 'string'],
  LEAKPROOF_SNAPSHOTS: ['snapshots', 'string'],
  LEAKPROOF_INTERVAL_MS: ['intervalMs', 'number'],
  LEAKPROOF_WARMUP_MS: ['warmupMs', 'number'],
  LEAKPROOF_MIN_DURATION_MS: ['minDurationMs', 'number'],
  LEAKPROOF_WINDOW: ['window', 'number'],
  LEAKPROOF_MIN_POINTS: ['minPoints', 'number'],
  LEAKPROOF_MIN_GROWTH_BYTES: ['minGrowthBytes', 'number'],
  LEAKPROOF_MIN_RATE_BYTES_PER_SEC: ['minRateBytesPerSec', 'number'],
  LEAKPROOF_CONFIDENCE: ['confidence', 'number'],
  LEAKPROOF_FORCE_GC: ['forceGc', 'boolean'],
  LEAKPROOF_GC_BUDGET: ['gcBudget', 'number'],
  LEAKPROOF_FORCE_GC_AFTER_MS: ['forceGcAfterMs', 'number'],
  LEAKPROOF_HEAP_THRESHOLD: ['heapThreshold', 'number'],
  LEAKPROOF_RSS_THRESHOLD: ['rssThreshold', 'number'],
  LEAKPROOF_MAX_SNAPSHOTS: ['maxSnapshots', 'number'],
  LEAKPROOF_MAX_DISK_BYTES: ['maxDiskBytes', 'number'],
  LEAKPROOF_COOLDOWN_MS: ['cooldownMs', 'number'],
  LEAKPROOF_SNAPSHOT_MAX_PAUSE_MS: ['snapshotMaxPauseMs', 'number'],
  LEAKPROOF_SNAPSHOT_WRITER: ['snapshotWriter', 'string'],
  LEAKPROOF_SNAPSHOT_MEMORY_FACTOR: ['snapshotMemoryFactor', 'number'],
  LEAKPROOF_FOLLOW_UP_GROWTH_BYTES: ['followUpGrowthBytes', 'number'],
  LEAKPROOF_NEAR_HEAP_LIMIT: ['nearHeapLimit', 'boolean'],
  LEAKPROOF_SITES: ['sites', 'boolean'],
  LEAKPROOF_CENSUS: ['census', 'boolean'],
  LEAKPROOF_SITES_WINDOW_MS: ['sitesWindowMs', 'number'],
  LEAKPROOF_SNAPSHOT_SIGNAL: ['snapshotSignal', 'string'],
}

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

'use strict'

/**
 * The options of the restart policy, `watch({ restart: { ... } })`, as one table
 * (options-table.js): each with its default, its check, its `LEAKPROOF_RESTART_*` variable
 * and its line in docs/mitigate.md. `restart: true` takes every default.
 */
const errors = require('../shared/errors')
const { nativeBinding } = require('../shared/native')
const { optionsTable, option, integerBetween, functionValue, optional } = require('../shared/options-table')

const MINUTE = 60_000
const HOUR = 60 * MINUTE

/**
 * The detector's urgent horizon, the default of `limitWithinMs`: a leak this close to its
 * limit is urgent. The Rust detector owns it (the binding's `URGENT_HORIZON_MS`); it is read
 * when a policy is resolved, not when this module loads, so that options are checked (and
 * `require('leakproof')` works) without the addon. Undefined where the addon is missing:
 * `watch()` then throws ERR_LEAKPROOF_NATIVE_UNAVAILABLE anyway.
 * @returns {number | undefined}
 */
function urgentHorizonMs() {
  try {
    return nativeBinding().URGENT_HORIZON_MS
  } catch (err) {
    if (err.code === errors.CODES.NATIVE_UNAVAILABLE) return undefined
    throw err
  }
}

/**
 * A duration in ms from `min` (excluded unless `zero`) to `max`: a policy that waits a day to
 * stop accepting, or restarts for a limit weeks away, is a typo, not a setting.
 * @returns {import('../shared/options-table').Check}
 */
function durationUpTo(max, { zero = false } = {}) {
  const expected = `a number of ms ${zero ? '>= 0' : '> 0'} and <= ${max} (${max / MINUTE} min)`
  return {
    env: 'number',
    check(where, what, value) {
      if (typeof value !== 'number') throw errors.invalidOptionType(where, what, expected, value)
      if (!(zero ? value >= 0 : value > 0) || !(value <= max)) throw errors.invalidOptionRange(where, what, expected, value)
    },
  }
}

/** The restart policy's options, a row each in the order of docs/mitigate.md's table. */
const RESTART_OPTIONS = optionsTable(
  [
    // No default in the table: the horizon is the detector's, filled in by resolveRestart().
    option('limitWithinMs', undefined, optional(durationUpTo(7 * 24 * HOUR)), {
      env: 'LEAKPROOF_RESTART_LIMIT_WITHIN_MS',
      default: '900000 (15 min)',
      meaning: 'restart when a leak that still grows would reach its limit (the heap’s, or the container’s) within this, in ms; the detector’s urgent horizon by default',
    }),
    option('minIntervalMs', 5 * MINUTE, durationUpTo(7 * 24 * HOUR, { zero: true }), {
      env: 'LEAKPROOF_RESTART_MIN_INTERVAL_MS',
      default: '300000 (5 min)',
      meaning: 'a process does not restart before it has run this long, unless its limit is too near to wait (it would die there first): restarts of one instance are this far apart, or as far as its leak takes to reach the limit',
    }),
    option('readinessDelayMs', 35_000, durationUpTo(10 * MINUTE, { zero: true }), {
      env: 'LEAKPROOF_RESTART_READINESS_DELAY_MS',
      default: '35000',
      meaning: 'readiness fails this long (ms) before connections stop being accepted: your probe’s period × failure threshold, plus time for the balancer to follow (Kubernetes’ defaults: 10 s × 3, + 5 s)',
    }),
    option('drainTimeoutMs', 30_000, durationUpTo(10 * MINUTE), {
      env: 'LEAKPROOF_RESTART_DRAIN_TIMEOUT_MS',
      default: '30000',
      meaning: 'the longest in-flight requests (or `beforeRestart`) are waited for once connections stop being accepted, in ms; then the process exits',
    }),
    option('exitCode', 75, integerBetween(0, 255), {
      env: 'LEAKPROOF_RESTART_EXIT_CODE',
      default: '75',
      meaning: 'the exit code (75, EX_TEMPFAIL: non-zero, so `Restart=on-failure` and `--restart on-failure` restart it too)',
    }),
    option('clusterSpacingMs', MINUTE, durationUpTo(24 * HOUR, { zero: true }), {
      env: 'LEAKPROOF_RESTART_CLUSTER_SPACING_MS',
      default: '60000',
      meaning: 'under `cluster`, the least time between one worker’s exit and the next worker’s restart, in ms, unless a worker’s limit comes sooner (read by the primary)',
    }),
    option('beforeRestart', undefined, optional(functionValue), {
      default: 'none',
      meaning: 'your own shutdown (what leakproof cannot see: HTTP/2 and `net` servers, consumers), run before the HTTP servers it sees stop accepting, with `{ event, deadline, signal }`; awaited until `drainTimeoutMs`',
    }),
  ],
  { path: 'options.restart' },
)

/** Every restart option with its default. */
const DEFAULTS = RESTART_OPTIONS.DEFAULTS

/** The variable that turns the policy on from the preload (`1`, `true`, `yes`, `on`). */
const ENABLE_VARIABLE = 'LEAKPROOF_RESTART'

/**
 * `watch()`'s `restart` option as settings: null when off (unset or `false`), every default
 * for `true`, else the object's options checked and filled in (`limitWithinMs` from the
 * detector: urgentHorizonMs()).
 * @returns {Record<string, any> | null}
 */
function resolveRestart(where, value) {
  if (value === undefined || value === false) return null
  const settings = RESTART_OPTIONS.read(where, value === true ? {} : value)
  settings.limitWithinMs ??= urgentHorizonMs()
  return settings
}

/** @type {import('../shared/options-table').Check} `watch()`'s `restart`: a boolean or the policy's options. */
const restartOption = {
  env: 'boolean',
  check(where, what, value) {
    if (value === undefined || typeof value === 'boolean') return
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw errors.invalidOptionType(where, what, 'true, false or an object of restart options (docs/mitigate.md)', value)
    }
    RESTART_OPTIONS.read(where, value)
  },
}

module.exports = { OPTIONS: RESTART_OPTIONS, DEFAULTS, ENABLE_VARIABLE, resolveRestart, restartOption }

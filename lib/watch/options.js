'use strict'

/**
 * Every option of `watch()`, once: its default, its check, its `LEAKPROOF_*` variable for
 * the `leakproof/register` preload, and its line in docs/watch.md's options tables.
 * `DEFAULTS`, `resolveOptions()` and the preload's variables (env-config.js) are built from
 * WATCH_OPTIONS; options.test.js checks that index.d.ts and the docs say the same.
 */
const errors = require('../errors')
const { checkSnapshotSignal } = require('../capture/snapshot-signal')

/** Bytes in a mebibyte. */
const MiB = 1024 * 1024

const WHERE = 'watch()'

/**
 * A check of one option's value: throws a coded error naming `options.<name>`. `env` is how
 * the preload reads its variable's text ('number', 'boolean' or 'string').
 * @typedef {{ env: 'number' | 'boolean' | 'string', check: (what: string, value: unknown) => void }} Check
 */

/** @type {Check} A finite number > 0. */
const positive = { env: 'number', check: (what, value) => errors.checkPositiveFinite(WHERE, what, value) }

/** @type {Check} An integer > 0. */
const positiveInteger = { env: 'number', check: (what, value) => errors.checkPositiveInteger(WHERE, what, value) }

/** An integer >= `min`. @returns {Check} */
function integerAtLeast(min) {
  return {
    env: 'number',
    check(what, value) {
      errors.checkPositiveInteger(WHERE, what, value)
      if (/** @type {number} */ (value) < min) throw errors.invalidOptionRange(WHERE, what, `an integer >= ${min}`, value)
    },
  }
}

/** @type {Check} A finite number >= 0 (a duration that may be zero). */
const nonNegative = {
  env: 'number',
  check(what, value) {
    if (typeof value !== 'number') throw errors.invalidOptionType(WHERE, what, 'a number >= 0', value)
    if (!(value >= 0) || value === Infinity) throw errors.invalidOptionRange(WHERE, what, 'a finite number >= 0', value)
  },
}

/** A share of a whole: in (0, 1), or (0, 1] when the whole itself is allowed. @returns {Check} */
function share({ oneAllowed }) {
  return {
    env: 'number',
    check(what, value) {
      if (typeof value !== 'number') throw errors.invalidOptionType(WHERE, what, 'a number between 0 and 1', value)
      if (!(value > 0 && (value < 1 || (oneAllowed && value === 1)))) throw errors.invalidOptionRange(WHERE, what, 'a number between 0 and 1', value)
    },
  }
}

/** @type {Check} A pause in ms > 0; Infinity means no limit. */
const pauseMs = {
  env: 'number',
  check(what, value) {
    if (typeof value !== 'number') throw errors.invalidOptionType(WHERE, what, 'a number of ms > 0', value)
    if (!(value > 0)) throw errors.invalidOptionRange(WHERE, what, "a number of ms > 0 (Infinity for no limit; snapshots: 'off' for none)", value)
  },
}

/** @type {Check} */
const boolean = {
  env: 'boolean',
  check(what, value) {
    if (typeof value !== 'boolean') throw errors.invalidOptionType(WHERE, what, 'a boolean', value)
  },
}

/** One of a few strings. @returns {Check} */
function oneOf(...choices) {
  return {
    env: 'string',
    check(what, value) {
      if (!choices.includes(value)) throw errors.invalidOptionRange(WHERE, what, choices.map((c) => `'${c}'`).join(' or '), value)
    },
  }
}

/** @type {Check} A directory: unset, or a non-empty path. */
const directory = {
  env: 'string',
  check(what, value) {
    if (value !== undefined && (typeof value !== 'string' || value === '')) throw errors.invalidOptionType(WHERE, what, 'a non-empty path string', value)
  },
}

/** @type {Check} A hook: unset, or a function. No variable can hold one. */
const hook = {
  env: 'string',
  check(what, value) {
    if (value !== undefined) errors.checkFunction(WHERE, what, value)
  },
}

/** @type {Check} A signal name the process does not otherwise use (snapshot-signal.js). */
const signal = { env: 'string', check: (_what, value) => checkSnapshotSignal(value) }

/** @type {Check} Unset (derived from other options), or a finite number > 0. */
const optionalPositive = {
  env: 'number',
  check(what, value) {
    if (value !== undefined) errors.checkPositiveFinite(WHERE, what, value)
  },
}

/**
 * One row per option, in the order of the docs' tables.
 * - `env`: the preload's variable (`LEAKPROOF_` and the name in capitals), or null for an
 *   option no variable can set;
 * - `doc`: the docs table's row: its group, how it shows the default, and the meaning.
 * @type {ReadonlyArray<{ name: string, default: unknown, check: Check, env: string | null, doc: { group: string, default: string, meaning: string } }>}
 */
const WATCH_OPTIONS = Object.freeze([
  row('intervalMs', 10_000, positive, 'Detection', '10000', 'how often a floor is taken and RSS is read, in ms'),
  row('warmupMs', 60_000, nonNegative, 'Detection', '60000', 'no leak is reported before this (ms), and growth must go on after it'),
  row('minDurationMs', 60_000, positive, 'Detection', '60000', "a leak's window must span at least this, in ms"),
  row('window', 30, positiveInteger, 'Detection', '30', 'floors kept per kind of memory (>= `minPoints`)'),
  row('minPoints', 8, integerAtLeast(3), 'Detection', '8', 'floors needed before judging (>= 3, <= `window`)'),
  row('minGrowthBytes', 8 * MiB, positive, 'Detection', '8 MiB', 'growth over the window needed (native memory: 8 MiB at least, whatever this says)'),
  row('minRateBytesPerSec', 512, positive, 'Detection', '512', 'slope needed, in bytes per second, on every time scale'),
  row('confidence', 0.999, share({ oneAllowed: false }), 'Detection', '0.999', '1 − p of the Mann–Kendall test needed, in (0, 1)'),
  row('heapThreshold', 0.85, share({ oneAllowed: true }), 'Detection', '0.85', '`threshold` event when the heap floor passes this share of the heap limit, in (0, 1]'),
  row('rssThreshold', 0.9, share({ oneAllowed: true }), 'Detection', '0.9', '`threshold` event when RSS passes this share of the container limit, in (0, 1]'),
  row('forceGc', true, boolean, 'Forced GCs', 'true', "request full GCs ([Forced full GCs](#forced-full-gcs)); `false`: floors come from V8's own GCs only"),
  row('gcBudget', 0.01, share({ oneAllowed: false }), 'Forced GCs', '0.01', 'share of wall time forced GCs may take, in (0, 1)'),
  row('forceGcAfterMs', 60_000, nonNegative, 'Forced GCs', '60000', 'a full GC is requested when none has run for this long (ms); sooner, in a bounded run, while the floors hint at growth. Lower finds leaks sooner in processes that rarely run one, at a CPU cost ([benchmarks](benchmarks.md#watch-cost-on-a-real-http-service-2026-11-22))'),
  row('snapshots', 'auto', oneOf('auto', 'off'), 'Snapshots', "`'auto'`", "`'off'` never writes snapshots"),
  row('dir', undefined, directory, 'Snapshots', 'none', 'where snapshots and sampling profiles go; no `dir`, no snapshots'),
  row('maxSnapshots', 4, positiveInteger, 'Snapshots', '4', 'files kept in `dir`'),
  row('maxDiskBytes', 4096 * MiB, positive, 'Snapshots', '4 GiB', 'bytes kept in `dir`: a pair of snapshots of a 1 GB heap (about 2 GB each)'),
  row('cooldownMs', 10 * 60_000, nonNegative, 'Snapshots', '600000', 'at least this many ms between two pairs of snapshots'),
  row('snapshotMaxPauseMs', 2_000, pauseMs, 'Snapshots', '2000', 'the longest an in-process snapshot may stop the event loop, as predicted ([The pause budget](capture.md#the-pause-budget)); `Infinity` for no limit'),
  row('snapshotWriter', 'fork', oneOf('fork', 'in-process'), 'Snapshots', "`'fork'`", "who writes snapshots: a forked child while the service serves ([Written by a forked child](capture.md#written-by-a-forked-child); Linux, main thread), or `'in-process'`"),
  row('snapshotMemoryFactor', 12, positive, 'Snapshots', '12', 'free memory needed to write a snapshot, as a multiple of its predicted file size; a forked child also needs the live heap on top'),
  row('followUpGrowthBytes', 16 * MiB, positive, 'Snapshots', '16 MiB', 'growth of a leaking kind (heap, external, native) after the baseline that triggers the follow-up'),
  row('nearHeapLimit', true, boolean, 'Snapshots', 'true', "arm V8's near-heap-limit snapshot (with `dir`)"),
  row('beforeSnapshot', undefined, hook, 'Snapshots', 'none', 'hooks around each snapshot, given `{ reason, dir }` (and the result, after); awaited ([Uploading snapshots](capture.md#uploading-snapshots))', null),
  row('afterSnapshot', undefined, hook, 'Snapshots', 'none', 'hooks around each snapshot, given `{ reason, dir }` (and the result, after); awaited ([Uploading snapshots](capture.md#uploading-snapshots))', null),
  row('snapshotSignal', undefined, signal, 'Snapshots', 'none', "a signal (`'SIGUSR2'`) that takes a snapshot on demand ([On demand](capture.md#on-demand)); needs `dir`"),
  row('census', true, boolean, 'Allocation sites and reports', 'true', 'for a leak that gets no snapshot pair, take a [census of reachable collections](diagnose.md#the-census-the-holder-without-a-snapshot) to name its holder'),
  row('sites', true, boolean, 'Allocation sites and reports', 'true', "rank growing allocation sites after a heap leak (sampling then stays on; each ranking's profile is kept, and written with a `dir`)"),
  row('sitesWindowMs', undefined, optionalPositive, 'Allocation sites and reports', '2 × `intervalMs`', 'each sampling window, in ms'),
  row('sitesSamplingBytes', 512 * 1024, positive, 'Allocation sites and reports', '512 KiB', 'mean bytes between samples', null),
  row('top', 5, positiveInteger, 'Allocation sites and reports', '5', 'allocation sites, and suspects in a report, listed', null),
])

/**
 * A row of WATCH_OPTIONS; its variable is `LEAKPROOF_` and the name in capitals unless `env`
 * says otherwise (null: none).
 */
function row(name, defaultValue, check, group, docDefault, meaning, env = `LEAKPROOF_${name.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`) {
  return Object.freeze({ name, default: defaultValue, check, env, doc: Object.freeze({ group, default: docDefault, meaning }) })
}

/** Every option of `watch()` with its default. */
const DEFAULTS = Object.freeze(Object.fromEntries(WATCH_OPTIONS.map((o) => [o.name, o.default])))

/** Checks every option; returns the full settings with defaults filled in. */
function resolveOptions(options = {}) {
  errors.checkOptionsObject(WHERE, options, Object.keys(DEFAULTS))
  /** @type {Record<string, any>} */
  const o = { ...DEFAULTS }
  for (const [key, value] of Object.entries(options)) if (value !== undefined) o[key] = value
  for (const { name, check } of WATCH_OPTIONS) check.check(`options.${name}`, o[name])
  if (o.window < o.minPoints) throw errors.invalidOptionRange(WHERE, 'options.window', `an integer >= minPoints (${o.minPoints})`, o.window)
  if (o.snapshotSignal !== undefined && (o.dir === undefined || o.snapshots !== 'auto')) {
    throw errors.invalidOptionRange(WHERE, 'options.snapshotSignal', "unset, or set with a dir and snapshots: 'auto' (where would its snapshots go?)", o.snapshotSignal)
  }
  if (o.sitesWindowMs === undefined) o.sitesWindowMs = 2 * o.intervalMs
  return o
}

module.exports = { WATCH_OPTIONS, DEFAULTS, resolveOptions }

'use strict'

/**
 * Every option of `watch()`, once: its default, its check, its `LEAKPROOF_*` variable for
 * the `leakproof/register` preload, and its line in docs/watch.md's options tables.
 * `DEFAULTS`, `resolveOptions()` and the preload's variables (env-config.js) are built from
 * its rows; options.test.js checks that its types (lib/watch/types.d.ts) and the docs say
 * the same.
 */
const errors = require('../shared/errors')
const { isMainThread } = require('node:worker_threads')
const { checkSnapshotSignal } = require('../capture/snapshot-signal')
const { restartOption, resolveRestart } = require('../mitigate/restart-options')
const { keepShare } = require('../cache/map-options')
const { DEFAULT_ENTER_SHARE } = require('../cache/map-pressure')
const { optionsTable, option, positive, positiveInteger, integerBetween, nonNegative, fraction, boolean, oneOf, nonEmptyString, functionValue, optional } = require('../shared/options-table')

/** Bytes in a mebibyte. */
const MiB = 1024 * 1024

const WHERE = 'watch()'

/** @type {import('../shared/options-table').Check} A pause in ms > 0; Infinity means no limit. */
const pauseMs = {
  env: 'number',
  check(where, what, value) {
    if (typeof value !== 'number') throw errors.invalidOptionType(where, what, 'a number of ms > 0', value)
    if (!(value > 0)) throw errors.invalidOptionRange(where, what, "a number of ms > 0 (Infinity for no limit; snapshots: 'off' for none)", value)
  },
}

/** A directory: unset, or a non-empty path. */
const directory = optional(nonEmptyString('a non-empty path string'))

/** @type {import('../shared/options-table').Check} A signal name the process does not otherwise use (snapshot-signal.js). */
const signal = { env: 'string', check: (_where, _what, value) => checkSnapshotSignal(value) }

/** A share of a whole, in (0, 1). */
const share = fraction()
/** A share of a limit, in (0, 1]: the limit itself allowed. */
const shareOfLimit = fraction({ oneIncluded: true })

/**
 * watch()'s options, a row each in the order of docs/watch.md's tables: the preload reads
 * `LEAKPROOF_` and the name in capitals for each row with `env: true`.
 */
const WATCH_OPTIONS = optionsTable([
  option('intervalMs', 10_000, positive, { env: true, group: 'Detection', default: '10000', meaning: 'how often a floor is taken and RSS is read, in ms' }),
  option('warmupMs', 60_000, nonNegative, { env: true, group: 'Detection', default: '60000', meaning: 'no leak is reported before this (ms), and growth must go on after it; left unset, the warm-up of a leak that would reach the limit within hours ends sooner, once the service serves HTTP at a level rate ([Warm-up](#warm-up))' }),
  option('minDurationMs', 60_000, positive, { env: true, group: 'Detection', default: '60000', meaning: "a leak's window must span at least this, in ms" }),
  option('window', 30, positiveInteger, { env: true, group: 'Detection', default: '30', meaning: 'floors kept per kind of memory (>= `minPoints`)' }),
  option('minPoints', 8, integerBetween(3), { env: true, group: 'Detection', default: '8', meaning: 'floors needed before judging (>= 3, <= `window`)' }),
  option('minGrowthBytes', 8 * MiB, positive, { env: true, group: 'Detection', default: '8 MiB', meaning: 'growth over the window needed (native memory: 8 MiB at least, whatever this says)' }),
  option('minRateBytesPerSec', 512, positive, { env: true, group: 'Detection', default: '512', meaning: 'slope needed, in bytes per second, on every time scale' }),
  option('confidence', 0.999, share, { env: true, group: 'Detection', default: '0.999', meaning: '1 − p of the Mann–Kendall test needed, in (0, 1)' }),
  option('heapThreshold', 0.85, shareOfLimit, { env: true, group: 'Detection', default: '0.85', meaning: '`threshold` event when the heap floor passes this share of the heap limit, in (0, 1]' }),
  option('rssThreshold', 0.9, shareOfLimit, { env: true, group: 'Detection', default: '0.9', meaning: '`threshold` event when RSS passes this share of the container limit, in (0, 1]' }),
  option('threads', true, boolean, { env: true, group: 'Detection', default: 'true', meaning: "the main thread's watcher also watches every worker thread whose own watcher does not run (pools that block their workers between tasks, workers without the preload) ([Worker threads](#worker-threads))" }),
  option('forceGc', true, boolean, { env: true, group: 'Forced GCs', default: 'true', meaning: "request full GCs ([Forced full GCs](#forced-full-gcs)); `false`: floors come from V8's own GCs only" }),
  option('gcBudget', 0.01, share, { env: true, group: 'Forced GCs', default: '0.01', meaning: 'share of wall time forced GCs may take, in (0, 1)' }),
  option('forceGcAfterMs', 60_000, nonNegative, { env: true, group: 'Forced GCs', default: '60000', meaning: 'a full GC is requested when none has run for this long (ms); sooner, in a bounded run, while the floors hint at growth. Lower finds leaks sooner in processes that rarely run one, at a CPU cost ([benchmarks](benchmarks/detect.md#watch-cost-on-a-real-http-service-2026-11-22))' }),
  option('snapshots', 'auto', oneOf('auto', 'off'), { env: true, group: 'Snapshots', default: "`'auto'`", meaning: "`'off'` never writes snapshots" }),
  option('dir', undefined, directory, { env: true, group: 'Snapshots', default: 'none', meaning: 'where snapshots and sampling profiles go; no `dir`, no snapshots' }),
  option('maxSnapshots', 4, positiveInteger, { env: true, group: 'Snapshots', default: '4', meaning: 'files kept in `dir`, per process (processes sharing it never delete a live sibling’s)' }),
  option('maxDiskBytes', 4096 * MiB, positive, { env: true, group: 'Snapshots', default: '4 GiB', meaning: 'bytes kept in `dir` per process: a pair of snapshots of a 1 GB heap (about 2 GB each)' }),
  option('cooldownMs', 10 * 60_000, nonNegative, { env: true, group: 'Snapshots', default: '600000', meaning: 'at least this many ms between two pairs of snapshots' }),
  option('snapshotMaxPauseMs', 2_000, pauseMs, { env: true, group: 'Snapshots', default: '2000', meaning: 'the longest an in-process snapshot may stop the event loop, as predicted ([The pause budget](capture.md#the-pause-budget)); `Infinity` for no limit' }),
  option('snapshotWriter', 'fork', oneOf('fork', 'in-process'), { env: true, group: 'Snapshots', default: "`'fork'`", meaning: "who writes snapshots: a forked child while the service serves ([Written by a forked child](capture.md#written-by-a-forked-child); Linux, main thread), or `'in-process'`" }),
  option('snapshotMemoryFactor', undefined, optional(positive), { env: true, group: 'Snapshots', default: 'measured', meaning: "free memory needed to write a snapshot, as a multiple of its predicted file size (a forked child also needs the live heap on top); unset, V8's graph is predicted and learned from each child's measured peak ([What a big heap costs](capture.md#what-a-big-heap-costs))" }),
  option('followUpGrowthBytes', 16 * MiB, positive, { env: true, group: 'Snapshots', default: '16 MiB', meaning: 'growth of a leaking kind (heap, external, native) after the baseline that triggers the follow-up' }),
  option('nearHeapLimit', true, boolean, { env: true, group: 'Snapshots', default: 'true', meaning: "a snapshot near the heap limit, into `dir`: V8's where `--diagnostic-dir` is inside `dir`, else the watcher's ([Near the heap limit](capture.md#near-the-heap-limit))" }),
  option('beforeSnapshot', undefined, optional(functionValue), { group: 'Snapshots', default: 'none', meaning: 'hooks around each snapshot, given `{ reason, dir }` (and the result, after); awaited ([Uploading snapshots](capture.md#uploading-snapshots))' }),
  option('afterSnapshot', undefined, optional(functionValue), { group: 'Snapshots', default: 'none', meaning: 'hooks around each snapshot, given `{ reason, dir }` (and the result, after); awaited ([Uploading snapshots](capture.md#uploading-snapshots))' }),
  option('snapshotSignal', undefined, signal, { env: true, group: 'Snapshots', default: 'none', meaning: "a signal (`'SIGUSR2'`) that takes a snapshot on demand ([On demand](capture.md#on-demand)); needs `dir`" }),
  option('census', true, boolean, { env: true, group: 'Allocation sites and reports', default: 'true', meaning: 'for a leak that gets no snapshot pair, take a [census of reachable collections](diagnose.md#the-census-the-holder-without-a-snapshot) to name its holder' }),
  option('sites', true, boolean, { env: true, group: 'Allocation sites and reports', default: 'true', meaning: "rank growing allocation sites after a heap leak (sampling then stays on; each ranking's profile is kept, and written with a `dir`)" }),
  option('sitesWindowMs', undefined, optional(positive), { env: true, group: 'Allocation sites and reports', default: '2 × `intervalMs`', meaning: 'each sampling window, in ms' }),
  option('sitesSamplingBytes', 512 * 1024, positive, { group: 'Allocation sites and reports', default: '512 KiB', meaning: 'mean bytes between samples' }),
  option('top', 5, positiveInteger, { group: 'Allocation sites and reports', default: '5', meaning: 'allocation sites, and suspects in a report, listed' }),
  option('shrinkMaps', false, keepShare, { env: true, group: 'Memory pressure', default: 'false', meaning: "the default of every BoundedMap's `shrinkUnderPressure` on this thread: `true` (half its bounds kept under pressure), a share kept in (0, 1), or `false` ([Memory pressure](cache.md#memory-pressure))" }),
  option('pressureShare', DEFAULT_ENTER_SHARE, shareOfLimit, { env: true, group: 'Memory pressure', default: '0.7', meaning: 'maps that shrink under pressure shrink when the heap floor passes this share of the heap limit, or RSS of the container limit (or a leak is urgent), in (0, 1]' }),
  option('pressureHoldMs', 60_000, positive, { env: true, group: 'Memory pressure', default: '60000', meaning: 'the least time maps stay shrunk, in ms; doubled (up to an hour) when pressure comes back within two holds of its end, so maps that bring it back do not shrink and grow in a loop' }),
  option('restart', undefined, restartOption, { env: true, group: 'Restart', default: 'off', meaning: 'leave gracefully before a leak reaches its limit, once its evidence is written: `true`, or the [restart policy](mitigate.md)’s options; main thread only' }),
])

/** Every option of `watch()` with its default. */
const DEFAULTS = WATCH_OPTIONS.DEFAULTS

/** Checks every option; returns the full settings with defaults filled in. */
function resolveOptions(options = {}) {
  const o = WATCH_OPTIONS.read(WHERE, options)
  if (o.window < o.minPoints) throw errors.invalidOptionRange(WHERE, 'options.window', `an integer >= minPoints (${o.minPoints})`, o.window)
  if (o.snapshotSignal !== undefined && (o.dir === undefined || o.snapshots !== 'auto')) {
    throw errors.invalidOptionRange(WHERE, 'options.snapshotSignal', "unset, or set with a dir and snapshots: 'auto' (where would its snapshots go?)", o.snapshotSignal)
  }
  if (o.sitesWindowMs === undefined) o.sitesWindowMs = 2 * o.intervalMs
  if (o.restart !== undefined && o.restart !== false && !isMainThread) {
    throw errors.invalidOptionRange(WHERE, 'options.restart', "unset in a worker thread: a restart is the process's (give it to the main thread's watcher)", o.restart)
  }
  o.restart = resolveRestart(WHERE, o.restart)
  return o
}

module.exports = { OPTIONS: WATCH_OPTIONS, DEFAULTS, resolveOptions }

'use strict'

/**
 * Memory pressure: BoundedMaps that opted in (`shrinkUnderPressure`, or the process-wide
 * default `setShrinkDefault()`, which the watcher's `shrinkMaps` option sets) give memory back
 * before the process dies, then grow back once the pressure is gone.
 *
 * Who judges, per thread: the watcher, when one runs (`judgeForWatcher()`), on each floor (the
 * heap left after a full GC against the heap's limit, RSS against the container's) and on an
 * urgent leak; else, while a map that shrinks is alive, a timer of this module's (unref'd,
 * `FALLBACK_INTERVAL_MS`) reading V8's heap statistics and RSS against
 * `process.constrainedMemory()` where Node has it (`readUsage()`).
 *
 * The rule (`PressureEpisodes`): pressure starts when the memory used reaches `enterShare` of
 * its limit, or on an urgent leak; each map that shrinks then holds its keep share of its
 * bounds (evicting by its own policy). Pressure ends once the episode has lasted its hold
 * (`holdMs`, `DEFAULT_HOLD_MS`) and the memory used is below `enterShare − RELEASE_GAP`; while
 * a leak elsewhere keeps the memory up, the maps stay small. Then every map may use its whole
 * bounds again and grows back as entries are set. Pressure that comes back within two holds of
 * an episode's end doubles the next hold (up to `MAX_HOLD_MS`): maps whose own full size brings
 * the pressure back (a heap too small for them) shrink and grow back less and less often, at
 * most once an hour in the end, rather than in a loop.
 *
 * (What the maps gave back cannot be told from the heap: a reading after they shrink also
 * shows whatever else was freed meanwhile, a leak let go included. A rule that waited for room
 * for it kept the maps small for good once the leak beside them was gone.)
 */
const v8 = require('node:v8')
const os = require('node:os')
const errors = require('../shared/errors')
const { heapLimit, oldSpaceLimitBytes } = require('../shared/heap-limit')
const { liveMaps } = require('./registry')

/** The share of its bounds a map keeps under pressure with `shrinkUnderPressure: true`. */
const DEFAULT_KEEP_SHARE = 0.5
/**
 * Pressure starts at this share of a limit, by default: well before the limit, because a heap
 * near it also runs out of room to fragmentation (on Node 20 a process can die with its heap
 * at 0.79 of the old generation's limit, measured).
 */
const DEFAULT_ENTER_SHARE = 0.7
/** Pressure may end this far below the share where it starts. */
const RELEASE_GAP = 0.1
/** The shortest episode, by default. */
const DEFAULT_HOLD_MS = 60_000
/** The longest hold, however often pressure comes back. */
const MAX_HOLD_MS = 60 * 60_000
/** How often the fallback reads memory, without a watcher. */
const FALLBACK_INTERVAL_MS = 1_000

/**
 * When pressure starts and ends (the module doc's rule), from readings of the share of its
 * limit the memory uses. Time comes in with each reading.
 */
class PressureEpisodes {
  #enterShare
  #minHoldMs
  #under = false
  #startedAt = 0 // of the episode, or of its newest urgent leak
  #hold = 0
  #endedAt = -Infinity
  #lastHold = 0
  count = 0

  /**
   * @param {number} enterShare the share of a limit where pressure starts, in (0, 1].
   * @param {number} holdMs the shortest episode.
   */
  constructor(enterShare, holdMs) {
    this.#enterShare = enterShare
    this.#minHoldMs = holdMs
  }

  /** Whether pressure is on. */
  get under() {
    return this.#under
  }

  /**
   * One reading: `usage`, the share of its limit the memory uses (null: no limit known),
   * `urgent` whether a leak would reach a limit soon. Returns `'start'`, `'end'` or null.
   * @param {number | null} usage
   * @param {boolean} urgent
   * @param {number} time ms
   */
  note(usage, urgent, time) {
    const level = usage ?? 0
    if (!this.#under) {
      if (level < this.#enterShare && !urgent) return null
      const comesBack = time - this.#endedAt < 2 * this.#lastHold
      this.#hold = comesBack ? Math.max(this.#minHoldMs, Math.min(2 * this.#lastHold, MAX_HOLD_MS)) : this.#minHoldMs
      this.#under = true
      this.#startedAt = time
      this.count++
      return 'start'
    }
    if (urgent) this.#startedAt = time
    if (time - this.#startedAt < this.#hold || level >= this.#enterShare - RELEASE_GAP) return null
    this.#under = false
    this.#endedAt = time
    this.#lastHold = this.#hold
    return 'end'
  }
}

/** Each live map's way to change its bounds, and its own setting; keyed weakly by the map. */
const controls = new WeakMap()
/** Without a setting of its own a map follows this: false, or the share of its bounds kept. */
let shrinkDefault = /** @type {false | number} */ (false)
/** Who judges on this thread: the watcher's handle, or null for the fallback. */
let judge = null
/** The fallback's episodes and timer, while it runs. */
let fallback = null

/**
 * A map's setting, read: false, or the share of its bounds kept under pressure.
 * @param {boolean | number | undefined} setting `shrinkUnderPressure`
 * @returns {false | number}
 */
function keepShareOf(setting) {
  if (setting === undefined) return shrinkDefault
  if (setting === true) return DEFAULT_KEEP_SHARE
  return setting === false ? false : setting
}

/**
 * Called by each BoundedMap once built: `setting` is its `shrinkUnderPressure`, `holdShare(s)`
 * makes it hold share `s` of its bounds (evicting now) and returns how many entries left. A
 * map built under pressure starts small.
 */
function followPressure(map, setting, holdShare) {
  controls.set(map, { setting, holdShare })
  const keep = keepShareOf(setting)
  if (keep === false) return
  if (underPressure()) holdShare(keep)
  if (setting !== undefined) startFallback()
}

/**
 * The process-wide default for maps that do not set `shrinkUnderPressure`: false, true, or
 * the share of their bounds they keep. (This thread's maps: each worker has its own.)
 */
function setShrinkDefault(value) {
  shrinkDefault = keepShareOf(value === undefined ? false : value)
  if (shrinkDefault !== false) startFallback()
}

/** Whether this thread's maps are under pressure now. */
function underPressure() {
  return (judge ?? fallback)?.episodes.under === true
}

/** `{ underPressure, episodes }`: for the metrics. */
function pressureState() {
  const episodes = (judge ?? fallback)?.episodes
  return { underPressure: episodes?.under === true, episodes: episodes?.count ?? 0 }
}

/** Every live map that shrinks under pressure, as `{ map, control, keep }` (its keep share). */
function* shrinkingMaps() {
  for (const map of liveMaps()) {
    const control = controls.get(map)
    const keep = control === undefined ? false : keepShareOf(control.setting)
    if (keep !== false) yield { map, control, keep }
  }
}

/**
 * Every live map that shrinks, made to hold `share(keep)` of its bounds; each as `{ name,
 * keepShare, size, evicted }` (`name` null for an unnamed map). An `onEvict` that throws
 * does not stop the others: its error is a warning.
 */
function holdAll(share) {
  const changed = []
  for (const { map, control, keep } of shrinkingMaps()) {
    let evicted = 0
    try {
      evicted = control.holdShare(share(keep))
    } catch (err) {
      errors.warn(errors.WARNINGS.MEMORY_PRESSURE, `BoundedMap ${map.name ?? '(unnamed)'}: onEvict threw while it shrank: ${err?.message ?? err}`)
    }
    changed.push({ name: map.name ?? null, keepShare: keep, size: map.size, evicted })
  }
  return changed
}

/**
 * Acts on what `episodes` says of one reading; returns the change, or null: `{ state:
 * 'shrink' | 'restore', maps }` (`holdAll`'s list, empty where no map shrinks). A shrink of
 * any map is also a process warning.
 */
function act(episodes, usage, urgent, time, why) {
  const change = episodes.note(usage, urgent, time)
  if (change === null) return null
  if (change === 'end') return { state: 'restore', maps: holdAll(() => 1) }
  const maps = holdAll((keep) => keep)
  const evicted = maps.reduce((sum, m) => sum + m.evicted, 0)
  if (maps.length > 0) errors.warn(
    errors.WARNINGS.MEMORY_PRESSURE,
    `leakproof: memory pressure (${why}): ${maps.length} BoundedMap(s) now hold at most their keep share (${evicted} entries evicted); they grow back once it is gone`,
  )
  return { state: 'shrink', maps }
}

/**
 * The watcher's handle, while it runs on this thread (the fallback stands down):
 * `note({ usage, urgent, reason }, time)` returns `act`'s change or null; `stop()` hands
 * judging back to the fallback (maps under pressure are restored).
 * @param {{ enterShare: number, holdMs: number, shrinkMaps: boolean | number }} options
 */
function judgeForWatcher({ enterShare, holdMs, shrinkMaps }) {
  stopFallback(true)
  if (shrinkMaps !== false) setShrinkDefault(shrinkMaps)
  const handle = {
    episodes: new PressureEpisodes(enterShare, holdMs),
    note({ usage, urgent, reason }, time) {
      return judge === handle ? act(handle.episodes, usage, urgent, time, reason) : null
    },
    stop() {
      if (judge !== handle) return
      judge = null
      if (handle.episodes.under) holdAll(() => 1)
      if (shrinkMaps !== false) shrinkDefault = false
      startFallback()
    },
  }
  judge = handle
  return handle
}

/**
 * The share of its limit this thread's memory uses by Node's own readings: the heap against
 * the old generation's limit (heap-limit.js: what the heap runs into, not V8's
 * `heap_size_limit`, which has the young generation's reserve on top), and RSS against the
 * container's (`process.constrainedMemory()`, where Node has it). Not
 * `process.availableMemory()`: in a container it counts the page cache as used, so a service
 * that writes files would look pressed.
 */
function readUsage() {
  const heap = v8.getHeapStatistics()
  fallback.oldSpaceLimit ??= oldSpaceLimitBytes()
  const heapShare = heap.used_heap_size / heapLimit(heap.heap_size_limit, fallback.oldSpaceLimit)
  const limit = typeof process.constrainedMemory === 'function' ? process.constrainedMemory() : 0
  // Node says 0, or the largest 64-bit number, where there is no limit.
  if (!(limit > 0 && limit < os.totalmem())) return heapShare
  return Math.max(heapShare, process.memoryUsage.rss() / limit)
}

/** Starts the fallback's timer, unless the watcher judges or it runs already. */
function startFallback() {
  if (judge !== null || (fallback !== null && fallback.timer !== null)) return
  fallback ??= { episodes: new PressureEpisodes(DEFAULT_ENTER_SHARE, DEFAULT_HOLD_MS), timer: null, oldSpaceLimit: undefined }
  fallback.timer = setInterval(fallbackTick, FALLBACK_INTERVAL_MS).unref()
}

/** Stops the fallback's timer; `forget`: its episode too, the maps it shrank restored. */
function stopFallback(forget = false) {
  if (fallback === null) return
  if (fallback.timer !== null) clearInterval(fallback.timer)
  fallback.timer = null
  if (!forget) return
  if (fallback.episodes.under) holdAll(() => 1)
  fallback = null
}

/** One reading of the fallback; it stops once no live map shrinks. */
function fallbackTick() {
  if (shrinkingMaps().next().done) return stopFallback()
  act(fallback.episodes, readUsage(), false, performance.now(), 'memory near its limit')
}

module.exports = { followPressure, setShrinkDefault, judgeForWatcher, underPressure, pressureState, PressureEpisodes, DEFAULT_KEEP_SHARE, DEFAULT_ENTER_SHARE, DEFAULT_HOLD_MS, RELEASE_GAP }

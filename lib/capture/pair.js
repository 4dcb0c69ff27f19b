'use strict'

/**
 * A snapshot pair under way (capture.js): its baseline's levels, the kinds of memory it
 * follows, and the one rule for its follow-up, whichever thread it is of (the watcher's own,
 * or a worker watched from the main thread: lib/watch/leak-targets.js).
 */
const { nativeStart } = require('../diagnose/native-verdict')

/**
 * After the baseline, the thread gets at least this many times the baseline's pause back
 * before the follow-up stops it again (and at least one sampling interval): over the pair,
 * it runs at least three quarters of the time.
 */
const RECOVERY_PAUSES = 3

/**
 * Sampling intervals after a baseline is written before a native floor taken counts as the
 * baseline's: the monitor starts its series again once the snapshot is written.
 */
const NATIVE_SETTLE_INTERVALS = 1

class Pair {
  /** The baseline's file. */
  path
  /** When its baseline was asked for, and when it was written (the clock's ms). */
  startedAt
  endedAt
  /** Whether its follow-up was written or declined: the pair is over. */
  followedUp = false
  /** The kinds of memory it follows (a leak of another kind joins it until the follow-up). */
  kinds
  /** The native readings its report compares (native-verdict.js), once its native level settled; else null. */
  nativeStart = null
  #levels // the baseline's floor of each kind (native: the first settled one, or null)
  #nativeNow = null // the newest settled native floor
  #pauseMs

  /**
   * @param {{ path: string, levels: { heap: number, external: number | null }, kinds: Set<string>, startedAt: number, endedAt: number, pauseMs: number }} baseline
   *   the baseline written: its file, the floors it holds, the kinds it follows, when it was
   *   asked for and written, and how long it stopped its thread.
   */
  constructor({ path, levels, kinds, startedAt, endedAt, pauseMs }) {
    this.path = path
    this.#levels = { ...levels, native: null }
    this.kinds = kinds
    this.startedAt = startedAt
    this.endedAt = endedAt
    this.#pauseMs = pauseMs
  }

  /**
   * A native floor (`native` taken at `nativeAt`): the pair's native level once it settled
   * after the baseline. Floors from before the baseline was written do not compare with those
   * after (the monitor starts its series again once the snapshot is written): the baseline's
   * native level is the first native floor taken a while after it, and the newest such floor
   * is compared with it, not the lowest of several (readings come once a minute in a service
   * that allocates little JS, and waiting for several delayed a malloc leak's pair past six
   * minutes at the defaults).
   */
  noteNative({ native, nativeAt }, intervalMs, clock) {
    if (native === null || !(nativeAt > this.endedAt + NATIVE_SETTLE_INTERVALS * intervalMs)) return
    this.#levels.native ??= native
    this.#nativeNow = native
    this.startNativeReadings(clock)
  }

  /**
   * For a pair that follows native memory, once its native level has settled: the readings
   * its report compares (smaps, malloc; native-verdict.js) start now, not while the
   * baseline's snapshot memory was still held.
   */
  startNativeReadings(clock) {
    if (this.nativeStart === null && this.kinds.has('native') && this.#levels.native !== null) this.nativeStart = nativeStart(clock)
  }

  /**
   * The follow-up's rule: due once a kind the pair follows grew `followUpGrowthBytes` since
   * the baseline (enough for the diff to show the growth), the thread has recovered from the
   * baseline's pause, and no diagnosis is under way (its census' queue would be in the
   * snapshot) unless the leak is urgent (its limit may come before the census is done).
   * Resolves with how much each kind grew (`grown`), or null while not due.
   * @param {{ now: number, levels: object, intervalMs: number, followUpGrowthBytes: number, diagnosing: boolean, urgent: boolean }} state
   */
  followUpDue({ now, levels, intervalMs, followUpGrowthBytes, diagnosing, urgent }) {
    const recoveredAt = this.endedAt + Math.max(intervalMs, RECOVERY_PAUSES * this.#pauseMs)
    if (now < recoveredAt || (diagnosing && !urgent)) return null
    const grown = this.grown(levels)
    return grown.some(({ growthBytes }) => growthBytes >= followUpGrowthBytes) ? grown : null
  }

  /**
   * How much each kind the pair follows grew since its baseline, by the newest floors
   * (`levels`): `[{ kind, sinceBytes, untilBytes, growthBytes }]` (kinds without both floors
   * left out).
   */
  grown(levels) {
    const grown = []
    for (const kind of this.kinds) {
      const since = this.#levels[kind]
      const until = kind === 'native' ? this.#nativeNow : levels[kind]
      if (since == null || until == null) continue
      grown.push({ kind, sinceBytes: since, untilBytes: until, growthBytes: until - since })
    }
    return grown
  }
}

module.exports = { Pair }

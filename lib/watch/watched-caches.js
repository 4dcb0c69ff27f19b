'use strict'

/**
 * What the watcher (watcher.js) does for the BoundedMaps of its thread: it sets aside growth
 * while they still fill up, judges memory pressure for those that shrink under it
 * (lib/cache/map-pressure.js), and finds the named ones that thrash (lib/cache/registry.js).
 */
const { mapsFilling, cachesThrashing } = require('../cache/registry')
const { judgeForWatcher } = require('../cache/map-pressure')

/**
 * Growth while BoundedMaps are still filling up is set aside for at most this many minimum
 * durations in a row, so that a map too large to ever fill cannot hide a leak beside it for good.
 */
const FILLING_GRACE_DURATIONS = 5

/** Named maps listed in a `memory-pressure` event (all are counted). */
const PRESSURE_MAPS_LISTED = 50

class WatchedCaches {
  #pressure // judges memory pressure for the BoundedMaps that shrink under it
  #minDurationMs
  #fillingSince = null // when BoundedMaps started filling, while they still are

  /** @param {{ pressureShare: number, pressureHoldMs: number, shrinkMaps: boolean, minDurationMs: number }} options the watcher's settings. */
  constructor({ pressureShare, pressureHoldMs, shrinkMaps, minDurationMs }) {
    this.#pressure = judgeForWatcher({ enterShare: pressureShare, holdMs: pressureHoldMs, shrinkMaps })
    this.#minDurationMs = minDurationMs
  }

  /**
   * Whether BoundedMaps are still filling up at `time`: growth with a known ceiling, which the
   * detector sets aside (its window restarts), for at most FILLING_GRACE_DURATIONS.
   */
  filling(time) {
    if (mapsFilling() === 0) {
      this.#fillingSince = null
      return false
    }
    this.#fillingSince ??= time
    return time - this.#fillingSince < FILLING_GRACE_DURATIONS * this.#minDurationMs
  }

  /**
   * One reading of memory pressure (`{ usage, urgent, reason }`) at `now`: the fields of the
   * `memory-pressure` event when maps that shrink under it shrank or may grow back (`state`,
   * `reason`, `usage`, `maps` (the named ones), `mapsChanged`, `evicted`), else null.
   */
  pressure(reading, now) {
    const change = this.#pressure.note(reading, now)
    // Pressure with no map that shrinks is the threshold's business, not this event's.
    if (change === null || change.maps.length === 0) return null
    const { state, maps } = change
    const named = maps.filter((m) => m.name !== null).slice(0, PRESSURE_MAPS_LISTED)
    const evicted = maps.reduce((sum, m) => sum + m.evicted, 0)
    return { state, reason: state === 'shrink' ? reading.reason : null, usage: reading.usage, maps: named, mapsChanged: maps.length, evicted }
  }

  /** The named maps that stay full while their hit ratio collapses, at `now` (`cache-thrashing` events' fields). */
  thrashing(now) {
    return cachesThrashing(now)
  }

  /** No more pressure judged. */
  stop() {
    this.#pressure.stop()
  }
}

module.exports = { WatchedCaches }

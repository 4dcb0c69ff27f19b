'use strict'

const { nativeBinding } = require('../shared/native')

/**
 * @typedef {({ type: 'leak' } & import('../../binding').Leak)
 *   | ({ type: 'threshold', kind: 'rss' } & import('../../binding').RssThreshold)} NativeEvent
 */

/**
 * The native detector (its Rust thread), set up from the watcher's settings, started at
 * `startedAt` (epoch ms): the core's `MonitorConfig`, whose fields (and its `detector`'s) are
 * `watch()`'s options by the same names. A worker's
 * detector run from the main thread (thread-watch.js) reads no RSS threshold of its own
 * (`rssThreshold: Infinity`): the main thread's does. `onEvent` gets each event as the
 * watcher emits it, but for the fields every event has: the core's `Leak` and `RssThreshold`
 * with their `type` (and the threshold's `kind`).
 * @param {object} o the watcher's settings (options.js).
 * @param {{ startedAt: number, warmupEndsWhenServing: boolean, rssThreshold?: number }} start
 * @param {(event: NativeEvent) => void} onEvent
 */
function newNativeMonitor(o, { startedAt, warmupEndsWhenServing, rssThreshold = o.rssThreshold }, onEvent) {
  const { window, minPoints, warmupMs, minDurationMs, minGrowthBytes, minRateBytesPerSec, confidence, intervalMs, heapThreshold } = o
  /** @type {import('../../binding').MonitorConfig} */
  const config = {
    detector: { window, minPoints, warmupMs, warmupEndsWhenServing, minDurationMs, minGrowthBytes, minRateBytesPerSec, confidence },
    intervalMs,
    rssThreshold,
    heapThreshold,
    startedAt,
  }
  const onLeak = (leak) => onEvent({ type: 'leak', ...leak })
  const onRssThreshold = (threshold) => onEvent({ type: 'threshold', kind: 'rss', ...threshold })
  return new (nativeBinding().NativeMonitor)(config, onLeak, onRssThreshold)
}

module.exports = { newNativeMonitor }

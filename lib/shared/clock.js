'use strict'

/**
 * The time the watcher's parts read, from one object they are given: `now()`, wall-clock ms
 * since the epoch (events' and floors' times, cooldowns, projections to a limit), and
 * `monotonic()`, ms that never go back (how long a forced GC or a snapshot took). A test
 * gives its own to drive time without waiting for it; `watch()` gives SYSTEM_CLOCK.
 *
 * The monitor thread stamps its own readings (RSS, native memory) on this clock's time line
 * too: each floor the watcher sends carries this clock's reading, and the monitor keeps how
 * far it was from the system's time (src/core/detect/monitor/thread.rs, `WatcherTime`). A test
 * clock that jumps ahead moves native readings with it; one that goes back holds them where
 * they were until it catches up.
 */
const { performance } = require('node:perf_hooks')

/**
 * @typedef {{ now: () => number, monotonic: () => number }} Clock
 */

/** @type {Clock} The process's own clocks. */
const SYSTEM_CLOCK = Object.freeze({ now: () => Date.now(), monotonic: () => performance.now() })

module.exports = { SYSTEM_CLOCK }

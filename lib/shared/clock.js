'use strict'

/**
 * The time the watcher's parts read, from one object they are given: `now()`, wall-clock ms
 * since the epoch (events' and floors' times, cooldowns, projections to a limit), and
 * `monotonic()`, ms that never go back (how long a forced GC or a snapshot took). A test
 * gives its own to drive time without waiting for it; `watch()` gives SYSTEM_CLOCK.
 *
 * The monitor thread stamps its own readings (RSS, native memory) with the system's
 * time, and the capture and diagnosis compare those stamps with this clock's: a test clock
 * that runs far from `Date.now()` suits the heap's floors only, not native memory's.
 */
const { performance } = require('node:perf_hooks')

/**
 * @typedef {{ now: () => number, monotonic: () => number }} Clock
 */

/** @type {Clock} The process's own clocks. */
const SYSTEM_CLOCK = Object.freeze({ now: () => Date.now(), monotonic: () => performance.now() })

module.exports = { SYSTEM_CLOCK }

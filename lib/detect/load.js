'use strict'

/**
 * The load each floor comes with: the work the thread did since the floor before, which its
 * floors may rise with (requests in flight, sessions of users active lately). The detector
 * judges a rise on its slow scales only while the load stays level (docs/watch.md, "Slow
 * leaks"). Two measures, and the detector picks per window: the HTTP requests this thread's
 * servers finished a second (Node's `http.server.response.finish` diagnostics channel, from
 * the first request on), where every point of the window served at least one a second, else
 * the CPU time the thread used a second.
 */
const diagnosticsChannel = require('node:diagnostics_channel')
const { performance } = require('node:perf_hooks')

/** The channel Node publishes on when an http (or https) server has sent a response. */
const RESPONSE_FINISHED = 'http.server.response.finish'

/** CPU time this thread used (`{ user, system }`, µs): the process's before Node 23.9. */
const threadCpuUsage = /** @type {{ threadCpuUsage?: () => NodeJS.CpuUsage }} */ (process).threadCpuUsage
const readCpu = typeof threadCpuUsage === 'function' ? () => threadCpuUsage.call(process) : () => process.cpuUsage()

/** The CPU time `readCpu()` counts, user and system, in µs. */
function cpuMicros() {
  const { user, system } = readCpu()
  return user + system
}

/**
 * Counts the thread's finished requests from its creation until `stop()`, and measures the
 * load between floors. Real time (performance.now), not the watcher's clock: CPU time and
 * requests are real.
 */
class LoadMeter {
  #requests = 0
  #mark = { at: performance.now(), cpuMicros: cpuMicros(), requests: 0 }
  #onResponse = () => {
    this.#requests++
  }

  constructor() {
    diagnosticsChannel.subscribe(RESPONSE_FINISHED, this.#onResponse)
  }

  /**
   * The load since the previous call (or the meter's start): CPU seconds the thread used a
   * second, without `forcedGcMs` (the full GCs the watcher forced meanwhile: its own work),
   * and requests finished a second, null until the thread has served one. Null when no
   * time has passed.
   * @param {number} forcedGcMs
   * @returns {{ cpuSecondsPerSecond: number, requestsPerSecond: number | null } | null}
   */
  take(forcedGcMs) {
    const now = performance.now()
    const micros = cpuMicros()
    const elapsedMs = now - this.#mark.at
    const usedMs = (micros - this.#mark.cpuMicros) / 1000
    const requests = this.#requests - this.#mark.requests
    this.#mark = { at: now, cpuMicros: micros, requests: this.#requests }
    if (!(elapsedMs > 0)) return null
    return {
      cpuSecondsPerSecond: Math.max(0, usedMs - forcedGcMs) / elapsedMs,
      requestsPerSecond: this.#requests > 0 ? (requests * 1000) / elapsedMs : null,
    }
  }

  /** Stops counting requests. */
  stop() {
    diagnosticsChannel.unsubscribe(RESPONSE_FINISHED, this.#onResponse)
  }
}

module.exports = { LoadMeter }

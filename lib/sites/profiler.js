'use strict'

/**
 * V8's sampling heap profiler driven through an inspector session (`SiteProfiler`): this
 * thread's own, through its one sampling session (lib/shared/inspector-session.js), or another
 * thread's, given the function that sends it a call. And the sampler of this thread's heap a
 * ranking reads its profiles from (`inProcessSampler`).
 */
const { afterNextFullGc } = require('../detect/forced-gc')
const { SYSTEM_CLOCK } = require('../shared/clock')
const { InspectorSession } = require('../shared/inspector-session')

/**
 * The inspector session sampling runs in, connected once per thread and never closed: when
 * a session closes, V8's HeapProfiler agent is disabled, which clears the heap profiler's
 * object ids. The next heap snapshot would then number every object afresh, and a diff of
 * it against an earlier snapshot (the watcher's report) would compare unrelated objects.
 * (A connected in-process session does not keep the process alive.)
 */
let shared = null

/** The thread's session, connected (node:inspector loaded with it) and with the HeapProfiler domain enabled. */
async function sharedSession() {
  if (shared === null) {
    const session = InspectorSession.connect()
    shared = session.post('HeapProfiler.enable').then(() => session)
    shared.catch(() => {
      shared = null
    })
  }
  return shared
}

/** Sends one inspector call over this thread's shared session; resolves with its result. */
async function inProcessSender() {
  const session = await sharedSession()
  return (method, params) => session.post(method, params)
}

/**
 * Allocation sites whose live bytes grow, from V8's sampling heap profiler through an
 * inspector session: this thread's own (in process), or, given `connect`, another's (a worker
 * thread's, over the main thread's NodeWorker session: lib/watch/thread-watch.js). No
 * snapshot, no pause. The profile counts, per site, the sampled bytes allocated since
 * sampling started that are still alive; two profiles some time apart give each site's growth.
 */
class SiteProfiler {
  #send = null // `(method, params) => Promise<result>` once started, null before and once stopped
  #connect
  #clock
  #stopped = false
  #samplingInterval
  /** When sampling started (ms since the epoch, by the clock), null before. */
  startedAt = null

  /**
   * @param {number} samplingIntervalBytes mean bytes between samples (V8's default is 32 KiB).
   * @param {() => Promise<(method: string, params?: object) => Promise<any>>} [connect] resolves
   *   with the function that sends an inspector call to the heap sampled: this thread's by default.
   * @param {import('../shared/clock').Clock} [clock] what time it is (`startedAt`): a watcher's, or the system's.
   */
  constructor(samplingIntervalBytes, connect = inProcessSender, clock = SYSTEM_CLOCK) {
    this.#samplingInterval = samplingIntervalBytes
    this.#connect = connect
    this.#clock = clock
  }

  /** Whether sampling is on. */
  get running() {
    return this.#send !== null
  }

  /** Starts sampling. */
  async start() {
    if (this.#send !== null || this.#stopped) return
    const send = await this.#connect()
    if (this.#stopped) return
    this.#send = send
    try {
      await send('HeapProfiler.startSampling', { samplingInterval: this.#samplingInterval })
      this.startedAt = this.#clock.now()
    } catch (err) {
      // A worker that answers too late still gets the stop, after the start it answers.
      this.stop()
      throw err
    }
  }

  /** The sampling profile now (`HeapProfiler.getSamplingProfile`'s `profile`, a DevTools `.heapprofile`'s JSON). */
  async profile() {
    if (this.#send === null) throw new Error('sampling was stopped')
    const { profile } = await this.#send('HeapProfiler.getSamplingProfile', {})
    return profile
  }

  /**
   * Stops sampling, for good: also a start under way, whose thread gets the stop after the
   * start. The in-process session stays connected (see `shared`); a session or worker already
   * gone has nothing sampling any more.
   */
  stop() {
    this.#stopped = true
    const send = this.#send
    this.#send = null
    send?.('HeapProfiler.stopSampling', {}).catch(() => {})
  }
}

/**
 * `profiler.profile()` read after a full GC: the next one V8 runs, or one asked for when
 * none comes within half a window (see `afterNextFullGc`: asked for at once, it could stop
 * the service for most of a second). The profile counts a sampled object as live until a
 * GC finds it dead, and with a large heap limit V8's young generation holds tens of MB of
 * the requests' garbage between two scavenges, enough to outrank the leak: measured on the
 * tests' leaking service (__test__/support/fixtures/leaking-service.js) with a 32 GB limit,
 * the in-process load generator's garbage shows 1-8 MB of "growth" per window without the
 * GC, 0.5 MB at most with it.
 */
async function profileAfterFullGc(profiler, windowMs) {
  await afterNextFullGc(windowMs / 2)
  return profiler.profile()
}

/** The sampler of this thread's own heap, through an in-process inspector session, its profiles' times by `clock`. */
function inProcessSampler(clock) {
  return Object.freeze({ profiler: (samplingBytes) => new SiteProfiler(samplingBytes, inProcessSender, clock), afterFullGc: profileAfterFullGc })
}

/** The in-process sampler on the system's clock: a SiteRanking's unless it is given one. */
const IN_PROCESS = inProcessSampler(SYSTEM_CLOCK)

module.exports = { SiteProfiler, inProcessSampler, IN_PROCESS }

'use strict'

/**
 * The watcher's ranking of growing allocation sites after a heap leak (`SiteRanking`): how many
 * sampling windows a leak gets, and when a ranking is settled. The parts it stands on have
 * modules of their own: the profiler (profiler.js), a profile read as sites (profile-sites.js),
 * their growth (growth.js), the own-work rule (own-work.js).
 */
const { withSourcePositions } = require('../shared/source-positions')
const { sitesOfProfile } = require('./profile-sites')
const { growingSites, isRuntimeOwn } = require('./growth')
const { IN_PROCESS } = require('./profiler')

/**
 * Sampling windows before a `sites` event (which may then say that no site grew): at least
 * SITES_ATTEMPTS, more for a leak too slow to leave SITES_MIN_SAMPLES samples in them, up to
 * SITES_MAX_WINDOWS (see `windowsFor`).
 */
const SITES_ATTEMPTS = 3
const SITES_MAX_WINDOWS = 10

/**
 * Samples of `sitesSamplingBytes` the top site's growth should hold before it is reported
 * (sooner, it is ranked on what the windows so far saw): V8 counts a sampled allocation as
 * a whole sampling interval, so a site seen once or twice may be chance, such as a live
 * request object of the load.
 */
const SITES_MIN_SAMPLES = 4

/**
 * How many windows of `windowMs` a ranking may sample a leak of `slopeBytesPerSec` for: as
 * many as it takes the leak to keep SITES_MIN_SAMPLES samples' worth of bytes (one sample
 * per `samplingBytes` allocated, on average), at least SITES_ATTEMPTS and at most
 * SITES_MAX_WINDOWS. A leak of 0.35 MB/s, sampled every 512 KiB over windows of 1 s, keeps
 * about two samples in three windows, and none at all one time in eight.
 */
function windowsFor(slopeBytesPerSec, samplingBytes, windowMs) {
  const keptPerWindow = (slopeBytesPerSec * windowMs) / 1000
  if (!(keptPerWindow > 0)) return SITES_ATTEMPTS
  const needed = Math.ceil((SITES_MIN_SAMPLES * samplingBytes) / keptPerWindow)
  return Math.min(SITES_MAX_WINDOWS, Math.max(SITES_ATTEMPTS, needed))
}

/**
 * The watcher's ranking of growing allocation sites after a heap leak: samples allocations
 * over windows of `sitesWindowMs` and emits `sites`, the sites whose live bytes grew, and
 * keeps the profile it ranked from (heap-profiles.js). Sampling starts with the first
 * ranking and stays on until `stop()`, so the profile near the heap limit (`saveProfile`)
 * holds what was allocated and kept since the leak was found. One ranking at a time:
 * `rank()` while one is under way returns that one; a later heap leak starts another once
 * it is done.
 */
class SiteRanking {
  #samplingBytes
  #windowMs
  #top
  #emit
  #profiles
  #sampler
  #profiler = null // sampling since the first ranking
  #ranking = null // the promise of the ranking under way, if any
  #stopped = false

  /**
   * @param {{ sitesSamplingBytes: number, sitesWindowMs: number, top: number }} options
   * @param {(type: string, fields: object) => void} emit emits a watcher event.
   * @param {import('./heap-profiles').HeapProfiles} profiles where the rankings' profiles are kept.
   * @param {{ profiler: (samplingBytes: number) => import('./profiler').SiteProfiler, afterFullGc: (profiler: import('./profiler').SiteProfiler, windowMs: number) => Promise<object>, runtime?: string | null }} [sampler]
   *   whose heap is sampled: this thread's on the system's clock (IN_PROCESS) unless given (a
   *   watcher gives `inProcessSampler(clock)`); a worker thread's from
   *   the main thread (lib/watch/thread-watch.js), with `runtime` the pool that runs its tasks
   *   (see `growingSites`).
   */
  constructor({ sitesSamplingBytes, sitesWindowMs, top }, emit, profiles, sampler = IN_PROCESS) {
    this.#samplingBytes = sitesSamplingBytes
    this.#windowMs = sitesWindowMs
    this.#top = top
    this.#emit = emit
    this.#profiles = profiles
    this.#sampler = sampler
  }

  /** Stops sampling and the ranking under way, if any; no more events. */
  stop() {
    this.#stopped = true
    if (this.#profiler !== null) this.#profiler.stop()
  }

  /**
   * Samples and ranks the growing sites of a leak of `slopeBytesPerSec` (unknown: three windows; or joins the ranking
   * under way), emits them as `sites` and resolves with the event's fields, `{ windowMs,
   * sites }`. Never rejects: failures are `error` events and resolve null, as does a ranking
   * stopped meanwhile.
   * @returns {Promise<{ windowMs: number, sites: ReturnType<typeof growingSites> } | null>}
   */
  rank(slopeBytesPerSec) {
    if (this.#stopped) return Promise.resolve(null)
    this.#ranking ??= this.#sample(windowsFor(slopeBytesPerSec, this.#samplingBytes, this.#windowMs)).finally(() => {
      this.#ranking = null
    })
    return this.#ranking
  }

  /**
   * Keeps the sampling profile as it is now, for `reason`, without waiting for a full GC as a
   * ranking does (the inspector runs one itself before it answers). Resolves with the kept
   * entry, or null when nothing samples; never rejects: a failed write is an `error` event.
   */
  async saveProfile(reason) {
    const profiler = this.#profiler
    if (profiler === null || !profiler.running || this.#stopped) return null
    try {
      return await this.#keep(await profiler.profile(), reason)
    } catch (err) {
      this.#emit('error', { error: err.message, during: 'sites profile' })
      return null
    }
  }

  /** One ranking, start to end, over at most `maxWindows` windows. */
  async #sample(maxWindows) {
    try {
      const profiler = await this.#sampling()
      await this.#wait()
      if (this.#stopped) return null
      const before = sitesOfProfile(await this.#sampler.afterFullGc(profiler, this.#windowMs))
      const ranked = await this.#rankSince(profiler, before, maxWindows)
      if (ranked === null) return null
      const { profile, ...fields } = ranked
      await withSourcePositions(fields)
      const kept = await this.#keep(profile, 'leak').catch((err) => {
        this.#emit('error', { error: err.message, during: 'sites profile' })
        return null
      })
      if (this.#stopped) return null
      this.#emit('sites', kept?.heapprofile ? { ...fields, profile: { heapprofile: kept.heapprofile, pprof: kept.pprof } } : fields)
      return fields
    } catch (err) {
      if (!this.#stopped) this.#emit('error', { error: err.message, during: 'sites' })
      return null
    }
  }

  /** The profiler, sampling: started at the first ranking (again after a failed start). */
  async #sampling() {
    if (this.#profiler === null) this.#profiler = this.#sampler.profiler(this.#samplingBytes)
    const profiler = this.#profiler
    try {
      await profiler.start()
    } catch (err) {
      if (this.#profiler === profiler) this.#profiler = null
      throw err
    }
    return profiler
  }

  /** Keeps `profile` (heap-profiles.js) for `reason`, sampled since the profiler started; resolves with the kept entry. */
  async #keep(profile, reason) {
    return this.#profiles.add(profile, { reason, startedAt: this.#profiler?.startedAt ?? null })
  }

  /**
   * A window can see little growth or none (a snapshot blocked the event loop through it, the
   * leak is slow): growth since `before` is ranked after each window, until the top site's
   * holds enough samples, for up to `maxWindows` windows. A pool's own site on top is never
   * enough, however many bytes it holds (piscina's `onMessage`, say): it is there only
   * because no site of the task's code grew yet.
   * Resolves with the ranking and the profile of its last window; null when stopped meanwhile.
   */
  async #rankSince(profiler, before, maxWindows) {
    const enough = SITES_MIN_SAMPLES * this.#samplingBytes
    const runtime = this.#sampler.runtime ?? null
    const settled = (top) => top !== undefined && top.growthBytes >= enough && !isRuntimeOwn(top, runtime)
    let sites = []
    let profile = null
    let windows = 0
    while (windows < maxWindows && !settled(sites[0])) {
      await this.#wait()
      if (this.#stopped) return null
      windows++
      profile = await this.#sampler.afterFullGc(profiler, this.#windowMs)
      sites = growingSites(before, sitesOfProfile(profile), this.#top, runtime)
    }
    return { windowMs: windows * this.#windowMs, sites, profile }
  }

  /** One sampling window, on a timer that does not keep the process alive. */
  #wait() {
    return new Promise((resolve) => setTimeout(resolve, this.#windowMs).unref())
  }
}

module.exports = { SiteRanking, windowsFor }

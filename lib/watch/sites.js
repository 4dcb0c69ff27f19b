'use strict'

const { isLeakproofFile } = require('../track/call-site')
const { measureMemoryQuietly } = require('./forced-gc')

/** Sampling windows at most before a `sites` event (which may then say that no site grew). */
const SITES_ATTEMPTS = 3

/**
 * Samples of `sitesSamplingBytes` the top site's growth should hold before it is reported
 * (sooner, it is ranked on what the windows so far saw): V8 counts a sampled allocation as
 * a whole sampling interval, so a site seen once or twice may be chance, such as a live
 * request object of the load.
 */
const SITES_MIN_SAMPLES = 4

/** A frame of the application: a script with a URL that is neither Node's nor ours. */
function isApplicationFrame({ url }) {
  if (url === '' || url.startsWith('node:')) return false
  const file = url.startsWith('file://') ? decodeURIComponent(url.slice('file://'.length)) : url
  return !isLeakproofFile(file)
}

/**
 * The inspector session sampling runs in, connected once per thread and never closed: when
 * a session closes, V8's HeapProfiler agent is disabled, which clears the heap profiler's
 * object ids. The next heap snapshot would then number every object afresh, and a diff of
 * it against an earlier snapshot (the watcher's report) would compare unrelated objects.
 * (A connected in-process session does not keep the process alive.)
 */
let shared = null

/** The thread's session, connected and with the HeapProfiler domain enabled. */
async function sharedSession() {
  if (shared === null) {
    // Loaded when first sampled: node:inspector adds to the RSS of every process that loads
    // it (docs/benchmarks.md, "watch(): cost on a real http service").
    const inspector = require('node:inspector')
    const session = new inspector.Session()
    session.connect()
    shared = new Promise((resolve, reject) => {
      session.post('HeapProfiler.enable', (err) => (err ? reject(err) : resolve(session)))
    })
    shared.catch(() => {
      shared = null
    })
  }
  return shared
}

/**
 * Allocation sites whose live bytes grow, from V8's sampling heap profiler through an
 * in-process inspector session: no snapshot, no pause. The profile counts, per site,
 * the sampled bytes allocated since sampling started that are still alive; two profiles
 * some time apart give each site's growth.
 */
class SiteProfiler {
  #session = null
  #stopped = false
  #samplingInterval

  /** @param {number} samplingIntervalBytes mean bytes between samples (V8's default is 32 KiB). */
  constructor(samplingIntervalBytes) {
    this.#samplingInterval = samplingIntervalBytes
  }

  /** Whether sampling is on. */
  get running() {
    return this.#session !== null
  }

  /** Starts sampling. */
  async start() {
    if (this.#session !== null || this.#stopped) return
    const session = await sharedSession()
    if (this.#stopped) return
    this.#session = session
    try {
      await this.#post('HeapProfiler.startSampling', { samplingInterval: this.#samplingInterval })
    } catch (err) {
      this.stop()
      throw err
    }
  }

  /**
   * Live sampled bytes per site: a Map from site key to
   * `{ functionName, url, line, column, liveBytes }`. Bytes allocated inside built-ins
   * (`String.prototype.repeat`), Node internals or leakproof itself are charged to the
   * nearest calling frame in the application: the line a person can change.
   */
  async liveBySite() {
    const { profile } = await this.#post('HeapProfiler.getSamplingProfile')
    const sites = new Map()
    const charge = (frame, bytes) => {
      const { functionName, url, lineNumber, columnNumber } = frame
      const key = `${functionName}\u0000${url}\u0000${lineNumber}\u0000${columnNumber}`
      const site = sites.get(key)
      if (site !== undefined) site.liveBytes += bytes
      else {
        // Lines and columns are 0-based in the protocol; people count from 1.
        sites.set(key, { functionName: functionName || '(anonymous)', url, line: lineNumber + 1, column: columnNumber + 1, liveBytes: bytes })
      }
    }
    // Iterative walk (deep recursion in a profile must not overflow the stack).
    const stack = [[profile.head, null]]
    while (stack.length > 0) {
      const [node, nearestApp] = stack.pop()
      const app = isApplicationFrame(node.callFrame) ? node.callFrame : nearestApp
      if (node.selfSize > 0) charge(app ?? node.callFrame, node.selfSize)
      for (const child of node.children) stack.push([child, app])
    }
    return sites
  }

  /** Stops sampling; the session stays connected (see `shared`). */
  stop() {
    this.#stopped = true
    const session = this.#session
    this.#session = null
    if (session === null) return
    try {
      session.post('HeapProfiler.stopSampling', () => {})
    } catch {
      // The session is gone with its thread: nothing samples any more.
    }
  }

  /** Sends `method` to the session; resolves with its result. */
  #post(method, params) {
    return new Promise((resolve, reject) => {
      if (this.#session === null) return reject(new Error('sampling was stopped'))
      this.#session.post(method, params, (err, result) => (err ? reject(err) : resolve(result)))
    })
  }
}

/**
 * The sites that grew between two `liveBySite()` results, most growth first.
 * @returns {Array<{ functionName: string, url: string, line: number, column: number, liveBytes: number, growthBytes: number }>}
 */
function growingSites(before, after, top) {
  const grown = []
  for (const [key, site] of after) {
    const growthBytes = site.liveBytes - (before.get(key)?.liveBytes ?? 0)
    if (growthBytes > 0) grown.push({ ...site, growthBytes })
  }
  // Sites in the application come first: a line someone can change beats Node's own.
  const app = (site) => (isApplicationFrame(site) ? 1 : 0)
  grown.sort((a, b) => app(b) - app(a) || b.growthBytes - a.growthBytes || b.liveBytes - a.liveBytes)
  return grown.slice(0, top)
}

/**
 * The watcher's ranking of growing allocation sites after a heap leak: samples allocations
 * over windows of `sitesWindowMs` and emits `sites`, the sites whose live bytes grew. One
 * ranking at a time: `rank()` while one is under way returns that one; a later heap leak
 * starts another once it is done.
 */
class SiteRanking {
  #samplingBytes
  #windowMs
  #top
  #emit
  #profiler = null // the ranking's profiler, while one runs
  #ranking = null // the promise of the ranking under way, if any
  #stopped = false

  /**
   * @param {{ sitesSamplingBytes: number, sitesWindowMs: number, top: number }} options
   * @param {(type: string, fields: object) => void} emit emits a watcher event.
   */
  constructor({ sitesSamplingBytes, sitesWindowMs, top }, emit) {
    this.#samplingBytes = sitesSamplingBytes
    this.#windowMs = sitesWindowMs
    this.#top = top
    this.#emit = emit
  }

  /** Stops the ranking under way, if any; no more events. */
  stop() {
    this.#stopped = true
    if (this.#profiler !== null) this.#profiler.stop()
  }

  /**
   * Samples and ranks the growing sites (or joins the ranking under way), emits them as
   * `sites` and resolves with the event's fields, `{ windowMs, sites }`. Never rejects:
   * failures are `error` events and resolve null, as does a ranking stopped meanwhile.
   * @returns {Promise<{ windowMs: number, sites: ReturnType<typeof growingSites> } | null>}
   */
  rank() {
    if (this.#stopped) return Promise.resolve(null)
    this.#ranking ??= this.#sample().finally(() => {
      this.#ranking = null
    })
    return this.#ranking
  }

  /** One ranking, start to end, with its own profiler. */
  async #sample() {
    const profiler = new SiteProfiler(this.#samplingBytes)
    this.#profiler = profiler
    try {
      await profiler.start()
      await this.#wait()
      if (this.#stopped) return null
      const before = await liveAfterFullGc(profiler)
      const ranked = await this.#rankSince(profiler, before)
      if (ranked !== null) this.#emit('sites', ranked)
      return ranked
    } catch (err) {
      if (!this.#stopped) this.#emit('error', { error: err.message, during: 'sites' })
      return null
    } finally {
      profiler.stop()
      if (this.#profiler === profiler) this.#profiler = null
    }
  }

  /**
   * A window can see little growth or none (a snapshot blocked the event loop through it):
   * growth since `before` is ranked after each window, until the top site's holds enough
   * samples, for up to SITES_ATTEMPTS windows. Null when stopped meanwhile.
   */
  async #rankSince(profiler, before) {
    const enough = SITES_MIN_SAMPLES * this.#samplingBytes
    let sites = []
    let windows = 0
    while (windows < SITES_ATTEMPTS && !(sites[0]?.growthBytes >= enough)) {
      await this.#wait()
      if (this.#stopped) return null
      windows++
      sites = growingSites(before, await liveAfterFullGc(profiler), this.#top)
    }
    return { windowMs: windows * this.#windowMs, sites }
  }

  /** One sampling window, on a timer that does not keep the process alive. */
  #wait() {
    return new Promise((resolve) => setTimeout(resolve, this.#windowMs).unref())
  }
}

/**
 * `profiler.liveBySite()` read after a full GC, marked incrementally (no pause to speak of;
 * it may take a second of wall time). The profile counts a sampled object as live until a
 * GC finds it dead, and with a large heap limit V8's young generation holds tens of MB of
 * the requests' garbage between two scavenges: measured on service.js with a 32 GB limit,
 * the in-process load generator's garbage showed 1-8 MB of "growth" per window without
 * the GC, 0.5 MB at most with it, and once outranked the leak. Read anyway if the GC fails.
 */
async function liveAfterFullGc(profiler) {
  await measureMemoryQuietly().catch(() => {})
  return profiler.liveBySite()
}

module.exports = { SiteProfiler, SiteRanking, growingSites }

'use strict'

const path = require('node:path')

const OWN_CODE = path.join(__dirname, path.sep)

/** A frame of the application: a script with a URL that is neither Node's nor ours. */
function isApplicationFrame({ url }) {
  if (url === '' || url.startsWith('node:')) return false
  const file = url.startsWith('file://') ? decodeURIComponent(url.slice('file://'.length)) : url
  return !file.startsWith(OWN_CODE)
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
    // Loaded when first sampled: node:inspector costs ~0.9 MB of RSS in every process.
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

module.exports = { SiteProfiler, growingSites }

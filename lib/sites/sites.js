'use strict'

const { originOf } = require('../shared/code-origin')
const { withSourcePositions } = require('../shared/source-positions')
const { afterNextFullGc } = require('../detect/forced-gc')
const { SYSTEM_CLOCK } = require('../shared/clock')

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

/** Whether `url` is one of node:inspector's modules, which carry the sampling session's messages. */
function isInspector(url) {
  return url === 'node:inspector' || url.startsWith('node:inspector/') || url.startsWith('node:internal/inspector')
}

/** A frame a site may be charged to: the application's or a package's. */
function isApplicationFrame({ url }) {
  const { kind } = originOf(url)
  return kind === 'app' || kind === 'package'
}

/** The state of a path above a profile's first frames: no frame yet. */
const NO_FRAME = { site: null, origin: null, app: null, own: false, made: [] }

/**
 * The name of the function each evaluation a main thread makes in a worker it watches runs in
 * (`ownEvaluation`): the worker's census (lib/diagnose/census/in-worker.js) and its snapshot.
 * V8 runs an evaluation at an interrupt, on top of whatever frame the worker is in (piscina's
 * `Atomics.wait` loop, its `onMessage`, a task): what is allocated under it (the census' modules
 * loaded, its passes) is leakproof's work, never that frame's. An evaluated script has no URL in
 * a sampling profile (a `sourceURL` comment does not give it one), so the function's name marks it.
 */
const OWN_EVALUATION = 'leakproof$evaluatedInWorker'

/** `expression` as a watched worker evaluates it: in a function named OWN_EVALUATION, so its work is charged as leakproof's. */
function ownEvaluation(expression) {
  return `(function ${OWN_EVALUATION}() {\n  return (${expression}\n  )\n})()`
}

/** Whether `callFrame` is the function an evaluation of `ownEvaluation` runs in. */
const isOwnEvaluation = ({ functionName, url }) => url === '' && functionName === OWN_EVALUATION

/**
 * A function name that is a class's (a constructor's): `Socket`, `Timeout`, `ClientRequest`.
 * The objects a site's bytes went into are told by the constructors called below it.
 */
const CONSTRUCTOR_NAME = /^[A-Z][A-Za-z0-9_$]*$/

/**
 * How the bytes allocated along a sampling profile's tree are charged, one rule for the
 * `sites` ranking and the pprof file (pprof.js). Returns `chargeAt(above, callFrame)`: the
 * state of a path at a node from its caller's state (`NO_FRAME` above the first frame) and
 * its call frame, as `{ site, origin, app, own, made }`:
 * - `site`, the frame the node's own bytes count for, and `origin` its `originOf`: the
 *   nearest frame of the application or of a package, whatever runs below it (V8's
 *   built-ins, Node's internals, leakproof's code the app called, such as a BoundedMap's);
 *   without one, the nearest frame with a script, into which V8's built-ins (`Map`, `set`,
 *   `repeat`: no URL) fold; without one either, the frame itself (a built-in, or a V8 state
 *   such as `(V8 API)`, with no script above it);
 * - `app`: the nearest frame of the application's own code, null when none;
 * - `own`: whether leakproof's own code or node:inspector's (the session leakproof samples
 *   through) is on the path. With no application or package frame, such bytes are leakproof's
 *   work, such as reading a profile, not the service's. An evaluation of leakproof's in a
 *   worker (`ownEvaluation`) starts a path of leakproof's own, whatever frame it interrupted;
 * - `made`: the names of the constructors called below the site on the path (`Socket` under
 *   the app's `net.connect()`), each once: the classes the site's bytes were made for.
 * A frame that changes none of these gets its caller's state object back. Each URL is
 * classified once per `siteCharger()`.
 */
function siteCharger() {
  const classified = new Map() // url -> { origin, own }
  const classify = (url) => {
    let known = classified.get(url)
    if (known === undefined) {
      const origin = originOf(url)
      classified.set(url, (known = { origin, own: origin.kind === 'own' || isInspector(url) }))
    }
    return known
  }
  return function chargeAt(above, callFrame) {
    const { origin, own: ownFrame } = classify(callFrame.url)
    if (isOwnEvaluation(callFrame)) return { site: callFrame, origin, app: null, own: true, made: [] }
    const own = above.own || ownFrame
    const aboveKind = above.origin?.kind ?? 'builtin'
    // An application or package frame is always its own site, and below one nothing else
    // is. With none above, a frame with a script is, and a built-in only when no frame above
    // it has a script.
    let isSite
    if (origin.kind === 'app' || origin.kind === 'package') isSite = true
    else if (aboveKind === 'app' || aboveKind === 'package') isSite = false
    else isSite = origin.kind !== 'builtin' || aboveKind === 'builtin'
    if (isSite) return { site: callFrame, origin, app: origin.kind === 'app' ? callFrame : above.app, own, made: [] }
    const name = callFrame.functionName
    const made = above.site !== null && CONSTRUCTOR_NAME.test(name) && !above.made.includes(name) ? [...above.made, name] : above.made
    return own === above.own && made === above.made ? above : { ...above, own, made }
  }
}

/**
 * Whether bytes charged as `state` (see `siteCharger`) count for one of the service's sites:
 * an application's or a package's frame; or Node's internals, when neither leakproof's code
 * nor node:inspector's is on the path. Never a site of leakproof's own, nor a built-in with
 * no script above it: neither is a line the service can change.
 */
function isServiceCharge({ origin, own }) {
  return origin.kind === 'app' || origin.kind === 'package' || (origin.kind === 'node' && !own)
}

/**
 * Whether bytes charged as `state` are leakproof's own work: its code or node:inspector's on
 * the path and no frame of the app or of a package above (neither a service charge nor a
 * built-in's with no script above: the pprof leaves these out, as the ranking does).
 */
function isOwnCharge({ origin, own }) {
  return own && origin?.kind !== 'app' && origin?.kind !== 'package'
}

/**
 * A copy of sampling heap profile `profile` without leakproof's own work (`isOwnCharge`), as the
 * pprof file and the ranking leave it out: the `.heapprofile` DevTools opens then shows the
 * service's allocations alone (a census taken during the sampling allocates hundreds of KB
 * through node:inspector). A node's own bytes that are leakproof's are dropped, with their
 * samples, and so is a node left with no bytes at or below it. Walked without recursion: a
 * deep profile must not overflow the stack.
 * @param {{ head: object, samples?: Array<{ nodeId: number }> }} profile
 */
function withoutOwnWork(profile) {
  const chargeAt = siteCharger()
  const order = [] // pre-order: { node, parentIndex, keepsSelf }
  const walk = [[profile.head, -1, NO_FRAME]]
  while (walk.length > 0) {
    const [node, parentIndex, above] = walk.pop()
    const charge = node === profile.head ? above : chargeAt(above, node.callFrame)
    order.push({ node, parentIndex, keepsSelf: node.selfSize > 0 && (node === profile.head || !isOwnCharge(charge)) })
    const index = order.length - 1
    for (const child of node.children) walk.push([child, index, charge])
  }
  // Bytes kept at or below each node, children before their parents (reverse pre-order).
  const kept = order.map(({ node, keepsSelf }) => (keepsSelf ? node.selfSize : 0))
  for (let i = order.length - 1; i > 0; i--) kept[order[i].parentIndex] += kept[i]
  const copies = order.map(({ node, keepsSelf }) => ({ ...node, selfSize: keepsSelf ? node.selfSize : 0, children: [] }))
  // Children in their original order: pre-order visits them last to first (a stack).
  for (let i = order.length - 1; i > 0; i--) if (kept[i] > 0) copies[order[i].parentIndex].children.push(copies[i])
  const keptSelf = new Set(order.filter((entry) => entry.keepsSelf).map((entry) => entry.node.id))
  const copy = { ...profile, head: copies[0] }
  if (Array.isArray(profile.samples)) copy.samples = profile.samples.filter((sample) => keptSelf.has(sample.nodeId))
  return copy
}

/** A protocol call frame's identity, as a Map key. */
function frameKey({ functionName, url, lineNumber, columnNumber }) {
  return `${functionName}\u0000${url}\u0000${lineNumber}\u0000${columnNumber}`
}

/** A protocol call frame as people read it: lines and columns count from 1 (0 in the protocol). */
function placeOf({ functionName, url, lineNumber, columnNumber }) {
  return { functionName: functionName || '(anonymous)', url, line: lineNumber + 1, column: columnNumber + 1 }
}

/**
 * Live sampled bytes per site from a sampling heap profile (`HeapProfiler.getSamplingProfile`'s
 * `profile`): a Map from site key to `{ functionName, url, line, column, liveBytes }`, charged
 * as `siteCharger` says: bytes allocated inside built-ins (`String.prototype.repeat`), Node's
 * internals or leakproof's code count for the nearest calling frame of the application or of a
 * package; without one, built-ins' bytes count for the nearest frame of Node's internals. Bytes
 * of leakproof's own work (its code or node:inspector's on the stack, and no application or
 * package frame), and of built-ins with no script above them, count for no site.
 *
 * A site in a package or in Node's internals also gets `package` (its name; null for `node:`)
 * and `callers`: a Map from the key of the app's own frame nearest the allocation on its
 * stack (not a package's, Node's or leakproof's; '' when there is none) to
 * `{ appFrame, liveBytes }`, the bytes that came through it. Every site has `made`: a Map from
 * the name of a constructor called below it to the bytes allocated under that call (see
 * `siteCharger`). One walk from the root,
 * iterative (a deep profile must not overflow the stack), each URL classified once.
 */
function sitesOfProfile(profile) {
  const chargeAt = siteCharger()
  const sites = new Map()
  // Each entry: a node and the state of the path above it.
  const stack = [[profile.head, NO_FRAME]]
  while (stack.length > 0) {
    const [node, above] = stack.pop()
    const here = chargeAt(above, node.callFrame)
    if (node.selfSize > 0 && isServiceCharge(here)) chargeSite(sites, here, node.selfSize)
    for (const child of node.children) stack.push([child, here])
  }
  return sites
}

/** Adds `bytes` to the site of `charge` (see `siteCharger`) in `sites` and, for a package's or Node's site, to its caller in the app. */
function chargeSite(sites, { site: frame, origin, app: appFrame, made }, bytes) {
  const key = frameKey(frame)
  let site = sites.get(key)
  if (site === undefined) {
    site = { ...placeOf(frame), liveBytes: 0, made: new Map() }
    if (origin.kind === 'package' || origin.kind === 'node') Object.assign(site, { package: origin.package, callers: new Map() })
    sites.set(key, site)
  }
  site.liveBytes += bytes
  for (const name of made) site.made.set(name, (site.made.get(name) ?? 0) + bytes)
  if (site.callers === undefined) return
  const callerKey = appFrame === null ? '' : frameKey(appFrame)
  const caller = site.callers.get(callerKey)
  if (caller !== undefined) caller.liveBytes += bytes
  else site.callers.set(callerKey, { appFrame: appFrame === null ? null : placeOf(appFrame), liveBytes: bytes })
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
    // it (docs/benchmarks/detect.md, "watch(): cost on a real http service").
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

/** Sends one inspector call over this thread's shared session; resolves with its result. */
async function inProcessSender() {
  const session = await sharedSession()
  return (method, params) => new Promise((resolve, reject) => session.post(method, params, (err, result) => (err ? reject(err) : resolve(result))))
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
 * The sites that grew between two `sitesOfProfile` results, most growth first. A site in a
 * package or in Node's internals also has `package` and `appFrame`: of its callers in the
 * app, the one whose bytes there grew most (then the one with most live bytes), null when
 * that growth came with no app frame on the stack (a package's own timer, say). Each has
 * `made`: the classes whose constructors the growth went through (`madeClasses`).
 * `runtime`, a package that plays the runtime in the heap sampled (a pool's own code in its
 * worker: piscina's message handling runs every task), has its sites with no app frame ranked
 * as Node's internals are, after the application's: a pool's per-task garbage, which no GC
 * asked for cleared in a blocked worker, outranked the leak in its task module.
 * @returns {Array<{ functionName: string, url: string, line: number, column: number, liveBytes: number, growthBytes: number, made: Array<{ name: string, growthBytes: number }>, package?: string | null, appFrame?: { functionName: string, url: string, line: number, column: number } | null }>}
 */
function growingSites(before, after, top, runtime = null) {
  const grown = []
  for (const [key, site] of after) {
    const earlier = before.get(key)
    const growthBytes = site.liveBytes - (earlier?.liveBytes ?? 0)
    if (growthBytes <= 0) continue
    const { callers, package: name, made: madeNow, ...place } = site
    const made = madeClasses(madeNow, earlier?.made)
    const entry = callers === undefined
      ? { ...place, growthBytes, made }
      : { ...place, growthBytes, made, package: name, appFrame: mainCaller(callers, earlier?.callers) }
    grown.push({ entry, application: isApplicationFrame(site) && !isRuntimeOwn(entry, runtime) ? 1 : 0 })
  }
  // Sites in the application or its packages come first: a line someone can change beats Node's own.
  grown.sort((a, b) => b.application - a.application || b.entry.growthBytes - a.entry.growthBytes || b.entry.liveBytes - a.entry.liveBytes)
  return grown.slice(0, top).map(({ entry }) => entry)
}

/** Whether a site `growingSites` gave is `runtime`'s own (see there): the pool's code, with no app frame. */
const isRuntimeOwn = (site, runtime) => runtime !== null && site.package === runtime && site.appFrame === null

/** Classes listed in a site's `made`. */
const MADE_LISTED = 4

/** Constructors whose bytes grew most under a site (at most MADE_LISTED): `[{ name, growthBytes }]`, most first. */
function madeClasses(madeNow, madeBefore) {
  const grown = []
  for (const [name, bytes] of madeNow) {
    const growthBytes = bytes - (madeBefore?.get(name) ?? 0)
    if (growthBytes > 0) grown.push({ name, growthBytes })
  }
  return grown.sort((a, b) => b.growthBytes - a.growthBytes).slice(0, MADE_LISTED)
}

/**
 * Where objects of class `className` were made, from a `sites` ranking's `sites`: of the
 * sites whose growth went through its constructor, the one with the most such growth, as
 * the app's line (the site's `appFrame` for a package's or Node's site) with the bytes:
 * `{ functionName, url, line, column, growthBytes }` (and `generated` where a source map placed
 * it); null when no growing site made any.
 * Many roots of one kind (sockets, timers), which no collection holds, get their line so.
 */
function siteThatMade(sites, className) {
  let best = null
  for (const site of sites ?? []) {
    const made = site.made?.find((m) => m.name === className)
    if (made === undefined || site.appFrame === null || (best !== null && made.growthBytes <= best.growthBytes)) continue
    const place = site.appFrame ?? site
    best = { functionName: place.functionName, url: place.url, line: place.line, column: place.column, growthBytes: made.growthBytes, ...(place.generated ? { generated: place.generated } : {}) }
  }
  return best
}

/** The `appFrame` of the caller (see `sitesOfProfile`) whose bytes grew most since `callersBefore`, then the one with most live bytes. */
function mainCaller(callers, callersBefore) {
  let best = null
  for (const [key, { appFrame, liveBytes }] of callers) {
    const growthBytes = liveBytes - (callersBefore?.get(key)?.liveBytes ?? 0)
    if (best === null || growthBytes > best.growthBytes || (growthBytes === best.growthBytes && liveBytes > best.liveBytes)) {
      best = { appFrame, growthBytes, liveBytes }
    }
  }
  return best === null ? null : best.appFrame
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
   * @param {{ profiler: (samplingBytes: number) => SiteProfiler, afterFullGc: (profiler: SiteProfiler, windowMs: number) => Promise<object>, runtime?: string | null }} [sampler]
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
   * enough: it is there only because no site of the task's code grew yet (in CI piscina's
   * `onMessage` ended a ranking at 2.3 MB, with no bytes of the leaking task module).
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

/**
 * `profiler.profile()` read after a full GC: the next one V8 runs, or one asked for when
 * none comes within half a window (see `afterNextFullGc`: asked for at once, it could stop
 * the service for most of a second). The profile counts a sampled object as live until a
 * GC finds it dead, and with a large heap limit V8's young generation holds tens of MB of
 * the requests' garbage between two scavenges: measured on the tests' leaking service (__test__/support/fixtures/leaking-service.js) with a 32 GB limit,
 * the in-process load generator's garbage showed 1-8 MB of "growth" per window without
 * the GC, 0.5 MB at most with it, and once outranked the leak.
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

module.exports = { SiteProfiler, SiteRanking, inProcessSampler, ownEvaluation, growingSites, sitesOfProfile, siteCharger, isOwnCharge, withoutOwnWork, siteThatMade, NO_FRAME, windowsFor }

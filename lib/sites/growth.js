'use strict'

/**
 * Growth between two readings of a sampling profile (profile-sites.js' `sitesOfProfile`): the
 * sites that grew, the application's first, each with the classes its growth went into and its
 * caller in the app (`growingSites`); and, from them, where objects of one class were made
 * (`siteThatMade`).
 */
const { originOf } = require('../shared/code-origin')

/** A frame a site may be charged to: the application's or a package's. */
function isApplicationFrame({ url }) {
  const { kind } = originOf(url)
  return kind === 'app' || kind === 'package'
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
 * can be asked to clear in a blocked worker, can outrank the leak in its task module.
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

module.exports = { growingSites, isRuntimeOwn, siteThatMade }

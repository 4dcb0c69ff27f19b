'use strict'

/**
 * A sampling heap profile read as allocation sites: its live sampled bytes per site, charged
 * by the own-work rule (own-work.js), with each package's or Node's site's callers in the app
 * and the constructors called below it.
 */
const { NO_FRAME, siteCharger, isServiceCharge } = require('./own-work')

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

module.exports = { sitesOfProfile }

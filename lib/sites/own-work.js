'use strict'

/**
 * The own-work rule of the allocation sites: how the bytes along a sampling profile's tree are
 * charged to sites, and which of them are leakproof's own work (its code, node:inspector's that
 * carries its sampling session, an evaluation it makes in a worker) rather than the service's.
 * One rule for the `sites` ranking (profile-sites.js), the pprof file (pprof.js) and the
 * profiles kept (heap-profiles.js).
 */
const { originOf } = require('../shared/code-origin')

/** Whether `url` is one of node:inspector's modules, which carry the sampling session's messages. */
function isInspector(url) {
  return url === 'node:inspector' || url.startsWith('node:inspector/') || url.startsWith('node:internal/inspector')
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

module.exports = { NO_FRAME, ownEvaluation, siteCharger, isServiceCharge, isOwnCharge, withoutOwnWork }

'use strict'

/**
 * Call sites, captured cheaply and formatted late.
 *
 * Capturing a stack is the expensive part of tracking (a few microseconds in Node 20,
 * whatever `Error.stackTraceLimit` is), formatting it costs as much again. So `capture`
 * only records V8's structured frames into a holder object, with a small frame limit,
 * and `siteOf` turns a holder into `file:line:column` when a report or the live sites need
 * it — most captured holders are never formatted.
 */
const { isOwnFile } = require('../shared/code-origin')

/**
 * Frames recorded per capture: enough to climb out of node internals (at most three frames
 * for `once`, streams, `{ signal }` and promise hooks) while each frame costs about as much
 * as the capture's fixed part divided by four.
 */
const DEPTH = 6
/** Site of a stack with no frame outside node internals and leakproof that has a file. */
const UNKNOWN_SITE = '(unknown)'

/** `Error.prepareStackTrace` that hands back V8's structured frames, used while formatting. */
const structured = (_error, frames) => frames

/** Interned site strings: many listeners share a site, and a site is a place in the code. */
const interned = new Map()

/**
 * Records the stack of the current call into a holder, skipping `below` and every frame
 * above it (pass the public function the user called), at most `depth` frames. Nothing is
 * formatted.
 */
function capture(below, depth = DEPTH) {
  const holder = {}
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = depth
  Error.captureStackTrace(holder, below)
  Error.stackTraceLimit = limit
  return holder
}

/** Whether a frame's file is node's own or leakproof's: never the site to name. */
function isOwnOrInternal(file) {
  return file.startsWith('node:') || isOwnFile(file)
}

/** Node's emitter machinery: the least telling place to name when no frame is the user's. */
function isPlumbing(file) {
  return file === 'node:events' || file === 'node:internal/event_target' ||
    file === 'node:internal/abort_controller' || file.startsWith('node:internal/streams/') ||
    isOwnFile(file)
}

/**
 * `file:line:column` of the first frame of a captured stack outside node internals and
 * leakproof; if every frame is internal (a listener added by node itself), the first one
 * outside node's emitter and stream machinery, so the report still says which part of
 * node did it (`node:_http_server:…`).
 */
function siteOf(holder) {
  const previous = Error.prepareStackTrace
  Error.prepareStackTrace = structured
  let frames
  try {
    frames = holder.stack
  } finally {
    Error.prepareStackTrace = previous
  }
  if (!Array.isArray(frames)) return UNKNOWN_SITE
  let chosen
  for (const frame of frames) {
    const file = frame.getFileName()
    if (!file) continue
    if (chosen === undefined || isPlumbing(chosen.getFileName())) chosen = frame
    if (!isOwnOrInternal(file)) {
      chosen = frame
      break
    }
  }
  if (chosen === undefined) return UNKNOWN_SITE
  const site = `${chosen.getFileName()}:${chosen.getLineNumber()}:${chosen.getColumnNumber()}`
  const known = interned.get(site)
  if (known !== undefined) return known
  interned.set(site, site)
  return site
}

module.exports = { capture, siteOf }

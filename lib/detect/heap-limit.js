'use strict'

/**
 * The limit a heap floor runs into. V8's `heap_size_limit` counts the old generation's
 * limit and the young generation's reserve (three semi-spaces: 48 MB on Node 20, 192 MB on
 * Node 24 on a machine with this much memory), but a process dies when its old generation is
 * full, and a floor (the heap after a full GC) is nearly all old generation: with
 * `--max-old-space-size=128` on Node 24, `heap_size_limit` says 320 MB and the process dies
 * near 128 MB. Where `--max-old-space-size` is given (the command line or NODE_OPTIONS, as
 * services in containers set it), that is the limit; else `heap_size_limit`, which for a
 * default heap of a few GB overstates it by the young generation's reserve only.
 */
const { isMainThread, resourceLimits } = require('node:worker_threads')

const FLAG = /^--max[-_]old[-_]space[-_]size(?:=(.*))?$/

/** `--max-old-space-size` in MB from `args` (the last one wins, as in V8), or null. */
function maxOldSpaceMb(args) {
  let mb = null
  for (let i = 0; i < args.length; i++) {
    const match = FLAG.exec(args[i])
    if (match === null) continue
    const value = Number(match[1] ?? args[i + 1])
    if (Number.isFinite(value) && value > 0) mb = value
  }
  return mb
}

/**
 * The old generation's limit set for this thread, in bytes, or null where not given: a worker
 * thread's `resourceLimits.maxOldGenerationSizeMb`; the main thread's `--max-old-space-size`,
 * NODE_OPTIONS' before the command line's.
 */
function oldSpaceLimitBytes(execArgv = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? '') {
  const mb = isMainThread ? maxOldSpaceMb([...nodeOptions.split(/\s+/).filter(Boolean), ...execArgv]) : resourceLimits.maxOldGenerationSizeMb || null
  return mb === null ? null : mb * 1024 * 1024
}

/**
 * The heap's limit for a floor, in bytes: the old generation's where set, never above
 * `heapSizeLimit` (V8's `heap_size_limit`).
 */
function heapLimit(heapSizeLimit, oldSpaceLimit) {
  return oldSpaceLimit === null ? heapSizeLimit : Math.min(heapSizeLimit, oldSpaceLimit)
}

module.exports = { heapLimit, oldSpaceLimitBytes }

'use strict'

/**
 * The limit a heap floor runs into. V8's `heap_size_limit` counts the old generation's
 * limit and the young generation's reserve (three semi-spaces: 48 MB on Node 20, 192 MB on
 * Node 24 on a machine with this much memory), but a process dies when its old generation is
 * full, and a floor (the heap after a full GC) is nearly all old generation: with
 * `--max-old-space-size=128` on Node 24, `heap_size_limit` says 320 MB and the process dies
 * near 128 MB. Where `--max-old-space-size` is given (the command line or NODE_OPTIONS, as
 * services in containers set it), that is the limit; else the old generation V8 sized for the
 * machine or the container, `heap_size_limit` less the young generation's reserve as this V8
 * sizes it (`defaultOldSpaceBytes`).
 */
const { isMainThread, resourceLimits } = require('node:worker_threads')

const FLAG = /^--max[-_]old[-_]space[-_]size(?:=(.*))?$/
const SEMI_SPACE_FLAG = /^--max[-_]semi[-_]space[-_]size(?:=(.*))?$/

const MiB = 1024 * 1024

/**
 * How V8 sizes the young generation's reserve beside a default old generation, by V8's major
 * version: three semi-spaces, each the old generation over `ratio`, at most `capMb`. Read off
 * `heap_size_limit` less the old generation (4 GiB on a 24 GiB machine, 512 MiB in a 1 GiB
 * container) on Node 20 and 22 (V8 11, 12), 24 (V8 13) and 26 (V8 14), 2026-11-25; a later V8
 * is taken to size it as the newest measured.
 */
const YOUNG_GENERATION = [
  { v8Major: 14, ratio: 64, capMb: 32 },
  { v8Major: 13, ratio: 32, capMb: 64 },
  { v8Major: 0, ratio: 128, capMb: 16 },
]

/**
 * The old generation's limit V8 chose itself, in bytes, from its `heap_size_limit` (the old
 * generation plus the young generation's reserve): a worker's `maxYoungGenerationSizeMb`
 * where given; three of `--max-semi-space-size`'s (MB) where given; else as this V8 sizes
 * them (YOUNG_GENERATION): capped for a large heap, in proportion for a small one.
 */
function defaultOldSpaceBytes(heapSizeLimit, { v8Major = Number(process.versions.v8.split('.')[0]), semiSpaceMb = flagMb(SEMI_SPACE_FLAG, nodeArgs()), youngMb = isMainThread ? null : resourceLimits.maxYoungGenerationSizeMb || null } = {}) {
  if (youngMb !== null) return heapSizeLimit - youngMb * MiB
  if (semiSpaceMb !== null) return heapSizeLimit - 3 * semiSpaceMb * MiB
  const { ratio, capMb } = YOUNG_GENERATION.find((young) => v8Major >= young.v8Major)
  const capped = heapSizeLimit - 3 * capMb * MiB
  return capped >= ratio * capMb * MiB ? capped : Math.round((heapSizeLimit * ratio) / (ratio + 3))
}

/** The main thread's V8 flags: NODE_OPTIONS' before the command line's. */
function nodeArgs(execArgv = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? '') {
  return [...nodeOptions.split(/\s+/).filter(Boolean), ...execArgv]
}

/** `--max-old-space-size` in MB from `args` (the last one wins, as in V8), or null. */
function maxOldSpaceMb(args) {
  return flagMb(FLAG, args)
}

/** The value in MB of the flag `pattern` matches in `args` (the last one wins, as in V8), or null. */
function flagMb(pattern, args) {
  let mb = null
  for (let i = 0; i < args.length; i++) {
    const match = pattern.exec(args[i])
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
  const mb = isMainThread ? maxOldSpaceMb(nodeArgs(execArgv, nodeOptions)) : resourceLimits.maxOldGenerationSizeMb || null
  return mb === null ? null : mb * 1024 * 1024
}

/**
 * The heap's limit for a floor, in bytes: the old generation's, as set (`oldSpaceLimit`, never
 * above `heapSizeLimit`, V8's `heap_size_limit`) or as V8 sized it (`defaultOldSpaceBytes`).
 */
function heapLimit(heapSizeLimit, oldSpaceLimit) {
  return oldSpaceLimit === null ? defaultOldSpaceBytes(heapSizeLimit) : Math.min(heapSizeLimit, oldSpaceLimit)
}

module.exports = { heapLimit, oldSpaceLimitBytes, defaultOldSpaceBytes, nodeArgs }

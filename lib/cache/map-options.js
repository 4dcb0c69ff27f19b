'use strict'

/**
 * The options of `new BoundedMap()` as one table (options-table.js), and the reading of
 * them: a map with no bound at all is refused first, and an unset bound bounds nothing.
 */
const errors = require('../shared/errors')
const { optionsTable, option, positive, positiveInteger, nonEmptyString, functionValue, optional } = require('../shared/options-table')
const { coarseNow } = require('./coarse-now')
const { POLICIES } = require('./policies')

/** @type {import('../shared/options-table').Check} One of the eviction policies (policies.js). */
const policyName = {
  env: 'string',
  check(where, what, value) {
    if (typeof value !== 'string' || !Object.hasOwn(POLICIES, value)) {
      throw errors.invalidOptionRange(where, what, `one of ${Object.keys(POLICIES).map((p) => `'${p}'`).join(', ')}`, value)
    }
  },
}

/** @type {import('../shared/options-table').Check} `shrinkUnderPressure`: a boolean, or the share of the bounds kept, in (0, 1). */
const keepShare = {
  env: 'boolean',
  check(where, what, value) {
    if (typeof value === 'boolean' || (typeof value === 'number' && value > 0 && value < 1)) return
    throw errors.invalidOptionRange(where, what, 'true, false or a share of the bounds kept, in (0, 1)', value)
  },
}

/** The map's name: unset, or a non-empty string. */
const mapName = optional(nonEmptyString('a non-empty string'))

/** The options of `new BoundedMap()`, a row each in the order of docs/cache.md's table; unset bounds bound nothing. */
const OPTIONS = optionsTable([
  option('max', undefined, optional(positiveInteger), { default: 'no count bound', meaning: 'most entries; a positive integer' }),
  option('maxBytes', undefined, optional(positive), { default: 'no byte bound', meaning: 'most bytes, as measured by `sizeOf`; a positive number' }),
  option('sizeOf', undefined, optional(functionValue), {
    default: 'exact `byteLength` for Buffers, typed arrays, DataViews, ArrayBuffers; `16 + 2 × length` for strings (an upper-bound estimate of V8\'s one- or two-byte strings); other values need a `sizeOf`',
    meaning: 'bytes of one entry (needs `maxBytes`); must return a finite number >= 0',
  }),
  option('ttl', undefined, optional(positive), { default: 'no expiry', meaning: 'ms an entry lives after it was set; per entry with `set(k, v, { ttl })` (`Infinity`: never)' }),
  option('policy', 'lru', policyName, { default: "`'lru'`", meaning: "`'lru'`, `'s3-fifo'` or `'tinylfu'` ([Policies](#policies))" }),
  option('onEvict', undefined, optional(functionValue), {
    default: 'none',
    meaning: "called for every value that leaves; `reason` is `'evict'`, `'expire'`, `'delete'`, `'set'` (value replaced), `'clear'` or `'too-large'`",
  }),
  option('name', undefined, mapName, { default: 'unnamed', meaning: 'a non-empty string; registers the map (weakly) for `namedMaps()` and the watcher' }),
  option('shrinkUnderPressure', undefined, optional(keepShare), {
    default: "the process's default: off, unless the watcher's `shrinkMaps` is set",
    meaning: '`true`: under memory pressure the map shrinks to half its bounds by its policy, and grows back once the pressure is gone; a number in (0, 1): the share kept; `false`: never ([Memory pressure](#memory-pressure))',
  }),
  option('now', undefined, optional(functionValue), { default: 'a monotonic clock, read at most about once a millisecond', meaning: 'clock in ms for TTLs; inject one in tests' }),
])

/** The checks that win over any one option's: a map needs a bound, and `sizeOf` needs `maxBytes`. */
function refuseUnbounded(options) {
  if (options.max === undefined && options.maxBytes === undefined && options.ttl === undefined) {
    throw errors.codedError(
      TypeError,
      errors.CODES.UNBOUNDED,
      'BoundedMap: needs at least one bound: options.max (entries), options.maxBytes or options.ttl',
    )
  }
  if (options.sizeOf !== undefined && options.maxBytes === undefined) {
    throw errors.codedError(TypeError, errors.CODES.INVALID_OPTION, 'BoundedMap: options.sizeOf needs options.maxBytes')
  }
}

/**
 * Checks the constructor's options (a map without a bound first, then a `sizeOf` without
 * `maxBytes`) and returns them with defaults filled in.
 */
function readOptions(options) {
  const read = OPTIONS.read('BoundedMap', options, refuseUnbounded)
  return {
    policy: read.policy,
    name: read.name,
    max: read.max ?? Infinity,
    maxBytes: read.maxBytes ?? Infinity,
    ttl: read.ttl ?? 0,
    sizeOf: read.sizeOf ?? null,
    onEvict: read.onEvict ?? null,
    now: read.now ?? coarseNow,
    shrinkUnderPressure: read.shrinkUnderPressure,
  }
}

module.exports = { OPTIONS, readOptions, keepShare }

'use strict'

/**
 * The options of `trackEmitter()` and `trackListeners()` as tables (options-table.js): the
 * same three, with their own defaults for `captureFrom` and `sites`, and `name` for one
 * emitter. One row each in the order of docs/listeners.md's table, which shows both defaults.
 */
const { invalidOptionType, invalidOptionRange } = require('../shared/errors')
const { optionsTable, option, positiveInteger } = require('../shared/options-table')

/** Which listeners get a stack: those raising their event to a new peak, or all. */
const SITES = ['growth', 'all']

/** @type {import('../shared/options-table').Check} */
const sitesValue = {
  env: 'string',
  check(where, what, value) {
    if (typeof value !== 'string') throw invalidOptionType(where, what, `one of ${SITES.join(', ')}`, value)
    if (!SITES.includes(value)) throw invalidOptionRange(where, what, `one of ${SITES.join(', ')}`, value)
  },
}

/** @type {import('../shared/options-table').Check} Unset, or a string. */
const emitterName = {
  env: 'string',
  check(where, what, value) {
    if (value !== undefined && typeof value !== 'string') throw invalidOptionType(where, what, 'a string', value)
  },
}

/** `threshold`, `captureFrom` and `sites`, with this API's defaults. */
function trackingRows({ captureFrom, sites }) {
  return [
    option('threshold', 10, positiveInteger, { default: '10', meaning: 'emit a `listener-leak` event when one site holds more than this many listeners on one event' }),
    option('captureFrom', captureFrom, positiveInteger, {
      default: '`trackEmitter` 1, `trackListeners` 2',
      meaning: 'take a stack only for a listener that makes its event hold at least this many listeners',
    }),
    option('sites', sites, sitesValue, {
      default: "`trackEmitter` `'all'`, `trackListeners` `'growth'`",
      meaning: "`'all'`: a stack for every such listener; `'growth'`: only for one that raises its event to a new peak (the peak falls back once the count halves)",
    }),
  ]
}

/** The options of `trackEmitter()`. */
const EMITTER_OPTIONS = optionsTable([
  option('name', undefined, emitterName, { default: 'constructor name, + address for sockets and servers', meaning: "the emitter's name in `listener-leak` events and the watcher's reports" }),
  ...trackingRows({ captureFrom: 1, sites: 'all' }),
])

/** The options of `trackListeners()`. */
const LISTENERS_OPTIONS = optionsTable(trackingRows({ captureFrom: 2, sites: 'growth' }))

module.exports = { EMITTER_OPTIONS, LISTENERS_OPTIONS }

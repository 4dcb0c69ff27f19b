'use strict'

/** The options of `adminHandler()` (`leakproof/http`) as one table (options-table.js). */
const errors = require('../shared/errors')
const { optionsTable, option, positive, positiveInteger, functionValue } = require('../shared/options-table')

/** Tokens shorter than this are refused: a short token can be guessed. */
const MIN_TOKEN_LENGTH = 16

/** @type {import('../shared/options-table').Check} The bearer token; never echoed in an error (it is a secret, and errors are logged). */
const token = {
  env: 'string',
  check(where, what, value) {
    if (typeof value !== 'string') {
      throw errors.invalidOptionType(where, what, `a string of at least ${MIN_TOKEN_LENGTH} characters (from a secret store or an environment variable)`, value)
    }
    if (value.length < MIN_TOKEN_LENGTH || !/^[\x21-\x7E]+$/.test(value)) {
      const expected = `at least ${MIN_TOKEN_LENGTH} printable ASCII characters without spaces or line breaks`
      throw errors.codedError(RangeError, errors.CODES.INVALID_OPTION, `${where}: ${what} must be ${expected}; got a string of ${value.length} characters`)
    }
  },
}

/** @type {import('../shared/options-table').Check} A path of plain segments. */
const prefix = {
  env: 'string',
  check(where, what, value) {
    if (typeof value !== 'string') throw errors.invalidOptionType(where, what, 'a path such as "/leakproof"', value)
    if (!/^(\/[A-Za-z0-9._~-]+)+$/.test(value) || /\/\.\.?(\/|$)/.test(value)) {
      throw errors.invalidOptionRange(where, what, 'a path of plain segments such as "/leakproof" or "/admin/leakproof" (no trailing slash, no "..", nothing encoded)', value)
    }
  },
}

/** @type {import('../shared/options-table').Check} Unset (this thread's watcher, looked up at each request), or a watcher. */
const watcherValue = {
  env: 'string',
  check(where, what, value) {
    const handle = /** @type {{ status?: unknown, snapshot?: unknown } | null | undefined} */ (value)
    if (handle !== undefined && (handle === null || typeof handle.status !== 'function' || typeof handle.snapshot !== 'function')) {
      throw errors.invalidOptionType(where, what, 'a watcher returned by watch()', value)
    }
  },
}

/** The options of `adminHandler()`, a row each in the order of docs/admin-http.md's table. */
const OPTIONS = optionsTable([
  option('token', undefined, token, { default: '—', meaning: 'the bearer token: a string of at least 16 printable ASCII characters, no spaces. **Required**; read it from a secret (a Kubernetes Secret, your vault, an environment variable), never write it in code' }),
  option('prefix', '/leakproof', prefix, { default: "`'/leakproof'`", meaning: 'the path the routes are under, from the root: plain segments, no trailing slash' }),
  option('watcher', undefined, watcherValue, { default: "this thread's running watcher, looked up at each request", meaning: 'the watcher to serve' }),
  option('maxFailuresPerAddress', 10, positiveInteger, { default: '`10`', meaning: 'failed authentications from one remote address per window, before that address is locked out' }),
  option('maxFailuresTotal', 100, positiveInteger, { default: '`100`', meaning: 'failed authentications from all addresses per window, before everyone is locked out' }),
  option('failureWindowMs', 60_000, positive, { default: '`60000`', meaning: 'the window, in milliseconds' }),
  option('now', Date.now, functionValue, { default: '`Date.now`', meaning: "the window's clock, in milliseconds (for tests)" }),
])

/** The options of `readinessHandler()`, in the order of docs/mitigate.md's table. */
const READINESS_OPTIONS = optionsTable([
  option('path', '/ready', prefix, { default: "`'/ready'`", meaning: 'the path it answers, exactly (plain segments, no trailing slash); GET and HEAD' }),
])

module.exports = { OPTIONS, READINESS_OPTIONS, MIN_TOKEN_LENGTH }

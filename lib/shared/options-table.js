'use strict'

/**
 * The options of an API as one table: a row per option with its default, its check, its
 * `LEAKPROOF_*` variable where the preload reads one, and its line in the docs. The API's
 * defaults and its option checks are built from the table (`optionsTable`), and a test holds
 * its .d.ts and its docs table to it (__test__/package/options.test.js). The checks below are the
 * kinds of value the APIs take; each throws a coded error naming `where` and the option.
 */
const errors = require('./errors')

/**
 * A check of one option's value: `check(where, what, value)` throws a coded error, and `env`
 * is how a variable's text reads as this value ('number', 'boolean' or 'string').
 * @typedef {{ env: 'number' | 'boolean' | 'string', check: (where: string, what: string, value: unknown) => void }} Check
 */

/**
 * One option: its name, default, check, variable (null: none) and docs row (how the docs
 * show its default, and its meaning).
 * @typedef {{ name: string, default: unknown, check: Check, env: string | null, doc: { group?: string, default: string, meaning: string } }} OptionRow
 */

/** @type {Check} A finite number > 0. */
const positive = { env: 'number', check: (where, what, value) => void errors.checkPositiveFinite(where, what, value) }

/** @type {Check} An integer > 0. */
const positiveInteger = { env: 'number', check: (where, what, value) => void errors.checkPositiveInteger(where, what, value) }

/** An integer from `min` to `max` (both included). @returns {Check} */
function integerBetween(min, max = Infinity) {
  const expected = max === Infinity ? `an integer >= ${min}` : `an integer from ${min} to ${max}`
  return {
    env: 'number',
    check(where, what, value) {
      if (min > 0) errors.checkPositiveInteger(where, what, value)
      else if (typeof value !== 'number') throw errors.invalidOptionType(where, what, expected, value)
      if (!Number.isSafeInteger(value) || /** @type {number} */ (value) < min || /** @type {number} */ (value) > max) {
        throw errors.invalidOptionRange(where, what, expected, value)
      }
    },
  }
}

/** @type {Check} A finite number >= 0 (a duration that may be zero). */
const nonNegative = {
  env: 'number',
  check(where, what, value) {
    if (typeof value !== 'number') throw errors.invalidOptionType(where, what, 'a number >= 0', value)
    if (!(value >= 0) || value === Infinity) throw errors.invalidOptionRange(where, what, 'a finite number >= 0', value)
  },
}

/**
 * A number in a range open at the top: `from` < value < 1, or `from` <= value when
 * `fromIncluded`, or value <= 1 when `oneIncluded`; `expected` says it in words.
 * @returns {Check}
 */
function fraction({ from = 0, fromIncluded = false, oneIncluded = false, expected = 'a number between 0 and 1' } = {}) {
  return {
    env: 'number',
    check(where, what, value) {
      if (typeof value !== 'number') throw errors.invalidOptionType(where, what, expected, value)
      const aboveFrom = fromIncluded ? value >= from : value > from
      if (!(aboveFrom && (value < 1 || (oneIncluded && value === 1)))) throw errors.invalidOptionRange(where, what, expected, value)
    },
  }
}

/** @type {Check} */
const boolean = {
  env: 'boolean',
  check(where, what, value) {
    if (typeof value !== 'boolean') throw errors.invalidOptionType(where, what, 'a boolean', value)
  },
}

/** One of a few strings. @returns {Check} */
function oneOf(...choices) {
  return {
    env: 'string',
    check(where, what, value) {
      if (!choices.includes(value)) throw errors.invalidOptionRange(where, what, choices.map((c) => `'${c}'`).join(' or '), value)
    },
  }
}

/** A string that is not empty; `expected` says what it names. @returns {Check} */
function nonEmptyString(expected) {
  return {
    env: 'string',
    check(where, what, value) {
      if (typeof value !== 'string' || value === '') throw errors.invalidOptionType(where, what, expected, value)
    },
  }
}

/** @type {Check} A function (a hook, a clock). No variable can hold one. */
const functionValue = { env: 'string', check: (where, what, value) => void errors.checkFunction(where, what, value) }

/** The same check, or undefined (an option whose default is to be unset). @returns {Check} */
function optional(check) {
  return {
    env: check.env,
    check(where, what, value) {
      if (value !== undefined) check.check(where, what, value)
    },
  }
}

/**
 * A row of a table; its variable is `LEAKPROOF_` and the name in capitals when `env` is true,
 * or `env` itself when it is a name (an option nested in another's object).
 * @param {string} name
 * @param {unknown} defaultValue
 * @param {Check} check
 * @param {{ env?: boolean | string, group?: string, default: string, meaning: string }} doc
 * @returns {OptionRow}
 */
function option(name, defaultValue, check, { env = false, ...doc }) {
  const variable = typeof env === 'string' ? env : env ? `LEAKPROOF_${name.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}` : null
  return Object.freeze({ name, default: defaultValue, check, env: variable, doc: Object.freeze(doc) })
}

/**
 * An API's options from its rows: `DEFAULTS`, and `read(where, options, first?)`, which
 * refuses an unknown key, then whatever `first(options)` refuses (the API's checks that must
 * win over any one value's, such as a map with no bound at all), then a bad value, each with a
 * coded error, and returns every option, defaults filled in. `path` is how errors name the
 * options object (`options.restart` for options nested in another's).
 * @param {ReadonlyArray<OptionRow>} rows
 * @param {{ path?: string }} [naming]
 */
function optionsTable(rows, { path = 'options' } = {}) {
  const DEFAULTS = Object.freeze(Object.fromEntries(rows.map((o) => [o.name, o.default])))
  /** @returns {Record<string, any>} */
  function read(where, options, first = (_options) => {}) {
    errors.checkOptionsObject(where, options, Object.keys(DEFAULTS), path)
    first(options)
    /** @type {Record<string, any>} */
    const settings = { ...DEFAULTS }
    for (const [key, value] of Object.entries(options)) if (value !== undefined) settings[key] = value
    for (const { name, check } of rows) check.check(where, `${path}.${name}`, settings[name])
    return settings
  }
  return { ROWS: Object.freeze([...rows]), DEFAULTS, read }
}

module.exports = { optionsTable, option, positive, positiveInteger, integerBetween, nonNegative, fraction, boolean, oneOf, nonEmptyString, functionValue, optional }

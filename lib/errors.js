'use strict'

/**
 * Errors thrown by leakproof carry a stable `code` (`ERR_LEAKPROOF_*`) so callers can
 * tell them apart without parsing messages.
 */

/** Describes a value for an error message without calling user code. */
function describe(value) {
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'function') return 'a function'
  if (typeof value === 'bigint') return `${value}n`
  if (value === null || typeof value !== 'object') return String(value)
  return Array.isArray(value) ? 'an array' : 'an object'
}

/** Builds an error of class `Ctor` with a `code` property. */
function codedError(Ctor, code, message) {
  const err = new Ctor(message)
  err.code = code
  return err
}

/** TypeError for an option of the wrong type. */
function invalidOptionType(name, expected, value) {
  return codedError(
    TypeError,
    'ERR_LEAKPROOF_INVALID_OPTION',
    `${name} must be ${expected}; got ${describe(value)}`,
  )
}

/** RangeError for an option of the right type but an unusable value. */
function invalidOptionRange(name, expected, value) {
  return codedError(
    RangeError,
    'ERR_LEAKPROOF_INVALID_OPTION',
    `${name} must be ${expected}; got ${describe(value)}`,
  )
}

/** Checks that `value` is a positive safe integer (a count). */
function checkPositiveInteger(name, value) {
  if (typeof value !== 'number') throw invalidOptionType(name, 'a positive integer', value)
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw invalidOptionRange(name, 'a positive integer', value)
  }
  return value
}

/** Checks that `value` is a finite number greater than zero (a duration or a byte budget). */
function checkPositiveFinite(name, value) {
  if (typeof value !== 'number') throw invalidOptionType(name, 'a positive finite number', value)
  if (!(value > 0) || value === Infinity) {
    throw invalidOptionRange(name, 'a positive finite number', value)
  }
  return value
}

/** Checks that `value` is a function. */
function checkFunction(name, value) {
  if (typeof value !== 'function') throw invalidOptionType(name, 'a function', value)
  return value
}

/** Checks that `options` is a plain options object with only the `known` keys. */
function checkOptionsObject(where, options, known) {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw invalidOptionType(`${where} options`, 'an object', options)
  }
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw codedError(
        TypeError,
        'ERR_LEAKPROOF_UNKNOWN_OPTION',
        `${where}: unknown option ${JSON.stringify(key)}; known options are ${known.join(', ')}`,
      )
    }
  }
  return options
}

module.exports = {
  describe,
  codedError,
  invalidOptionType,
  invalidOptionRange,
  checkPositiveInteger,
  checkPositiveFinite,
  checkFunction,
  checkOptionsObject,
}

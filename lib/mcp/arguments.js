'use strict'

/**
 * A tool's arguments checked against its `inputSchema` (the small part of JSON Schema the
 * tools use: objects of strings, integers, booleans and arrays of them, `enum`, `minimum`,
 * `maximum`, `minItems`, `maxItems`, `required`, nothing else allowed), and lists cut into
 * pages. Every refusal is a coded `ERR_LEAKPROOF_INVALID_ARGUMENT` naming the argument (an
 * item as `dirs[1]`).
 */
const { CODES, codedError, describe } = require('../shared/errors')

/** The longest page a tool answers: a few KB an agent can read at once. */
const MAX_PAGE_SIZE = 50

/** A refusal of argument `name` of tool `tool`. */
function refused(tool, name, expected, value) {
  return codedError(TypeError, CODES.INVALID_ARGUMENT, `${tool}: ${name} must be ${expected}; got ${describe(value)}`)
}

/** `args` checked against `schema`, defaults filled in. */
function checkArguments(tool, schema, args = {}) {
  if (args === null || typeof args !== 'object' || Array.isArray(args)) throw refused(tool, 'the arguments', 'an object', args)
  for (const name of Object.keys(args)) {
    if (!Object.hasOwn(schema.properties, name)) throw refused(tool, name, `one of the tool's arguments (${Object.keys(schema.properties).join(', ')})`, name)
  }
  const checked = {}
  for (const [name, rule] of Object.entries(schema.properties)) {
    const value = args[name]
    if (value === undefined) {
      if (schema.required?.includes(name)) throw refused(tool, name, `given (${rule.description})`, value)
      if (rule.default !== undefined) checked[name] = rule.default
      continue
    }
    checked[name] = checkValue(tool, name, rule, value)
  }
  return checked
}

/** One argument's `value` against its `rule`. */
function checkValue(tool, name, rule, value) {
  if (rule.enum && !rule.enum.includes(value)) throw refused(tool, name, `one of ${rule.enum.join(', ')}`, value)
  if (rule.type === 'string' && (typeof value !== 'string' || value === '')) throw refused(tool, name, 'a non-empty string', value)
  if (rule.type === 'boolean' && typeof value !== 'boolean') throw refused(tool, name, 'true or false', value)
  if (rule.type === 'array') {
    const fewest = rule.minItems ?? 0
    const most = rule.maxItems ?? Infinity
    if (!Array.isArray(value) || value.length < fewest || value.length > most) throw refused(tool, name, most === Infinity ? `a list of ${fewest} or more items` : `a list of ${fewest} to ${most} items`, value)
    return value.map((item, i) => checkValue(tool, `${name}[${i}]`, rule.items, item))
  }
  if (rule.type === 'integer') {
    const low = rule.minimum ?? -Infinity
    const high = rule.maximum ?? Infinity
    if (!Number.isSafeInteger(value) || value < low || value > high) {
      throw refused(tool, name, high === Infinity ? `an integer of ${low} or more` : `an integer from ${low} to ${high}`, value)
    }
  }
  return value
}

/** The schema of `page` and `pageSize`, for tools whose answers are lists. */
const PAGING = Object.freeze({
  page: { type: 'integer', minimum: 1, default: 1, description: 'which page, from 1' },
  pageSize: { type: 'integer', minimum: 1, maximum: MAX_PAGE_SIZE, default: 10, description: `items a page, at most ${MAX_PAGE_SIZE}` },
})

/** Page `page` of `items`, `pageSize` long, with how many there are and whether more follow. */
function pageOf(items, { page, pageSize }) {
  const start = (page - 1) * pageSize
  return { total: items.length, page, pageSize, items: items.slice(start, start + pageSize), more: start + pageSize < items.length }
}

module.exports = { checkArguments, pageOf, PAGING }

'use strict'

/**
 * A few fields of a large JSON document, found in its bytes without parsing the rest: a
 * source map's `mappings` and `sources` (source-maps.js) beside its `sourcesContent`, which
 * can be megabytes that nothing here reads. Each field's value alone goes to `JSON.parse`.
 *
 * A key matched where its quotes are unescaped and a colon follows can only be a key (inside
 * a string every quote is escaped); a key's value is the one where it is first a key, so a
 * field asked for must come before any nested key of the same name (a source map's own come
 * before its `sections`'). UTF-8 never puts an ASCII byte inside another character, so bytes
 * are searched as characters.
 */

const BACKSLASH = 0x5c
const QUOTE = 0x22
const COLON = 0x3a

/**
 * The values of `keys` in the JSON document `bytes`, parsed, by key; a key not found is left
 * out. A value is a string, a number, or an array or object of them. Malformed JSON throws.
 * @param {Buffer} bytes
 * @param {readonly string[]} keys
 * @returns {Record<string, any>}
 */
function jsonFields(bytes, keys) {
  /** @type {Record<string, any>} */
  const fields = {}
  for (const key of keys) {
    const at = valueStart(bytes, key)
    if (at !== -1) fields[key] = JSON.parse(bytes.toString('utf8', at, valueEnd(bytes, at)))
  }
  return fields
}

/** Where the value of `key` starts in `bytes`, or -1. */
function valueStart(bytes, key) {
  const quoted = `"${key}"`
  for (let at = bytes.indexOf(quoted); at !== -1; at = bytes.indexOf(quoted, at + 1)) {
    if (at > 0 && bytes[at - 1] === BACKSLASH) continue
    let next = skipSpace(bytes, at + quoted.length)
    if (bytes[next] !== COLON) continue
    return skipSpace(bytes, next + 1)
  }
  return -1
}

function skipSpace(bytes, at) {
  while (at < bytes.length && (bytes[at] === 0x20 || bytes[at] === 0x0a || bytes[at] === 0x0d || bytes[at] === 0x09)) at++
  return at
}

/** The index after the JSON value (a string, a number or an array of them) starting at `at`. */
function valueEnd(bytes, at) {
  if (bytes[at] === QUOTE) {
    // A string (`mappings`, megabytes): to its first quote not escaped.
    for (let quote = bytes.indexOf(QUOTE, at + 1); quote !== -1; quote = bytes.indexOf(QUOTE, quote + 1)) {
      let slashes = 0
      while (bytes[quote - 1 - slashes] === BACKSLASH) slashes++
      if (slashes % 2 === 0) return quote + 1
    }
    return bytes.length
  }
  let depth = 0
  let inString = false
  for (let i = at; i < bytes.length; i++) {
    const c = bytes[i]
    if (inString) {
      if (c === BACKSLASH) i++
      else if (c === QUOTE) {
        inString = false
        if (depth === 0) return i + 1
      }
    } else if (c === QUOTE) inString = true
    else if (c === 0x5b || c === 0x7b) depth++
    else if (c === 0x5d || c === 0x7d) {
      if (depth === 0) return i
      if (--depth === 0) return i + 1
    } else if (c === 0x2c && depth === 0) return i
  }
  return bytes.length
}

module.exports = { jsonFields }

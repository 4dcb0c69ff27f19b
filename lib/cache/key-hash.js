'use strict'

/**
 * A 32-bit hash of any key a Map takes, for the frequency sketch (frequency-sketch.js).
 * V8 keeps its own hash of a string inside it, but JS cannot read it: a string is hashed here,
 * every character (a hash of part of it would give keys that differ in the middle, as
 * `/users/123/profile` and `/users/456/profile` do, one hash). Objects and symbols get a
 * number of their own, held weakly. Equal keys (SameValueZero, with -0 already +0) hash
 * alike; different keys may collide, which only costs the sketch some accuracy.
 */

const floatScratch = new Float64Array(1)
const floatWords = new Int32Array(floatScratch.buffer)
/** Objects, functions and unregistered symbols: a number each, for as long as they live. */
const identities = new WeakMap()
let nextIdentity = 1
/** Sets identities apart from the integers (the object numbered 1 is not the key 1). */
const IDENTITY_SALT = 0x2545f491

/** Murmur3's finalizer: every input bit reaches every output bit. */
function mix(h) {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  return h ^ (h >>> 16)
}

/** The hash of `key`. */
function keyHash(key) {
  switch (typeof key) {
    case 'string':
      return stringHash(key)
    case 'number':
      if ((key | 0) === key) return mix(key)
      floatScratch[0] = key
      return mix(floatWords[0] ^ Math.imul(floatWords[1], 0x9e3779b1))
    case 'object':
    case 'function':
      return key === null ? mix(0x6e756c6c) : mix(identityOf(key) ^ IDENTITY_SALT)
    case 'symbol':
      // A registered symbol (`Symbol.for`) cannot be held weakly: its name says which it is.
      return Symbol.keyFor(key) === undefined ? mix(identityOf(key) ^ IDENTITY_SALT) : mix(stringHash(Symbol.keyFor(key)) ^ 0x5bd1e995)
    case 'bigint':
      return mix(stringHash(key.toString(36)) ^ 0x1b873593)
    default: // boolean, undefined
      return mix(key === true ? 0x74727565 : key === false ? 0x66616c73 : 0x756e6466)
  }
}

/**
 * Every character of `text`, multiplied through as Java's `String.hashCode` does (two at a
 * step: h·31² + a·31 + b is the same sum, with half the dependent multiplies), then mixed.
 */
function stringHash(text) {
  const length = text.length
  let h = length
  let i = 0
  for (; i + 1 < length; i += 2) h = (Math.imul(h, 961) + Math.imul(text.charCodeAt(i), 31) + text.charCodeAt(i + 1)) | 0
  if (i < length) h = (Math.imul(h, 31) + text.charCodeAt(i)) | 0
  return mix(h)
}

/** The number of an object, function or unregistered symbol, given on first sight. */
function identityOf(key) {
  let id = identities.get(key)
  if (id === undefined) {
    id = nextIdentity++
    identities.set(key, id)
  }
  return id
}

module.exports = { keyHash }

'use strict'

/**
 * The dictionaries a census pass meets: objects with `minEntries` own keys or more
 * (express-session's MemoryStore, a cache keyed by id), which only a listing of their keys can
 * count. V8 sorts a dictionary's keys, which no call can slice (Object.keys takes 15 ms at
 * 100,000 keys, 300 ms at a million), so each is listed once a pass: met first as a member of
 * a collection recorded (records.js), then visited (walk.js), it is listed the first time only.
 */
const reflect = require('./reflect')

/** The dictionaries of one pass, each listed once (see above). */
class Dictionaries {
  #counted = new WeakMap() // object -> { count, first }
  #minEntries
  #membersKept
  #meter

  /**
   * @param {object} parts
   * @param {number} parts.minEntries the fewest keys of a dictionary.
   * @param {number} parts.membersKept the values kept of a dictionary's first keys.
   * @param {import('./reflect').ListingMeter} parts.meter where the listings are noted.
   */
  constructor({ minEntries, membersKept, meter }) {
    this.#minEntries = minEntries
    this.#membersKept = membersKept
    this.#meter = meter
  }

  /**
   * `{ count, first }` for an object of `minEntries` own keys or more: the count of its
   * enumerable keys (Object.keys: half the time of all own keys, on a dictionary), or of all
   * where fewer are enumerable (globalThis: its properties are not followed, since reading
   * some loads Node's modules), and the values of the first `membersKept`; null for fewer,
   * or where they cannot be listed.
   */
  of(object) {
    let dictionary = this.#counted.get(object)
    if (dictionary === undefined) {
      let keys = reflect.enumerableKeys(object, this.#meter)
      if (keys !== null && keys.length < this.#minEntries) keys = reflect.ownKeys(object, this.#meter)
      if (keys === null || keys.length < this.#minEntries) return null
      dictionary = { count: keys.length, first: keys.slice(0, this.#membersKept).map((key) => reflect.ownValue(object, key)) }
      this.#counted.set(object, dictionary)
    }
    return dictionary
  }

  /** Forgets the dictionaries counted (the pass is done): their first values are not held. */
  clear() {
    this.#counted = new WeakMap()
  }
}

module.exports = { Dictionaries }

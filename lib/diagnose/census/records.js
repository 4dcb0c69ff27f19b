'use strict'

/**
 * What a census pass finds: the collections it records, by key (a root and the path from it,
 * roots.js), with what the members they follow are (members.js); and what it did not reach, and
 * why.
 */
const { types } = require('node:util')
const reflect = require('./reflect')
const { rootKey } = require('./roots')
const { describeMembers } = require('./members')

/** Own properties of a member looked at for what it holds outside the heap. */
const MEMBER_PROPERTIES_LOOKED_AT = 16

/** The collections one pass recorded, by key. */
class Records {
  /**
   * The collections recorded: `key -> { key, root, path, className, collections, entries,
   * memberClass, memberBytes, memberHandle }`, `collections` the count that share the key and
   * `entries` their entries in all; `memberClass` the most common class among the members
   * followed, `memberBytes` their mean bytes outside the heap (Buffers), `memberHandle` the
   * class of the native handle they hold (`Zlib`, `TCP`), if any.
   */
  byKey = new Map()
  #dictionaries
  #meter

  /**
   * @param {object} parts
   * @param {WeakSet<object>} parts.own the census' own objects, never walked: `byKey` is added to it.
   * @param {import('./dictionaries').Dictionaries} parts.dictionaries the pass' dictionaries:
   *   a member that is one is not looked into.
   * @param {import('./reflect').ListingMeter} parts.meter where the listings are noted.
   */
  constructor({ own, dictionaries, meter }) {
    this.#dictionaries = dictionaries
    this.#meter = meter
    own.add(this.byKey)
  }

  /**
   * Records `collections` collections of class `className` found at `path` from `root`, of
   * `entries` entries in all, with the `members` followed (a Map's as `[key, value]`
   * pairs flattened): added to the record of the same key, whose members are described the
   * first time, and whose `owner` (`ownerOf()`, walk.js) is the first collection's. Returns
   * the record.
   */
  add(root, path, className, collections, entries, members, ownerOf = () => null) {
    const key = `${rootKey(root)}|${path}`
    let record = this.byKey.get(key)
    if (record === undefined) {
      record = { key, root, path, className, collections: 0, entries: 0, memberClass: null, memberBytes: null, memberHandle: null, owner: ownerOf() }
      this.byKey.set(key, record)
    }
    record.collections += collections
    record.entries += entries
    if (record.memberClass === null) {
      const values = className === 'Map' ? members.filter((_, i) => i % 2 === 1) : members
      Object.assign(record, describeMembers(values, (member) => this.#memberValues(member), this.#meter))
    }
    return record
  }

  /**
   * The values of a collection's `member`'s first own properties that hold objects: none for a
   * collection (its entries could number millions), null for a dictionary (see describeMembers).
   */
  #memberValues(member) {
    if (reflect.isArray(member) || types.isMap(member) || types.isSet(member) || types.isTypedArray(member) || types.isArrayBuffer(member)) return []
    if (this.#dictionaries.of(member) !== null) return null
    const values = []
    for (const key of (reflect.ownKeys(member, this.#meter) ?? []).slice(0, MEMBER_PROPERTIES_LOOKED_AT)) {
      const value = reflect.ownValue(member, key)
      if (reflect.isObjectLike(value)) values.push(value)
    }
    return values
  }
}

/** What a pass did not look at, and why: counted by what. */
class NotReached {
  #byWhat = new Map() // what -> { what, why, count }

  /** Notes `count` more of `what`, not looked at for `why`. */
  add(what, why, count = 1) {
    const entry = this.#byWhat.get(what)
    if (entry === undefined) this.#byWhat.set(what, { what, why, count })
    else entry.count += count
  }

  /** `[{ what, why, count }]`, in the order first noted. */
  list() {
    return [...this.#byWhat.values()]
  }
}

module.exports = { Records, NotReached }

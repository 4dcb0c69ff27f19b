'use strict'

/**
 * Chains for the census: objects of one prototype each holding the next by one property (a
 * linked list, a queue, an entry holding the one before), which no collection holds. walk.js
 * records a chain at its first link and counts its links with a ChainCursor, a bounded number
 * per item, so that no slice walks a long one.
 */
const { types } = require('node:util')
const reflect = require('./reflect')

/**
 * Links of a chain (objects of one prototype each holding the next by one property: a linked
 * list, a queue, an entry holding the one before) counted in one visit; a longer chain is
 * counted on in later items, so that no slice walks a long one.
 */
const CHAIN_LINKS_PER_VISIT = 20_000

/** Links of one chain counted at most (a cycle that misses its first link ends here). */
const MAX_CHAIN_LINKS = 1_000_000

/**
 * A walk along a chain (objects of prototype `proto`, each holding the next by its property
 * `key`), counting links. Each link counted is marked in `seen` (the pass' visited objects), and
 * a link already there ends the walk: a ring closes, and a chain entered again from another of
 * its links (the Map of a cache whose entries are list nodes) is not counted twice.
 */
class ChainCursor {
  constructor(first, key, proto, seen) {
    this.key = key
    this.proto = proto
    this.seen = seen
    this.link = first
    this.count = 1
    this.record = null // the chain's record, once it has one
  }

  /** Counts on, `room` links at most; whether the chain goes on past them. */
  advance(room) {
    for (let n = 0; n < room; n++) {
      const next = reflect.ownValue(this.link, this.key)
      if (!isLink(next, this.proto) || this.seen.has(next)) return false
      this.seen.add(next)
      this.link = next
      this.count++
    }
    return true
  }
}

/** Whether `value` is a link of a chain whose links have prototype `proto` (never a Proxy). */
function isLink(value, proto) {
  return reflect.isObjectLike(value) && typeof value !== 'function' && !types.isProxy(value) && reflect.prototypeOf(value) === proto
    && !reflect.isArray(value) && !types.isMap(value) && !types.isSet(value)
}

module.exports = { ChainCursor, isLink, CHAIN_LINKS_PER_VISIT, MAX_CHAIN_LINKS }

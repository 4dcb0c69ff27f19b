'use strict'

/**
 * Chains for the census: objects of one prototype each holding the next by one property (a
 * linked list, a queue, an entry holding the one before), which no collection holds. walk.js
 * records a chain at its first link (PassChains finds it there) and counts its links with a
 * ChainCursor, a bounded number per item, so that no slice walks a long one.
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
  /** A cursor at `first`, the chain's first link, counted. */
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

  /**
   * Counts on for one visit, CHAIN_LINKS_PER_VISIT links at most and MAX_CHAIN_LINKS in all,
   * the links counted added to its record's entries; whether the chain goes on past them.
   */
  countOn() {
    const before = this.count
    const goesOn = this.advance(Math.min(CHAIN_LINKS_PER_VISIT, MAX_CHAIN_LINKS - this.count))
    this.record.entries += this.count - before
    return goesOn
  }
}

/** Whether `value` is a link of a chain whose links have prototype `proto` (never a Proxy). */
function isLink(value, proto) {
  return reflect.isObjectLike(value) && typeof value !== 'function' && !types.isProxy(value) && reflect.prototypeOf(value) === proto
    && !reflect.isArray(value) && !types.isMap(value) && !types.isSet(value)
}

/**
 * The chains of one pass: where one starts, the first links of those found (not looked at
 * again for the property they were counted by), and the counts still under way, which the
 * walk queues as items of its own.
 */
class PassChains {
  #visited
  #minLinks
  #membersKept
  // The first links of chains found, by the property to their next: counted, not walked again.
  #countedLinks = new WeakMap()
  // The counts queued as items, told apart without touching a value of the service's
  // (`instanceof` would run a Proxy's getPrototypeOf trap).
  #counts = new WeakSet()

  /**
   * @param {object} parts
   * @param {WeakSet<object>} parts.visited the pass' visited objects: each link counted is added.
   * @param {number} parts.minLinks the fewest links of a chain (`minEntries`).
   * @param {number} parts.membersKept the first links kept as a chain's members.
   */
  constructor({ visited, minLinks, membersKept }) {
    this.#visited = visited
    this.#minLinks = minLinks
    this.#membersKept = membersKept
  }

  /** Whether `object` is one of the first links of a chain found through `key`: counted already. */
  isCountedLink(object, key) {
    return this.#countedLinks.get(object) === key
  }

  /**
   * The chain that starts at `object` and goes on through its property `key` (each link of
   * `object`'s prototype holding the next by `key`), when it has `minLinks` links or more:
   * `{ cursor, members, goesOn }`, counted CHAIN_LINKS_PER_VISIT links at most (`goesOn`
   * when there are more), `members` its first `membersKept` links (`object` first), which
   * `isCountedLink` then knows. Null for a shorter one, whose links are left unvisited: they
   * are walked as any object's properties.
   */
  startingAt(object, key) {
    const proto = reflect.prototypeOf(object)
    if (!isLink(reflect.ownValue(object, key), proto)) return null
    const cursor = new ChainCursor(object, key, proto, this.#visited)
    const links = [object]
    let goesOn = true
    while (goesOn && links.length < this.#minLinks) {
      goesOn = cursor.advance(1)
      if (goesOn) links.push(cursor.link)
    }
    if (links.length < this.#minLinks) {
      for (const link of links.slice(1)) this.#visited.delete(link)
      return null
    }
    goesOn = cursor.advance(CHAIN_LINKS_PER_VISIT - cursor.count)
    const members = links.slice(0, this.#membersKept)
    for (const member of members) this.#countedLinks.set(member, key)
    return { cursor, members, goesOn }
  }

  /** Notes `cursor` as queued, an item that is a chain's count (see isCount). */
  noteQueued(cursor) {
    this.#counts.add(cursor)
  }

  /** Whether an item's `value` is a chain's count, queued by noteQueued. */
  isCount(value) {
    return this.#counts.has(value)
  }

  /** Forgets the chains found: the pass is done. */
  clear() {
    this.#countedLinks = new WeakMap()
    this.#counts = new WeakSet()
  }
}

module.exports = { PassChains, MAX_CHAIN_LINKS }

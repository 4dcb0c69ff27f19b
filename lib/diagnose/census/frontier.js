'use strict'

/**
 * The frontier of a census pass (walk.js): every item the pass has met, with where it met it,
 * and the order the items are visited in. An item is an object of the service's to visit, or
 * a chain's count still under way (chains.js); it is known by its number, and its fields are
 * kept in arrays indexed by that number, with no object per item (a pass meets up to
 * `maxObjects` of them). An item's path from its root, the key its collection is recorded
 * under, is read back through its parents.
 */
const { VARIABLE_ROOTS } = require('./roots')

/** The number of no item: the parent of an item met at a root, and `next()` once all are visited. */
const NO_ITEM = -1

/**
 * The queues of a pass, visited in this order: a variable and what it holds directly, then
 * what variables hold deeper, then what exports, handles and globals reach; so that a
 * collection is named from a variable where one holds it.
 */
const QUEUES = Object.freeze({ nearVariables: 0, underVariables: 1, others: 2 })

/** The items of one pass, by number, and their order of visit (see above). */
class Frontier {
  // Each item's fields, by item number: what it is, the item it was met under (NO_ITEM at a
  // root), the step from that item as code writes it, its root (roots.js) and its depth below it.
  #values = []
  #parents = []
  #steps = []
  #roots = []
  #depths = []
  // Item numbers waiting for their visit, one queue per QUEUES entry, each read from its head.
  #queues = [[], [], []]
  #heads = [0, 0, 0]

  /** @param {WeakSet<object>} own the census' own objects, never walked: the frontier's lists are added to it. */
  constructor(own) {
    for (const list of [this.#values, this.#parents, this.#steps, this.#roots, this.#depths, ...this.#queues]) own.add(list)
  }

  /**
   * Adds an item, `value`, met under item `parent` (NO_ITEM at a root) by `step`, under
   * `root`; queued for its visit by its root's kind and depth (QUEUES). Returns its number.
   */
  add(value, parent, step, root) {
    const item = this.#values.length
    const depth = parent === NO_ITEM ? 0 : this.#depths[parent] + 1
    this.#values.push(value)
    this.#parents.push(parent)
    this.#steps.push(step)
    this.#roots.push(root)
    this.#depths.push(depth)
    const variable = VARIABLE_ROOTS.has(root.kind)
    const queue = variable ? (depth <= 1 ? QUEUES.nearVariables : QUEUES.underVariables) : QUEUES.others
    this.#queues[queue].push(item)
    return item
  }

  /** The next item to visit, from the first queue that has one; NO_ITEM when none waits. */
  next() {
    for (let queue = 0; queue < this.#queues.length; queue++) {
      if (this.#heads[queue] < this.#queues[queue].length) return this.#queues[queue][this.#heads[queue]++]
    }
    return NO_ITEM
  }

  /** Items added and not yet visited. */
  get waiting() {
    return this.#queues.reduce((sum, items, queue) => sum + items.length - this.#heads[queue], 0)
  }

  /** Gives up every item still waiting: `next()` gives none of them. */
  skipWaiting() {
    this.#queues.forEach((items, queue) => (this.#heads[queue] = items.length))
  }

  /** What item `item` is: the service's object, or a chain's count. */
  valueAt(item) {
    return this.#values[item]
  }

  /** The item `item` was met under; NO_ITEM for one met at a root. */
  parentOf(item) {
    return this.#parents[item]
  }

  /** The step `item` was met by from its parent, as code writes it (`.trail`, `[*]`). */
  stepOf(item) {
    return this.#steps[item]
  }

  /** The root `item` was met under (roots.js' `root`). */
  rootOf(item) {
    return this.#roots[item]
  }

  /** The path of `item` from its root: the steps, joined as code would write them (`users[*].cart`). */
  pathOf(item) {
    const steps = []
    for (let current = item; current !== NO_ITEM; current = this.#parents[current]) steps.push(this.#steps[current])
    return steps.reverse().join('').replace(/^\./, '')
  }

  /** Lets every item go, so that nothing the pass met stays reachable from the frontier. */
  clear() {
    for (const list of [this.#values, this.#parents, this.#steps, this.#roots, this.#depths, ...this.#queues]) list.length = 0
    this.#heads.fill(0)
  }
}

module.exports = { Frontier, NO_ITEM }

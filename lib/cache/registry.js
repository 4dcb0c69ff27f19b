'use strict'

/**
 * Every BoundedMap, held weakly so that being registered never keeps a map alive.
 * `namedMaps()` lists the named ones with their stats; `mapsFilling()` tells the detector
 * when heap growth is bounded caches filling up. Nothing reports full or thrashing caches
 * yet. The named maps are also kept in a set of their own, so that work on named maps
 * only is proportional to their number.
 */

/** A map bounded in bytes counts as full from this share of `maxBytes` (entries vary in size). */
const FULL_BYTES_SHARE = 0.95

const refs = new Set()
const namedRefs = new Set()
const forgetOnCollect = new FinalizationRegistry((ref) => {
  refs.delete(ref)
  namedRefs.delete(ref)
})
const lastSize = new WeakMap()

/** Records `map` until it is garbage collected; called once its name is set. */
function registerMap(map) {
  const ref = new WeakRef(map)
  refs.add(ref)
  if (map.name !== undefined) namedRefs.add(ref)
  forgetOnCollect.register(map, ref)
}

/** The maps of `set` (of WeakRefs) still alive. */
function* alive(set) {
  for (const ref of set) {
    const map = ref.deref()
    if (map !== undefined) yield map
  }
}

/**
 * The named maps still alive, each as `{ name, ...stats() }`.
 * @returns {Array<{name: string} & ReturnType<import('./bounded-map').BoundedMap['stats']>>}
 */
function namedMaps() {
  const out = []
  for (const map of alive(namedRefs)) out.push({ name: map.name, ...map.stats() })
  return out
}

/**
 * How many maps grew since the last call and are still below their bounds: growth that
 * stops by itself at a known ceiling. The first call only records sizes.
 */
function mapsFilling() {
  let filling = 0
  for (const map of alive(refs)) {
    const { size, bytes } = map.stats()
    const before = lastSize.get(map)
    lastSize.set(map, size)
    if (before === undefined || size <= before) continue
    if (size < map.max || (map.maxBytes !== Infinity && bytes < map.maxBytes * FULL_BYTES_SHARE)) filling++
  }
  return filling
}

module.exports = { registerMap, namedMaps, mapsFilling }

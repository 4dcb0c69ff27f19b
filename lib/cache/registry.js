'use strict'

/**
 * Every BoundedMap, held weakly so that being registered never keeps a map alive.
 * `namedMaps()` reports the named ones (the detector reports full or thrashing caches);
 * `mapsFilling()` tells the detector when heap growth is bounded caches filling up.
 */
const refs = new Set()
const forgetOnCollect = new FinalizationRegistry((ref) => refs.delete(ref))
const lastSize = new WeakMap()

/** Records `map` until it is garbage collected. */
function registerMap(map) {
  const ref = new WeakRef(map)
  refs.add(ref)
  forgetOnCollect.register(map, ref)
}

function* liveMaps() {
  for (const ref of refs) {
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
  for (const map of liveMaps()) if (map.name !== undefined) out.push({ name: map.name, ...map.stats() })
  return out
}

/**
 * How many maps grew since the last call and are still below their bounds: growth that
 * stops by itself at a known ceiling. The first call only records sizes.
 */
function mapsFilling() {
  let filling = 0
  for (const map of liveMaps()) {
    const { size, bytes } = map.stats()
    const before = lastSize.get(map)
    lastSize.set(map, size)
    if (before === undefined || size <= before) continue
    if (size < map.max || (map.maxBytes !== Infinity && bytes < map.maxBytes * 0.95)) filling++
  }
  return filling
}

module.exports = { registerMap, namedMaps, mapsFilling }

'use strict'

/**
 * Named bounded maps, held weakly so that being named never keeps a map alive.
 * The detector reads this to report caches that are full or thrashing.
 */
const refs = new Set()
const forgetOnCollect = new FinalizationRegistry((ref) => refs.delete(ref))

/** Records `map` under its name until it is garbage collected. */
function registerNamedMap(map) {
  const ref = new WeakRef(map)
  refs.add(ref)
  forgetOnCollect.register(map, ref)
}

/**
 * The named maps still alive, each as `{ name, ...stats() }`.
 * @returns {Array<{name: string} & ReturnType<import('./bounded-map').BoundedMap['stats']>>}
 */
function namedMaps() {
  const out = []
  for (const ref of refs) {
    const map = ref.deref()
    if (map !== undefined) out.push({ name: map.name, ...map.stats() })
  }
  return out
}

module.exports = { registerNamedMap, namedMaps }

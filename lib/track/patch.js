'use strict'

/**
 * Replacing methods and functions on shared objects (prototypes, `globalThis`, the `timers`
 * module) so that they can be put back exactly: the same function objects, the same
 * property attributes, own or inherited as before.
 */

/** Gives `wrapper` the `name` and `length` of the function it stands in for. */
function disguise(wrapper, original) {
  Object.defineProperty(wrapper, 'name', { value: original.name, configurable: true })
  Object.defineProperty(wrapper, 'length', { value: original.length, configurable: true })
  return wrapper
}

/**
 * Replaces the functions named in `factories` on `object` by `factories[name](original)`
 * and returns a function that puts back exactly what was there. Names holding the same
 * function (`on` and `addListener`) get one stand-in; pass the same `standIns` map to
 * several calls to share stand-ins across objects (`globalThis` and `timers`).
 */
function patchMethods(object, factories, standIns = new Map()) {
  const saved = []
  for (const [name, wrap] of Object.entries(factories)) {
    const own = Object.getOwnPropertyDescriptor(object, name)
    const original = object[name]
    if (typeof original !== 'function') continue
    if (!standIns.has(original)) standIns.set(original, wrap(original))
    saved.push([name, own])
    Object.defineProperty(object, name, {
      value: standIns.get(original),
      writable: own?.writable ?? true,
      enumerable: own?.enumerable ?? false,
      configurable: true,
    })
  }
  return function restore() {
    for (const [name, own] of saved) {
      if (own === undefined) delete object[name]
      else Object.defineProperty(object, name, own)
    }
  }
}

module.exports = { disguise, patchMethods }

'use strict'

/**
 * Reflection that never runs the service's code: no getter, no Proxy trap, no `toJSON`, no
 * iterator the service could have replaced. The built-ins it uses are taken when this module
 * loads (with `leakproof/register`, before the service's code runs), so a service that later
 * patches `Map.prototype.entries` or `Reflect.ownKeys` does not change what the census sees.
 * (A fresh `vm` realm's built-ins would be safer still, but calling them on this realm's
 * objects that have interceptors, `globalThis` among them, aborts Node 24: an assertion in
 * node::GetPerContextExports.) Proxies are never reflected on at all: every operation here
 * is only called on an object `isProxy` said no to.
 */
const { types } = require('node:util')

const getter = (proto, name) => Reflect.getOwnPropertyDescriptor(proto, name).get
/** This realm's built-ins, as they were when leakproof loaded. */
const intrinsics = Object.freeze({
  apply: Reflect.apply,
  ownKeys: Reflect.ownKeys,
  keys: Object.keys,
  ownSymbols: Object.getOwnPropertySymbols,
  describe: Reflect.getOwnPropertyDescriptor,
  prototypeOf: Reflect.getPrototypeOf,
  isArray: Array.isArray,
  mapSize: getter(Map.prototype, 'size'),
  setSize: getter(Set.prototype, 'size'),
  mapEntries: Map.prototype.entries,
  setValues: Set.prototype.values,
  mapIteratorNext: /** @type {any} */ (Reflect.getPrototypeOf(new Map().entries())).next,
  setIteratorNext: /** @type {any} */ (Reflect.getPrototypeOf(new Set().values())).next,
  typedArrayBytes: getter(Reflect.getPrototypeOf(Uint8Array.prototype), 'byteLength'),
  arrayBufferBytes: getter(ArrayBuffer.prototype, 'byteLength'),
  functionSource: Function.prototype.toString,
  /** %ThrowTypeError%, the getter of a strict function's `caller`: anonymous, and V8's own. */
  throwTypeError: getter(Function.prototype, 'caller'),
})

/** The built-ins reflection calls: this realm's, as they were when leakproof loaded. */
function realm() {
  return intrinsics
}

/**
 * The property names of a fresh realm's global (`Map`, `JSON`, …), as V8 gives them on Node 20
 * to 26: not the service's. Listed, not read from a new `vm` context: making one leads V8 to a
 * memory-reducing full GC seconds later, whose pause on a heap of a GB stopped the service for
 * up to 750 ms (docs/benchmarks/diagnose.md); the first pass would make it at the leak, when
 * the heap is largest. A global a later V8 adds is walked as a service's would be.
 */
const STANDARD_GLOBAL_NAMES = new Set([
  'Object', 'Function', 'Array', 'Number', 'parseFloat', 'parseInt', 'Infinity', 'NaN', 'undefined', 'Boolean', 'String', 'Symbol',
  'Date', 'Promise', 'RegExp', 'Error', 'AggregateError', 'EvalError', 'RangeError', 'ReferenceError', 'SyntaxError', 'TypeError',
  'URIError', 'SuppressedError', 'globalThis', 'JSON', 'Math', 'Intl', 'ArrayBuffer', 'SharedArrayBuffer', 'Atomics', 'DataView',
  'Uint8Array', 'Int8Array', 'Uint16Array', 'Int16Array', 'Uint32Array', 'Int32Array', 'BigUint64Array', 'BigInt64Array',
  'Uint8ClampedArray', 'Float16Array', 'Float32Array', 'Float64Array', 'Map', 'BigInt', 'Set', 'Iterator', 'WeakMap', 'WeakSet',
  'Proxy', 'Reflect', 'FinalizationRegistry', 'WeakRef', 'DisposableStack', 'AsyncDisposableStack', 'Temporal', 'decodeURI',
  'decodeURIComponent', 'encodeURI', 'encodeURIComponent', 'escape', 'unescape', 'eval', 'isFinite', 'isNaN', 'console', 'WebAssembly',
])

/** The property names of a fresh realm's global (see STANDARD_GLOBAL_NAMES). */
function standardGlobalNames() {
  return STANDARD_GLOBAL_NAMES
}

/** Whether `value` is an object or a function (something with identity and properties). */
function isObjectLike(value) {
  return (typeof value === 'object' && value !== null) || typeof value === 'function'
}

/**
 * The most keys (or properties, in an inspector's reply) one listing held, of the listings it
 * was given to: a pass' `cost.largestListing` (pass-budget.js). A listing cannot be sliced (V8
 * sorts a dictionary's keys into insertion order), so this is what shows none was of a large
 * collection.
 */
class ListingMeter {
  largest = 0

  /** Notes a listing of `count` keys or properties. */
  note(count) {
    if (count > this.largest) this.largest = count
  }

  /** Forgets the listings noted so far. */
  reset() {
    this.largest = 0
  }
}

/**
 * `list(object)` with this realm's built-in `list`, noted in `meter` (if any); null for a
 * Proxy or where it fails.
 * @param {ListingMeter | null} meter
 */
function listed(list, object, meter) {
  if (types.isProxy(object)) return null
  try {
    const keys = list(object)
    meter?.note(keys.length)
    return keys
  } catch {
    return null
  }
}

/**
 * The own keys of `object` (strings and symbols), or null where listing them could run code
 * (a Proxy) or fails (a module namespace in its temporal dead zone, a revoked object). The
 * listing is noted in `meter`, if given (and so for the two below).
 * @param {ListingMeter | null} [meter]
 */
function ownKeys(object, meter = null) {
  return listed(realm().ownKeys, object, meter)
}

/**
 * The own enumerable string keys of `object`, or null as for `ownKeys`: what counts a
 * dictionary, in half the time `ownKeys` takes on one (300 ms against 650 at a million keys).
 * @param {ListingMeter | null} [meter]
 */
function enumerableKeys(object, meter = null) {
  return listed(realm().keys, object, meter)
}

/**
 * The own symbol keys of `object` (a few, even on an object with a million string keys), or
 * null for a Proxy or where listing them fails.
 * @param {ListingMeter | null} [meter]
 */
function ownSymbols(object, meter = null) {
  return listed(realm().ownSymbols, object, meter)
}

/**
 * The value of `object`'s own data property `key`, or `undefined` for an accessor (never
 * called), a missing key, or one that cannot be described without running code.
 */
function ownValue(object, key) {
  if (types.isProxy(object)) return undefined
  try {
    const descriptor = realm().describe(object, key)
    return descriptor !== undefined && 'value' in descriptor ? descriptor.value : undefined
  } catch {
    return undefined
  }
}

/**
 * `object`'s own property descriptor for `key` (a getter is listed, not called), or
 * `undefined` for a missing key, a Proxy, or one that cannot be described.
 */
function ownDescriptor(object, key) {
  if (types.isProxy(object)) return undefined
  try {
    return realm().describe(object, key)
  } catch {
    return undefined
  }
}

/** `object`'s prototype, or null for a Proxy (whose `getPrototypeOf` trap would run). */
function prototypeOf(object) {
  if (types.isProxy(object)) return null
  try {
    return realm().prototypeOf(object)
  } catch {
    return null
  }
}

/**
 * The name of the class `object` was made by, read from its prototype's own `constructor`
 * data property, as a heap snapshot names it: 'Object' for a null prototype, '' when unknown.
 */
function className(object) {
  if (typeof object === 'function') return 'Function'
  const proto = prototypeOf(object)
  if (proto === null) return types.isProxy(object) ? 'Proxy' : 'Object'
  const ctor = ownValue(proto, 'constructor')
  if (typeof ctor !== 'function') return ''
  const name = ownValue(ctor, 'name')
  return typeof name === 'string' ? name : ''
}

/** Whether `value` is an array (a Proxy of one is not: it is never looked into). */
function isArray(value) {
  return !types.isProxy(value) && realm().isArray(value)
}

/** Entries of a Map, Set or Array: their count, read without running code. */
function collectionSize(object) {
  const builtIn = realm()
  if (types.isMap(object)) return builtIn.apply(builtIn.mapSize, object, [])
  if (types.isSet(object)) return builtIn.apply(builtIn.setSize, object, [])
  if (builtIn.isArray(object)) {
    const length = ownValue(object, 'length')
    return typeof length === 'number' ? length : 0
  }
  return 0
}

/**
 * Up to `limit` members of a Map (its keys, then values, as `[key, value]` pairs flattened),
 * a Set or an Array (the first `limit` elements), read with the fresh realm's iterators.
 */
function firstMembers(object, limit) {
  const builtIn = realm()
  const members = []
  if (types.isMap(object) || types.isSet(object)) {
    const map = types.isMap(object)
    const iterator = builtIn.apply(map ? builtIn.mapEntries : builtIn.setValues, object, [])
    const next = map ? builtIn.mapIteratorNext : builtIn.setIteratorNext
    for (let i = 0; i < limit; i++) {
      const step = builtIn.apply(next, iterator, [])
      if (step.done) break
      if (map) members.push(step.value[0], step.value[1])
      else members.push(step.value)
    }
    return members
  }
  const length = collectionSize(object)
  for (let i = 0; i < Math.min(limit, length); i++) members.push(ownValue(object, String(i)))
  return members
}

/** The bytes a Buffer, typed array, DataView or ArrayBuffer holds outside the heap; 0 for others. */
function backingBytes(value) {
  const builtIn = realm()
  try {
    if (types.isArrayBufferView(value) && !types.isDataView(value)) return builtIn.apply(builtIn.typedArrayBytes, value, [])
    if (types.isArrayBuffer(value)) return builtIn.apply(builtIn.arrayBufferBytes, value, [])
  } catch {
    // A detached buffer, say.
  }
  return 0
}

/** A function's source text, as `Function.prototype.toString` gives it (no code of the service's runs), or null. */
function functionSource(fn) {
  const builtIn = realm()
  try {
    return builtIn.apply(builtIn.functionSource, fn, [])
  } catch {
    return null
  }
}

/**
 * Thrown where the inspector, asked about an object, would run the service's code: see
 * `codeToInspect`.
 */
class WouldRunCode extends Error {}

/** Prototypes followed at most when looking a property up (a longer chain is not looked into). */
const MAX_PROTOTYPES = 64

/**
 * Why V8's inspector would run the service's code to describe `value` (every value it hands
 * out gets a description, in value-mirror.cc), or null. It reads an Error's `stack`, `message`
 * and `name` (getters, and the service's `Error.prepareStackTrace` when the stack is not yet
 * formatted), and asks whether any other plain object is array-like: `splice` looked up along
 * the prototype chain (a getter, or a Proxy's trap), then an own `length`. Functions, Proxies,
 * arrays, Maps, Sets, dates, buffers and the like are described without running code.
 */
function codeToDescribe(value) {
  if (!isObjectLike(value) || types.isProxy(value) || typeof value === 'function') return null
  if (types.isNativeError(value)) return 'an Error (its stack, message and name would be read)'
  if (describedSafely(value)) return null
  const splice = lookUp(value, 'splice')
  if (splice.runsCode !== null) return `an object with ${splice.runsCode}`
  if (typeof splice.value !== 'function') return null
  const length = ownDescriptor(value, 'length')
  return length !== undefined && !('value' in length) ? 'an object with a getter for `length`' : null
}

/** Whether V8's inspector describes `value` by its kind alone (value-mirror.cc, ValueMirror::create). */
function describedSafely(value) {
  return realm().isArray(value) || types.isMap(value) || types.isSet(value) || types.isWeakMap(value) || types.isWeakSet(value) ||
    types.isRegExp(value) || types.isDate(value) || types.isPromise(value) || types.isMapIterator(value) || types.isSetIterator(value) ||
    types.isGeneratorObject(value) || types.isArrayBufferView(value) || types.isAnyArrayBuffer(value)
}

/**
 * `key` looked up along `object`'s prototype chain as V8's GetRealNamedProperty does:
 * `{ value, runsCode }`, `runsCode` what would run (a getter, a Proxy's trap) or null.
 */
function lookUp(object, key) {
  let current = object
  for (let depth = 0; current !== null && depth < MAX_PROTOTYPES; depth++) {
    if (types.isProxy(current)) return { value: undefined, runsCode: 'a Proxy in its prototype chain' }
    const descriptor = ownDescriptor(current, key)
    if (descriptor !== undefined) {
      if ('value' in descriptor) return { value: descriptor.value, runsCode: null }
      return { value: undefined, runsCode: descriptor.get === undefined ? null : `a getter for \`${String(key)}\`` }
    }
    current = prototypeOf(current)
  }
  return { value: undefined, runsCode: current === null ? null : 'a prototype chain too long to look into' }
}

/**
 * Why the inspector would run the service's code to list `object`'s properties
 * (`Runtime.getProperties`, own properties: the scopes of a function, the `#private` fields
 * of an instance), or null. It describes `object`, each own property's value and the
 * prototype, lists the keys of the next object in the prototype chain (a Proxy's `ownKeys`
 * trap), and calls a getter that has no script (a built-in, or a bound function: the
 * service's code behind it). A `#private` field's value, and a bound function's `this`, are
 * described too, and cannot be looked at before: they are not covered. Its listing of
 * `object`'s keys is noted in `meter`, if given.
 * @param {ListingMeter | null} [meter]
 */
function codeToInspect(object, meter = null) {
  const own = codeToDescribe(object)
  if (own !== null) return own
  for (let current = prototypeOf(object), depth = 0; current !== null; current = prototypeOf(current), depth++) {
    if (types.isProxy(current)) return 'an object with a Proxy in its prototype chain'
    if (depth >= MAX_PROTOTYPES) return 'an object with a prototype chain too long to look into'
  }
  const proto = codeToDescribe(prototypeOf(object))
  if (proto !== null) return `an object whose prototype is ${proto}`
  for (const key of ownKeys(object, meter) ?? []) {
    const descriptor = ownDescriptor(object, key)
    if (descriptor === undefined) continue
    const why = 'value' in descriptor ? codeToDescribe(descriptor.value) : scriptlessGetter(descriptor.get)
    if (why !== null) return `an object whose property ${String(key)} is ${why}`
  }
  return null
}

/**
 * Why the inspector would run the service's code calling `get`, or null. It calls a getter
 * without a script of its own: a built-in (named in its source: `function get size() {
 * [native code] }`, V8's or Node's code), a bound function (`function () { [native code] }`:
 * the service's function behind it), a callable Proxy.
 */
function scriptlessGetter(get) {
  if (typeof get !== 'function') return null
  if (types.isProxy(get)) return 'a getter that is a Proxy'
  const builtIn = realm()
  if (get === builtIn.throwTypeError) return null
  return BOUND_SOURCE.test(builtIn.apply(builtIn.functionSource, get, [])) ? 'a bound getter' : null
}

/** The source text V8 gives a bound function (and an anonymous built-in). */
const BOUND_SOURCE = /^function \(\) \{ \[native code\] \}$/

module.exports = {
  ListingMeter, standardGlobalNames, isObjectLike, isArray, ownKeys, enumerableKeys, ownSymbols, ownValue, ownDescriptor, prototypeOf, className, collectionSize, firstMembers, backingBytes,
  functionSource, codeToInspect, WouldRunCode,
}

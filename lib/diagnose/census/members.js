'use strict'

/**
 * What the first members of a collection the census records are (those it follows): their most common class,
 * their bytes outside the heap, and the native handle they hold (walk.js records them with
 * the collection). Reads own properties only, never runs the service's code (reflect.js).
 */
const reflect = require('./reflect')

/**
 * What the members followed of a collection are: the most common class, their mean bytes outside
 * the heap (Buffers and typed arrays, held directly or in one of the member's own properties,
 * as `{ name, body: Buffer }`), and the class of the native handle they hold (a zlib stream's
 * `Zlib`, a socket's `TCP`, a crypto `Hash`'s, directly or one property down), if any.
 * `valuesOf(member)` gives the values of a member's first own properties, or null for a
 * dictionary: the members after one are not looked into, so that describing a Map of
 * dictionaries lists one, not sixteen. The listings it makes are noted in `meter`.
 * @param {Array<any>} members
 * @param {(member: object) => Array<object> | null} valuesOf
 * @param {import('./reflect').ListingMeter | null} meter
 */
function describeMembers(members, valuesOf, meter) {
  const classes = new Map()
  let bytes = 0
  let buffers = 0
  let handle = null
  let values = []
  for (const member of members) {
    if (!reflect.isObjectLike(member)) continue
    const name = reflect.className(member)
    classes.set(name, (classes.get(name) ?? 0) + 1)
    if (values !== null) values = valuesOf(member)
    if (values === null) continue
    const backing = backingBytesNear(member, values)
    if (backing > 0) {
      bytes += backing
      buffers++
    }
    handle ??= handleNear(member, values, meter)
  }
  let memberClass = null
  for (const [name, count] of classes) if (memberClass === null || count > classes.get(memberClass)) memberClass = name
  return { memberClass, memberBytes: buffers === 0 ? null : Math.round(bytes / buffers), memberHandle: handle }
}

/** The bytes outside the heap of `member` itself, or else of `values`, its own first properties'. */
function backingBytesNear(member, values) {
  const own = reflect.backingBytes(member)
  if (own > 0) return own
  let bytes = 0
  for (const value of values) bytes += reflect.backingBytes(value)
  return bytes
}

/** The class of the native handle `member` holds, or one of `values` (its own first properties') holds; null when none. */
function handleNear(member, values, meter) {
  const own = handleOf(member, meter)
  if (own !== null) return own
  for (const value of values) {
    const held = handleOf(value, meter)
    if (held !== null) return held
  }
  return null
}

/**
 * The class of the native handle `object` keeps: in `_handle` (streams, sockets, servers) or
 * under a symbol (crypto's objects), an object made by one of Node's C++ classes (its
 * constructor's source is native code, and it is not a standard global like Map). Its
 * listing of `object`'s symbols is noted in `meter`.
 */
function handleOf(object, meter) {
  for (const key of ['_handle', ...(reflect.ownSymbols(object, meter) ?? [])]) {
    const value = reflect.ownValue(object, key)
    if (!reflect.isObjectLike(value) || typeof value === 'function') continue
    const name = reflect.className(value)
    if (name !== '' && !reflect.standardGlobalNames().has(name) && isNativeClass(value)) return name
  }
  return null
}

/** Whether `object`'s constructor is native code: one of Node's C++ classes (or V8's). */
function isNativeClass(object) {
  const proto = reflect.prototypeOf(object)
  const ctor = proto === null ? undefined : reflect.ownValue(proto, 'constructor')
  return typeof ctor === 'function' && /\{\s*\[native code\]\s*\}$/.test(reflect.functionSource(ctor) ?? '')
}

module.exports = { describeMembers }

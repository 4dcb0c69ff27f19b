'use strict'

/**
 * The active handles of one class, which the census records as one collection (walk.js):
 * sockets left open one per request, each kept by its own handle, that no collection holds.
 * Reads Node's own getters only (net.Socket's, from its prototype), never the service's.
 */
const net = require('node:net')
const reflect = require('./reflect')

/** Sockets whose remote end is read, of one class: enough for the common one, bounded in time. */
const REMOTE_ENDS_READ = 1_000

/** net.Socket's own getters of the remote end, whatever a subclass defines. */
const SOCKET_GETTERS = {
  address: Object.getOwnPropertyDescriptor(net.Socket.prototype, 'remoteAddress')?.get,
  port: Object.getOwnPropertyDescriptor(net.Socket.prototype, 'remotePort')?.get,
}

/** `handles` (`process._getActiveHandles()`) by class name: a Map from name to handles. */
function handlesByClass(handles) {
  const byClass = new Map()
  for (const handle of handles) {
    const name = reflect.className(handle) || 'Object'
    const same = byClass.get(name)
    if (same === undefined) byClass.set(name, [handle])
    else same.push(handle)
  }
  return byClass
}

/**
 * The remote end most of `handles` share, where they are sockets (of the first
 * REMOTE_ENDS_READ): `{ end, count, of }`, `end` an address and port (`'127.0.0.1:6379'`: one
 * upstream each call left a socket open to) or, where the ports differ, an address (the
 * clients of a server's accepted connections); null when no end is shared by half of them,
 * the handles are not sockets or their ends are not known (closed, a pipe).
 */
function commonRemoteEnd(handles) {
  if (SOCKET_GETTERS.address === undefined || SOCKET_GETTERS.port === undefined) return null
  const ends = []
  for (const handle of handles) {
    if (ends.length === REMOTE_ENDS_READ) break
    if (!(handle instanceof net.Socket)) continue
    try {
      ends.push({ address: SOCKET_GETTERS.address.call(handle), port: SOCKET_GETTERS.port.call(handle) })
    } catch {
      ends.push({ address: undefined, port: undefined })
    }
  }
  const known = ends.filter((e) => typeof e.address === 'string')
  return mostCommon(known.map((e) => `${e.address}:${e.port}`), ends.length) ?? mostCommon(known.map((e) => e.address), ends.length)
}

/** The value at least half of `of` items are, `{ end, count, of }`, or null. */
function mostCommon(values, of) {
  const counts = new Map()
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1)
  let best = null
  for (const [end, count] of counts) if (best === null || count > best.count) best = { end, count, of }
  return best !== null && 2 * best.count >= of ? best : null
}

module.exports = { handlesByClass, commonRemoteEnd }

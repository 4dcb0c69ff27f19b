'use strict'

/**
 * The active handles of one class, which the census records as one collection (walk.js):
 * sockets left open one per request, each kept by its own handle, that no collection holds.
 * Reads Node's own getters only (net.Socket's, from its prototype), never the service's.
 *
 * `process._getActiveHandles()` lists only the handles that keep the event loop alive, and an
 * `http.Agent` unrefs each socket it keeps idle for keep-alive: an agent made per upstream call
 * leaves an open socket a call that nothing the census walks reaches. ClientSockets holds,
 * weakly, the client sockets `net.connect` makes (Node publishes each on the
 * `net.client.socket` channel: http's agents make theirs so), and gives the ones still open that
 * are unref'd.
 */
const net = require('node:net')
const diagnosticsChannel = require('node:diagnostics_channel')
const reflect = require('./reflect')

/** The channel on which Node publishes each client socket `net.connect` makes (`{ socket }`). */
const CLIENT_SOCKET_CHANNEL = 'net.client.socket'

/**
 * Client sockets held (weakly) at most: past this many still open, new ones are not counted
 * (about 40 bytes each). Closed and collected ones are dropped as new ones are made.
 */
const MAX_CLIENT_SOCKETS = 200_000

/** Sockets in the list before the first time closed ones are dropped. */
const FIRST_COMPACTION = 1024

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

/** net.Socket's own `_handle` accessor, where it is one (Node 20 on), else undefined. */
const HANDLE_GETTER = Object.getOwnPropertyDescriptor(net.Socket.prototype, '_handle')?.get

/** Whether `socket` still has its handle: net.Socket sets `_handle` to null once destroyed. Node's getter, never a subclass'. */
function isOpen(socket) {
  try {
    const handle = HANDLE_GETTER === undefined ? reflect.ownValue(socket, '_handle') : HANDLE_GETTER.call(socket)
    return handle !== null && handle !== undefined
  } catch {
    return false
  }
}

/**
 * The client sockets made since `start()` (see the file's comment), held by WeakRefs: the
 * list keeps none of them alive. Its own objects are listed by `own()`, for the census never
 * to walk them.
 */
class ClientSockets {
  /** WeakRefs to the sockets, in the order they were made; compacted in place. */
  #refs = []
  /** Sockets made since the last compaction, and how many make the next one come. */
  #made = 0
  #compactAt = FIRST_COMPACTION
  /** Sockets not held because MAX_CLIENT_SOCKETS were still open. */
  dropped = 0
  #onSocket = (message) => {
    const socket = message?.socket
    if (!(socket instanceof net.Socket)) return
    if (++this.#made >= this.#compactAt) this.#compact()
    if (this.#refs.length >= MAX_CLIENT_SOCKETS) this.dropped++
    else this.#refs.push(new WeakRef(socket))
  }

  #subscribed = false

  /** Starts holding the client sockets made from now on. */
  start() {
    if (this.#subscribed) return
    diagnosticsChannel.subscribe(CLIENT_SOCKET_CHANNEL, this.#onSocket)
    this.#subscribed = true
  }

  /** Stops, and lets go of the list. */
  stop() {
    if (this.#subscribed) diagnosticsChannel.unsubscribe(CLIENT_SOCKET_CHANNEL, this.#onSocket)
    this.#subscribed = false
    this.#refs.length = 0
  }

  /** The objects of its own, never to be walked. */
  own() {
    return [this, this.#refs, this.#onSocket]
  }

  /** The sockets held that are still open and not in `active` (a Set of the active handles): the unref'd ones. */
  unrefd(active) {
    this.#compact()
    const found = []
    for (const ref of this.#refs) {
      const socket = ref.deref()
      if (socket !== undefined && !active.has(socket)) found.push(socket)
    }
    return found
  }

  /**
   * Drops the sockets collected or closed. The next compaction comes once as many sockets were
   * made as were kept: each socket made costs a bounded share of them.
   */
  #compact() {
    let kept = 0
    for (const ref of this.#refs) {
      const socket = ref.deref()
      if (socket !== undefined && isOpen(socket)) this.#refs[kept++] = ref
    }
    this.#refs.length = kept
    this.#made = 0
    this.#compactAt = Math.max(FIRST_COMPACTION, kept)
  }
}

/** At most `count` of `list`, spread evenly over it, the last (the newest) first. */
function spread(list, count) {
  const every = Math.ceil(list.length / count)
  const picked = []
  for (let i = list.length - 1; i >= 0; i -= every) picked.push(list[i])
  return picked
}

module.exports = { handlesByClass, commonRemoteEnd, spread, ClientSockets, MAX_CLIENT_SOCKETS }

'use strict'

/**
 * Human names for emitters in reports: the constructor, and for sockets and servers the
 * address, read when the report is made (a socket has no address when it is created).
 */
const net = require('node:net')

/** The emitter's constructor name; `'process'` for the process. */
function constructorName(emitter) {
  if (emitter === process) return 'process'
  const ctor = Object.getPrototypeOf(emitter)?.constructor
  return typeof ctor === 'function' && ctor.name ? ctor.name : 'Object'
}

/** `host:port`, with an IPv6 host in brackets. */
function hostPort(address, port) {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`
}

/** The remote address of a socket or the listening address of a server, if it has one yet. */
function addressOf(emitter) {
  if (emitter instanceof net.Socket) {
    const { remoteAddress, remotePort } = emitter
    return typeof remoteAddress === 'string' ? hostPort(remoteAddress, remotePort) : undefined
  }
  if (emitter instanceof net.Server) {
    const address = emitter.address()
    if (typeof address === 'string') return address
    return address ? hostPort(address.address, address.port) : undefined
  }
  return undefined
}

/** `'Socket 127.0.0.1:5432'`, `'Server [::1]:8080'`, `'AbortSignal'`, `'process'`, … */
function emitterName(emitter) {
  const name = constructorName(emitter)
  const address = addressOf(emitter)
  return address === undefined ? name : `${name} ${address}`
}

module.exports = { emitterName }

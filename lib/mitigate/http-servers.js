'use strict'

/**
 * The HTTP servers of this process that leakproof can see, and their draining.
 *
 * Servers are seen through Node's `http.server.request.start` diagnostics channel: every
 * `http`/`https` server that has answered a request since the policy was armed (Express,
 * Fastify, Koa and the rest all sit on one). Once leaving, every response starts with
 * `Connection: close`, so keep-alive clients open their next request elsewhere instead of
 * racing a closing socket.
 *
 * Draining stops accepting connections (`net.Server#close`, which, unlike `http.Server#close`
 * on Node 19 and later, leaves idle keep-alive connections to end on their own: a client that
 * honours the `Keep-Alive: timeout` hint closes them first, so no request meets a socket
 * closed under it), and waits for every connection to end; at the deadline the rest are
 * closed.
 */
const diagnosticsChannel = require('node:diagnostics_channel')
const net = require('node:net')
const { untilDeadline } = require('./deadline')

const REQUEST_START = 'http.server.request.start'

/** The servers seen since the policy was armed (see the module doc), drained when it restarts. */
class HttpServers {
  #servers = new Set()
  #leaving = false
  #clock
  #onRequest = ({ response, server }) => this.#seen(server, response)

  /**
   * Starts seeing servers; nothing is kept but the servers themselves, until each closes.
   * @param {import('../shared/clock').Clock} clock the watcher's time, which the drain's deadline is on.
   */
  constructor(clock) {
    this.#clock = clock
    diagnosticsChannel.subscribe(REQUEST_START, this.#onRequest)
  }

  /** The servers seen and still open. */
  get servers() {
    return [...this.#servers]
  }

  /** From now on every response asks its client to close the connection after it. */
  leaving() {
    this.#leaving = true
  }

  /**
   * Stops every server seen from accepting connections; resolves once their connections
   * have all ended (`true`), or at `deadline` (epoch ms, on the clock) after closing the rest (`false`).
   */
  async drain(deadline) {
    this.leaving()
    const servers = this.servers
    const ended = Promise.all(servers.map((server) => new Promise((resolve) => stopAccepting(server, resolve))))
    const drained = await untilDeadline(ended, deadline, this.#clock)
    if (!drained) for (const server of servers) server.closeAllConnections?.()
    return drained
  }

  /** Stops seeing servers. */
  stop() {
    diagnosticsChannel.unsubscribe(REQUEST_START, this.#onRequest)
    this.#servers.clear()
  }

  #seen(server, response) {
    if (this.#leaving && !response.headersSent) response.setHeader('Connection', 'close')
    if (this.#servers.has(server)) return
    this.#servers.add(server)
    server.once('close', () => this.#servers.delete(server))
  }
}

/** Stops `server` from accepting connections, keeping the open ones; `done` runs once they have all ended. */
function stopAccepting(server, done) {
  if (!server.listening) {
    server.getConnections((err, count) => (err || count === 0 ? done() : server.once('close', done)))
    return
  }
  net.Server.prototype.close.call(server, () => done())
}

module.exports = { HttpServers }

'use strict'

/**
 * A closed-loop http load generator for loopback benchmarks and the demo: `connections`
 * keep-alive clients each send one request after another to 127.0.0.1 until `durationMs`
 * passes or `until()` says so, paced to `perSecond` requests in all (0, the default: as fast
 * as the server answers). `progress.requests` counts responses as they come.
 * @returns {Promise<{ requests: number, seconds: number, perSecond: number, resets: number }>}
 */
const http = require('node:http')

/** A late client catches up at most this far behind its schedule: no burst after a stall. */
const MAX_CATCH_UP_MS = 1000

async function drive({ port, path = '/', durationMs = Infinity, until = () => false, connections = 16, perSecond = 0, progress = {} }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections })
  const started = Date.now()
  const deadline = started + durationMs
  let requests = 0
  progress.requests = 0
  let resets = 0
  const intervalMs = perSecond > 0 ? (1000 * connections) / perSecond : 0
  const client = async () => {
    let due = Date.now()
    while (Date.now() < deadline && !until()) {
      try {
        await new Promise((resolve, reject) => {
          http
            .get({ host: '127.0.0.1', port, path, agent }, (res) => {
              // 'close' as well as 'end': a response cut short ends without 'end', and
              // waiting for it would hang this client, and the run, for good.
              res.resume().on('end', resolve).on('close', resolve).on('error', reject)
            })
            .on('error', reject)
        })
      } catch (err) {
        // A keep-alive socket the server closed just as a request went out (after a long
        // pause, such as a heap snapshot): a real client retries. Anything else ends the run.
        if (err.code !== 'ECONNRESET' && err.code !== 'EPIPE') throw err
        resets++
        continue
      }
      requests++
      progress.requests = requests
      if (intervalMs === 0) continue
      const now = Date.now()
      due = Math.max(due + intervalMs, now - MAX_CATCH_UP_MS)
      if (due > now) await new Promise((resolve) => setTimeout(resolve, due - now))
    }
  }
  await Promise.all(Array.from({ length: connections }, client))
  agent.destroy()
  const seconds = (Date.now() - started) / 1000
  return { requests, seconds, perSecond: requests / seconds, resets }
}

module.exports = { drive }

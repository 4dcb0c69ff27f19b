'use strict'

/**
 * A closed-loop http load generator for loopback benchmarks: `connections` keep-alive
 * clients each send one request after another to 127.0.0.1 until `durationMs` passes.
 * @returns {Promise<{ requests: number, seconds: number, perSecond: number }>}
 */
const http = require('node:http')

async function drive({ port, path = '/', durationMs, connections = 16 }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections })
  const started = Date.now()
  const until = started + durationMs
  let requests = 0
  const client = async () => {
    while (Date.now() < until) {
      await new Promise((resolve, reject) => {
        http
          .get({ host: '127.0.0.1', port, path, agent }, (res) => res.resume().on('end', resolve))
          .on('error', reject)
      })
      requests++
    }
  }
  await Promise.all(Array.from({ length: connections }, client))
  agent.destroy()
  const seconds = (Date.now() - started) / 1000
  return { requests, seconds, perSecond: requests / seconds }
}

module.exports = { drive }

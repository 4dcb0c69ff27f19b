'use strict'

/**
 * A real Prometheus server for the tests (Debian's, scripts/debian-tool.sh), on loopback:
 * started on a config written for the test, and asked through its HTTP API until an answer
 * comes (operate/operate.prometheus.test.js, production/fleet.test.js).
 */
const fs = require('node:fs')
const path = require('node:path')
const { spawn } = require('node:child_process')

/**
 * Starts `bin` (prometheus) on 127.0.0.1:`port`, its config and data in `dir`: job `job`
 * scraping `targets` (`host:port`) every `intervalS` seconds, `rules` (a rule file) evaluated
 * as often, and alerts sent to the Alertmanager on 127.0.0.1:`alertmanagerPort` if given.
 * Returns the child process.
 */
function startPrometheus({ bin, dir, port, targets, rules, job = 'leakproof', intervalS = 1, alertmanagerPort = null }) {
  const config = path.join(dir, 'prometheus.yml')
  const lines = [
    `global: { scrape_interval: ${intervalS}s, evaluation_interval: ${intervalS}s }`,
    `rule_files: [${JSON.stringify(rules)}]`,
    'scrape_configs:',
    `  - { job_name: ${job}, static_configs: [{ targets: ${JSON.stringify(targets)} }] }`,
  ]
  if (alertmanagerPort !== null) lines.push(`alerting: { alertmanagers: [{ static_configs: [{ targets: ["127.0.0.1:${alertmanagerPort}"] }] }] }`)
  fs.writeFileSync(config, `${lines.join('\n')}\n`)
  return spawn(bin, [`--config.file=${config}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], { stdio: ['ignore', 'ignore', 'inherit'] })
}

/**
 * The result of PromQL `query` from the server on 127.0.0.1:`port` once `accept(result)`
 * says yes, asking every 500 ms; throws, with the last answer, after `limitMs`.
 */
async function queryUntil(port, query, { accept = (result) => result.length > 0, limitMs = 10_000 } = {}) {
  const deadline = Date.now() + limitMs
  const url = `http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(query)}`
  let last = 'no answer'
  for (;;) {
    try {
      const answer = await (await fetch(url)).json()
      if (answer.status === 'success' && accept(answer.data.result)) return answer.data.result
      last = JSON.stringify(answer)
    } catch (err) {
      last = String(err) // not listening yet
    }
    if (Date.now() >= deadline) throw new Error(`${query}: no accepted result within ${limitMs} ms; last answer: ${last}`)
    await new Promise((resolve) => setTimeout(resolve, 500))
  }
}

module.exports = { startPrometheus, queryUntil }

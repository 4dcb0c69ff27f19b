'use strict'

/** What the production tests share: reading a service's stdout lines and its event log. */
const fs = require('node:fs')
const readline = require('node:readline')

/** The first JSON line of `child`'s stdout that `accept` takes; rejects if it exits first. */
function lineOf(child, accept) {
  const lines = readline.createInterface({ input: child.stdout })
  return new Promise((resolve, reject) => {
    lines.on('line', (text) => {
      const line = JSON.parse(text)
      if (accept(line)) resolve(line)
    })
    child.on('exit', (code, signal) => reject(new Error(`exited with ${code ?? signal} first`)))
  })
}

/** The events of the log (`LEAKPROOF_LOG`) so far. */
function events(log) {
  if (!fs.existsSync(log)) return []
  return fs.readFileSync(log, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line))
}

module.exports = { lineOf, events }

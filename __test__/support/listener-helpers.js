'use strict'

/** Shared pieces of the listener tests: where a marked line is, and the next leak reports. */
const fs = require('node:fs')
const { listenerLeaks } = require('../..')

/** 1-based line of the caller's file that holds `// MARKER`. */
function lineOf(marker, file = callerFile()) {
  const lines = fs.readFileSync(file, 'utf8').split('\n')
  const index = lines.findIndex((line) => line.includes(`// ${marker}`))
  if (index === -1) throw new Error(`no line marked ${marker} in ${file}`)
  return index + 1
}

function callerFile() {
  const holder = {}
  Error.captureStackTrace(holder, lineOf)
  return holder.stack.split('\n')[1].match(/\((.*):\d+:\d+\)$|at (.*):\d+:\d+$/).slice(1).find(Boolean)
}

/** Resolves with the next `n` listener-leak reports. */
function nextLeaks(n) {
  return new Promise((resolve) => {
    const leaks = []
    const onLeak = (leak) => {
      leaks.push(leak)
      if (leaks.length < n) return
      listenerLeaks.off('listener-leak', onLeak)
      resolve(leaks)
    }
    listenerLeaks.on('listener-leak', onLeak)
  })
}

module.exports = { lineOf, nextLeaks }

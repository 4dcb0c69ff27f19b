'use strict'

/** Waiting for a promise only so long, without keeping the process alive for it. */
const { setTimeout: sleep } = require('node:timers/promises')

/** What `settledWithin` gives for a promise not settled in time (a ranking of sites, say). */
const LATE = Symbol('late')

/**
 * `pending`'s value once `after` has settled and, past it, at most `graceMs` more; else LATE.
 * Its timer keeps nothing alive.
 */
async function settledWithin(pending, after, graceMs) {
  const late = new AbortController()
  const value = Promise.resolve(pending)
  const giveUp = Promise.resolve(after).catch(() => {}).then(() => sleep(graceMs, LATE, { ref: false, signal: late.signal }).catch(() => LATE))
  try {
    return await Promise.race([value, giveUp])
  } finally {
    late.abort()
  }
}

module.exports = { settledWithin, LATE }

'use strict'

const os = require('node:os')
const { isMainThread } = require('node:worker_threads')
const errors = require('../shared/errors')

/**
 * Signals that must not take snapshots: they cannot be caught (SIGKILL, SIGSTOP), Node uses
 * them (SIGUSR1 starts the inspector; SIGPIPE is ignored), a listener would stop them from
 * ending the process as operators and orchestrators expect (SIGINT, SIGTERM, SIGQUIT, SIGHUP),
 * or they report a fault (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP, SIGSYS).
 */
const REFUSED = new Set(['SIGKILL', 'SIGSTOP', 'SIGUSR1', 'SIGPIPE', 'SIGINT', 'SIGTERM', 'SIGQUIT', 'SIGHUP', 'SIGSEGV', 'SIGBUS', 'SIGFPE', 'SIGILL', 'SIGABRT', 'SIGTRAP', 'SIGSYS', 'SIGIOT'])

/**
 * Checks `snapshotSignal` (undefined: none): a signal name this platform has, that may take
 * snapshots (not one of `REFUSED`), in the main thread (signals reach only it), not on Windows.
 */
function checkSnapshotSignal(value) {
  if (value === undefined) return
  const where = 'watch()'
  if (typeof value !== 'string') throw errors.invalidOptionType(where, 'options.snapshotSignal', 'a signal name such as "SIGUSR2"', value)
  if (process.platform === 'win32') throw errors.invalidOptionRange(where, 'options.snapshotSignal', 'unset on Windows, which has no such signals', value)
  if (!(value in os.constants.signals) || REFUSED.has(value)) {
    throw errors.invalidOptionRange(where, 'options.snapshotSignal', `a signal the process does not otherwise use, such as "SIGUSR2" (not ${[...REFUSED].join(', ')})`, value)
  }
  if (!isMainThread) throw errors.invalidOptionRange(where, 'options.snapshotSignal', 'unset in a worker thread: signals reach only the main thread', value)
}

/**
 * Takes a snapshot on each `signal` (first a baseline, then its follow-up and the pair's
 * report: see `Capture#request`). A request that cannot be served now (one is being
 * written, or the cooldown runs) is told through `onRefused(err)`. Node does not keep the
 * process alive for a signal listener.
 * @returns {() => void} removes the listener.
 */
function listenForSnapshotSignal(signal, request, onRefused) {
  const onSignal = () => {
    try {
      request()
    } catch (err) {
      onRefused(err)
    }
  }
  process.on(signal, onSignal)
  return () => process.off(signal, onSignal)
}

module.exports = { checkSnapshotSignal, listenForSnapshotSignal }

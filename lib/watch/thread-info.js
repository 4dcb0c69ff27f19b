'use strict'

/**
 * Who a worker thread is, for the events and reports about it: `{ threadId, name, script,
 * pool, watchedFrom }`. `script` is the file the worker runs (a pool's own worker file, for
 * a pool), `pool` the package that started it (piscina, tinypool, workerpool, …), read from
 * where the worker was made or from its script's path; `watchedFrom` says which watcher
 * judged it: `'self'` (the worker's own, where the preload reached it and its event loop
 * runs) or `'main'` (the main thread's, through the inspector: workers without the preload,
 * or whose loop a pool keeps blocked between tasks).
 */
const { isMainThread, threadId, BroadcastChannel } = require('node:worker_threads')
const { isOwnFile } = require('../shared/code-origin')

/** The BroadcastChannel on which a worker's own watcher says, every interval, that it runs: `{ threadId, time }` (threads.js). */
const OWN_WATCHERS_CHANNEL = 'leakproof:own-watchers'

/** A package directory in a path or a stack line: its name, scoped or not. */
const PACKAGE_IN_PATH = /[\\/]node_modules[\\/]((?:@[^\\/]+[\\/])?[^\\/]+)[\\/]/

/** The file of a stack line (`    at f (/app/x.js:1:2)`, `    at /app/x.js:1:2`). */
const FRAME_FILE = /^\s*at (?:.*\()?(.*?):\d+:\d+\)?$/

/**
 * The package that made a worker, from its creation stack or its script's path: the first
 * line in a package that is not leakproof's own; null for the app's own workers.
 * @param {string | null | undefined} text a stack, or a path.
 */
function poolOf(text) {
  if (typeof text !== 'string') return null
  for (const line of text.split('\n')) {
    const file = FRAME_FILE.exec(line)?.[1] ?? line
    const found = PACKAGE_IN_PATH.exec(file)
    if (found !== null && !isOwnFile(file)) return found[1].replace(/\\/g, '/')
  }
  return null
}

/** This thread, as its own watcher marks its events: null on the main thread. */
function thisThread() {
  if (isMainThread) return null
  const script = typeof process.argv[1] === 'string' ? process.argv[1] : null
  const name = /** @type {{ threadName?: string }} */ (require('node:worker_threads')).threadName
  return { threadId, name: typeof name === 'string' && name !== '' ? name : null, script, pool: poolOf(script), watchedFrom: 'self' }
}

/** Who this thread is, on every event of a worker's own watcher (null on the main thread; read once its script is known: the preload runs before). */
let ownThread = thisThread()

/** Where a worker's own watcher says, every interval, that it runs, for the main thread's (threads.js). */
let ownWatchers = null

/** Who this thread is, on its own watcher's events (null on the main thread): read again until its script is known. */
function ownThreadInfo() {
  if (ownThread?.script === null) ownThread = thisThread()
  return ownThread
}

/** A worker's own watcher runs (its interval came at `time`; its heap floor and whether it leaks): the main thread's leaves this worker to it. */
function sayWatching({ time, heapFloor, leaking }) {
  if (ownWatchers === null) {
    ownWatchers = new BroadcastChannel(OWN_WATCHERS_CHANNEL)
    ownWatchers.unref()
  }
  ownWatchers.postMessage({ threadId, time, heapFloor, leaking })
}

module.exports = {
  poolOf,
  thisThread,
  ownThreadInfo,
  sayWatching,
  OWN_WATCHERS_CHANNEL,
}

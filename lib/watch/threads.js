'use strict'

/**
 * The worker threads of this process, seen from the main thread's watcher.
 *
 * A worker's own watcher (the preload reaches every worker that inherits `execArgv`) needs
 * its event loop, and pools keep it blocked: piscina and tinypool wait for their next task in
 * `Atomics.wait`, so a worker's timers and GC callbacks never run between tasks. A worker
 * started with `execArgv: []` has no watcher at all. So the main thread watches every worker
 * through its inspector session's `NodeWorker` domain: a message to a worker is handled as an
 * interrupt of whatever the worker is doing, waiting in `Atomics.wait` included, and stops
 * only that worker. Each interval `Runtime.getHeapUsage` reads each worker's heap, which runs
 * no JavaScript there: an evaluation at every interval, even a read of `v8.getHeapStatistics()`,
 * can leave a task of a pool whose idle workers come and go unanswered (piscina, Node 20), so
 * the interval's reading evaluates nothing. The calls go through the main thread's inspector
 * session (lib/shared/inspector-session.js). A worker whose own watcher runs (it says so every
 * interval on a BroadcastChannel, watcher.js) is left to it (`watchedFrom: 'self'`): only its
 * heap is read.
 *
 * Workers are known by the `worker_threads` diagnostics channel too (Node publishes every
 * `Worker` made): the stack it was made from says which pool made it (thread-info.js).
 *
 * The process's view: the workers' heaps are part of the process's resident memory, not
 * native memory: `heapBytes()` is what the main thread's watcher adds to its own heap before
 * deriving native memory from RSS.
 */
const diagnosticsChannel = require('node:diagnostics_channel')
const { BroadcastChannel } = require('node:worker_threads')
const { ThreadWatch } = require('./thread-watch')
const { ownEvaluation } = require('../sites/own-work')
const { InspectorSession, callFailed } = require('../shared/inspector-session')
const { poolOf, OWN_WATCHERS_CHANNEL } = require('./thread-info')
const { scriptName } = require('../shared/script-path')

/** A worker that has not answered within this long is skipped this interval (it may be exiting). */
const ANSWER_TIMEOUT_MS = 5_000

/** Workers watched at once, at most: the others are counted, not read (a pool of pools). */
const MAX_THREADS = 64

/**
 * An evaluation sent to a worker blocked in `Atomics.wait` (a pool's, between tasks) as it is
 * being terminated can run first and take the termination for itself ("Execution was
 * terminated"): the worker then waits for ever, its `terminate()` never resolves, and at exit
 * Node aborts (V8's check in FutexEmulation::WaitJs32), on every Node from 20 to 26. From
 * Node 22 on, terminating the worker again ends it; on Node 20 that aborts at once. So on
 * Node 20 no JavaScript is evaluated in a pool's workers (no snapshot, no census there: their
 * allocation sites and the inspector's heap readings run no JavaScript), and from 22 on a
 * termination taken so is asked again.
 */
const REASSERTS_TERMINATION = Number(process.versions.node.split('.')[0]) >= 22
/** Why a worker gets no evaluation where REASSERTS_TERMINATION does not hold. */
const NO_EVALUATION_WHY = "not evaluated in a pool's worker on Node 20: an evaluation raced with the worker's termination leaves it waiting for ever, and Node 20 aborts at exit (Node 22 and later end it)"

/**
 * After an evaluation in `worker` (a `Worker`, or undefined when it is not known) that failed
 * saying `failure` (the inspector's error, or the exception thrown; '' when it did not): when
 * the worker's termination stopped it, terminates the worker again (Node 22 and later), so
 * that it ends as its owner asked.
 */
function endIfTerminated(failure, worker) {
  if (REASSERTS_TERMINATION && /Execution was terminated/.test(failure)) worker?.terminate().catch(() => {})
}

class WorkerThreads {
  #options
  #parts
  #session = null // the main thread's inspector session: its NodeWorker domain, the calls to workers
  #threads = new Map() // sessionId -> ThreadWatch
  #made = new Map() // threadId -> { pool, heapLimit } of workers made since the start
  #ownWatchers = new Map() // threadId -> what its own watcher last said: { time, heapFloor, leaking }
  #ownWatchersChannel = null // where workers' own watchers say so
  #onWorker = ({ worker }) => this.#noteWorker(worker)
  #stopped = false
  /** Workers attached past MAX_THREADS, or whose thread id the inspector did not say, not watched. */
  notWatched = 0
  /** Why workers are not watched from here (no inspector), or null. */
  unavailable = null

  /**
   * @param {object} options the watcher's settings.
   * @param {{ emit: (type: string, fields: object) => object, clock: import('../shared/clock').Clock, monitor: { pauseNative(): void, resetNative(): void } }} parts
   *   `emit` emits a watcher event (its `threadId` and `thread` given in the fields); `monitor`, the
   *   main thread's monitor, told when a worker's snapshot or its diff moves the process's native memory.
   */
  constructor(options, { emit, clock, monitor }) {
    this.#options = options
    // Each worker's snapshots: in `dir`, under its budget, with a cooldown of the worker's own.
    const snapshots = options.snapshots === 'auto' && options.dir !== undefined ? () => require('../capture/snapshots').watcherSnapshotStore(options, { emit, clock, writer: 'in-process', beforeSnapshot: null }) : null
    this.#parts = { emit, clock, snapshots, monitor }
    diagnosticsChannel.subscribe('worker_threads', this.#onWorker)
    this.#ownWatchersChannel = new BroadcastChannel(OWN_WATCHERS_CHANNEL)
    this.#ownWatchersChannel.onmessage = ({ data }) => {
      if (Number.isSafeInteger(data?.threadId) && Number.isFinite(data?.time)) this.#ownWatchers.set(data.threadId, { time: data.time, heapFloor: data.heapFloor ?? null, leaking: data.leaking === true })
    }
    this.#ownWatchersChannel.unref()
    try {
      this.#session = InspectorSession.connect()
    } catch (err) {
      this.#session = null
      this.unavailable = `no inspector session: ${err.message}`
      return
    }
    this.#session.on('NodeWorker.attachedToWorker', ({ params }) => this.#attached(params))
    this.#session.on('NodeWorker.detachedFromWorker', ({ params }) => this.#detached(params.sessionId))
    this.#session.post('NodeWorker.enable', { waitForDebuggerOnStart: false }).catch((err) => {
      this.unavailable = `the inspector's NodeWorker domain: ${err.message}`
    })
  }

  /** Reads every worker once (the watcher's interval); each judges and acts on its own. */
  async read() {
    if (this.#stopped) return
    await Promise.all([...this.#threads.values()].map((thread) => thread.read()))
  }

  /** The workers' heaps, physical bytes, at their newest readings: in RSS, not native memory. */
  heapBytes() {
    let sum = 0
    for (const thread of this.#threads.values()) sum += thread.physicalBytes
    return sum
  }

  /** Each worker watched: `{ threadId, name, script, pool, watchedFrom, heapUsed, floorBytes, leaking }`. */
  list() {
    return [...this.#threads.values()].map((thread) => thread.status())
  }

  /** Stops watching: the session ends, each worker's detector stops, a write under way is dropped. */
  stop() {
    if (this.#stopped) return
    this.#stopped = true
    diagnosticsChannel.unsubscribe('worker_threads', this.#onWorker)
    this.#ownWatchersChannel.close()
    for (const thread of this.#threads.values()) thread.stop()
    this.#threads.clear()
    this.#session?.disconnect(callFailed('the watcher stopped'))
  }

  /** A `Worker` was made: its pool (named by its creation stack) and heap limit, noted until it exits (the worker itself is held weakly). */
  #noteWorker(worker) {
    if (this.#stopped) return
    const oldSpaceMb = worker.resourceLimits?.maxOldGenerationSizeMb
    this.#made.set(worker.threadId, { pool: poolOf(new Error().stack), heapLimit: oldSpaceMb > 0 ? oldSpaceMb * 1024 * 1024 : null, worker: new WeakRef(worker) })
    worker.once('exit', () => this.#made.delete(worker.threadId))
  }

  /** The inspector attached a worker: watched, up to MAX_THREADS. */
  #attached({ sessionId, workerInfo }) {
    if (this.#stopped) return
    if (this.#threads.size >= MAX_THREADS) {
      this.notWatched++
      return
    }
    // The title is `[worker <threadId>] <name>` (Node's worker.cc); `workerId` is the inspector's
    // own count of the workers it attached, not the thread id.
    const titled = /^\[worker (\d+)\]\s*(.*)$/.exec(workerInfo.title ?? '')
    if (titled === null) {
      this.notWatched++
      return
    }
    const threadId = Number(titled[1])
    // Node 24 and later name an unnamed worker `WorkerThread`.
    const name = titled[2] === '' || titled[2] === 'WorkerThread' ? null : titled[2]
    const script = scriptName(workerInfo.url)
    const made = this.#made.get(threadId)
    const info = { threadId, name, script, pool: made?.pool ?? poolOf(script) }
    // In a function the sites know as leakproof's (`ownEvaluation`): it runs on top of whatever the worker was doing.
    const evaluate = async (expression, timeoutMs = ANSWER_TIMEOUT_MS) => {
      try {
        const answer = await this.#request(sessionId, 'Runtime.evaluate', { expression: ownEvaluation(expression), returnByValue: true }, timeoutMs)
        endIfTerminated(answer.exceptionDetails?.exception?.description ?? answer.exceptionDetails?.text ?? '', made?.worker.deref())
        return answer
      } catch (err) {
        endIfTerminated(err.message, made?.worker.deref())
        throw err
      }
    }
    const request = (method, params, timeoutMs = ANSWER_TIMEOUT_MS) => this.#request(sessionId, method, params, timeoutMs)
    const usage = () => request('Runtime.getHeapUsage', {})
    const ownWatcher = () => this.#ownWatchers.get(threadId) ?? null
    const noEvaluation = REASSERTS_TERMINATION || info.pool === null ? null : NO_EVALUATION_WHY
    this.#threads.set(sessionId, new ThreadWatch(this.#options, info, { ...this.#parts, evaluate: noEvaluation === null ? evaluate : null, noEvaluation, request, usage, ownWatcher, heapLimit: made?.heapLimit ?? null }))
  }

  /** A worker exited: its watch ends; what it wrote stays. */
  #detached(sessionId) {
    const thread = this.#threads.get(sessionId)
    thread?.stop()
    this.#threads.delete(sessionId)
    if (thread !== undefined) this.#ownWatchers.delete(thread.threadId)
    this.#session?.failWorkerCalls(sessionId, callFailed('the worker exited'))
  }

  /** Sends one protocol message to a worker; resolves with its result. */
  #request(sessionId, method, params, timeoutMs) {
    if (this.#stopped) return Promise.reject(callFailed('the watcher stopped'))
    return this.#session.postToWorker(sessionId, method, params, timeoutMs)
  }
}

module.exports = { WorkerThreads, endIfTerminated, REASSERTS_TERMINATION }

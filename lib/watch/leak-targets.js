'use strict'

/**
 * The threads whose leaks a leak response (leak-response.js) turns into evidence, as adapters
 * of one shape: the watcher's own thread, and a worker thread watched from the main thread
 * (thread-watch.js). The leak response, its capture (lib/capture/capture.js) and its diagnosis
 * (lib/diagnose/diagnosis.js) do not ask which one they have: they read the target's
 * capabilities. Another kind of target (a child process, an attached process) is one more
 * function here.
 *
 * A target (every field always present):
 * - `thread`: who the thread is, as its reports carry it (`thread`), or null for the watcher's
 *   own thread; `threadId`, its id (in reports and file names);
 * - `watcherThread`: whether it is the watcher's own thread, whose process-wide duties come
 *   with it (the snapshot near the heap limit, the snapshot signal, sweeping dead writers'
 *   temporary files);
 * - `unread`: null, or `{ what, why }`: what of the thread the watcher cannot read from where
 *   it runs (its heap spaces, BoundedMaps, tracked sites), which its reports then leave out;
 * - `census()`: a new census of its heap (lib/diagnose/census/census.js' shape: `pass`,
 *   `grown`, `noteScripts`, `stop`; and `release`, dropping its passes, where
 *   `censusBeforeBaseline`); `noCensus`: why none can be taken, or null;
 * - `censusBeforeBaseline`: whether its census and its snapshot both stop the thread, so
 *   that the census is taken, and its passes dropped, before the baseline (else beside it);
 * - `noSnapshots`: null, or why no snapshot can be written there (`{ why, detail }`, a
 *   report's `heapSnapshot`), though the watcher takes them;
 * - `snapshotStore(options, { emit, clock })`: its snapshot store (lib/capture/snapshots.js);
 * - `writeSnapshot(store, reason, job)`: writes one snapshot into `store` (`job`: `heapUsed`,
 *   `predicted`, `maxPauseMs`, `followUp`, `keep`, `onWrite`, `aboutToDie`); resolves with
 *   the store's result, its `writer` (`'in-process'`, `'child'` or `'worker'`) and, once
 *   written, `liveHeapBytes`;
 * - `sitesSampling(options, clock)`: `{ profiles, sampler }` of its allocation-site ranking
 *   (lib/sites/sites.js' SiteRanking).
 */
const { threadId } = require('node:worker_threads')
const { SiteProfiler, inProcessSampler } = require('../sites/profiler')
const { WorkerCensus } = require('./worker-census')

/** How long a worker may take to answer a sampling call: it answers once a snapshot it writes, or its task, is done. */
const PROFILE_TIMEOUT_MS = 60_000

/** A worker's snapshot deadline: this many times its predicted pause, SNAPSHOT_MIN_TIMEOUT_MS at least (a busy worker finishes its task first). */
const SNAPSHOT_TIMEOUT_PAUSES = 10
const SNAPSHOT_MIN_TIMEOUT_MS = 60_000

/** What of a worker watched from the main thread its reports leave out, and why. */
const WORKER_UNREAD = Object.freeze({
  what: "the worker's V8 heap spaces, named BoundedMaps and tracked listener, timer and promise sites",
  why: "read in the thread that holds them; this worker runs no watcher of its own, and the main thread reads only its heap's size",
})

/**
 * The watcher's own thread: its census walks this heap in slices (census.js), its snapshots
 * are written by a forked child where one fits, else in-process, and its sites are sampled by
 * an in-process inspector session, their profiles kept in `dir`.
 * @param {import('../shared/clock').Clock} clock
 */
function watcherThreadTarget(clock) {
  return Object.freeze({
    thread: null,
    threadId,
    watcherThread: true,
    unread: null,
    census: () => {
      // Loaded with the first diagnosis: most processes never take a census.
      const { Census } = require('../diagnose/census/census')
      return new Census({}, clock)
    },
    noCensus: null,
    censusBeforeBaseline: false,
    noSnapshots: null,
    snapshotStore: (options, parts) => require('../capture/snapshots').watcherSnapshotStore(options, parts),
    writeSnapshot: (store, reason, job) => store.capture(reason, job),
    sitesSampling: ({ dir, maxDiskBytes, maxSnapshots, sitesSamplingBytes }) => ({
      profiles: heapProfiles({ dir, maxDiskBytes, maxSnapshots, sitesSamplingBytes, clock }),
      sampler: inProcessSampler(clock),
    }),
  })
}

/**
 * A worker thread watched from the main thread, through the inspector (threads.js): its
 * census and its snapshots are evaluated in the worker, which stops for them while the main
 * thread does not (`v8.writeHeapSnapshot()` there: `worker.getHeapSnapshot()` would have the
 * main thread serialize it, measured stopping it for 0.2-1 s on a 40-80 MB worker heap); its
 * sites are sampled by V8's profiler through the inspector, which runs no JavaScript there;
 * its profiles are not written.
 * @param {object} worker
 * @param {{ threadId: number, name: string | null, script: string | null, pool: string | null, watchedFrom: 'main' }} worker.thread who it is.
 * @param {((expression: string, timeoutMs: number) => Promise<object>) | null} worker.evaluate `Runtime.evaluate` there, by value; null where none may run (`noEvaluation` says why).
 * @param {string | null} worker.noEvaluation
 * @param {(method: string, params: object, timeoutMs?: number) => Promise<object>} worker.request any other inspector call to it.
 * @param {() => Promise<{ usedSize: number, totalSize: number }>} worker.usage its heap, as `Runtime.getHeapUsage` gives it.
 * @param {(() => object) | null} worker.snapshotStore its snapshot store's maker (null without a dir).
 */
function watchedWorkerTarget({ thread, evaluate, noEvaluation, request, usage, snapshotStore }) {
  const noSnapshots = snapshotStore === null ? { why: 'off', detail: null } : evaluate === null ? { why: 'unsafe-in-worker', detail: noEvaluation } : null
  return Object.freeze({
    thread,
    threadId: thread.threadId,
    watcherThread: false,
    unread: WORKER_UNREAD,
    census: () => new WorkerCensus(evaluate),
    noCensus: evaluate === null ? noEvaluation : null,
    censusBeforeBaseline: true,
    noSnapshots,
    snapshotStore: () => snapshotStore(),
    writeSnapshot: async (store, reason, { heapUsed, predicted, followUp, keep, onWrite }) => {
      let liveHeapBytes = heapUsed
      const write = async (file) => {
        onWrite()
        const timeoutMs = Math.max(SNAPSHOT_MIN_TIMEOUT_MS, SNAPSHOT_TIMEOUT_PAUSES * predicted.pauseMs)
        liveHeapBytes = (await evaluate(snapshotExpression(file), timeoutMs))?.result?.value ?? heapUsed
      }
      const result = await store.captureThread(reason, { threadId: thread.threadId, heapUsed, predicted, followUp, keep, write })
      return 'skipped' in result ? result : { ...result, writer: 'worker', liveHeapBytes }
    },
    sitesSampling: (options, clock) => ({
      profiles: heapProfiles({ ...options, dir: undefined, clock }),
      sampler: workerSampler(request, usage, thread.pool, clock),
    }),
  })
}

/**
 * The sampling profiles of a site ranking (lib/sites/heap-profiles.js), loaded with the first
 * heap leak: a service that never leaks never loads the profiles' writers.
 */
function heapProfiles(options) {
  const { HeapProfiles } = require('../sites/heap-profiles')
  return new HeapProfiles(options)
}

/**
 * The expression that has the worker write its heap snapshot into `file` (created 0600
 * already: V8 writes into it as it is), and give the live heap it held (V8 collects all
 * garbage first).
 */
function snapshotExpression(file) {
  return `(() => {
    const v8 = process.getBuiltinModule('node:v8')
    v8.writeHeapSnapshot(${JSON.stringify(file)})
    return v8.getHeapStatistics().used_heap_size
  })()`
}

/**
 * A SiteRanking's sampler of a worker's heap, over `request` (an inspector call to the
 * worker; it may be writing a snapshot, or busy with a task, first: PROFILE_TIMEOUT_MS). A
 * profile counts a sampled object as live until a GC finds it dead, and no GC can be asked of
 * a blocked worker (the inspector's `HeapProfiler.collectGarbage` waits for its event loop,
 * which piscina never gives back): each profile is read once the worker's own next GC shrank
 * its heap (`usage()` read every GC_POLL_MS), or half a window on. Read sooner, a pool's
 * per-task garbage outranks the leak (piscina's `onMessage` 2.1 MB against the task module's
 * 1.6 MB, measured); the pool's own sites with no app frame rank after the worker's code
 * (`runtime`, see `growingSites`), for the profiles where it still does.
 */
function workerSampler(request, usage, pool, clock) {
  const send = (method, params) => request(method, params, PROFILE_TIMEOUT_MS)
  const afterFullGc = async (profiler, windowMs) => {
    await afterWorkerGc(usage, windowMs / 2)
    return profiler.profile()
  }
  return { profiler: (samplingBytes) => new SiteProfiler(samplingBytes, async () => send, clock), afterFullGc, runtime: pool }
}

/** How often a worker's heap is read while a profile waits for its next GC. */
const GC_POLL_MS = 100

/**
 * Resolves once the worker's used heap fell between two readings (a GC ran there), or after
 * `maxWaitMs` (a timer, as forced-gc.js' `afterNextFullGc` waits: no clock is read), or at
 * once when the worker does not answer (its profile is read all the same).
 */
async function afterWorkerGc(usage, maxWaitMs) {
  let waited = false
  const timer = setTimeout(() => (waited = true), maxWaitMs).unref()
  try {
    let last = (await usage()).usedSize
    while (!waited) {
      await new Promise((resolve) => setTimeout(resolve, GC_POLL_MS).unref())
      const now = (await usage()).usedSize
      if (now < last) return
      last = now
    }
  } catch {
    // Busy past the timeout, or exiting: the profile says so, if anything.
  } finally {
    clearTimeout(timer)
  }
}

module.exports = { watcherThreadTarget, watchedWorkerTarget }

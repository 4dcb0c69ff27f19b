'use strict'

/**
 * One worker thread watched from the main thread (threads.js): its heap read each interval
 * by the inspector (`Runtime.getHeapUsage`, no JavaScript run there), its floors judged by a
 * detector of its own (the same Rust statistics as the main thread's, on a thread of their
 * own), and its leaks answered by a leak response of its own (leak-response.js), the same
 * path from a leak to its evidence as the main thread's, with the worker as its target
 * (leak-targets.js): its census and its snapshots taken in the worker, which stops for them
 * while the main thread does not, its allocation sites sampled through the inspector.
 *
 * A floor is the heap after a full GC, and the main thread sees none of a worker's. Its floor
 * here is the lowest of its last FLOOR_READINGS readings: V8's own GCs run as the worker
 * allocates, so a worker that keeps what it allocates has its lowest readings rise, while a
 * worker at rest holds a steady heap. No GC is forced in a worker: forced from the main
 * thread amid a pool's workers starting and ending (piscina's idle timeout), they were
 * measured leaving a task of the pool unanswered.
 */
const { newNativeMonitor } = require('./native-monitor')
const { LeakResponse } = require('./leak-response')
const { watchedWorkerTarget } = require('./leak-targets')
const { sampleFields } = require('./sample-event')

/** The floor is the lowest of this many readings, one per interval. */
const FLOOR_READINGS = 3
/** A worker's own watcher counts as running while it said so this many intervals ago at most. */
const SELF_WATCH_INTERVALS = 3

class ThreadWatch {
  #options
  #info
  #emit
  #usage
  #ownWatcher
  #heapLimit
  #clock
  #target // the worker as a leak target (leak-targets.js)
  #processMonitor // the watcher's monitor, told when the worker's snapshots move the process' native memory
  #response = null // the worker's leak response, made with its first leak
  #monitor = null // the detector, made with the first floor judged here
  #floor = null // { time, bytes } of the newest floor
  #recent = [] // the newest readings' heaps, FLOOR_READINGS at most
  #reading = null // the newest reading
  #watchedFrom = 'main'
  #stopped = false

  /**
   * @param {object} options the watcher's settings.
   * @param {{ threadId: number, name: string | null, script: string | null, pool: string | null }} info who the worker is.
   * @param {object} parts `emit`, `clock`, `monitor` (threads.js); `snapshots()` makes the worker's
   *   snapshot store (null without a dir); `usage()`, the worker's heap as
   *   the inspector's `Runtime.getHeapUsage` gives it (no JavaScript runs in the worker for it);
   *   `evaluate(expression, timeoutMs)` in the worker, for its snapshots and census, or null
   *   where none may run there (`noEvaluation` says why: threads.js); `request(method,
   *   params, timeoutMs?)`, any other inspector call to the worker (its allocation sampling); `ownWatcher()`, what
   *   the worker's own watcher last said (`{ time, heapFloor, leaking }`, null if never); `heapLimit`, the old
   *   generation's limit where the worker's `resourceLimits` set it, else null.
   */
  constructor(options, info, { emit, snapshots, clock, monitor, evaluate, noEvaluation = null, request, usage, ownWatcher, heapLimit }) {
    this.#usage = usage
    this.#ownWatcher = ownWatcher
    this.#heapLimit = heapLimit
    this.#options = options
    this.#info = info
    this.#processMonitor = monitor
    this.#clock = clock
    this.#emit = (type, fields) => emit(type, { threadId: info.threadId, thread: this.#thread(), ...fields })
    // Its reports say it judged here, by the main thread.
    const thread = { ...info, watchedFrom: /** @type {'main'} */ ('main') }
    this.#target = watchedWorkerTarget({ thread, evaluate, noEvaluation, request, usage, snapshotStore: snapshots })
  }

  /** The worker's thread id. */
  get threadId() {
    return this.#info.threadId
  }

  /** The worker's heap, physical bytes, at the newest reading (0 before it). */
  get physicalBytes() {
    return this.#reading?.physical ?? 0
  }

  /** What status() lists of this worker: from its own watcher where it watches itself. */
  status() {
    const heapUsed = this.#reading?.used ?? null
    if (this.#watchedFrom === 'self') {
      const own = this.#ownWatcher()
      return { ...this.#thread(), heapUsed, floorBytes: own?.heapFloor ?? null, leaking: own?.leaking ?? false }
    }
    const trend = this.#monitor?.trends().find((t) => t.kind === 'heap') ?? null
    return { ...this.#thread(), heapUsed, floorBytes: this.#floor?.bytes ?? null, leaking: trend?.leaking ?? false }
  }

  /** The worker exited, or the watcher stopped: its detector stops; a pair under way ends. */
  stop() {
    this.#stopped = true
    this.#response?.stop()
    this.#monitor?.stop()
  }

  /** One interval: reads the worker, judges its floor. */
  async read() {
    // While the worker writes its snapshot, it answers nothing.
    if (this.#stopped || this.#response?.snapshotState().writing) return
    let reading
    try {
      const usage = await this.#usage()
      reading = { used: usage.usedSize, physical: usage.totalSize }
    } catch {
      return // exiting, or busy past the timeout: the next interval asks again
    }
    if (this.#stopped || !(reading.used > 0)) return
    this.#reading = reading
    const now = this.#clock.now()
    const own = this.#ownWatcher()
    this.#watchedFrom = own !== null && now - own.time <= SELF_WATCH_INTERVALS * this.#options.intervalMs ? 'self' : 'main'
    if (this.#watchedFrom === 'self') return
    this.#recent.push(reading.used)
    if (this.#recent.length > FLOOR_READINGS) this.#recent.shift()
    if (this.#recent.length < FLOOR_READINGS) return
    this.#floor = { time: now, bytes: Math.min(...this.#recent) }
    this.#judge(now)
    // The pair's follow-up, once due (lib/capture/capture.js' rule, as the main thread's).
    this.#response?.onLevels({ heap: this.#floor.bytes, external: null, native: null, nativeAt: null }, false)
  }

  /** Who the worker is, as events carry it. */
  #thread() {
    return { ...this.#info, watchedFrom: this.#watchedFrom }
  }

  /** A floor: to the detector, and emitted as the worker's `sample`. */
  #judge(time) {
    this.#monitor ??= newNativeMonitor(this.#options, { startedAt: time, warmupEndsWhenServing: false, rssThreshold: Infinity }, (event) => this.#onDetector(event))
    const heap = this.#floor.bytes
    this.#monitor.recordFloor('heap', time, heap, this.#heapLimit, false, null)
    this.#emit('sample', sampleFields({ heapUsed: heap, heapLimit: this.#heapLimit }))
  }

  /** The detector's verdict: a heap leak in this worker is emitted, then answered as the main thread's are. */
  #onDetector(event) {
    if (this.#stopped || event.type !== 'leak' || event.kind !== 'heap') return
    const { type, ...fields } = event
    const leak = this.#emit(type, fields)
    this.#response ??= new LeakResponse(this.#options, { target: this.#target, monitor: this.#processMonitor, emit: this.#emit, clock: this.#clock })
    // On the next turn, as the detector's callback returns.
    setImmediate(() => this.#response.onLeak(leak))
  }
}

module.exports = { ThreadWatch }

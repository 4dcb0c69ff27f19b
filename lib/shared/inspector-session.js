'use strict'

/**
 * The one owner of inspector calls: a session's connection, a call's timeout, its errors, and
 * the calls still waiting when the session closes.
 *
 * - `CallTable`: calls by id over any transport (this thread's session, a worker's messages, a
 *   WebSocket to another process, lib/attach/inspector.js): each waits with a timer, and is
 *   settled by its reply, its timeout or the transport's end, whichever comes first.
 * - `InspectorSession`: this thread's own session (`node:inspector`), for the allocation sites'
 *   sampling (lib/sites/profiler.js) and the census' reads (lib/diagnose/census/inspector-view.js);
 *   from the main thread, also the calls to its workers over the `NodeWorker` domain
 *   (lib/watch/threads.js).
 *
 * `node:inspector` is loaded with the first session, not with this module: it adds to the RSS of
 * every process that loads it (docs/benchmarks/detect.md, "watch(): cost on a real http service").
 */
const errors = require('./errors')

/** An error of an inspector call, with the code INSPECTOR_CALL. */
const callFailed = (message) => errors.codedError(Error, errors.CODES.INSPECTOR_CALL, message)

/**
 * Calls waiting for their replies, by id. Timers are unref'd unless `unref` is false: a call
 * never keeps the process alive on its own (its transport does, while it is open).
 */
class CallTable {
  #pending = new Map() // id -> { resolve, reject, timer, key }
  #nextId = 1
  #timedOut
  #refused
  #unref

  /**
   * @param {object} [how]
   * @param {(method: string, timeoutMs: number) => Error} [how.timedOut] the error of a call
   *   not answered within its timeout.
   * @param {(error: { message?: string }) => Error} [how.refused] the error of a call answered
   *   with an error (the protocol's `error` member, or the transport's Error).
   * @param {boolean} [how.unref] whether a call's timer lets the process exit (true).
   */
  constructor({ timedOut = (method, timeoutMs) => callFailed(`the inspector did not answer ${method} within ${timeoutMs} ms`), refused = (error) => callFailed(error.message ?? 'the inspector refused the call'), unref = true } = {}) {
    this.#timedOut = timedOut
    this.#refused = refused
    this.#unref = unref
  }

  /** Calls waiting. */
  get size() {
    return this.#pending.size
  }

  /**
   * Sends a call: `send(id)` transmits it (and may settle it at once, as an in-process session
   * does; what it throws settles it as refused). Resolves with the reply's result; rejects with its error, after `timeoutMs` (none when
   * undefined), or when `failAll` reaches it. `key` groups calls for `failAll` (a worker's id).
   * @param {string} method
   * @param {number | undefined} timeoutMs
   * @param {(id: number) => void} send
   * @param {unknown} [key]
   * @returns {Promise<any>}
   */
  call(method, timeoutMs, send, key = null) {
    const id = this.#nextId++
    return new Promise((resolve, reject) => {
      let timer = null
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          this.#pending.delete(id)
          reject(this.#timedOut(method, timeoutMs))
        }, timeoutMs)
        if (this.#unref) timer.unref()
      }
      this.#pending.set(id, { resolve, reject, timer, key })
      try {
        send(id)
      } catch (err) {
        this.settle(id, { error: err })
      }
    })
  }

  /**
   * Settles call `id` with its reply, `{ result }` or `{ error }` (the protocol's shape); a
   * reply to no call waiting (timed out, failed) is dropped. Returns whether a call waited.
   */
  settle(id, reply) {
    const call = this.#pending.get(id)
    if (call === undefined) return false
    this.#pending.delete(id)
    if (call.timer !== null) clearTimeout(call.timer)
    if (reply.error) call.reject(this.#refused(reply.error))
    else call.resolve(reply.result)
    return true
  }

  /** Rejects with `err` every call waiting, or only those of `key` when one is given. */
  failAll(err, key = undefined) {
    for (const [id, call] of this.#pending) {
      if (key !== undefined && call.key !== key) continue
      this.#pending.delete(id)
      if (call.timer !== null) clearTimeout(call.timer)
      call.reject(err)
    }
  }
}

/**
 * This thread's inspector session (`node:inspector`'s `Session`), connected by `connect()`.
 * In-process calls answer as they are posted; a timeout is for the calls that do not (a
 * worker's, or one a busy inspector delays). A connected in-process session does not keep the
 * process alive.
 */
class InspectorSession {
  #session
  #calls = new CallTable()
  #workers = null // the calls to workers, once the first is made
  #closed = false

  /** @param {import('node:inspector').Session} session connected */
  constructor(session) {
    this.#session = session
  }

  /** A new session of this thread, connected; throws Node's error where the inspector is unavailable. */
  static connect() {
    const inspector = require('node:inspector')
    const session = new inspector.Session()
    session.connect()
    return new InspectorSession(session)
  }

  /**
   * Posts `method`: resolves with its result, rejects with its error (`INSPECTOR_CALL`), after
   * `timeoutMs` when one is given, or when the session is disconnected.
   * @returns {Promise<any>}
   */
  post(method, params = {}, timeoutMs = undefined) {
    if (this.#closed) return Promise.reject(callFailed(`the inspector session is closed: ${method} not sent`))
    return this.#calls.call(method, timeoutMs, (id) => {
      this.#session.post(method, params, (err, result) => this.#calls.settle(id, err ? { error: err } : { result }))
    })
  }

  /**
   * Posts `method` and returns its result at once (an in-process session answers before `post`
   * returns); throws its error, or an `INSPECTOR_CALL` error when it did not answer so. No call
   * waits: nothing for `disconnect()` to fail.
   */
  postSync(method, params = {}) {
    let answer
    let failure
    this.#session.post(method, params, (err, result) => {
      failure = err
      answer = result
    })
    if (failure) throw failure
    if (answer === undefined) throw callFailed(`the inspector did not answer ${method} synchronously`)
    return answer
  }

  /** Calls `listener({ method, params })` for each of the session's events `event`. */
  on(event, listener) {
    this.#session.on(event, listener)
  }

  /** Stops calling `listener` for `event`. */
  off(event, listener) {
    this.#session.off(event, listener)
  }

  /**
   * Sends `method` to the worker of inspector session `sessionId` (`NodeWorker.attachedToWorker`'s;
   * the caller enables the `NodeWorker` domain) over `NodeWorker.sendMessageToWorker`: resolves
   * with its result; rejects with its error, after `timeoutMs`, when `failWorkerCalls(sessionId)`
   * is called (the worker exited), or when the session is disconnected.
   * @param {string} sessionId
   * @param {string} method
   * @param {object} params
   * @param {number} timeoutMs
   * @returns {Promise<any>}
   */
  postToWorker(sessionId, method, params, timeoutMs) {
    if (this.#closed) return Promise.reject(callFailed(`the inspector session is closed: ${method} not sent`))
    if (this.#workers === null) {
      this.#workers = new CallTable({ timedOut: (m, ms) => callFailed(`the worker did not answer ${m} within ${ms} ms`) })
      this.#session.on('NodeWorker.receivedMessageFromWorker', ({ params: { message } }) => this.#fromWorker(message))
    }
    const workers = this.#workers
    return workers.call(
      method,
      timeoutMs,
      (id) => {
        const message = JSON.stringify({ id, method, params })
        this.#session.post('NodeWorker.sendMessageToWorker', { sessionId, message }, (err) => {
          if (err) workers.settle(id, { error: err })
        })
      },
      sessionId,
    )
  }

  /** A worker's message: the answer to a call (events are not asked for). */
  #fromWorker(message) {
    let parsed
    try {
      parsed = JSON.parse(message)
    } catch {
      return
    }
    if (typeof parsed.id === 'number') this.#workers?.settle(parsed.id, parsed)
  }

  /** Rejects with `err` the calls waiting for the worker of `sessionId` (it exited). */
  failWorkerCalls(sessionId, err) {
    this.#workers?.failAll(err, sessionId)
  }

  /**
   * Disconnects, once: every call still waiting is rejected with `err` (an `INSPECTOR_CALL`
   * error saying the session closed, unless given), and later calls at once.
   */
  disconnect(err = callFailed('the inspector session closed')) {
    if (this.#closed) return
    this.#closed = true
    this.#calls.failAll(err)
    this.#workers?.failAll(err)
    try {
      this.#session.disconnect()
    } catch {
      // Already gone with the process.
    }
  }
}

module.exports = { CallTable, InspectorSession, callFailed }

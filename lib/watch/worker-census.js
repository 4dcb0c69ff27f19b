'use strict'

/**
 * The census of a worker watched from the main thread, as a diagnosis takes it
 * (lib/diagnose/diagnosis.js, in the shape of lib/diagnose/census/census.js): each pass, and
 * each comparison of two, is one evaluation in the worker, of lib/diagnose/census/in-worker.js,
 * which the worker loads with its own `require` and runs in one go. The worker stops for it
 * (for a pass, about as long as the main thread's census takes over its slices); the main
 * thread does not. What the worker holds is walked there and named there, by its own
 * inspector session: only the holders come back, by value.
 */
const path = require('node:path')

/** The module the worker loads. */
const IN_WORKER = path.join(__dirname, '..', 'diagnose', 'census', 'in-worker.js')
/** How long a worker may take to answer: it answers once its task (or a snapshot it writes) is done. */
const ANSWER_TIMEOUT_MS = 60_000

class WorkerCensus {
  #evaluate
  #stopped = false

  /** @param {(expression: string, timeoutMs: number) => Promise<object>} evaluate `Runtime.evaluate` in the worker, by value. */
  constructor(evaluate) {
    this.#evaluate = evaluate
  }

  /** A pass over what the worker can reach: `{ number, time, durationMs, complete, notReached, cost }`, or null when stopped. */
  async pass() {
    if (this.#stopped) return null
    return this.#call('pass', [])
  }

  /** The worker's collections that grew from pass `before` to pass `after` (census.js' `grown`). */
  async grown(before, after, options) {
    return this.#call('grown', [before.number, after.number, options])
  }

  /** Script URLs of a profile: the worker names its holders' scripts itself. */
  noteScripts() {}

  /** Has the worker drop the passes it keeps and close its census' session; one gone or busy is left as it is. */
  async release() {
    await this.#call('release', []).catch(() => {})
  }

  /** No more passes; the worker's are released (if it still answers). */
  stop() {
    if (this.#stopped) return
    this.#stopped = true
    this.release()
  }

  /** Calls `method` of in-worker.js in the worker; rejects with the worker's error, if any. */
  async #call(method, args) {
    const file = JSON.stringify(IN_WORKER)
    const expression = `process.getBuiltinModule('node:module').createRequire(${file})(${file}).${method}(...${JSON.stringify(args)})`
    const answer = await this.#evaluate(expression, ANSWER_TIMEOUT_MS)
    if (answer?.exceptionDetails !== undefined) {
      const thrown = answer.exceptionDetails.exception?.description ?? answer.exceptionDetails.text
      throw new Error(`the worker's census failed: ${String(thrown).split('\n')[0]}`)
    }
    return answer?.result?.value ?? null
  }
}

module.exports = { WorkerCensus }

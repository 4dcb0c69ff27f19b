'use strict'

/**
 * A pair's diff in a child process of its own, at the lowest CPU priority: the analyzer's
 * memory (0.57-0.74 of the files' size, docs/benchmarks/diagnose.md) is the child's, not the
 * service's, and its cores go to the service first (docs/diagnose.md, "The pair's diff runs
 * in a child").
 *
 * The child (diff-process-child.js) runs the same native diff as `diffSnapshots()` and sends
 * back its `{ result } | { error }`; the result becomes `diffSnapshots()`'s here (positions in
 * the source's words, from this process' source maps), an analyzer's error the same coded
 * error. The child starts clean: none of this process' `execArgv` (`-r leakproof/register`,
 * `--max-old-space-size`, `--inspect`), no `NODE_OPTIONS`, no `LEAKPROOF_*` variable but the
 * addon's path, so that it never starts a watcher of its own. It keeps nothing alive: an
 * unref'd handle whose process exits when this one does (its channel closes), or when killed.
 */
const childProcess = require('node:child_process')
const path = require('node:path')
const { diffRequest, diffResult } = require('./analyze')
const { CODES, codedError } = require('../shared/errors')

/** The child's module. */
const CHILD_MAIN = path.join(__dirname, 'diff-process-child.js')

/** The one `LEAKPROOF_*` variable the child keeps: where the addon is. */
const KEPT_VARIABLES = new Set(['LEAKPROOF_NATIVE_PATH'])

/**
 * `env` without what would change how the child's Node starts or start a watcher in it.
 * @param {NodeJS.ProcessEnv} env
 * @returns {NodeJS.ProcessEnv}
 */
function childEnv(env) {
  /** @type {NodeJS.ProcessEnv} */
  const clean = {}
  for (const [name, value] of Object.entries(env)) {
    if (name === 'NODE_OPTIONS' || (name.startsWith('LEAKPROOF_') && !KEPT_VARIABLES.has(name))) continue
    clean[name] = value
  }
  return clean
}

/** A running diff: its child's `pid`, its `result` (a promise), `kill()` to end it. */
class DiffProcess {
  #child
  #killed = false

  /** @param {import('node:child_process').ChildProcess} child @param {Promise<any>} result */
  constructor(child, result) {
    this.#child = child
    this.result = result
  }

  /** The child's process id. */
  get pid() {
    return this.#child.pid
  }

  /** Ends the child (SIGKILL): `result` rejects with `ERR_LEAKPROOF_DIFF_PROCESS`, `killed` true. */
  kill() {
    if (this.#killed || this.#child.exitCode !== null || this.#child.signalCode !== null) return
    this.#killed = true
    this.#child.kill('SIGKILL')
  }

  /** Whether `kill()` ended it. */
  get killed() {
    return this.#killed
  }
}

/**
 * Diffs `before` and `after` as `diffSnapshots(before, after, options)` does (the same checks,
 * result and coded errors; no `onProgress`), in a child process at the lowest priority.
 * The child's own end before its answer (a crash, the OOM killer, a SIGKILL, `kill()`)
 * rejects `result` with `ERR_LEAKPROOF_DIFF_PROCESS` (`signal`, `exitCode`, `killed`).
 * @returns {DiffProcess}
 */
function diffInChild(before, after, options = {}) {
  const { files, names, read } = diffRequest('diffInChild()', before, after, options)
  if (read.onProgress !== undefined) throw codedError(TypeError, CODES.INVALID_OPTION, 'diffInChild(): options.onProgress is not supported in a child')
  const child = childProcess.fork(CHILD_MAIN, [], {
    execArgv: [],
    env: childEnv(process.env),
    stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
    serialization: 'advanced',
  })
  let diff
  const outcome = new Promise((resolve, reject) => {
    let answer = null
    child.on('message', (message) => (answer = message))
    child.on('error', (err) => reject(codedError(Error, CODES.DIFF_PROCESS, `diffInChild(): the diff's child process failed: ${err.message}`)))
    // 'close' comes after the channel's last message.
    child.on('close', (exitCode, signal) => {
      if (answer?.outcome !== undefined) return resolve(answer.outcome)
      if (answer?.thrown !== undefined) return reject(codedError(Error, answer.thrown.code ?? CODES.DIFF_PROCESS, answer.thrown.message))
      reject(childEnded(child.pid, exitCode, signal, diff.killed))
    })
  })
  child.unref()
  child.channel?.unref()
  child.send({ files, top: read.top, match: read.match })
  diff = new DiffProcess(child, outcome.then((o) => diffResult(o, names)))
  return diff
}

/** The error of a child that ended before its answer. */
function childEnded(pid, exitCode, signal, killed) {
  const how = signal === null ? `with exit code ${exitCode}` : `by ${signal}`
  const why = killed ? ': stopped' : signal === 'SIGKILL' ? ' (the OOM killer, or killed by hand)' : ''
  const err = codedError(Error, CODES.DIFF_PROCESS, `diffInChild(): the diff's child process ${pid} ended ${how} before its result${why}`)
  Object.assign(err, { exitCode, signal, killed })
  return err
}

module.exports = { diffInChild, childEnv }

'use strict'

/**
 * `leakproof attach PID`: leakproof loaded into a Node process started without it, and the
 * commands sent to it afterwards.
 *
 * The attach: /proc checks (target.js) before anything is sent; SIGUSR1 opens the inspector
 * on 127.0.0.1; one `Runtime.evaluate` loads this copy's agent.js into the main thread with
 * the command-line API's `require` (there in CommonJS and ES module services alike), starts
 * it, and schedules `inspector.close()`; the command disconnects and waits until the port
 * refuses connections. The agent then answers on its control socket (control.js).
 */
const path = require('node:path')
const errors = require('../shared/errors')
const { checkTarget, isAlive } = require('./target')
const { openInspector, WebSocketSession, waitClosed } = require('./inspector')
const { sendCommand } = require('./control')

/** The agent this copy loads into the process. */
const AGENT = path.join(__dirname, 'agent.js')
/** How long the inspector's connection and the agent's start may take. */
const EVALUATE_TIMEOUT_MS = 15_000
/** How long the port may take to refuse connections once the agent has started. */
const CLOSE_TIMEOUT_MS = 5000
/** The oldest Node this build runs on. */
const OLDEST_NODE = 20

/**
 * The code evaluated in the process: checks its Node, loads the agent and starts it with
 * `request`. Resolves with `{ started }`, or `{ error: { code, message } }`.
 */
function agentLoader(request) {
  const agent = JSON.stringify(AGENT)
  return `(async () => {
  // Pending when the evaluation ends, whatever follows: Node 22 answers an awaited promise
  // already settled by then with "Promise was collected" while the main thread is busy.
  await new Promise((resolve) => setImmediate(resolve))
  const load = typeof require === 'function' ? require : process.getBuiltinModule('module').createRequire(${agent})
  if (Number(process.versions.node.split('.')[0]) < ${OLDEST_NODE}) {
    return { error: { code: ${JSON.stringify(errors.CODES.ATTACH_UNSUPPORTED)}, message: 'attach: process ' + process.pid + ' runs Node ' + process.version + '; this leakproof needs Node ${OLDEST_NODE} or later' } }
  }
  let agent
  try {
    agent = load(${agent})
  } catch (err) {
    return { error: { code: ${JSON.stringify(errors.CODES.ATTACH_UNSUPPORTED)}, message: 'attach: process ' + process.pid + ' cannot load leakproof from ' + ${agent} + ': ' + err.message } }
  }
  try {
    return { started: await agent.start(${JSON.stringify(request)}) }
  } catch (err) {
    return { error: { code: err.code || ${JSON.stringify(errors.CODES.ATTACH_FAILED)}, message: err.message } }
  }
})()`
}

/**
 * Closes the inspector from inside, once this call is answered: `inspector.close()` ends the
 * session itself, and the command waits for that rather than closing it (WebSocketSession#close).
 * Evaluated without `awaitPromise`, so a main thread busy in a long synchronous task runs it
 * at once (V8 interrupts it for the inspector).
 */
const CLOSE_INSPECTOR = `setImmediate(() => (typeof require === 'function' ? require : process.getBuiltinModule)('node:inspector').close()), undefined`
/** How long the inspector may take to end the session once told to close. */
const SESSION_END_MS = 2000

/**
 * Attaches to process `pid`: starts the agent with `{ dir, env, censusOnly }` (env: the
 * LEAKPROOF_* settings, checked by the caller). Resolves with `{ started, inspectorPort,
 * inspectorOpenMs, tookMs }` (`started`: the agent's account, agent.js); rejects with a coded error, the process left as it was
 * (whatever started in it stopped, its inspector closed) but for `ATTACH_FAILED` past the
 * point where its main thread stopped answering.
 */
async function attach(pid, { dir, env, censusOnly }) {
  const began = performance.now()
  checkTarget(pid)
  const { port, openedAt } = await openInspector(pid)
  let session = null
  let outcome
  let failure = null
  try {
    session = await WebSocketSession.connect(port, EVALUATE_TIMEOUT_MS)
    const { result, exceptionDetails } = await session.call('Runtime.evaluate', { expression: agentLoader({ dir, env, censusOnly }), includeCommandLineAPI: true, awaitPromise: true, returnByValue: true }, EVALUATE_TIMEOUT_MS)
    outcome = exceptionDetails === undefined ? result.value : { error: { code: errors.CODES.ATTACH_FAILED, message: `attach: the loader threw: ${exceptionDetails.exception?.description ?? exceptionDetails.text}` } }
  } catch (err) {
    failure = err
  } finally {
    // Closed whatever happened before: the port must not stay open.
    await session?.call('Runtime.evaluate', { expression: CLOSE_INSPECTOR, includeCommandLineAPI: true }, EVALUATE_TIMEOUT_MS).catch(() => {})
    await session?.close(SESSION_END_MS)
  }
  if (failure !== null) {
    if (!isAlive(pid)) throw errors.codedError(Error, errors.CODES.ATTACH_NO_PROCESS, `attach: process ${pid} exited during the attach`)
    throw failure
  }
  const inspectorClosed = await waitClosed(port, CLOSE_TIMEOUT_MS)
  const inspectorOpenMs = Math.round(performance.now() - openedAt)
  if (outcome?.error !== undefined) throw errors.codedError(Error, outcome.error.code, outcome.error.message)
  if (!inspectorClosed) {
    await sendCommand({ pid, dir, command: 'detach', timeoutMs: CLOSE_TIMEOUT_MS }).catch(() => {})
    throw errors.codedError(Error, errors.CODES.ATTACH_FAILED, `attach: process ${pid}'s inspector was still open on port ${port} ${CLOSE_TIMEOUT_MS} ms after the attach; leakproof detached again`)
  }
  return { started: outcome.started, inspectorPort: port, inspectorOpenMs, tookMs: Math.round(performance.now() - began) }
}

module.exports = { attach, OLDEST_NODE }

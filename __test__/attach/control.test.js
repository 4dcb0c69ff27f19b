'use strict'

// The command's end of an attached process' control socket (lib/attach/control.js) while the
// agent removes that socket as it stops: every command gets an answer or a coded "not
// attached", never an internal error. CI met this once after `process_detach`: the socket was
// there when looked for and gone when its owner was checked (ENOENT from lstat). Another
// thread links and unlinks the socket as fast as it can, so the window is met many times.

const { describe, it } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')
const { once } = require('node:events')
const { Worker } = require('node:worker_threads')
const { sendCommand, socketPathFor } = require('../../lib/attach/control')

/** Links `real` to `socket` and unlinks it again, over and over, until `stop[0]` is set. */
const FLICKER = `
const fs = require('node:fs')
const { workerData: { real, socket, stop } } = require('node:worker_threads')
while (Atomics.load(stop, 0) === 0) {
  try { fs.linkSync(real, socket) } catch {}
  try { fs.unlinkSync(socket) } catch {}
}`

describe('the control socket removed while a command is sent', { skip: process.platform !== 'linux' && 'attach is Linux only' }, () => {
  it('each command is answered or refused as not attached, never an internal error', { timeout: 60_000 }, async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leakproof-control-'))
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
    const real = path.join(dir, 'agent.sock')
    const agent = net.createServer((connection) => connection.once('data', () => connection.end('{"ok":true,"result":{"attached":true}}\n')))
    agent.listen(real)
    await once(agent, 'listening')
    t.after(() => agent.close())
    const stop = new Int32Array(new SharedArrayBuffer(4))
    const flicker = new Worker(FLICKER, { eval: true, workerData: { real, socket: socketPathFor(dir, process.pid), stop } })
    flicker.unref()
    const outcomes = new Map()
    try {
      for (let i = 0; i < 2000; i++) {
        const outcome = await sendCommand({ pid: process.pid, dir, command: 'status', timeoutMs: 5000 }).then(
          (result) => (result.attached === true ? 'answered' : JSON.stringify(result)),
          (err) => err.code ?? `uncoded: ${err.message}`,
        )
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1)
      }
    } finally {
      // Stopped here, before the directory's removal: Node 26 runs the after hooks first to
      // last, and a link made meanwhile left the directory not empty.
      Atomics.store(stop, 0, 1)
      await once(flicker, 'exit')
    }
    t.diagnostic(JSON.stringify(Object.fromEntries(outcomes)))
    assert.deepEqual([...outcomes.keys()].filter((outcome) => outcome !== 'answered' && outcome !== 'ERR_LEAKPROOF_NOT_ATTACHED'), [])
    assert.ok(outcomes.get('answered') > 0 && outcomes.get('ERR_LEAKPROOF_NOT_ATTACHED') > 0, 'the socket was both there and gone')
  })
})

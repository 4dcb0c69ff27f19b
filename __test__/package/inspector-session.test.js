'use strict'

/**
 * The one owner of inspector calls (lib/shared/inspector-session.js): a call table settles each
 * call once, by its reply, its timeout or its transport's end, and lets the process exit; this
 * thread's session posts through it, and fails what waits when it disconnects.
 */
const test = require('node:test')
const assert = require('node:assert/strict')
const { execFileSync } = require('node:child_process')
const { CallTable, InspectorSession } = require('../../lib/shared/inspector-session')
const { CODES } = require('../../lib/shared/errors')

test('a call table settles a call by its reply, once, and drops a reply to no call', async () => {
  const table = new CallTable()
  const sent = []
  const answered = table.call('Runtime.evaluate', 1000, (id) => sent.push(id))
  const refused = table.call('Runtime.evaluate', 1000, (id) => sent.push(id))
  assert.equal(table.size, 2)
  assert.equal(table.settle(sent[0], { result: { value: 1 } }), true)
  assert.equal(table.settle(sent[0], { result: { value: 2 } }), false)
  table.settle(sent[1], { error: { code: -32000, message: 'no such object' } })
  assert.deepEqual(await answered, { value: 1 })
  await assert.rejects(refused, { code: CODES.INSPECTOR_CALL, message: 'no such object' })
  assert.equal(table.size, 0)
})

test("a call table's timeout rejects with its own error, and its timer does not keep the process alive", async () => {
  const table = new CallTable({ timedOut: (method, ms) => new Error(`${method} ${ms}`), unref: false })
  const call = table.call('HeapProfiler.getSamplingProfile', 20, () => {})
  await assert.rejects(call, { message: 'HeapProfiler.getSamplingProfile 20' })
  assert.equal(table.size, 0)
  // Unref'd: a process whose only work is a call waiting a minute exits at once.
  const started = performance.now()
  const script = `new (require(${JSON.stringify(require.resolve('../../lib/shared/inspector-session'))}).CallTable)().call('Runtime.evaluate', 60000, () => {})`
  execFileSync(process.execPath, ['-e', script], { timeout: 30_000 })
  assert.ok(performance.now() - started < 30_000)
})

test('failAll rejects the calls of one key, or all; what a send throws refuses its call', async () => {
  const table = new CallTable()
  const a = table.call('m', 1000, () => {}, 'worker-a')
  const b = table.call('m', 1000, () => {}, 'worker-b')
  table.failAll(new Error('the worker exited'), 'worker-a')
  await assert.rejects(a, { message: 'the worker exited' })
  assert.equal(table.size, 1)
  table.failAll(new Error('the watcher stopped'))
  await assert.rejects(b, { message: 'the watcher stopped' })
  const thrown = table.call('m', 1000, () => {
    throw new Error('not connected')
  })
  await assert.rejects(thrown, { code: CODES.INSPECTOR_CALL, message: 'not connected' })
  assert.equal(table.size, 0)
})

test("this thread's session answers post and postSync, and refuses calls once disconnected", async () => {
  const session = InspectorSession.connect()
  assert.equal((await session.post('Runtime.evaluate', { expression: '6 * 7', returnByValue: true })).result.value, 42)
  assert.equal(session.postSync('Runtime.evaluate', { expression: '"x".repeat(3)', returnByValue: true }).result.value, 'xxx')
  await assert.rejects(session.post('Runtime.noSuchMethod'), { code: CODES.INSPECTOR_CALL })
  session.disconnect()
  await assert.rejects(session.post('Runtime.evaluate', { expression: '1' }), { code: CODES.INSPECTOR_CALL, message: /session is closed/ })
})

'use strict'

// trackListeners: every emitter in the process, a real http server that leaks a listener
// per request, prototypes restored to the very same functions.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const http = require('node:http')
const { EventEmitter } = require('node:events')
const { trackListeners, trackListenersFromEnv, liveSites, listenerSites } = require('../..')
const { lineOf, nextLeaks } = require('../support/listener-helpers')

const PATCHED = {
  emitter: [EventEmitter.prototype, ['on', 'addListener', 'prependListener', 'once', 'prependOnceListener',
    'off', 'removeListener', 'removeAllListeners', 'emit', 'listeners', 'rawListeners', 'listenerCount']],
  target: [EventTarget.prototype, ['addEventListener', 'removeEventListener', 'dispatchEvent']],
}

function descriptors() {
  const out = {}
  for (const [kind, [proto, names]] of Object.entries(PATCHED)) {
    for (const name of names) out[`${kind}.${name}`] = Object.getOwnPropertyDescriptor(proto, name)
    out[`${kind}.keys`] = Reflect.ownKeys(proto)
  }
  return out
}

/** Serves 127.0.0.1 with `handler`, makes `requests` sequential requests, closes. */
async function serve(handler, requests) {
  const server = http.createServer(handler)
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address()
  const agent = new http.Agent({ keepAlive: false })
  for (let i = 0; i < requests; i++) {
    await new Promise((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, agent }, (res) => res.resume().on('end', resolve)).on('error', reject)
    })
  }
  await new Promise((resolve) => server.close(resolve))
  return server
}

test('an http server that leaks a listener per request is reported at the handler line', async () => {
  const tracker = trackListeners({ threshold: 10 })
  try {
    const config = new EventEmitter()
    config.setMaxListeners(0)
    const reports = nextLeaks(2)
    await serve((req, res) => {
      config.on('reload', () => res.getHeader('x')) // LEAK-LINE
      res.end('ok')
    }, 30)
    const leaks = await reports
    const site = new RegExp(`^${__filename}:${lineOf('LEAK-LINE')}:\\d+$`)
    for (const leak of leaks) {
      assert.equal(leak.emitter, 'EventEmitter')
      assert.equal(leak.event, 'reload')
      assert.match(leak.site, site)
    }
    assert.deepEqual(leaks.map((l) => l.count), [11, 17])
    const [top] = liveSites().listeners.filter((g) => g.event === 'reload')
    assert.match(top.site, site)
    assert.equal(top.count, 29, 'the first listener was alone: below captureFrom, no stack taken')
  } finally {
    tracker.untrack()
  }
})

test('sockets and servers are named by address', async () => {
  const tracker = trackListeners({ threshold: 3 })
  try {
    const reports = nextLeaks(1)
    let seenServer
    const server = await serve((req, res) => {
      seenServer = req.socket.server
      req.socket.server.on('listening', () => {}) // a listener per request on the server
      res.end()
    }, 4)
    const [leak] = await reports
    assert.equal(seenServer, server)
    assert.match(leak.emitter, /^Server 127\.0\.0\.1:\d+$/)
  } finally {
    tracker.untrack()
  }
})

test('untrack restores the prototypes exactly and leaves nothing of ours behind', async () => {
  const before = descriptors()
  const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout' || r === 'Immediate')
  const timersBefore = timers()
  const processEvents = process.eventNames()
  const tracker = trackListeners()
  assert.notEqual(EventEmitter.prototype.on, before['emitter.on'].value)
  assert.equal(EventEmitter.prototype.on, EventEmitter.prototype.addListener, 'aliases stay aliases')
  assert.equal(EventEmitter.prototype.on.name, 'addListener')
  assert.equal(trackListeners(), tracker, 'one tracker at a time')
  const bus = new EventEmitter()
  bus.on('x', () => {})
  bus.on('x', () => {})
  assert.equal(listenerSites(bus).length, 1, 'the first listener was alone on its event: not attributed')
  tracker.untrack()
  tracker.untrack()
  assert.deepEqual(descriptors(), before)
  assert.deepEqual(listenerSites(bus), [], 'what was tracked is forgotten')
  assert.deepEqual(liveSites().listeners, [])
  assert.deepEqual(process.eventNames(), processEvents)
  await new Promise((resolve) => setImmediate(resolve))
  assert.deepEqual(timers(), timersBefore, 'no timer of ours')
})

test('streams, once helpers and EventTargets keep working while tracked', async () => {
  const tracker = trackListeners()
  try {
    const { Readable } = require('node:stream')
    const chunks = []
    for await (const chunk of Readable.from(['a', 'b', 'c'])) chunks.push(chunk)
    assert.deepEqual(chunks, ['a', 'b', 'c'])
    const bus = new EventEmitter()
    setImmediate(() => bus.emit('ready', 42))
    assert.deepEqual(await EventEmitter.once(bus, 'ready'), [42])
    assert.equal(bus.listenerCount('ready'), 0)
    assert.deepEqual(listenerSites(bus), [])
    const controller = new AbortController()
    const target = new EventTarget()
    let seen = 0
    target.addEventListener('ping', () => seen++, { signal: controller.signal })
    target.dispatchEvent(new Event('ping'))
    controller.abort()
    target.dispatchEvent(new Event('ping'))
    assert.equal(seen, 1)
  } finally {
    tracker.untrack()
  }
})

test('LEAKPROOF_TRACK_LISTENERS turns tracking on for the preload', () => {
  assert.equal(trackListenersFromEnv({}), null)
  assert.equal(trackListenersFromEnv({ LEAKPROOF_TRACK_LISTENERS: '0' }), null)
  const tracker = trackListenersFromEnv({ LEAKPROOF_TRACK_LISTENERS: '1' })
  assert.notEqual(tracker, null)
  tracker.untrack()
})

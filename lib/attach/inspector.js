'use strict'

/**
 * The target's inspector, opened for the attach only: SIGUSR1 opens it (on 127.0.0.1, the
 * port Node chooses, found in /proc as the one that appears), one WebSocket to its main
 * thread carries `Runtime.evaluate`, and the evaluated code closes it again. The WebSocket
 * client is the protocol's small part Node's inspector needs (RFC 6455: text frames, masked
 * from the client; pings answered; fragments joined; no close frame, see `close()`), written
 * here because leakproof has no runtime dependency and Node 20 has no WebSocket client.
 */
const crypto = require('node:crypto')
const http = require('node:http')
const net = require('node:net')
const errors = require('../shared/errors')
const { CallTable } = require('../shared/inspector-session')
const { listeningPorts, isAlive } = require('./target')

/** How long the inspector's port may take to appear after SIGUSR1. */
const OPEN_TIMEOUT_MS = 5000
/** How often /proc is read meanwhile. */
const POLL_MS = 10
/** The GUID RFC 6455 appends to the key. */
const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'

const failed = (message) => errors.codedError(Error, errors.CODES.ATTACH_FAILED, `attach: ${message}`)

/** A wait. */
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Sends SIGUSR1 to `pid` and resolves with the port its inspector opened and when (ms since
 * the epoch, by `performance`'s clock). Refuses with `ATTACH_INSPECTOR_IN_USE` when the
 * inspector was open already, `ATTACH_NO_INSPECTOR` when none opened, `ATTACH_NO_PROCESS`
 * when the process died.
 */
async function openInspector(pid) {
  const before = listeningPorts(pid)
  const known = new Set(before.map(({ port }) => port))
  process.kill(pid, 'SIGUSR1')
  const deadline = performance.now() + OPEN_TIMEOUT_MS
  while (performance.now() < deadline) {
    const opened = listeningPorts(pid).find(({ port }) => !known.has(port))
    if (opened !== undefined) return { port: opened.port, openedAt: performance.now() }
    if (!isAlive(pid)) throw errors.codedError(Error, errors.CODES.ATTACH_NO_PROCESS, `attach: process ${pid} exited during the attach`)
    await sleep(POLL_MS)
  }
  for (const { port } of before) {
    if (await isInspector(port)) {
      throw errors.codedError(Error, errors.CODES.ATTACH_INSPECTOR_IN_USE, `attach: process ${pid}'s inspector is already open on port ${port} (--inspect, or a debugger): leakproof neither shares it nor closes it`)
    }
  }
  throw errors.codedError(Error, errors.CODES.ATTACH_NO_INSPECTOR, `attach: process ${pid} opened no inspector within ${OPEN_TIMEOUT_MS} ms of SIGUSR1: 127.0.0.1:9229 taken by another process (its stderr says so), or its code handles SIGUSR1 itself (process.on('SIGUSR1'), which then ran)`)
}

/** Resolves with the JSON of `GET http://127.0.0.1:<port><path>`; rejects on anything else. */
function getJson(port, path, timeoutMs = 2000) {
  return new Promise((resolve, reject) => {
    const request = http.get({ host: '127.0.0.1', port, path, timeout: timeoutMs, agent: false }, (response) => {
      let text = ''
      response.setEncoding('utf8')
      response.on('data', (chunk) => {
        text += chunk
        if (text.length > 1e6) request.destroy(new Error('too long'))
      })
      response.on('end', () => {
        try {
          resolve(JSON.parse(text))
        } catch (err) {
          reject(err)
        }
      })
    })
    request.on('timeout', () => request.destroy(new Error('timed out')))
    request.on('error', reject)
  })
}

/** Whether a Node inspector answers on 127.0.0.1:`port` (its /json/version names a Node). */
async function isInspector(port) {
  try {
    const version = await getJson(port, '/json/version', 1000)
    return typeof version?.Browser === 'string' && /node/i.test(version.Browser)
  } catch {
    return false
  }
}

/** Whether connections to 127.0.0.1:`port` are refused (the inspector closed). */
function refuses(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port })
    socket.on('connect', () => {
      socket.destroy()
      resolve(false)
    })
    socket.on('error', () => resolve(true))
  })
}

/** Resolves once 127.0.0.1:`port` refuses connections, with whether it did within `timeoutMs`. */
async function waitClosed(port, timeoutMs) {
  const deadline = performance.now() + timeoutMs
  do {
    if (await refuses(port)) return true
    await sleep(POLL_MS)
  } while (performance.now() < deadline)
  return false
}

/**
 * A Chrome DevTools Protocol session over one WebSocket to the main thread's target on
 * 127.0.0.1:`port`. `call(method, params, timeoutMs)` resolves with the result (its calls wait
 * in a CallTable, lib/shared/inspector-session.js, with `ATTACH_FAILED` errors; their timers
 * keep the command alive); `on(method, handler)` hears an event (the others are dropped).
 */
class WebSocketSession {
  #socket
  #buffer = Buffer.alloc(0)
  #fragments = []
  #calls = new CallTable({
    timedOut: (method, timeoutMs) => failed(`${method} got no answer within ${timeoutMs} ms`),
    refused: (error) => failed(`${error.message ?? 'the inspector refused the call'}`),
    unref: false,
  })
  #handlers = new Map()
  #closed = null

  /** Connects to the inspector's first target (the main thread's). */
  static async connect(port, timeoutMs) {
    const targets = await getJson(port, '/json/list', timeoutMs)
    const url = Array.isArray(targets) ? targets[0]?.webSocketDebuggerUrl : undefined
    if (typeof url !== 'string') throw failed(`the inspector on port ${port} lists no target`)
    const session = new WebSocketSession()
    await session.#open(new URL(url), timeoutMs)
    return session
  }

  /** The WebSocket handshake. */
  #open(url, timeoutMs) {
    const key = crypto.randomBytes(16).toString('base64')
    const accept = crypto.createHash('sha1').update(key + WEBSOCKET_GUID).digest('base64')
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port: Number(url.port) })
      const timer = setTimeout(() => socket.destroy(failed('the inspector did not answer the WebSocket handshake')), timeoutMs)
      let head = Buffer.alloc(0)
      const onData = (chunk) => {
        head = Buffer.concat([head, chunk])
        const end = head.indexOf('\r\n\r\n')
        if (end < 0) return
        socket.off('data', onData)
        clearTimeout(timer)
        const lines = head.subarray(0, end).toString('latin1').split('\r\n')
        const accepted = lines.some((line) => /^sec-websocket-accept:/i.test(line) && line.slice(line.indexOf(':') + 1).trim() === accept)
        if (!/^HTTP\/1\.1 101/.test(lines[0]) || !accepted) {
          socket.destroy()
          return reject(failed(`the inspector refused the WebSocket: ${lines[0]}`))
        }
        this.#socket = socket
        this.#closed = new Promise((done) => socket.on('close', done))
        socket.on('data', (data) => this.#receive(data))
        socket.on('close', () => this.#calls.failAll(failed('the inspector closed the connection')))
        this.#receive(head.subarray(end + 4))
        resolve()
      }
      socket.on('data', onData)
      socket.on('error', (err) => {
        clearTimeout(timer)
        reject(failed(`the inspector's WebSocket: ${err.message}`))
        this.#calls.failAll(failed(`the inspector's WebSocket: ${err.message}`))
      })
      socket.on('connect', () => {
        socket.write(`GET ${url.pathname} HTTP/1.1\r\nHost: 127.0.0.1:${url.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`)
      })
    })
  }

  /** Calls `handler(params)` for each event `method` (`HeapProfiler.addHeapSnapshotChunk`, say). */
  on(method, handler) {
    this.#handlers.set(method, handler)
  }

  /** Sends `method` with `params`; resolves with its result, rejects with its error or after `timeoutMs`. */
  call(method, params, timeoutMs) {
    return this.#calls.call(method, timeoutMs, (id) => this.#send(0x1, Buffer.from(JSON.stringify({ id, method, params }))))
  }

  /**
   * Waits up to `waitMs` for the inspector to close the connection (it does once the target's
   * `inspector.close()` runs), then drops whatever is left of it, without a close frame: a
   * close frame that meets the target's own close can make its inspector thread crash the
   * process (SIGSEGV in WsHandler::OnCloseFrameWritten, on Node 20 to 26), and a connection
   * the server closes, or a bare TCP close, cannot (measured: 4 to 10 crashes in 15 attaches
   * with a close frame, none in 60 without).
   */
  async close(waitMs) {
    if (this.#socket === undefined || this.#socket.destroyed) return
    let timer
    await Promise.race([this.#closed, new Promise((resolve) => (timer = setTimeout(resolve, waitMs)))])
    clearTimeout(timer)
    this.#socket.destroy()
  }

  /** Writes one masked frame of `opcode` (a client's frames are masked: RFC 6455, 5.3). */
  #send(opcode, payload) {
    if (this.#socket.destroyed) return
    const length = payload.length
    const header = length < 126 ? Buffer.from([0x80 | opcode, 0x80 | length]) : length < 65536 ? Buffer.alloc(4) : Buffer.alloc(10)
    if (length >= 126 && length < 65536) {
      header[0] = 0x80 | opcode
      header[1] = 0x80 | 126
      header.writeUInt16BE(length, 2)
    } else if (length >= 65536) {
      header[0] = 0x80 | opcode
      header[1] = 0x80 | 127
      header.writeBigUInt64BE(BigInt(length), 2)
    }
    const mask = crypto.randomBytes(4)
    const masked = Buffer.allocUnsafe(length)
    for (let i = 0; i < length; i++) masked[i] = payload[i] ^ mask[i & 3]
    this.#socket.write(Buffer.concat([header, mask, masked]))
  }

  /** Parses the server's frames (unmasked) from what arrived, joining fragments. */
  #receive(data) {
    this.#buffer = Buffer.concat([this.#buffer, data])
    for (;;) {
      const frame = parseFrame(this.#buffer)
      if (frame === null) return
      this.#buffer = this.#buffer.subarray(frame.size)
      if (frame.opcode === 0x9) this.#send(0xa, frame.payload)
      else if (frame.opcode === 0x8) this.#socket.end() // the server's close: our half goes without a frame (see close())
      else if (frame.opcode === 0x1 || frame.opcode === 0x0) {
        this.#fragments.push(frame.payload)
        if (frame.fin) this.#message(Buffer.concat(this.#fragments).toString('utf8'))
        if (frame.fin) this.#fragments = []
      }
    }
  }

  /** A whole message: the answer to a call, or an event. */
  #message(text) {
    let message
    try {
      message = JSON.parse(text)
    } catch {
      return
    }
    if (message.id === undefined) return this.#handlers.get(message.method)?.(message.params)
    this.#calls.settle(message.id, message)
  }
}

/** One frame at the start of `buffer`: `{ fin, opcode, payload, size }`, or null until it has arrived whole. */
function parseFrame(buffer) {
  if (buffer.length < 2) return null
  const fin = (buffer[0] & 0x80) !== 0
  const opcode = buffer[0] & 0x0f
  const masked = (buffer[1] & 0x80) !== 0
  let length = buffer[1] & 0x7f
  let offset = 2
  if (length === 126) {
    if (buffer.length < 4) return null
    length = buffer.readUInt16BE(2)
    offset = 4
  } else if (length === 127) {
    if (buffer.length < 10) return null
    length = Number(buffer.readBigUInt64BE(2))
    offset = 10
  }
  const maskOffset = offset
  if (masked) offset += 4
  if (buffer.length < offset + length) return null
  let payload = buffer.subarray(offset, offset + length)
  if (masked) payload = Buffer.from(payload.map((byte, i) => byte ^ buffer[maskOffset + (i & 3)]))
  return { fin, opcode, payload, size: offset + length }
}

module.exports = { openInspector, WebSocketSession, waitClosed, getJson, refuses }

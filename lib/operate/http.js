'use strict'

/**
 * `leakproof/http`: an authenticated admin request handler for a running watcher.
 *
 *   GET  <prefix>/status          200, `watcher.status()` as JSON
 *   POST <prefix>/snapshot        202 `{ id, role }`; 409 while one is being written or when
 *                                 snapshots are off; 429 with `Retry-After` within the cooldown
 *   GET  <prefix>/reports/latest  200, the newest report as JSON; 404 when there is none
 *   GET  <prefix>/profile/heap    200, the newest allocation-sampling profile as gzipped pprof
 *                                 (`watcher.sitesProfile()`); 404 when there is none
 *
 * It never serves snapshot files: they hold every secret in the heap (a sampling profile
 * holds code locations and sizes only). Every request under
 * the prefix must carry `Authorization: Bearer <token>`, compared in constant time; too many
 * failures in a window lock the sender's address out (and everyone, past a total) until the
 * window ends, so the token cannot be guessed and an attacker cannot lock the operator out
 * for longer than the attack lasts plus one window. Paths are matched exactly, never
 * normalised: `..`, encoded characters, doubled or trailing slashes and query strings change
 * nothing and get a 4xx. docs/admin-http.md has the details.
 *
 * Beside it, `readinessHandler()`: an unauthenticated readiness route for load balancers and
 * Kubernetes probes, 200 while serving and 503 once the restart policy is taking the process
 * out (docs/mitigate.md), and `ready()` for other frameworks' routes.
 */
const crypto = require('node:crypto')
const errors = require('../shared/errors')
const { currentWatcher } = require('../watch/watcher')
const { OPTIONS, READINESS_OPTIONS, MIN_TOKEN_LENGTH } = require('./http-options')
const { ready, readiness } = require('../mitigate/readiness')

const WHERE = 'adminHandler()'

/** Request bodies are not used; one larger than this is refused (413) without reading it all. */
const MAX_BODY_BYTES = 1024

/** Every option of `adminHandler()` with its default. */
const DEFAULTS = OPTIONS.DEFAULTS

/** What a watcher's coded refusal of `snapshot()` becomes: its HTTP status. */
const SNAPSHOT_REFUSALS = new Map([
  [errors.CODES.SNAPSHOT_IN_PROGRESS, 409],
  [errors.CODES.SNAPSHOTS_OFF, 409],
  [errors.CODES.SNAPSHOT_COOLDOWN, 429],
  [errors.CODES.WATCHER_STOPPED, 503],
])

/** The routes under the prefix: path → method → what answers it with `(watcher, res)`. */
const ROUTES = new Map([
  ['/status', new Map([['GET', (watcher, res) => send(res, 200, watcher.status())]])],
  ['/snapshot', new Map([['POST', requestSnapshot]])],
  ['/reports/latest', new Map([['GET', sendLatestReport]])],
  ['/profile/heap', new Map([['GET', sendHeapProfile]])],
])

/**
 * Failed authentications in a fixed window: at most `perAddress` from one remote address
 * and `total` from all, after which requests from that address (or from everyone, past the
 * total) are refused until the window ends, without looking at their token. The table of
 * addresses holds at most `total` entries (each counts one failure or more) and is emptied
 * with each window.
 */
class FailedAuthentications {
  #perAddress
  #total
  #windowMs
  #now
  #windowStart = -Infinity
  #count = 0
  #byAddress = new Map()

  constructor({ perAddress, total, windowMs, now }) {
    this.#perAddress = perAddress
    this.#total = total
    this.#windowMs = windowMs
    this.#now = now
  }

  /** Milliseconds until requests from `address` are heard again; 0 when they are now. */
  lockedForMs(address) {
    const now = this.#roll()
    const locked = this.#count >= this.#total || (this.#byAddress.get(address) ?? 0) >= this.#perAddress
    return locked ? this.#windowStart + this.#windowMs - now : 0
  }

  /** Counts one failed authentication from `address`. */
  note(address) {
    this.#roll()
    this.#count++
    this.#byAddress.set(address, (this.#byAddress.get(address) ?? 0) + 1)
  }

  /** Starts a new window when the current one is over; returns the time. */
  #roll() {
    const now = this.#now()
    if (now - this.#windowStart >= this.#windowMs) {
      this.#windowStart = now
      this.#count = 0
      this.#byAddress.clear()
    }
    return now
  }
}

/**
 * Whether an `Authorization` header value carries the token, compared in constant time:
 * both sides are HMACs under a random key, of equal length whatever was sent, and
 * `crypto.timingSafeEqual` compares them. A missing header or another scheme is compared
 * too, against nothing, so every refusal costs the same.
 */
function bearerCheck(token) {
  const key = crypto.randomBytes(32)
  const digest = (text) => crypto.createHmac('sha256', key).update(text).digest()
  const expected = digest(token)
  return (header) => {
    const sent = typeof header === 'string' ? /^Bearer +([\x21-\x7E]+) *$/i.exec(header)?.[1] ?? '' : ''
    return crypto.timingSafeEqual(digest(sent), expected)
  }
}

/**
 * An admin request handler: `(req, res, next?) => void`, a `node:http` request listener
 * that answers 404 outside its prefix, or Express/Connect middleware that calls `next()`
 * there. In Fastify, hand it the raw objects from a hijacked reply (docs/admin-http.md).
 * @param {object} options
 * @param {string} options.token the bearer token, 16 characters or more (from a secret).
 * @param {string} [options.prefix='/leakproof'] the path the routes are under, from the root.
 * @param {object} [options.watcher] the watcher to serve; by default this thread's running
 *   one, looked up at each request (503 while none runs).
 * @param {number} [options.maxFailuresPerAddress=10] failed authentications from one address per window.
 * @param {number} [options.maxFailuresTotal=100] failed authentications from all addresses per window.
 * @param {number} [options.failureWindowMs=60000] the window, in milliseconds.
 * @param {() => number} [options.now=Date.now] the clock of the window, in milliseconds.
 * @throws coded `ERR_LEAKPROOF_INVALID_OPTION` without a usable token, `ERR_LEAKPROOF_UNKNOWN_OPTION`.
 */
function adminHandler(options) {
  const { token, prefix, watcher, maxFailuresPerAddress, maxFailuresTotal, failureWindowMs, now } = OPTIONS.read(WHERE, options ?? {})
  const authorized = bearerCheck(token)
  const failures = new FailedAuthentications({ perAddress: maxFailuresPerAddress, total: maxFailuresTotal, windowMs: failureWindowMs, now })
  const watcherNow = watcher === undefined ? currentWatcher : () => watcher

  return function leakproofAdmin(req, res, next) {
    const { path, query } = splitTarget(req.originalUrl ?? req.url)
    if (path !== prefix && !path.startsWith(`${prefix}/`)) {
      if (typeof next === 'function') return next()
      return refuse(req, res, 404, 'not_found', 'not found')
    }
    const address = req.socket?.remoteAddress ?? 'unknown'
    const lockedMs = failures.lockedForMs(address)
    if (lockedMs > 0) {
      const retryAfter = String(Math.ceil(lockedMs / 1000))
      return refuse(req, res, 429, 'too_many_failures', `too many failed authentications; retry after ${retryAfter} s`, { 'Retry-After': retryAfter })
    }
    if (!authorized(req.headers.authorization)) {
      failures.note(address)
      return refuse(req, res, 401, 'unauthorized', 'a valid bearer token is required', { 'WWW-Authenticate': 'Bearer realm="leakproof"' })
    }
    readBoundedBody(req, MAX_BODY_BYTES, (fits) => {
      if (!fits) return refuse(req, res, 413, 'payload_too_large', `request bodies are not used; this one is over ${MAX_BODY_BYTES} bytes`)
      answer(req, res, { route: path.slice(prefix.length), query, prefix, watcherNow })
    })
  }
}

/**
 * A readiness route: `GET`/`HEAD <path>` answers 200 `{ ready: true, state: 'serving' }`
 * while the process should get traffic, and 503 with `{ ready: false, state, since, kind }`
 * once a restart is due; no token (it tells nothing but that). Other paths: `next()`, or 404.
 * @param {{ path?: string }} [options]
 * @throws coded `ERR_LEAKPROOF_INVALID_OPTION` for a bad path, `ERR_LEAKPROOF_UNKNOWN_OPTION`.
 */
function readinessHandler(options) {
  const { path } = READINESS_OPTIONS.read('readinessHandler()', options ?? {})
  return function leakproofReadiness(req, res, next) {
    if (splitTarget(req.originalUrl ?? req.url).path !== path) {
      if (typeof next === 'function') return next()
      return send(res, 404, errorBody('not_found', 'not found'))
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, errorBody('method_not_allowed', `${path} answers GET, HEAD only`), { Allow: 'GET, HEAD' })
    const now = readiness()
    send(res, now.ready ? 200 : 503, now)
  }
}

/** Answers an authenticated request whose body (if any) was read: the route, or why not. */
function answer(req, res, { route, query, prefix, watcherNow }) {
  const methods = ROUTES.get(route)
  if (methods === undefined) {
    const known = [...ROUTES].map(([path, byMethod]) => `${[...byMethod.keys()].join('|')} ${prefix}${path}`).join(', ')
    return send(res, 404, errorBody('not_found', `no such route (paths are matched exactly); routes: ${known}`))
  }
  const respond = methods.get(req.method)
  if (respond === undefined) {
    const allow = [...methods.keys()].join(', ')
    return send(res, 405, errorBody('method_not_allowed', `${prefix}${route} answers ${allow} only`), { Allow: allow })
  }
  if (query !== null) return send(res, 400, errorBody('query_not_accepted', `${prefix}${route} takes no query string`))
  const watcher = watcherNow()
  if (watcher === null) {
    return send(res, 503, errorBody('no_watcher', 'no watcher runs in this thread: call watch(), or start node with -r leakproof/register'))
  }
  try {
    respond(watcher, res)
  } catch (err) {
    send(res, 500, errorBody(typeof err?.code === 'string' ? err.code : 'internal_error', String(err?.message ?? err)))
  }
}

/** POST snapshot: 202 with the request's id and role, or the watcher's refusal. */
function requestSnapshot(watcher, res) {
  let requested
  try {
    requested = watcher.snapshot('http')
  } catch (err) {
    const status = SNAPSHOT_REFUSALS.get(err?.code)
    if (status === undefined) throw err
    const headers = err.retryAfterMs > 0 ? { 'Retry-After': String(Math.ceil(err.retryAfterMs / 1000)) } : {}
    return send(res, status, errorBody(err.code, err.message), headers)
  }
  send(res, 202, { id: requested.id, role: requested.role })
}

/** GET reports/latest: the newest report, or 404 while there is none. */
function sendLatestReport(watcher, res) {
  const report = watcher.latestReport()
  if (report === null) return send(res, 404, errorBody('no_report', 'no report yet: a report follows a snapshot pair'))
  send(res, 200, report)
}

/**
 * GET profile/heap: the newest allocation-sampling profile as gzipped pprof, as `go tool
 * pprof` and the continuous profilers read it, or 404 while there is none.
 */
function sendHeapProfile(watcher, res) {
  const newest = typeof watcher.sitesProfile === 'function' ? watcher.sitesProfile() : null
  if (newest === null) return send(res, 404, errorBody('no_profile', 'no allocation-sampling profile yet: the first comes with the ranking of a heap leak\'s sites'))
  // Loaded when first asked for: most services never serve one.
  const { pprofOf } = require('../sites/heap-profiles')
  pprofOf(newest).then(
    (pprof) => {
      const name = `leakproof-${process.pid}-${new Date(newest.time).toISOString().replace(/[:.]/g, '-')}-${newest.reason}.pb.gz`
      sendBytes(res, 200, pprof, 'application/octet-stream', { 'Content-Disposition': `attachment; filename="${name}"` })
    },
    (err) => send(res, 500, errorBody('internal_error', String(err?.message ?? err))),
  )
}

/** The path and the query string (null when there is no `?`) of a request target, as sent. */
function splitTarget(target) {
  const url = typeof target === 'string' ? target : ''
  const mark = url.indexOf('?')
  return mark === -1 ? { path: url, query: null } : { path: url.slice(0, mark), query: url.slice(mark + 1) }
}

/** Whether the request says it has a body. */
function declaresBody(req) {
  const length = req.headers['content-length']
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0')
}

/**
 * Reads and drops the request body, if any, up to `limit` bytes; `done(fits)` says whether
 * it was within. A body declared larger is not read at all; one that runs over is read no
 * further. Not called back when the client goes away first.
 */
function readBoundedBody(req, limit, done) {
  if (!declaresBody(req) || req.readableEnded) return done(true)
  if (Number(req.headers['content-length']) > limit) return done(false)
  let bytes = 0
  let finished = false
  const finish = (fits) => {
    if (finished) return
    finished = true
    req.off('data', onData)
    req.off('end', onEnd)
    if (fits !== null) {
      if (!fits) req.pause()
      done(fits)
    }
  }
  const onData = (chunk) => {
    bytes += chunk.length
    if (bytes > limit) finish(false)
  }
  const onEnd = () => finish(true)
  req.on('data', onData)
  req.on('end', onEnd)
  req.on('error', () => finish(null))
}

/**
 * Answers before the request body was read: the connection is closed after the answer, so
 * that Node does not read an unbounded body to keep it alive.
 */
function refuse(req, res, status, code, message, headers = {}) {
  const close = declaresBody(req) && !req.readableEnded ? { Connection: 'close' } : {}
  send(res, status, errorBody(code, message), { ...headers, ...close })
}

/** `{ error: { code, message } }`. */
function errorBody(code, message) {
  return { error: { code, message } }
}

/** Sends `body` as JSON, never cached. */
function send(res, status, body, headers = {}) {
  sendBytes(res, status, Buffer.from(JSON.stringify(body)), 'application/json; charset=utf-8', headers)
}

/** Sends `bytes` of `contentType`, never cached, never sniffed as another type. */
function sendBytes(res, status, bytes, contentType, headers = {}) {
  res.writeHead(status, {
    'Content-Type': contentType,
    'Content-Length': bytes.length,
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    ...headers,
  })
  res.end(bytes)
}

module.exports = { adminHandler, readinessHandler, ready, readiness, DEFAULTS, MIN_TOKEN_LENGTH, MAX_BODY_BYTES }

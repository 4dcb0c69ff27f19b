'use strict'

// leakproof/http: the admin handler on real servers on 127.0.0.1, mounted on node:http,
// Express and Fastify in child services with a real watcher writing real snapshots; the
// token checks, the failed-attempt window and a handler without a watcher in this process.

const test = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const fs = require('node:fs')
const http = require('node:http')
const os = require('node:os')
const path = require('node:path')
const { spawn } = require('node:child_process')
const { adminHandler } = require('../../lib/operate/http')

const TOKEN = crypto.randomBytes(24).toString('base64url')
const SERVICE = path.join(__dirname, 'fixtures', 'admin-service.js')
const REGISTER = path.join(__dirname, '..', '..', 'register.js')
const P = '/leakproof'

/**
 * One request with the path exactly as given (no URL normalisation, unlike fetch).
 * `token: null` sends no Authorization header; `hold` sends the headers (and `chunk`) and
 * waits for the answer without ending the body.
 */
function request(port, { method = 'GET', path: target, token = TOKEN, headers = {}, body, hold = false, chunk, localAddress }) {
  return new Promise((resolve, reject) => {
    const auth = token === null ? {} : { authorization: `Bearer ${token}` }
    const req = http.request({ host: localAddress?.includes(':') ? '::1' : '127.0.0.1', port, method, path: target, headers: { ...auth, ...headers }, agent: false, localAddress }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (c) => { text += c })
      res.on('end', () => {
        const json = /json/.test(res.headers['content-type'] ?? '') ? JSON.parse(text) : null
        resolve({ status: res.statusCode, headers: res.headers, text, json })
        req.destroy()
      })
    })
    req.setTimeout(20_000, () => req.destroy(new Error(`${method} ${target}: no answer in 20 s`)))
    req.on('error', reject)
    if (chunk !== undefined) req.write(chunk)
    if (hold) req.flushHeaders()
    else req.end(body)
  })
}

/** Calls `fn` until it returns something truthy, every 50 ms, for at most `ms`. */
async function poll(what, fn, ms = 30_000) {
  const until = Date.now() + ms
  for (;;) {
    const value = await fn()
    if (value) return value
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/**
 * Starts the fixture service with a new snapshot dir; resolves with its port, dir and
 * process, killed after the test. `env(dir)`: more environment variables.
 */
async function startService(t, framework, { register = false, env = () => ({}) } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leakproof-http-'))
  const args = [...(register ? ['-r', REGISTER] : []), '--max-old-space-size=256', SERVICE, framework, dir]
  const child = spawn(process.execPath, args, { env: { ...process.env, ADMIN_TOKEN: TOKEN, ...env(dir) }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (c) => { stderr += c })
  t.after(() => {
    child.kill('SIGKILL')
    fs.rmSync(dir, { recursive: true, force: true })
  })
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${framework} service did not start in 20 s: ${stderr}`)), 20_000)
    let out = ''
    child.stdout.on('data', (c) => {
      out += c
      const line = out.split('\n').find((l) => l.startsWith('{"port"'))
      if (line !== undefined) {
        clearTimeout(timer)
        resolve(JSON.parse(line).port)
      }
    })
    child.on('exit', (code) => reject(new Error(`${framework} service exited with ${code}: ${stderr}`)))
  })
  return { port, dir, child }
}

/** Serves `handler` on `host` in this process; resolves with the port. */
async function serveHere(t, handler, host = '127.0.0.1') {
  const server = http.createServer(handler)
  await new Promise((resolve) => server.listen(0, host, resolve))
  t.after(() => server.close())
  return server.address().port
}

test('creating the handler without a usable token or prefix throws a coded error that never shows the token', () => {
  const secretish = 'short-secret'
  const cases = [
    [undefined, 'ERR_LEAKPROOF_INVALID_OPTION'],
    [{}, 'ERR_LEAKPROOF_INVALID_OPTION'],
    [{ token: 1234567890123456 }, 'ERR_LEAKPROOF_INVALID_OPTION'],
    [{ token: secretish }, 'ERR_LEAKPROOF_INVALID_OPTION'],
    [{ token: 'x'.repeat(15) }, 'ERR_LEAKPROOF_INVALID_OPTION'],
    [{ token: `${TOKEN}\n` }, 'ERR_LEAKPROOF_INVALID_OPTION'],
    [{ token: `${TOKEN} two` }, 'ERR_LEAKPROOF_INVALID_OPTION'],
    [{ token: TOKEN, prefix: 'leakproof' }, 'ERR_LEAKPROOF_INVALID_OPTION'],
    [{ token: TOKEN, prefix: '/leakproof/' }, 'ERR_LEAKPROOF_INVALID_OPTION'],
    [{ token: TOKEN, prefix: '/a/../b' }, 'ERR_LEAKPROOF_INVALID_OPTION'],
    [{ token: TOKEN, prefix: '/%2e' }, 'ERR_LEAKPROOF_INVALID_OPTION'],
    [{ token: TOKEN, prefix: '//x' }, 'ERR_LEAKPROOF_INVALID_OPTION'],
    [{ token: TOKEN, watcher: {} }, 'ERR_LEAKPROOF_INVALID_OPTION'],
    [{ token: TOKEN, maxFailuresTotal: 0 }, 'ERR_LEAKPROOF_INVALID_OPTION'],
    [{ token: TOKEN, tokne: TOKEN }, 'ERR_LEAKPROOF_UNKNOWN_OPTION'],
  ]
  for (const [options, code] of cases) {
    assert.throws(() => adminHandler(options), (err) => {
      assert.equal(err.code, code, err.message)
      assert.match(err.message, /^adminHandler\(\): /)
      assert.ok(!err.message.includes(secretish) && !err.message.includes(TOKEN.slice(0, 8)), err.message)
      return true
    }, JSON.stringify(options))
  }
  assert.equal(typeof adminHandler({ token: TOKEN, prefix: '/admin/leak-proof_1' }), 'function')
})

test('standalone, it answers 404 outside its prefix, 401 before 503 when no watcher runs', async (t) => {
  const port = await serveHere(t, adminHandler({ token: TOKEN }))
  const outside = await request(port, { path: '/other', token: null })
  assert.equal(outside.status, 404)
  const anonymous = await request(port, { path: `${P}/status`, token: null })
  assert.equal(anonymous.status, 401)
  const none = await request(port, { path: `${P}/status` })
  assert.equal(none.status, 503)
  assert.equal(none.json.error.code, 'no_watcher')
  assert.equal(none.headers['cache-control'], 'no-store')
})

test('the token is compared by crypto.timingSafeEqual over equal-length digests, once per request, with the same 401 for every failure', async (t) => {
  const port = await serveHere(t, adminHandler({ token: TOKEN }))
  const original = crypto.timingSafeEqual
  const lengths = []
  let answer = null // null: the real comparison; true/false: what the stand-in says
  crypto.timingSafeEqual = (a, b) => {
    lengths.push([a.length, b.length])
    return answer ?? original(a, b)
  }
  t.after(() => { crypto.timingSafeEqual = original })
  const wrongTries = [
    { token: null },
    { token: null, headers: { authorization: `Basic ${Buffer.from(`admin:${TOKEN}`).toString('base64')}` } },
    { token: null, headers: { authorization: `Bearer${TOKEN}` } },
    { token: `${TOKEN.slice(0, -1)}${TOKEN.endsWith('A') ? 'B' : 'A'}` },
    { token: 'a-much-longer-wrong-token-'.repeat(8) },
  ]
  const refusals = []
  for (const attempt of wrongTries) refusals.push(await request(port, { path: `${P}/status`, ...attempt }))
  for (const refusal of refusals) {
    assert.equal(refusal.status, 401)
    assert.match(refusal.headers['www-authenticate'], /^Bearer\b/)
    assert.equal(refusal.text, refusals[0].text)
  }
  assert.equal((await request(port, { path: `${P}/status`, headers: { authorization: `bearer ${TOKEN}` } })).status, 503)
  assert.equal(lengths.length, wrongTries.length + 1)
  assert.ok(lengths.every(([a, b]) => a === 32 && b === 32), JSON.stringify(lengths))
  // What timingSafeEqual says is what decides: a wrong token let through, a right one refused.
  answer = true
  assert.equal((await request(port, { path: `${P}/status`, token: 'wrong-token-0123456789' })).status, 503)
  answer = false
  assert.equal((await request(port, { path: `${P}/status` })).status, 401)
})

/**
 * Two loopback addresses a client can send from, and the host a server must listen on to
 * hear both: 127.0.0.2 exists on Linux only; elsewhere IPv6's ::1, on a dual-stack server.
 */
const LOOPBACKS = process.platform === 'linux' ? { host: '127.0.0.1', first: '127.0.0.1', second: '127.0.0.2' } : { host: '::', first: '127.0.0.1', second: '::1' }

test('failed authentications lock out their address, then everyone past the total, until the window ends', async (t) => {
  let now = 1_000_000
  const handler = adminHandler({ token: TOKEN, maxFailuresPerAddress: 3, maxFailuresTotal: 5, failureWindowMs: 60_000, now: () => now })
  const port = await serveHere(t, handler, LOOPBACKS.host)
  const from = (localAddress, token = 'wrong-token-0123456789') => request(port, { path: `${P}/status`, token, localAddress })
  const { first, second } = LOOPBACKS
  for (let i = 0; i < 3; i++) assert.equal((await from(first)).status, 401)
  const locked = await from(first, TOKEN)
  assert.equal(locked.status, 429, 'the right token is not even looked at from a locked address')
  assert.equal(locked.headers['retry-after'], '60')
  assert.equal((await from(second, TOKEN)).status, 503, 'another address is heard')
  now += 30_000
  for (let i = 0; i < 2; i++) assert.equal((await from(second)).status, 401)
  const everyone = await from(second, TOKEN)
  assert.equal(everyone.status, 429, 'past the total, every address waits, even one under its own limit')
  assert.equal(everyone.headers['retry-after'], '30')
  now += 30_000
  assert.equal((await from(first, TOKEN)).status, 503, 'a new window hears everyone again')
  assert.equal((await from(first)).status, 401)
})

/**
 * Requests that must change nothing, each with the answer it gets: paths are matched
 * exactly, bodies are not read past 1 KiB.
 */
const BAD_INPUTS = [
  ['GET', `${P}/status/`, 404],
  ['GET', `${P}//status`, 404],
  ['GET', `${P}/../leakproof/status`, 404],
  ['POST', `${P}/%2e%2e/snapshot`, 404],
  ['POST', `${P}/./snapshot`, 404],
  ['GET', `${P}/reports%2Flatest`, 404],
  ['GET', `${P}/reports/latest/../../snapshot`, 404],
  ['GET', P, 404],
  ['GET', `${P}/snapshots`, 404],
  ['POST', `${P}/snapshot?force=1`, 400],
  ['GET', `${P}/status?x=1`, 400],
  ['GET', `${P}/snapshot`, 405, 'POST'],
  ['DELETE', `${P}/snapshot`, 405, 'POST'],
  ['POST', `${P}/status`, 405, 'GET'],
  ['PUT', `${P}/reports/latest`, 405, 'GET'],
]

/** Sends every bad input; checks each answer, and that no snapshot was asked for. */
async function checkBadInputs(port, dir) {
  for (const [method, target, status, allow] of BAD_INPUTS) {
    const answer = await request(port, { method, path: target })
    assert.equal(answer.status, status, `${method} ${target}: ${answer.text}`)
    assert.equal(typeof answer.json?.error?.code, 'string', `${method} ${target}`)
    assert.equal(answer.headers.allow, allow, `${method} ${target}`)
  }
  const unauthenticated = await request(port, { path: `${P}/no-such-route`, token: null })
  assert.equal(unauthenticated.status, 401, 'authenticated first, then routes')
  // Asked to keep the connection, the handler closes it: Node would otherwise read the whole body.
  const keepAlive = { connection: 'keep-alive' }
  const declared = await request(port, { method: 'POST', path: `${P}/snapshot`, headers: { ...keepAlive, 'content-length': String(64 << 20) }, hold: true })
  assert.deepEqual([declared.status, declared.headers.connection], [413, 'close'])
  const streamed = await request(port, { method: 'POST', path: `${P}/snapshot`, headers: { ...keepAlive, 'transfer-encoding': 'chunked' }, hold: true, chunk: 'x'.repeat(4096) })
  assert.deepEqual([streamed.status, streamed.headers.connection], [413, 'close'])
  const small = await request(port, { method: 'POST', path: `${P}/status`, headers: { ...keepAlive, 'content-type': 'text/plain' }, body: 'ignored' })
  assert.deepEqual([small.status, small.headers.connection], [405, 'keep-alive'], 'a small body is read and dropped')
  const status = (await request(port, { path: `${P}/status` })).json
  assert.deepEqual([status.snapshots.counts.written, status.snapshots.writing, status.lastSnapshot], [0, false, null])
  assert.deepEqual(fs.readdirSync(dir), [])
}

/** POST snapshot: 202, 409 while it is held, the pair, its report, then 429 in the cooldown. */
async function checkSnapshotPair(port, dir) {
  const post = () => request(port, { method: 'POST', path: `${P}/snapshot` })
  const statusNow = async () => (await request(port, { path: `${P}/status` })).json
  assert.equal((await request(port, { path: `${P}/reports/latest` })).status, 404)
  const baseline = await post()
  assert.equal(baseline.status, 202, baseline.text)
  assert.equal(baseline.json.role, 'baseline')
  assert.equal(typeof baseline.json.id, 'string')
  const busy = await post()
  assert.equal(busy.status, 409)
  assert.equal(busy.json.error.code, 'ERR_LEAKPROOF_SNAPSHOT_IN_PROGRESS')
  await request(port, { method: 'POST', path: '/app/release', token: null })
  await poll('the baseline', async () => { const s = await statusNow(); return s.snapshots.counts.written === 1 && !s.snapshots.writing })
  const followUp = await post()
  assert.deepEqual([followUp.status, followUp.json.role], [202, 'follow-up'])
  const report = await poll('the pair report', async () => {
    const answer = await request(port, { path: `${P}/reports/latest` })
    return answer.status === 200 && answer.json
  })
  assert.equal(report.kind, 'pair')
  assert.equal(path.dirname(report.followUp), dir)
  const cooling = await post()
  assert.equal(cooling.status, 429)
  assert.equal(cooling.json.error.code, 'ERR_LEAKPROOF_SNAPSHOT_COOLDOWN')
  const retryAfter = Number(cooling.headers['retry-after'])
  assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 300, cooling.headers['retry-after'])
  // Snapshot files are never served, by any name.
  for (const name of [path.basename(report.followUp), `snapshots/${path.basename(report.followUp)}`, `reports/${path.basename(report.followUp)}`]) {
    assert.equal((await request(port, { path: `${P}/${name}` })).status, 404, name)
  }
}

for (const framework of ['node', 'express', 'fastify']) {
  test(`on ${framework}: auth, status, bad inputs change nothing, and 202, 409, the pair's report, 429`, async (t) => {
    const { port, dir } = await startService(t, framework)
    const anonymous = await request(port, { path: `${P}/status`, token: null })
    const wrong = await request(port, { path: `${P}/status`, token: 'not-the-token-0123456789' })
    assert.deepEqual([anonymous.status, wrong.status], [401, 401])
    assert.equal(anonymous.text, wrong.text)
    const status = await request(port, { path: `${P}/status` })
    assert.equal(status.status, 200)
    assert.equal(status.headers['cache-control'], 'no-store')
    assert.deepEqual([status.json.running, status.json.snapshots.on, status.json.snapshots.dir], [true, true, dir])
    const outside = await request(port, { path: '/app/hello', token: null })
    assert.deepEqual([outside.status, outside.headers['x-app']], [200, 'hello'], 'requests outside the prefix reach the app')
    await checkBadInputs(port, dir)
    await checkSnapshotPair(port, dir)
  })
}

const NO_SIGNALS = process.platform === 'win32' ? 'Windows has no SIGUSR2' : false

test('a report fetched after a signal-triggered pair names the leaking Map', { skip: NO_SIGNALS }, async (t) => {
  const env = (dir) => ({ LEAKPROOF_DIR: dir, LEAKPROOF_SNAPSHOT_SIGNAL: 'SIGUSR2', LEAKPROOF_SITES: '0', LEAKPROOF_INTERVAL_MS: '60000' })
  const { port, child } = await startService(t, 'node', { register: true, env })
  const statusNow = async () => (await request(port, { path: `${P}/status` })).json
  assert.equal((await statusNow()).snapshots.on, true)
  assert.equal((await request(port, { path: `${P}/reports/latest` })).status, 404)
  child.kill('SIGUSR2')
  await poll('the baseline', async () => (await statusNow()).snapshots.counts.written === 1)
  await request(port, { method: 'POST', path: '/app/leak?n=20000', token: null })
  child.kill('SIGUSR2')
  const report = await poll('the pair report', async () => {
    const answer = await request(port, { path: `${P}/reports/latest` })
    return answer.status === 200 && answer.json
  })
  assert.equal(report.kind, 'pair')
  const map = report.grownCollections.find((c) => c.holder?.name === 'leakedSessions')
  assert.ok(map, JSON.stringify(report.grownCollections.map((c) => [c.name, c.holder?.name])))
  assert.deepEqual([map.name, map.after - map.before], ['Map', 20_000])
  const suspect = report.suspects.find((s) => s.name === 'AdminSession')
  assert.equal(suspect?.holder?.name, 'leakedSessions', JSON.stringify(report.suspects.map((s) => [s.name, s.holder?.name])))
})

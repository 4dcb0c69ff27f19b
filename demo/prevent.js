'use strict'

/**
 * Demo: the same http service twice under the same load on 127.0.0.1.
 *
 *   1. leaking: sessions in an unbounded Map, request log in a push-only array;
 *   2. bounded:  sessions in a BoundedMap, request log in a RingBuffer.
 *
 * Every second it prints the JS heap after a full GC (the floor a leak raises) and the
 * RSS read by the native addon. The leaking floor climbs; the bounded one levels off.
 */
const http = require('node:http')
const v8 = require('node:v8')
const vm = require('node:vm')
const { BoundedMap, RingBuffer, systemMemory } = require('..')

const PHASE_MS = Number(process.env.DEMO_PHASE_MS) || 8000
const CONCURRENCY = 16

v8.setFlagsFromString('--expose-gc')
const fullGc = vm.runInNewContext('gc')

const mb = (bytes) => (bytes / 1048576).toFixed(1).padStart(6) + ' MB'

/** The service: a login that creates a session and logs the request. */
function createServer(sessions, recent) {
  let nextId = 0
  return http.createServer((req, res) => {
    const id = `sess-${nextId++}`
    sessions.set(id, { id, user: req.url, createdAt: Date.now(), scratch: 'x'.repeat(512) + id })
    recent.push({ url: req.url, at: Date.now() })
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify({ session: id }))
  })
}

/** Keeps CONCURRENCY requests in flight against `port` until `until`, counting into `load.done`. */
async function drive(port, until, load) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY })
  const worker = async () => {
    while (Date.now() < until) {
      await new Promise((resolve, reject) => {
        http.get({ host: '127.0.0.1', port, path: `/login?user=${load.done}`, agent }, (res) => {
          res.resume()
          res.on('end', resolve)
        }).on('error', reject)
      })
      load.done++
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
  agent.destroy()
}

async function phase(label, sessions, recent) {
  const server = createServer(sessions, recent)
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address()
  console.log(`\n== ${label} ==`)
  console.log('  time   requests   heap floor        rss   sessions     recent')
  const start = Date.now()
  const load = { done: 0 }
  const floors = []
  const report = setInterval(() => {
    fullGc()
    const floor = process.memoryUsage().heapUsed
    floors.push(floor)
    const rss = systemMemory().rss ?? process.memoryUsage().rss
    const t = ((Date.now() - start) / 1000).toFixed(0).padStart(4)
    console.log(`${t} s ${String(load.done).padStart(10)} ${mb(floor)} ${mb(rss)} ${String(sessions.size).padStart(10)} ${String(recent.length).padStart(10)}`)
  }, 1000)
  await drive(port, start + PHASE_MS, load)
  clearInterval(report)
  await new Promise((resolve) => server.close(resolve))
  const growth = floors.length > 1 ? floors[floors.length - 1] - floors[1] : 0
  console.log(`  ${load.done} requests; heap floor grew ${mb(growth)} after the first second`)
  return growth
}

async function main() {
  console.log(`leakproof demo: one http service on 127.0.0.1, ${CONCURRENCY} clients, ${PHASE_MS / 1000} s per phase`)
  const leaking = await phase('leaking: unbounded Map + push-only array', new Map(), [])
  const sessions = new BoundedMap({ max: 5000, ttl: 60_000, name: 'sessions' })
  const recent = new RingBuffer(1000)
  const bounded = await phase('bounded: BoundedMap({ max: 5000 }) + RingBuffer(1000)', sessions, recent)
  const s = sessions.stats()
  console.log(`\nBoundedMap: size ${s.size}, evictions ${s.evictions}; RingBuffer dropped ${recent.dropped}`)
  console.log(`heap floor growth: leaking ${mb(leaking)}, bounded ${mb(bounded)}`)
}

main().catch((err) => {
  console.error(err)
  process.exitCode = 1
})

'use strict'

// The load each floor comes with (lib/detect/load.js): the requests a real http server on
// 127.0.0.1 finished in this thread, counted from Node's diagnostics channel, and CPU time;
// a worker thread counts its own server's requests only; a stopped meter counts none; the
// watcher's `sample` events carry it.
const test = require('node:test')
const assert = require('node:assert/strict')
const http = require('node:http')
const { once } = require('node:events')
const { Worker } = require('node:worker_threads')
const { LoadMeter } = require('../../lib/detect/load')
const { watch } = require('../..')

/** A server on 127.0.0.1 that answers every request with "ok"; closed when the test ends. */
async function server(t) {
  const s = http.createServer((req, res) => res.end('ok'))
  s.listen(0, '127.0.0.1')
  await once(s, 'listening')
  t.after(() => s.close())
  return `http://127.0.0.1:${s.address().port}/`
}

/** `n` requests to `url`, one after another. */
async function requests(url, n) {
  for (let i = 0; i < n; i++) await (await fetch(url)).text()
}

test('requests a second from the first request on, CPU time always, and none counted after stop()', async (t) => {
  const url = await server(t)
  const meter = new LoadMeter()
  t.after(() => meter.stop())
  await requests(url, 1) // warms fetch up; the meter counts it
  const before = meter.take(0)
  assert.ok(before.requestsPerSecond > 0, JSON.stringify(before))
  const idle = meter.take(0)
  assert.equal(idle?.requestsPerSecond ?? 0, 0, 'no request since the last take')
  const startedAt = performance.now()
  await requests(url, 40)
  const elapsedMs = performance.now() - startedAt
  const load = meter.take(0)
  assert.ok(load !== null)
  // 40 requests within the span measured, which began a moment before the first.
  assert.ok(load.requestsPerSecond <= (40 * 1000) / elapsedMs + 1e-9, JSON.stringify({ load, elapsedMs }))
  assert.ok(load.requestsPerSecond >= (40 * 1000) / (elapsedMs + 50), JSON.stringify({ load, elapsedMs }))
  assert.ok(load.cpuSecondsPerSecond > 0 && Number.isFinite(load.cpuSecondsPerSecond), JSON.stringify(load))
  // The watcher's forced GCs are taken out of the CPU time, never below 0.
  await requests(url, 5)
  assert.equal(meter.take(1e9).cpuSecondsPerSecond, 0)
  meter.stop()
  await requests(url, 5)
  assert.equal(meter.take(0).requestsPerSecond, 0, 'a stopped meter counts nothing')
})

test('a thread that serves nothing has no request rate, only CPU time', () => {
  const meter = new LoadMeter()
  try {
    let spin = 0
    const until = performance.now() + 20
    while (performance.now() < until) spin++
    const load = meter.take(0)
    assert.equal(load.requestsPerSecond, null)
    assert.ok(load.cpuSecondsPerSecond > 0 && spin > 0, JSON.stringify(load))
  } finally {
    meter.stop()
  }
})

test("a worker thread's meter counts its own server's requests, not the main thread's", async (t) => {
  const url = await server(t)
  const worker = new Worker(
    `
    const { parentPort } = require('node:worker_threads')
    const { LoadMeter } = require(${JSON.stringify(require.resolve('../../lib/detect/load'))})
    const meter = new LoadMeter()
    parentPort.on('message', () => { parentPort.postMessage(meter.take(0)); meter.stop(); parentPort.close() })
    parentPort.postMessage('ready')
    `,
    { eval: true },
  )
  t.after(() => worker.terminate())
  await once(worker, 'message')
  await requests(url, 10)
  worker.postMessage('take')
  const [load] = await once(worker, 'message')
  assert.equal(load.requestsPerSecond, null, JSON.stringify(load))
})

test("the watcher's samples carry the load since the floor before", async (t) => {
  const url = await server(t)
  const watcher = watch({ intervalMs: 100, forceGcAfterMs: 100, snapshots: 'off', sites: false, census: false })
  t.after(() => watcher.stop())
  const loads = []
  watcher.on('sample', (sample) => loads.push(sample.load))
  const until = Date.now() + 1500
  while (Date.now() < until) await requests(url, 5)
  const served = loads.filter((load) => load !== null && load.requestsPerSecond > 0)
  assert.ok(served.length > 0, JSON.stringify(loads))
  for (const load of served) assert.ok(load.cpuSecondsPerSecond >= 0 && Number.isFinite(load.requestsPerSecond), JSON.stringify(load))
})

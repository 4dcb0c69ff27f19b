'use strict'

/**
 * Memory pressure in a real service (support/fixtures/pressure-service.js under
 * `--max-old-space-size=96` and `-r leakproof/register`, `LEAKPROOF_SHRINK_MAPS` the
 * process-wide default): its BoundedMap fills, a leak elsewhere pushes the heap towards the
 * limit; the map shrinks, and once the leak is let go the map grows back and its hit ratio
 * recovers, without shrinking again. How much longer the service lives with the leak is
 * measured by bench/pressure.js (where V8 gives up near its limit varies by ~15 MiB from run
 * to run: a comparison of one run each is no test).
 */
const { test } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const readline = require('node:readline')
const { spawn } = require('node:child_process')
const { setTimeout } = require('node:timers/promises')

const ROOT = path.join(__dirname, '..', '..')
const SERVICE = path.join(__dirname, '..', 'support', 'fixtures', 'pressure-service.js')
/** The heap's limit, in MiB: the cache at its bound (~40 MiB) is two fifths of it. */
const HEAP_MB = 96
/** Page ids asked for, uniformly: the map's bound, 10,000 pages of ~4 KB; half of it holds half of them. */
const PAGES = 10_000
/**
 * A pause after each MiB of leak: ~25 MiB a second at most, a quarter of the heap. Faster, the
 * heap could go from `pressureShare` to its limit between two floors (100 ms apart here).
 */
const LEAK_PAUSE_MS = 40

/**
 * Starts the service, the watcher's events logged to a file; resolves with `{ child, port,
 * events(), exited }`, `events()` reading the log so far.
 */
async function startService(t, { shrink }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leakproof-pressure-'))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  const log = path.join(dir, 'events.jsonl')
  const env = {
    ...process.env,
    LEAKPROOF_LOG: log,
    LEAKPROOF_SHRINK_MAPS: shrink ? 'true' : 'false',
    LEAKPROOF_PRESSURE_HOLD_MS: '1000',
    LEAKPROOF_INTERVAL_MS: '100',
    LEAKPROOF_GC_BUDGET: '0.3',
    LEAKPROOF_SITES: 'false',
    LEAKPROOF_CENSUS: 'false',
  }
  const child = spawn(process.execPath, [`--max-old-space-size=${HEAP_MB}`, '-r', path.join(ROOT, 'register.js'), SERVICE], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  t.after(() => child.kill('SIGKILL'))
  let stderr = ''
  child.stderr.on('data', (chunk) => { stderr += chunk })
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, stderr })))
  const [line] = await Promise.race([readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]().next().then((r) => [r.value]), exited.then((e) => [null, e])])
  assert.ok(line, `the service did not start: ${stderr}`)
  const { port } = JSON.parse(line)
  const events = () => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [])
  return { child, port, events, exited }
}

/** One request; resolves with the body's text, or null once the service is gone. */
async function ask(port, pathname, method = 'GET') {
  try {
    const response = await fetch(`http://127.0.0.1:${port}${pathname}`, { method })
    return await response.text()
  } catch {
    return null
  }
}

/** `count` page requests, 8 at a time, ids drawn from `random`; resolves with the hits, or null once the service is gone. */
async function browse(port, count, random) {
  let hits = 0
  for (let done = 0; done < count; done += 8) {
    const answers = await Promise.all(Array.from({ length: 8 }, () => ask(port, `/page?id=${Math.floor(random() * PAGES)}`)))
    if (answers.includes(null)) return null
    hits += answers.filter((a) => a === 'hit').length
  }
  return hits
}

/** A seeded generator (mulberry32): every run asks for the same pages. */
function seeded(seed) {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let z = s
    z = Math.imul(z ^ (z >>> 15), z | 1)
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61)
    return ((z ^ (z >>> 14)) >>> 0) / 4294967296
  }
}

/** Fills the cache: every page once, then a warm pass; resolves with the warm pass's hit ratio. */
async function warm(port, random) {
  for (let id = 0; id < PAGES; id += 50) await Promise.all(Array.from({ length: 50 }, (_, i) => ask(port, `/page?id=${id + i}`)))
  return (await browse(port, 2000, random)) / 2000
}

test('once the leak is let go the map grows back and its hit ratio recovers, without shrinking again', async (t) => {
  const service = await startService(t, { shrink: true })
  const random = seeded(11)
  const before = await warm(service.port, random)
  let leakedMb = 0
  while (!service.events().some((e) => e.type === 'memory-pressure' && e.state === 'shrink')) {
    leakedMb = Number(await ask(service.port, '/leak', 'POST'))
    assert.ok(leakedMb > 0 && leakedMb < HEAP_MB, `no shrink before ${leakedMb} MiB of leak`)
    await browse(service.port, 40, random)
    await setTimeout(LEAK_PAUSE_MS)
  }
  const shrunk = JSON.parse(await ask(service.port, '/stats'))
  assert.equal(shrunk.boundShare, 0.5)
  assert.ok(shrunk.size <= PAGES / 2, `the map holds half its bound: ${shrunk.size}`)
  const during = (await browse(service.port, 2000, random)) / 2000
  assert.ok(during < 0.8 * before, `fewer hits while small: ${during} against ${before}`)

  assert.equal(await ask(service.port, '/release', 'POST'), 'released')
  while (!service.events().some((e) => e.type === 'memory-pressure' && e.state === 'restore')) {
    assert.notEqual(await browse(service.port, 200, random), null, 'the service lives')
  }
  // Back to the whole bound: every page set again stays, and the ratio comes back.
  await warm(service.port, random)
  const after = (await browse(service.port, 2000, random)) / 2000
  const restored = JSON.parse(await ask(service.port, '/stats'))
  t.diagnostic(`hit ratio ${before.toFixed(3)} warm, ${during.toFixed(3)} under pressure (${leakedMb} MiB leaked), ${after.toFixed(3)} after; ${restored.size} pages held again`)
  assert.equal(restored.boundShare, 1)
  assert.equal(restored.size, PAGES, 'grew back to its bound')
  assert.ok(after > 0.95, `the hit ratio recovered: ${after}`)
  const changes = service.events().filter((e) => e.type === 'memory-pressure').map((e) => e.state)
  assert.deepEqual(changes, ['shrink', 'restore'], 'one shrink, one restore: no loop')
  assert.equal(service.child.exitCode, null, 'no crash')
})

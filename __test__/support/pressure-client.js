'use strict'

/**
 * Drives support/fixtures/pressure-service.js, for __test__/cache/pressure.service.test.js and
 * bench/pressure.js: the service under `--max-old-space-size=96` and `-r leakproof/register`,
 * its BoundedMap filled over HTTP, a leak beside it.
 */
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const readline = require('node:readline')
const { spawn } = require('node:child_process')
const { setTimeout } = require('node:timers/promises')

const ROOT = path.join(__dirname, '..', '..')
const SERVICE = path.join(__dirname, 'fixtures', 'pressure-service.js')
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
 * events(), exited }`, `events()` reading the log so far. `later(fn)` is given what to do
 * once done (a test's `t.after`).
 */
async function startService({ shrink, later }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leakproof-pressure-'))
  later(() => fs.rmSync(dir, { recursive: true, force: true }))
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
  later(() => child.kill('SIGKILL'))
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

/** Fills the cache: every page once, then a warm pass; resolves with the warm pass's hit ratio. */
async function warm(port, random) {
  for (let id = 0; id < PAGES; id += 50) await Promise.all(Array.from({ length: 50 }, (_, i) => ask(port, `/page?id=${id + i}`)))
  return (await browse(port, 2000, random)) / 2000
}

/** The most MiB leaked before a run is called over (the heap dies well before). */
const MAX_LEAK_MB = 200

/** Leaks 1 MiB a step, with some browsing, until the service dies or MAX_LEAK_MB; resolves with the MiB it survived. */
async function leakUntilDeath(port, random) {
  let survived = 0
  for (let mb = 1; mb <= MAX_LEAK_MB; mb++) {
    const answer = await ask(port, '/leak', 'POST')
    if (answer === null || (await browse(port, 40, random)) === null) return survived
    survived = Number(answer)
    await setTimeout(LEAK_PAUSE_MS)
  }
  return survived
}

module.exports = { HEAP_MB, PAGES, LEAK_PAUSE_MS, startService, ask, browse, warm, leakUntilDeath }

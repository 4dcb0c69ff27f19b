'use strict'

// The event log (LEAKPROOF_LOG): samples with every memory kind reach it through the
// register preload, and its rotation keeps two generations of whole lines while several
// processes append to one file at once.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const { execFile } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { promisify } = require('node:util')
const { tempDir } = require('../support/temp-dir')

const root = path.join(__dirname, '..', '..')
const fixture = (name) => path.join(__dirname, 'fixtures', name)
const run = promisify(execFile)

/** The lines of `file` (none if it does not exist), each parsed: a line that is not whole JSON fails the test. */
function readLines(file) {
  if (!fs.existsSync(file)) return []
  const text = fs.readFileSync(file, 'utf8')
  assert.ok(text === '' || text.endsWith('\n'), `${file} ends mid-line`)
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      try {
        return JSON.parse(line)
      } catch {
        assert.fail(`${file} holds a line that is not whole JSON: ${line.slice(0, 200)}`)
      }
    })
}

/** Runs the app fixture under the register preload for `runMs`, with `env` added; resolves with its stderr. */
async function runPreloaded(runMs, env) {
  const { stderr } = await run(process.execPath, ['-r', path.join(root, 'register.js'), fixture('event-log-app.js'), String(runMs)], {
    timeout: 30_000,
    env: { ...process.env, LEAKPROOF_INTERVAL_MS: '100', LEAKPROOF_FORCE_GC_AFTER_MS: '0', LEAKPROOF_GC_BUDGET: '0.9', ...env },
  })
  return stderr
}

test('sample events reach the log through the preload, with the native floor, RSS and the container limit', async (t) => {
  // Inside the watcher's dir, which does not exist yet (no snapshot was written): made 0700.
  const log = path.join(tempDir(t, 'event-log'), 'heap', 'events.jsonl')
  const stderr = await runPreloaded(3_000, { LEAKPROOF_LOG: log })
  assert.equal(stderr, '')
  assert.equal(fs.statSync(path.dirname(log)).mode & 0o777, 0o700)
  const samples = readLines(log).filter((e) => e.type === 'sample')
  assert.ok(samples.length >= 3, `only ${samples.length} samples`)
  for (const s of samples) {
    assert.equal(typeof s.heapUsed, 'number')
    assert.ok(s.rss > s.heapUsed, JSON.stringify(s))
    assert.ok(s.containerLimit === null || s.containerLimit > 0, JSON.stringify(s))
    assert.ok(s.native === null || typeof s.native === 'number', JSON.stringify(s))
    assert.equal(typeof s.pid, 'number')
  }
  // The Rust thread has a native floor after its first readings: the newest samples carry it.
  assert.equal(typeof samples.at(-1).native, 'number', JSON.stringify(samples.at(-1)))
})

test('at a small cap, three preloaded processes logging at once leave two generations of whole lines', async (t) => {
  const log = path.join(tempDir(t, 'event-log'), 'events.jsonl')
  const maxBytes = 20_000
  const env = { LEAKPROOF_LOG: log, LEAKPROOF_LOG_MAX_BYTES: String(maxBytes) }
  const stderrs = await Promise.all([1, 2, 3].map(() => runPreloaded(6_000, env)))
  assert.deepEqual(stderrs, ['', '', ''])
  assert.deepEqual(fs.readdirSync(path.dirname(log)).sort(), ['events.jsonl', 'events.jsonl.1'])
  const rotated = readLines(`${log}.1`)
  const current = readLines(log)
  // `.1` is only ever replaced by a full generation; neither passes the cap by more than a few lines.
  assert.ok(fs.statSync(`${log}.1`).size >= maxBytes)
  for (const file of [log, `${log}.1`]) assert.ok(fs.statSync(file).size < maxBytes + 3 * 2_000, file)
  const pids = new Set([...rotated, ...current].filter((e) => e.type === 'sample').map((e) => e.pid))
  assert.equal(pids.size, 3, 'samples from every process')
})

test('writers racing on rotation, in processes and worker threads, lose no line mid-stream and no whole generation', async (t) => {
  const log = path.join(tempDir(t, 'event-log'), 'race.jsonl')
  const maxBytes = 4096 // the smallest cap: a rotation every few dozen lines
  // Four processes, the fourth with two worker threads; a line every 0.5 ms from each
  // writer for 2 s: about 2 MB, some 500 rotations.
  const processes = ['a', 'b', 'c', 'd,e']
  const startAt = Date.now() + 1_500
  const args = (writers) => [fixture('event-log-writer.js'), log, maxBytes, writers, startAt, startAt + 2_000, 0.5].map(String)
  const outputs = await Promise.all(processes.map((writers) => run(process.execPath, args(writers), { timeout: 60_000 })))
  const runs = outputs.flatMap(({ stdout }) => JSON.parse(stdout))
  assert.deepEqual(runs.map((r) => r.writer), ['a', 'b', 'c', 'd', 'e'])
  assert.ok(Math.max(...runs.map((r) => r.firstAt)) < Math.min(...runs.map((r) => r.lastAt)), `the writers ran at once: ${JSON.stringify(runs)}`)
  assert.deepEqual(fs.readdirSync(path.dirname(log)).sort(), ['race.jsonl', 'race.jsonl.1'])
  const lines = [...readLines(`${log}.1`), ...readLines(log)]
  // `.1` is only ever replaced by a full generation, at every moment any writer looked.
  for (const r of runs) assert.ok(r.smallestRotated >= maxBytes, `a writer saw a .1 of ${r.smallestRotated} bytes`)
  // Rotated as it filled. The bound is loose: on a loaded machine a writer holding the
  // rotation lock may be descheduled for 100 ms while the others append (10 lines a ms).
  const written = runs.reduce((sum, r) => sum + r.lastSeq + 1, 0) * (JSON.stringify(lines[0]).length + 1)
  for (const r of runs) assert.ok(r.largestCurrent < written / 4, `a writer saw the file at ${r.largestCurrent} bytes of ${written} written`)
  for (const { writer, lastSeq } of runs) {
    // Each writer's lines, older generation first, run without a gap up to its last one.
    const seqs = lines.filter((e) => e.writer === writer).map((e) => e.seq)
    if (seqs.length === 0) continue // all rotated away
    assert.equal(seqs.at(-1), lastSeq)
    seqs.forEach((seq, k) => assert.equal(seq, seqs[0] + k, `writer ${writer}: line ${seqs[0] + k} is missing`))
  }
})

test('a rotation waits for a lock held by another writer, and breaks one left by a writer that died', (t) => {
  const { EventLog } = require('../../lib/watch/event-log')
  const log = path.join(tempDir(t, 'event-log'), 'locked.jsonl')
  const eventLog = new EventLog(log, { maxBytes: 4096 })
  const appendLines = (count) => {
    for (let i = 0; i < count; i++) eventLog.append({ type: 'sample', pad: 'x'.repeat(100) })
  }
  fs.writeFileSync(`${log}.lock`, '')
  appendLines(128) // 127 bytes each
  assert.ok(!fs.existsSync(`${log}.1`), 'no rotation while another writer holds the lock')
  assert.ok(fs.statSync(log).size > 3 * 4096)
  // The lock's writer died 11 s ago: the lock is removed, and the file rotated at a later look.
  const past = (Date.now() - 11_000) / 1000
  fs.utimesSync(`${log}.lock`, past, past)
  appendLines(3)
  assert.ok(fs.existsSync(`${log}.1`), 'rotated once the stale lock was gone')
  assert.ok(!fs.existsSync(`${log}.lock`))
  assert.ok(fs.statSync(log).size < 4096)
})

test('a rotation that fails is reported once on stderr, and logging stops', async (t) => {
  const log = path.join(tempDir(t, 'event-log'), 'stuck.jsonl')
  fs.mkdirSync(`${log}.1`)
  fs.writeFileSync(path.join(`${log}.1`, 'keep'), '') // a non-empty directory: no rename onto it
  const script = `
    const { EventLog } = require(${JSON.stringify(path.join(root, 'lib', 'watch', 'event-log.js'))})
    const log = new EventLog(${JSON.stringify(log)}, { maxBytes: 4096 })
    for (let i = 0; i < 100; i++) log.append({ type: 'sample', i, pad: 'x'.repeat(100) })`
  const { stderr } = await run(process.execPath, ['-e', script], { timeout: 20_000 })
  assert.match(stderr, /^leakproof: cannot write the event log .*stuck\.jsonl: .*rename.*; logging stops\n$/)
  const lines = readLines(log)
  assert.ok(lines.length < 100 && fs.statSync(log).size >= 4096, `${lines.length} lines`)
  assert.ok(!fs.existsSync(`${log}.lock`), 'the lock is not left behind')
})

test('a bad LEAKPROOF_LOG_MAX_BYTES is refused on stderr, and the default cap kept', async (t) => {
  const { configFromEnv } = require('../../lib/watch/env-config')
  const { DEFAULT_MAX_BYTES } = require('../../lib/watch/event-log')
  for (const bad of ['lots', '100', '1e3', '-5', '20000.5']) {
    const { logMaxBytes, problems } = configFromEnv({ LEAKPROOF_LOG: '/tmp/x', LEAKPROOF_LOG_MAX_BYTES: bad })
    assert.equal(logMaxBytes, DEFAULT_MAX_BYTES)
    assert.equal(problems.length, 1, bad)
    assert.match(problems[0], /^ignoring LEAKPROOF_LOG_MAX_BYTES=".*" \(EventLog: options\.maxBytes must be an integer of 4096 bytes or more; got .*\); using the default, 67108864$/)
  }
  assert.equal(configFromEnv({ LEAKPROOF_LOG_MAX_BYTES: '20000' }).logMaxBytes, 20_000)
  // Through the preload: one line on stderr, the app runs, and the log is written.
  const log = path.join(tempDir(t, 'event-log'), 'events.jsonl')
  const stderr = await runPreloaded(1_500, { LEAKPROOF_LOG: log, LEAKPROOF_LOG_MAX_BYTES: 'lots' })
  assert.match(stderr, /^leakproof: ignoring LEAKPROOF_LOG_MAX_BYTES="lots" \(.*\); using the default, 67108864\n$/)
  assert.ok(readLines(log).some((e) => e.type === 'sample'))
})

'use strict'

// A Buffer leak at a short interval (issue 20): a plain http service keeping 16 KiB per
// request at 400 requests a second, started with `-r leakproof/register` and only
// LEAKPROOF_INTERVAL_MS=500 and LEAKPROOF_WARMUP_MS=10000 beside the event log, under
// loopback load from another process. External pressure makes V8 collect every second or
// so: a window of 30 floors spanned 45 s, and the leak was never reported. It must be, as
// `external`, within 90 s of its start, on every supported Node version.

const test = require('node:test')
const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { once } = require('node:events')
const { lineOf, events } = require('./helpers')

const REGISTER = path.join(__dirname, '..', '..', 'register.js')
const SERVICE = path.join(__dirname, 'fixtures', 'buffer-service.js')
const LOAD = path.join(__dirname, '..', 'support', 'fixtures', 'express-load.js')
const REPORTED_WITHIN_MS = 90_000

test('a Buffer leak at a 500 ms interval is reported as external within 90 s of its start', { timeout: 300_000 }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leakproof-external-'))
  const log = path.join(dir, 'events.jsonl')
  const env = { PATH: process.env.PATH, LEAKPROOF_LOG: log, LEAKPROOF_INTERVAL_MS: '500', LEAKPROOF_WARMUP_MS: '10000', LEAKPROOF_SNAPSHOTS: 'off' }
  const service = spawn(process.execPath, ['-r', REGISTER, SERVICE], { env, stdio: ['ignore', 'pipe', 'inherit'] })
  let load = null
  try {
    const { port } = await lineOf(service, (line) => line.type === 'listening')
    const options = { port, connections: 8, perSecond: 400, warmupMs: 0, otherEvery: 1000, durationMs: REPORTED_WITHIN_MS + 30_000 }
    load = spawn(process.execPath, [LOAD, JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'inherit'] })
    const { time: leakStartedAt } = await lineOf(load, (line) => line.type === 'leak-start')
    let leak
    while (!(leak = events(log).find((e) => e.type === 'leak' && e.kind === 'external')) && Date.now() < leakStartedAt + REPORTED_WITHIN_MS) {
      await new Promise((resolve) => setTimeout(resolve, 1000))
    }
    const samples = events(log).filter((e) => e.type === 'sample')
    const seen = `${samples.length} samples, external floors ${samples.map((s) => Math.round(s.external / 2 ** 20)).join(' ')} MiB; leaks ${JSON.stringify(events(log).filter((e) => e.type === 'leak'))}`
    assert.ok(leak, `no external leak within ${REPORTED_WITHIN_MS / 1000} s: ${seen}`)
    assert.ok(leak.time - leakStartedAt <= REPORTED_WITHIN_MS, seen)
    assert.ok(leak.slopeBytesPerSec > 1024 * 1024, `reported at ${leak.slopeBytesPerSec} B/s: ${seen}`)
    t.diagnostic(`reported ${Math.round((leak.time - leakStartedAt) / 1000)} s after the leak began; ${samples.length} samples`)
  } finally {
    load?.kill()
    service.kill('SIGTERM')
    await once(service, 'exit').catch(() => {})
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

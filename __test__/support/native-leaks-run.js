'use strict'

/**
 * Runs fixtures/native-leaks-service.js as a user runs a service (`node -r
 * leakproof/register`), leaking one way, under loopback load from another process
 * (fixtures/express-load.js), until the watcher's event log has a report the caller wants:
 * shared by the node suite's cases (`leakproof run`'s settings) and the production test
 * (defaults).
 */
const { spawn } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { once } = require('node:events')
const { lineOf, events } = require('../production/helpers')

const REGISTER = path.join(__dirname, '..', '..', 'register.js')
const SERVICE = path.join(__dirname, 'fixtures', 'native-leaks-service.js')
const LOAD = path.join(__dirname, 'fixtures', 'express-load.js')

/**
 * Runs the service leaking `kind` (its `LEAK_KIND`) with the watcher's `env` on top of
 * `LEAKPROOF_DIR` (`dir`, made here) and `LEAKPROOF_LOG`, under `load` (express-load.js's
 * options on top of a 12 s warm-up and 4 connections), until a `report` event that `accept`
 * takes, or `withinMs` after the leak started. Resolves with `{ report, seen, all, leakStartedAt }`:
 * the report (undefined if none came), the events but samples in words, and every event.
 */
async function runLeakingService(kind, { dir, env, load, accept, withinMs }) {
  const log = path.join(dir, 'events.jsonl')
  fs.mkdirSync(dir, { recursive: true })
  const childEnv = { PATH: process.env.PATH, ...env, LEAKPROOF_DIR: dir, LEAKPROOF_LOG: log, LEAK_KIND: kind }
  const service = spawn(process.execPath, ['-r', REGISTER, SERVICE], { env: childEnv, stdio: ['ignore', 'pipe', 'inherit'] })
  let loader = null
  try {
    const { port } = await lineOf(service, (line) => line.type === 'listening')
    const options = { port, connections: 4, warmupMs: 12_000, otherEvery: 10, durationMs: withinMs + 30_000, ...load }
    loader = spawn(process.execPath, [LOAD, JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'inherit'] })
    const { time: leakStartedAt } = await lineOf(loader, (line) => line.type === 'leak-start')
    let report
    while (!(report = events(log).find((e) => e.type === 'report' && accept(e))) && Date.now() < leakStartedAt + withinMs) {
      await new Promise((resolve) => setTimeout(resolve, 1000))
    }
    const all = events(log)
    return { report, seen: inWords(all), all, leakStartedAt }
  } finally {
    loader?.kill()
    if (service.exitCode === null && service.signalCode === null) {
      service.kill('SIGTERM')
      await once(service, 'exit')
    }
  }
}

/** The events but samples, each as its type and what tells it apart (kind, role, skipped), for a failure's message. */
function inWords(all) {
  return all
    .filter((e) => e.type !== 'sample')
    .map((e) => [e.type, e.kind, e.role, e.skipped, e.during, e.error].filter((v) => v !== undefined).join(' '))
    .join(', ')
}

/** The leak kinds the log reported. */
function leakKinds(all) {
  return [...new Set(all.filter((e) => e.type === 'leak').map((e) => e.kind))]
}

module.exports = { runLeakingService, leakKinds }

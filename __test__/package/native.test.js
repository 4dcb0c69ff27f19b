'use strict'

// The native addon's loader: target names, the override path, and the error when no binary fits.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')
const { targetName, platformName, hostPlatform, libcOfLdd, TARGETS } = require('../../lib/shared/native')

const ROOT = path.join(__dirname, '..', '..')

test('platform names follow napi-rs for every target a release builds', () => {
  const { napi } = require('../../package.json')
  assert.deepEqual(napi.targets.map(platformName), [
    'linux-x64-gnu',
    'linux-x64-musl',
    'linux-arm64-gnu',
    'linux-arm64-musl',
    'darwin-x64',
    'darwin-arm64',
    'win32-x64-msvc',
  ])
  assert.equal(targetName({ platform: 'linux', arch: 'arm64', libc: 'musl' }), 'linux-arm64-musl')
  assert.equal(targetName({ platform: 'darwin', arch: 'x64', libc: null }), 'darwin-x64')
  assert.equal(targetName({ platform: 'win32', arch: 'x64', libc: null }), 'win32-x64-msvc')
  assert.equal(targetName({ platform: 'win32', arch: 'arm64', libc: null }), null)
  assert.equal(targetName({ platform: 'freebsd', arch: 'x64', libc: null }), null)
  assert.equal(targetName({ platform: 'linux', arch: 'ppc64', libc: 'gnu' }), null)
  assert.ok(TARGETS.has(targetName(hostPlatform())), 'this machine is a release target')
})

test('the C library is read from the process itself', (t) => {
  if (process.platform !== 'linux') {
    t.skip(`glibc or musl is a Linux question (this is ${process.platform})`)
    return
  }
  const glibc = Boolean(process.report.getReport().header.glibcVersionRuntime)
  assert.equal(hostPlatform().libc, glibc ? 'gnu' : 'musl')
})

test('ldd scripts of Alpine and of glibc distributions name their C library', () => {
  assert.equal(libcOfLdd('#!/bin/sh\nexec /lib/ld-musl-x86_64.so.1 --list "$@"\n'), 'musl')
  assert.equal(libcOfLdd('#! /bin/bash\n# Copyright (C) 1996-2022 Free Software Foundation, Inc.\n# This file is part of the GNU C Library.\n'), 'gnu')
  assert.equal(libcOfLdd('#!/bin/sh\necho not a loader\n'), null)
})

/**
 * Calls the leakproof function named `call` in a child with `env` added
 * (fixtures/native-call.js); returns `{ value }` or `{ error }` as it printed them.
 */
function child(call, env) {
  const fixture = path.join(__dirname, 'fixtures', 'native-call.js')
  const out = execFileSync(process.execPath, [fixture, call], { env: { ...process.env, ...env }, encoding: 'utf8' })
  return JSON.parse(out)
}

test('LEAKPROOF_NATIVE_PATH loads a binary built by hand', () => {
  const built = path.join(ROOT, `leakproof.${targetName(hostPlatform())}.node`)
  const copy = path.join(os.tmpdir(), `leakproof-override-${process.pid}.node`)
  fs.copyFileSync(built, copy)
  try {
    const out = child('systemMemory', { LEAKPROOF_NATIVE_PATH: copy })
    assert.equal(typeof out.value.rss, 'number')
  } finally {
    fs.rmSync(copy)
  }
})

test('an override that does not load is an error, never a silent fallback', () => {
  const missing = path.join(ROOT, 'no-such-dir', 'leakproof.node')
  const { error } = child('watch', { LEAKPROOF_NATIVE_PATH: missing })
  assert.equal(error.code, 'ERR_LEAKPROOF_NATIVE_UNAVAILABLE')
  assert.deepEqual(error.attempts, [`LEAKPROOF_NATIVE_PATH=${missing}: not found`])
  assert.match(error.message, /^no native addon for \w+-\w+/)
})

test('a file that is not an addon is reported with the loader\'s reason', () => {
  const notAddon = path.join(ROOT, 'package.json')
  const { error } = child('analyzeSnapshot', { LEAKPROOF_NATIVE_PATH: notAddon })
  assert.equal(error.code, 'ERR_LEAKPROOF_NATIVE_UNAVAILABLE')
  assert.equal(error.attempts.length, 1)
  assert.ok(error.attempts[0].startsWith(`LEAKPROOF_NATIVE_PATH=${notAddon}: `), error.attempts[0])
})

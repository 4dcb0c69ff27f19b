'use strict'

/**
 * `npm run test:node [-- NODE_TEST_OPTIONS...]`: Node's test runner over every `*.test.js` of
 * __test__/ and its part folders, two files at a time (one a core: at three, two races
 * under load failed in CI's first eight suites, a restart's report and a sampled site, for
 * about a minute saved a suite); not __test__/production/ (minutes of
 * real services: `npm run test:production`). Node 20 does not expand globs itself, and a
 * shell pattern that leaves one folder out does not fit dash, so the files are listed here.
 * Exits as the runner does.
 */
const fs = require('node:fs')
const path = require('node:path')
const { spawnSync } = require('node:child_process')

const TESTS = path.join(__dirname, '..', '__test__')
/** Folders of __test__/ whose tests this does not run. */
const LEFT_OUT = new Set(['production', 'support'])

const isTest = (name) => name.endsWith('.test.js')
const files = fs.readdirSync(TESTS).filter(isTest).map((name) => path.join('__test__', name))
for (const entry of fs.readdirSync(TESTS, { withFileTypes: true })) {
  if (!entry.isDirectory() || LEFT_OUT.has(entry.name)) continue
  for (const name of fs.readdirSync(path.join(TESTS, entry.name)).filter(isTest)) files.push(path.join('__test__', entry.name, name))
}
files.sort()

const run = spawnSync(process.execPath, ['--test', '--test-concurrency=2', ...process.argv.slice(2), ...files], { cwd: path.join(__dirname, '..'), stdio: 'inherit' })
if (run.error) throw run.error
if (run.signal) process.kill(process.pid, run.signal)
process.exitCode = run.status ?? 1

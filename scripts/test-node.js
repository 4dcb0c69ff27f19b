'use strict'

/**
 * `npm run test:node [-- [--versioned] NODE_TEST_OPTIONS...]`: Node's test runner over every
 * `*.test.js` of __test__/ and its part folders, two files at a time (one a core: at three, two
 * races under load failed in CI's first eight suites, a restart's report and a sampled site, for
 * about a minute saved a suite); not __test__/production/ (minutes of real services:
 * `npm run test:production`). Node 20 does not expand globs itself, and a shell pattern that
 * leaves one folder out does not fit dash, so the files are listed here.
 *
 * `--versioned`: only the files that can differ from one Node version to another, as the table
 * "What each Node version runs" of CONTRIBUTING.md lists them (its one owner); `.ci/run` runs
 * those on the versions other than the machine's, whose `npm test` ran every file.
 * Exits as the runner does.
 */
const fs = require('node:fs')
const path = require('node:path')
const { spawnSync } = require('node:child_process')

const ROOT = path.join(__dirname, '..')
const TESTS = path.join(ROOT, '__test__')
/** Folders of __test__/ whose tests this does not run. */
const LEFT_OUT = new Set(['production', 'support'])
/** The heading of CONTRIBUTING.md's table of the files `--versioned` runs. */
const VERSIONED_HEADING = '### What each Node version runs'

const isTest = (name) => name.endsWith('.test.js')

/** Every test file of the node suite, `__test__/...` paths, sorted. */
function allFiles() {
  const files = fs.readdirSync(TESTS).filter(isTest).map((name) => path.join('__test__', name))
  for (const entry of fs.readdirSync(TESTS, { withFileTypes: true })) {
    if (!entry.isDirectory() || LEFT_OUT.has(entry.name)) continue
    for (const name of fs.readdirSync(path.join(TESTS, entry.name)).filter(isTest)) files.push(path.join('__test__', entry.name, name))
  }
  return files.sort()
}

/**
 * The files of CONTRIBUTING.md's table under `VERSIONED_HEADING`: the first cell of each row, a
 * path in backquotes. Throws when the section is missing or names a file the suite does not have,
 * so that a renamed test cannot drop out of the versions' runs unseen.
 */
function versionedFiles(suite) {
  const text = fs.readFileSync(path.join(ROOT, 'CONTRIBUTING.md'), 'utf8')
  const start = text.indexOf(`\n${VERSIONED_HEADING}\n`)
  if (start < 0) throw new Error(`CONTRIBUTING.md has no section "${VERSIONED_HEADING}"`)
  const section = text.slice(start + 1).split(/\n#{1,3} /)[0]
  const files = [...section.matchAll(/^\| `(__test__\/[^`]+\.test\.js)` \|/gm)].map((m) => m[1])
  const unknown = files.filter((file) => !suite.includes(file))
  if (files.length === 0 || unknown.length > 0) throw new Error(`CONTRIBUTING.md, "${VERSIONED_HEADING}": ${files.length === 0 ? 'no file listed' : `not in the node suite: ${unknown.join(', ')}`}`)
  return files
}

/** Runs the suite, or with `--versioned` its versioned files, passing the other arguments to the runner. */
function main(args) {
  const versioned = args.includes('--versioned')
  const suite = allFiles()
  const files = versioned ? versionedFiles(suite) : suite
  const options = args.filter((arg) => arg !== '--versioned')
  if (versioned) console.log(`test:node --versioned: ${files.length} of the suite's ${suite.length} files (CONTRIBUTING.md, "${VERSIONED_HEADING.slice(4)}")`)
  const run = spawnSync(process.execPath, ['--test', '--test-concurrency=2', ...options, ...files], { cwd: ROOT, stdio: 'inherit' })
  if (run.error) throw run.error
  if (run.signal) process.kill(process.pid, run.signal)
  process.exitCode = run.status ?? 1
}

if (require.main === module) main(process.argv.slice(2))

module.exports = { allFiles, versionedFiles }

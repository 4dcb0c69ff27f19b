'use strict'

// The files CI runs on every Node version but the machine's (scripts/test-node.js --versioned),
// read from CONTRIBUTING.md's table "What each Node version runs": the table names files of the
// suite only, each once and with its reason, and the paths that cross into Node and V8 are in it.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { allFiles, versionedFiles } = require('../../scripts/test-node')

const CONTRIBUTING = fs.readFileSync(path.join(__dirname, '..', '..', 'CONTRIBUTING.md'), 'utf8')

test('the versioned files are files of the suite, each listed once with a reason', () => {
  const suite = allFiles()
  const files = versionedFiles(suite)
  assert.ok(files.length > 0 && files.length < suite.length, `${files.length} of ${suite.length}`)
  assert.equal(new Set(files).size, files.length, 'no file twice')
  for (const file of files) {
    const row = CONTRIBUTING.split('\n').find((line) => line.startsWith(`| \`${file}\` |`))
    assert.match(row, /^\| `[^`]+` \| \S.{10,} \|$/, `${file} has its reason`)
  }
})

test('the packed install, the binding, snapshots, the census, GCs and worker threads run on every version', () => {
  const files = versionedFiles(allFiles())
  for (const file of ['package/packed-install', 'package/native', 'package/binding-seam', 'capture/watch.fork', 'diagnose/analyze', 'diagnose/census.holders', 'detect/watch.detect', 'sites/watch.sites', 'watch/threads', 'leak-test/leak-test.runners']) {
    assert.ok(files.includes(`__test__/${file}.test.js`), file)
  }
})

test('a listed file the suite does not have is refused, so that a renamed test cannot drop out unseen', () => {
  const suite = allFiles().filter((file) => file !== '__test__/package/native.test.js')
  assert.throws(() => versionedFiles(suite), /not in the node suite: __test__\/package\/native\.test\.js/)
})

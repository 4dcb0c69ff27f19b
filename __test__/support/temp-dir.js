'use strict'

/** Temporary directories for the tests, each removed when the test that made it is done. */
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

/**
 * A new directory under the system's temporary one, `leakproof-NAME-XXXXXX`, removed with all
 * it holds once `t` is done: a test's context, a suite's, or node:test's `test` itself for
 * one that lasts until the file's tests are all done.
 */
function tempDir(t, name = 'test') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `leakproof-${name}-`))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}

module.exports = { tempDir }

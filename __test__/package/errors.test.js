'use strict'

/**
 * Keeps the codes in step across their three homes: `lib/shared/errors.js` (CODES, WARNINGS), the
 * Rust analyzer's error codes, and the table of docs/errors.md. And checks, on one API, that
 * an error carries its code and the shared message style.
 */
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { CODES, WARNINGS } = require('../../lib/shared/errors')
const { BoundedMap } = require('../..')

const ROOT = path.join(__dirname, '..', '..')
const read = (file) => fs.readFileSync(path.join(ROOT, file), 'utf8')

/** A table row whose first cell is a code in backticks: `| \`ERR_LEAKPROOF_X\` | ...`. */
const CODE_ROW = /^\|\s*`((?:ERR_)?LEAKPROOF_[A-Z0-9_]+)`\s*\|/

/** The codes listed in docs/errors.md's table, in order, duplicates kept. */
function documentedCodes() {
  return read('docs/errors.md')
    .split('\n')
    .map((line) => CODE_ROW.exec(line))
    .filter((match) => match !== null)
    .map((match) => match[1])
}

test('docs/errors.md has exactly one row per code of CODES and WARNINGS', () => {
  const documented = documentedCodes()
  const defined = [...Object.values(CODES), ...Object.values(WARNINGS)]
  const duplicates = documented.filter((code, i) => documented.indexOf(code) !== i)
  assert.deepEqual(duplicates, [], 'codes with more than one row')
  assert.deepEqual(
    documented.filter((code) => !defined.includes(code)),
    [],
    'documented but not in lib/shared/errors.js',
  )
  assert.deepEqual(
    defined.filter((code) => !documented.includes(code)),
    [],
    'in lib/shared/errors.js but not documented',
  )
})

test('every kind of snapshot error the core reports is thrown with a code in CODES', () => {
  // tsc holds SNAPSHOT_ERROR_CODES' keys to binding.d.ts' SnapshotErrorKind, generated from the
  // core's enum; here its values to CODES.
  const { SNAPSHOT_ERROR_CODES } = require('../../lib/diagnose/analyze')
  const codes = Object.values(CODES)
  assert.ok(Object.keys(SNAPSHOT_ERROR_CODES).length >= 5)
  assert.deepEqual(
    Object.values(SNAPSHOT_ERROR_CODES).filter((code) => !codes.includes(code)),
    [],
    'in SNAPSHOT_ERROR_CODES but not in CODES',
  )
})

test('an API error carries its code and names the API and options.<key>', () => {
  assert.throws(
    () => new BoundedMap({ max: 0 }),
    (err) => {
      assert.ok(err instanceof RangeError)
      assert.equal(err.code, CODES.INVALID_OPTION)
      assert.match(err.message, /^BoundedMap: options\.max must be a positive integer; got 0$/)
      return true
    },
  )
})

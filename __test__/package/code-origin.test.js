'use strict'

// Where code comes from (lib/shared/code-origin.js), on the table of cases the Rust side's test reads
// too (src/core/diagnose/code_origin_cases.json): one rule for both. `{leakproof}` in a case
// stands for the folder of this copy of leakproof, which only the JS side knows.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { originOf, isOwnFile } = require('../../lib/shared/code-origin')

const ROOT = path.join(__dirname, '..', '..')
const CASES = JSON.parse(fs.readFileSync(path.join(ROOT, 'src/core/diagnose/code_origin_cases.json'), 'utf8'))

/** The case's URL with `{leakproof}` replaced by this copy's folder. */
function urlOf(c) {
  return c.url.replaceAll('{leakproof}', ROOT)
}

test('the table of cases is well formed', () => {
  assert.ok(CASES.length >= 20)
  for (const c of CASES) {
    assert.equal(typeof c.url, 'string')
    assert.ok(['app', 'package', 'node', 'own', 'builtin'].includes(c.origin), c.url)
    assert.equal(c.package === null, c.origin !== 'package', c.url)
    assert.ok(c.why.length > 0, c.url)
  }
})

test('originOf gives every case of the table its origin and package', () => {
  for (const c of CASES) {
    assert.deepEqual(originOf(urlOf(c)), { kind: c.origin, package: c.package }, `${c.url}: ${c.why}`)
  }
})

test("isOwnFile holds for the table's own cases, and no other file or package", () => {
  for (const c of CASES.filter((c) => c.origin !== 'node' && c.origin !== 'builtin')) {
    assert.equal(isOwnFile(urlOf(c)), c.origin === 'own', `${c.url}: ${c.why}`)
  }
})

'use strict'

/**
 * The report page (lib/page) opened in a real browser, for the page's tests: what it requested,
 * the dialogs it opened and its errors, and the check that strings from files ran nothing.
 */
const assert = require('node:assert/strict')

/**
 * Opens `file` in a new page of `browser` and waits for its charts; resolves with the page and
 * what it did: the URLs it requested, the dialogs it opened, its errors.
 */
async function openReportPage(browser, file) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
  const seen = { requests: [], dialogs: [], errors: [] }
  page.on('request', (r) => seen.requests.push(r.url()))
  page.on('dialog', (d) => { seen.dialogs.push(d.message()); d.dismiss() })
  page.on('pageerror', (e) => seen.errors.push(e.message))
  await page.goto(`file://${file}`)
  await page.waitForFunction(() => Array.isArray(/** @type {any} */ (globalThis).leakproofCharts), null, { timeout: 10_000 })
  return { page, seen }
}

/**
 * Asserts that a page showing hostile strings ran nothing of theirs: only its own three
 * scripts, no image, no dialog, no error, no request but the page itself.
 * @param {{ scripts: number, images: number }} shown what the page counted
 * @param {{ requests: string[], dialogs: string[], errors: string[] }} seen
 */
function assertRanNothing(shown, seen) {
  assert.equal(shown.scripts, 3)
  assert.equal(shown.images, 0)
  assert.deepEqual(seen.dialogs, [])
  assert.deepEqual(seen.errors, [])
  assert.equal(seen.requests.length, 1)
}

module.exports = { openReportPage, assertRanNothing }

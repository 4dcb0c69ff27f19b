'use strict'

/**
 * `writeReport(dir)`: the HTML report page of what a watcher left in `dir` (its log, reports
 * and snapshot names), written next to them. collect.js reads the directory into the MODEL,
 * render.js turns that into the page.
 */
const path = require('node:path')
const { collect } = require('./collect')
const { renderPage } = require('./render')
const { writeAtomically } = require('../shared/write-atomically')
const { checkOptionsObject, invalidOptionType } = require('../shared/errors')

/** The page's name in `dir` when no `out` is given. */
const DEFAULT_NAME = 'leakproof-report.html'

/**
 * Reads `dir` and writes its report page to `options.out` (default
 * `dir/leakproof-report.html`).
 * @param {string} dir the watcher's directory (its `dir`, or where its `LEAKPROOF_LOG` is).
 * @param {{ out?: string }} [options]
 * @returns {Promise<{ path: string, bytes: number, processes: number, notes: string[] }>}
 *   the page's absolute path and size, the number of processes on it, and the MODEL's notes.
 */
async function writeReport(dir, options = {}) {
  if (typeof dir !== 'string' || dir === '') throw invalidOptionType('writeReport()', 'dir', 'a directory path', dir)
  checkOptionsObject('writeReport()', options, ['out'])
  const { out } = options
  if (out !== undefined && (typeof out !== 'string' || out === '')) {
    throw invalidOptionType('writeReport()', 'options.out', 'a file path', out)
  }
  const model = await collect(dir)
  const page = renderPage(model)
  const file = path.resolve(out ?? path.join(dir, DEFAULT_NAME))
  writeAtomically(file, page, 0o644) // names and sizes only: no secret to keep from other users
  return { path: file, bytes: Buffer.byteLength(page), processes: model.processes.length, notes: model.notes }
}

module.exports = { writeReport }

'use strict'

/**
 * `writeReport(dir)`: the HTML report page of what a watcher left in `dir` (its log, reports
 * and snapshot names), written next to them. collect.js reads the directory into the MODEL,
 * render.js turns that into the page.
 */
const fs = require('node:fs')
const path = require('node:path')
const { collect } = require('./collect')
const { renderPage } = require('./render')
const { checkOptionsObject, invalidOptionType } = require('../errors')

/** The page's name in `dir` when no `out` is given. */
const DEFAULT_NAME = 'leakproof-report.html'

/**
 * Writes `text` to `file` under a temporary name in the same directory, renamed at the end:
 * complete or absent. A failure's message names `file` (not the temporary name).
 */
function writeAtomically(file, text) {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`)
  try {
    fs.writeFileSync(temp, text, { mode: 0o644 })
    fs.renameSync(temp, file)
  } catch (err) {
    fs.rmSync(temp, { force: true })
    err.message = `cannot write ${file}: ${err.message.split(', ')[0]}` // without the temporary name
    throw err
  }
}

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
  writeAtomically(file, page)
  return { path: file, bytes: Buffer.byteLength(page), processes: model.processes.length, notes: model.notes }
}

module.exports = { writeReport }

'use strict'

/**
 * `writeReportPage(dir)`: the HTML report page of what a watcher left in `dir` (its log, reports
 * and snapshot names), written next to them; `writeReportPage([dir, …], { out })`: one page of
 * several directories, their instances grouped by what holds their leak. collect.js reads the
 * directories into the MODEL, render.js turns that into the page. `writeReport()` is its former
 * name, deprecated: a report is what leakproof says about one leak, the page draws them.
 */
const path = require('node:path')
const { collectAll } = require('./collect')
const { renderPage } = require('./render')
const { writeAtomically } = require('../shared/write-atomically')
const { CODES, codedError, checkOptionsObject, invalidOptionType, deprecated } = require('../shared/errors')

/** The page's name in `dir` when no `out` is given. */
const DEFAULT_NAME = 'leakproof-report.html'

/**
 * Reads `dir` (or each of several) and writes the report page to `options.out` (default
 * `dir/leakproof-report.html`; required for several directories: the page is of them all, and
 * none of them is the place for it).
 * @param {string | string[]} dir the watcher's directory (its `dir`, or where its `LEAKPROOF_LOG`
 *   is), or several; one given twice is read once.
 * @param {{ out?: string }} [options]
 * @returns {Promise<{ path: string, bytes: number, processes: number, notes: string[] }>}
 *   the page's absolute path and size, the number of processes on it, and the MODEL's notes.
 */
async function writeReportPage(dir, options = {}) {
  const dirs = Array.isArray(dir) ? dir : [dir]
  if (dirs.length === 0 || dirs.some((d) => typeof d !== 'string' || d === '')) {
    throw invalidOptionType('writeReportPage()', 'dir', 'a directory path, or an array of one or more', dir)
  }
  checkOptionsObject('writeReportPage()', options, ['out'])
  const { out } = options
  if (out !== undefined && (typeof out !== 'string' || out === '')) {
    throw invalidOptionType('writeReportPage()', 'options.out', 'a file path', out)
  }
  const distinct = new Set(dirs.map((d) => path.resolve(d))).size
  if (out === undefined && distinct > 1) {
    throw codedError(TypeError, CODES.INVALID_OPTION, `writeReportPage(): options.out is required with several directories (the page is of them all); got ${distinct} directories and no out`)
  }
  const model = await collectAll(dirs)
  const page = renderPage(model)
  const file = path.resolve(out ?? path.join(dirs[0], DEFAULT_NAME))
  writeAtomically(file, page, 0o644) // names and sizes only: no secret to keep from other users
  return { path: file, bytes: Buffer.byteLength(page), processes: model.processes.length, notes: model.notes }
}

/** Deprecated: `writeReportPage()`'s former name. */
const writeReport = deprecated('writeReport', writeReportPage)

module.exports = { writeReportPage, writeReport, DEFAULT_NAME }

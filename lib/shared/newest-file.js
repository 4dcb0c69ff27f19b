'use strict'

const fs = require('node:fs')
const path = require('node:path')

/**
 * The path of the newest file in `dir` (by modification time; the greater path on a tie)
 * whose name `matches`, or null when none does. Temporary files (names starting with a dot)
 * never count, nor files deleted while the directory is read. Throws when `dir` cannot be
 * read.
 * @param {string} dir
 * @param {(name: string) => boolean} matches
 */
function newestFileIn(dir, matches) {
  let newest = null
  for (const name of fs.readdirSync(dir)) {
    if (name.startsWith('.') || !matches(name)) continue
    const file = path.join(dir, name)
    const mtimeMs = fs.statSync(file, { throwIfNoEntry: false })?.mtimeMs
    if (mtimeMs === undefined) continue
    if (newest === null || mtimeMs > newest.mtimeMs || (mtimeMs === newest.mtimeMs && file > newest.file)) newest = { file, mtimeMs }
  }
  return newest?.file ?? null
}

module.exports = { newestFileIn }

'use strict'

/**
 * A script as V8 and the inspector name it (a path, or a `file://` URL for an ES module or a
 * worker's script), as a file. Two names for two questions: `scriptPath`, the file to read,
 * null for what is no file (`node:internal/…`, `evalmachine`, a `data:` module); `scriptName`,
 * the script for people, a path where it is a file and as given otherwise.
 */
const path = require('node:path')
const { fileURLToPath } = require('node:url')

/**
 * The file of a script's name: a `file://` URL decoded, an absolute path as it is; null for
 * anything else, and for a `file://` URL that names no local file (a host, on POSIX).
 * @param {unknown} url
 * @returns {string | null}
 */
function scriptPath(url) {
  if (typeof url !== 'string' || url === '') return null
  if (url.startsWith('file://')) {
    try {
      return fileURLToPath(url)
    } catch {
      return null
    }
  }
  return path.isAbsolute(url) ? url : null
}

/**
 * A script's name for people (a worker's `script` in events and reports): its file where it
 * is one (`scriptPath`), else the name as given (a `data:` URL, say); null for none.
 * @param {unknown} url
 * @returns {string | null}
 */
function scriptName(url) {
  if (typeof url !== 'string' || url === '') return null
  return scriptPath(url) ?? url
}

module.exports = { scriptPath, scriptName }

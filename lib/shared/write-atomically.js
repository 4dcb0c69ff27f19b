'use strict'

const fs = require('node:fs')
const path = require('node:path')

/**
 * Writes `text` to `file` with `mode`, under a temporary name in the same directory renamed
 * at the end: a reader sees the whole file or none. On failure the temporary file is
 * removed and the error's message names `file` (not the temporary name).
 */
function writeAtomically(file, text, mode) {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`)
  try {
    fs.writeFileSync(temp, text, { mode })
    fs.renameSync(temp, file)
  } catch (err) {
    fs.rmSync(temp, { force: true })
    err.message = `cannot write ${file}: ${err.message.split(', ')[0]}`
    throw err
  }
}

/** Writes `text` to `file`, readable by its owner only, complete or absent. */
function writePrivateAtomically(file, text) {
  writeAtomically(file, text, 0o600)
}

module.exports = { writeAtomically, writePrivateAtomically }

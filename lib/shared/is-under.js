'use strict'

const path = require('node:path')

/** Whether `file` is `dir` or inside it (both absolute and normalized; links are the caller's to resolve). */
function isUnder(file, dir) {
  const relative = path.relative(dir, file)
  return relative !== '..' && !relative.startsWith(`..${path.sep}`) && !path.isAbsolute(relative)
}

module.exports = { isUnder }

'use strict'

const fs = require('node:fs')

/** Bytes read from a snapshot's end to check that it ends as complete JSON. */
const TAIL_BYTES = 64

/** Whether the file ends the way a complete snapshot does: with the closing brace. */
function endsAsCompleteJson(file, bytes) {
  if (bytes < 2) return false
  const fd = fs.openSync(file, 'r')
  try {
    const tail = Buffer.alloc(Math.min(TAIL_BYTES, bytes))
    fs.readSync(fd, tail, 0, tail.length, bytes - tail.length)
    return /\}\s*$/.test(tail.toString('latin1'))
  } finally {
    fs.closeSync(fd)
  }
}

module.exports = { endsAsCompleteJson }

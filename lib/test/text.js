'use strict'

/** Bytes for people: `1,024 B`, `64.0 KB`, `3.2 MB`. */
function bytesText(bytes) {
  if (Math.abs(bytes) < 10 * 1024) return `${Math.round(bytes).toLocaleString('en-US')} B`
  if (Math.abs(bytes) < 10 * 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`
}

module.exports = { bytesText }

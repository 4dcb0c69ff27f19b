'use strict'

/**
 * Byte counts for people, one way everywhere (the CLI, leak-test messages, the watcher's
 * explanations, the report page): SI units, so "MB" is 10^6 bytes as a disk or a network
 * says it. The function uses nothing outside itself: the report page inlines its source.
 */

/** `12 B`, `340.0 KB`, `1.2 MB`, `1.23 GB` (negative as `-1.2 MB`); `–` when not a finite number. */
function bytesText(n) {
  if (typeof n !== 'number' || !Number.isFinite(n)) return '–'
  const abs = Math.abs(n)
  if (abs >= 1e9) return `${(n / 1e9).toFixed(2)} GB`
  if (abs >= 1e6) return `${(n / 1e6).toFixed(1)} MB`
  if (abs >= 1e3) return `${(n / 1e3).toFixed(1)} KB`
  return `${Math.round(n)} B`
}

/** A change in bytes with its sign: `+64.0 MB`, `-0.2 MB`, `+0 B`. */
function signedBytesText(n) {
  return `${n >= 0 ? '+' : ''}${bytesText(n)}`
}

module.exports = { bytesText, signedBytesText }
